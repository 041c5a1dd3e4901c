/**
 * Finding repeated captures of one surface region (pure, browser-safe).
 *
 * The Magnetic Tile authors photographed each region under up to six lighting set-ups (the `exp<k>`
 * of the file names) and cropped each photo by hand, so captures of one region differ in brightness
 * and by a few pixels in size and offset. What stays the same is the fine surface texture (machining
 * marks, scratches). A capture's fingerprint is therefore its high-pass texture at half resolution;
 * two captures match when, after the best alignment, the normalised cross-correlation of their
 * textures is high. Matches are joined transitively (union-find) into groups. docs/datasets.md has
 * the measurements behind each parameter.
 */

export interface GroupingParams {
  /** Largest difference in width and in height (pixels) between two captures of one region. */
  readonly sizeTolerance: number;
  /** Largest misalignment searched, in full-resolution pixels. */
  readonly maxShift: number;
  /** Box-blur radius (half-resolution pixels) subtracted to keep only the texture. */
  readonly highPassRadius: number;
  /** Pairs whose best 1-D profile correlation is below this are not compared in 2-D. */
  readonly prefilter: number;
  /** Two captures match when the aligned 2-D texture correlation reaches this. */
  readonly threshold: number;
  /** Also match masks: same size, both non-empty, IoU at least this (0 disables). */
  readonly maskIoU: number;
}

export const DEFAULT_GROUPING: GroupingParams = {
  sizeTolerance: 32,
  maxShift: 24,
  highPassRadius: 2,
  prefilter: 0.4,
  threshold: 0.45,
  maskIoU: 0.5,
};

/** The texture fingerprint of one capture. */
export interface CaptureFeatures {
  /** Full-resolution size. */
  readonly width: number;
  readonly height: number;
  /** Half-resolution size of `texture`. */
  readonly w: number;
  readonly h: number;
  /** High-passed half-resolution image, row-major w × h. */
  readonly texture: Float32Array;
  /** Column sums and row sums of the texture. */
  readonly cols: Float32Array;
  readonly rows: Float32Array;
}

/** Box blur of radius r with clamped borders (two separable passes with running sums). */
function boxBlur(img: Float32Array, w: number, h: number, r: number): Float32Array {
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const n = 2 * r + 1;
  const cx = (x: number): number => (x < 0 ? 0 : x >= w ? w - 1 : x);
  const cy = (y: number): number => (y < 0 ? 0 : y >= h ? h - 1 : y);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let s = 0;
    for (let x = -r; x <= r; x++) s += img[row + cx(x)];
    for (let x = 0; x < w; x++) {
      tmp[row + x] = s / n;
      s += img[row + cx(x + r + 1)] - img[row + cx(x - r)];
    }
  }
  for (let x = 0; x < w; x++) {
    let s = 0;
    for (let y = -r; y <= r; y++) s += tmp[cy(y) * w + x];
    for (let y = 0; y < h; y++) {
      out[y * w + x] = s / n;
      s += tmp[cy(y + r + 1) * w + x] - tmp[cy(y - r) * w + x];
    }
  }
  return out;
}

/** The fingerprint of an 8-bit grey image (row-major width × height). */
export function captureFeatures(grey: { width: number; height: number; data: Uint8Array }, params: GroupingParams = DEFAULT_GROUPING): CaptureFeatures {
  const { width, height, data } = grey;
  const w = Math.max(1, width >> 1);
  const h = Math.max(1, height >> 1);
  const half = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const r0 = Math.min(2 * y, height - 1) * width;
    const r1 = Math.min(2 * y + 1, height - 1) * width;
    for (let x = 0; x < w; x++) {
      const x0 = Math.min(2 * x, width - 1);
      const x1 = Math.min(2 * x + 1, width - 1);
      half[y * w + x] = (data[r0 + x0] + data[r0 + x1] + data[r1 + x0] + data[r1 + x1]) * 0.25;
    }
  }
  const blur = boxBlur(half, w, h, params.highPassRadius);
  const texture = new Float32Array(w * h);
  const cols = new Float32Array(w);
  const rows = new Float32Array(h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = half[y * w + x] - blur[y * w + x];
      texture[y * w + x] = v;
      cols[x] += v;
      rows[y] += v;
    }
  }
  return { width, height, w, h, texture, cols, rows };
}

/** Best normalised cross-correlation of two 1-D signals over shifts in [−maxShift, maxShift]: b[i + s] ~ a[i]. */
export function bestShift1d(a: Float32Array, b: Float32Array, maxShift: number): { corr: number; shift: number } {
  let best = -Infinity;
  let bestS = 0;
  for (let s = -maxShift; s <= maxShift; s++) {
    const i0 = Math.max(0, -s);
    const i1 = Math.min(a.length, b.length - s);
    const n = i1 - i0;
    if (n < 8) continue;
    let sa = 0;
    let sb = 0;
    for (let i = i0; i < i1; i++) {
      sa += a[i];
      sb += b[i + s];
    }
    const ma = sa / n;
    const mb = sb / n;
    let sab = 0;
    let saa = 0;
    let sbb = 0;
    for (let i = i0; i < i1; i++) {
      const x = a[i] - ma;
      const y = b[i + s] - mb;
      sab += x * y;
      saa += x * x;
      sbb += y * y;
    }
    const c = saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
    if (c > best) {
      best = c;
      bestS = s;
    }
  }
  return { corr: best === -Infinity ? 0 : best, shift: bestS };
}

/** Normalised cross-correlation of two textures where b is displaced by (dx, dy); −1 if they barely overlap. */
export function textureCorrelation(a: CaptureFeatures, b: CaptureFeatures, dx: number, dy: number): number {
  const x0 = Math.max(0, -dx);
  const x1 = Math.min(a.w, b.w - dx);
  const y0 = Math.max(0, -dy);
  const y1 = Math.min(a.h, b.h - dy);
  if (x1 - x0 < 8 || y1 - y0 < 8) return -1;
  const n = (x1 - x0) * (y1 - y0);
  const ta = a.texture;
  const tb = b.texture;
  let sa = 0;
  let sb = 0;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let y = y0; y < y1; y++) {
    const ra = y * a.w;
    const rb = (y + dy) * b.w + dx;
    for (let x = x0; x < x1; x++) {
      const p = ta[ra + x];
      const q = tb[rb + x];
      sa += p;
      sb += q;
      sab += p * q;
      saa += p * p;
      sbb += q * q;
    }
  }
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

/**
 * The best texture correlation among the nine offsets (dx + ex, dy + ey), ex, ey ∈ {−1, 0, 1}, all
 * computed in one pass over the pixels that all nine overlaps share.
 */
export function bestTextureCorrelation3x3(a: CaptureFeatures, b: CaptureFeatures, dx: number, dy: number): { corr: number; dx: number; dy: number } {
  const x0 = Math.max(0, 1 - dx);
  const x1 = Math.min(a.w, b.w - dx - 1);
  const y0 = Math.max(0, 1 - dy);
  const y1 = Math.min(a.h, b.h - dy - 1);
  if (x1 - x0 < 8 || y1 - y0 < 8) return { corr: -1, dx, dy };
  const n = (x1 - x0) * (y1 - y0);
  const ta = a.texture;
  const tb = b.texture;
  const bw = b.w;
  let sa = 0;
  let saa = 0;
  const sab = new Float64Array(9);
  const sb = new Float64Array(9);
  const sbb = new Float64Array(9);
  for (let y = y0; y < y1; y++) {
    const ra = y * a.w;
    for (let ey = 0; ey < 3; ey++) {
      const rb = (y + dy + ey - 1) * bw + dx - 1;
      let ab0 = 0;
      let ab1 = 0;
      let ab2 = 0;
      let b0 = 0;
      let b1 = 0;
      let b2 = 0;
      let bb0 = 0;
      let bb1 = 0;
      let bb2 = 0;
      for (let x = x0; x < x1; x++) {
        const p = ta[ra + x];
        const q0 = tb[rb + x];
        const q1 = tb[rb + x + 1];
        const q2 = tb[rb + x + 2];
        ab0 += p * q0;
        ab1 += p * q1;
        ab2 += p * q2;
        b0 += q0;
        b1 += q1;
        b2 += q2;
        bb0 += q0 * q0;
        bb1 += q1 * q1;
        bb2 += q2 * q2;
      }
      const k = 3 * ey;
      sab[k] += ab0;
      sab[k + 1] += ab1;
      sab[k + 2] += ab2;
      sb[k] += b0;
      sb[k + 1] += b1;
      sb[k + 2] += b2;
      sbb[k] += bb0;
      sbb[k + 1] += bb1;
      sbb[k + 2] += bb2;
    }
    for (let x = x0; x < x1; x++) {
      const p = ta[ra + x];
      sa += p;
      saa += p * p;
    }
  }
  const va = saa - (sa * sa) / n;
  let best = -1;
  let bk = 4;
  for (let k = 0; k < 9; k++) {
    const vb = sbb[k] - (sb[k] * sb[k]) / n;
    const c = va > 0 && vb > 0 ? (sab[k] - (sa * sb[k]) / n) / Math.sqrt(va * vb) : 0;
    if (c > best) {
      best = c;
      bk = k;
    }
  }
  return { corr: best, dx: dx + (bk % 3) - 1, dy: dy + Math.floor(bk / 3) - 1 };
}

export interface Similarity {
  /** Aligned 2-D texture correlation (−1 when not computed: sizes too different or prefiltered out). */
  readonly score: number;
  /** Best 1-D profile correlation. */
  readonly profile: number;
  /** Alignment found, in half-resolution pixels. */
  readonly dx: number;
  readonly dy: number;
}

/**
 * How alike two captures are: align the column and row profiles (1-D, cheap), then, if either
 * profile correlates at least `prefilter`, the 2-D texture correlation at that offset and its 8
 * neighbours (the best of the nine, over the pixels all nine overlaps share).
 */
export function captureSimilarity(a: CaptureFeatures, b: CaptureFeatures, params: GroupingParams = DEFAULT_GROUPING): Similarity {
  if (Math.abs(a.width - b.width) > params.sizeTolerance || Math.abs(a.height - b.height) > params.sizeTolerance) {
    return { score: -1, profile: -1, dx: 0, dy: 0 };
  }
  const s = Math.ceil(params.maxShift / 2);
  const cx = bestShift1d(a.cols, b.cols, s);
  const cy = bestShift1d(a.rows, b.rows, s);
  const profile = Math.max(cx.corr, cy.corr);
  if (profile < params.prefilter) return { score: -1, profile, dx: cx.shift, dy: cy.shift };
  const best = bestTextureCorrelation3x3(a, b, cx.shift, cy.shift);
  return { score: best.corr, profile, dx: best.dx, dy: best.dy };
}

/** Disjoint sets over 0..n−1 with path halving. */
export class UnionFind {
  private readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    const p = this.parent;
    while (p[i] !== i) {
      p[i] = p[p[i]];
      i = p[i];
    }
    return i;
  }
  union(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return false;
    // the smaller root index wins, so that the result does not depend on the order of unions
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
    return true;
  }
}

/** Intersection over union of two binary masks of the same size (1 when both are empty). */
export function maskIoU(a: Uint8Array, b: Uint8Array): number {
  let inter = 0;
  let uni = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0;
    const y = b[i] !== 0;
    if (x && y) inter++;
    if (x || y) uni++;
  }
  return uni === 0 ? 1 : inter / uni;
}

export interface GroupInput {
  readonly features: CaptureFeatures;
  /** Binary defect mask at full resolution (row-major), or null (no mask or empty). */
  readonly mask: Uint8Array | null;
}

export interface GroupingResult {
  /** Group index of each input, groups numbered 0.. in order of their first member. */
  readonly groupOf: Int32Array;
  readonly groupCount: number;
  /** Pairs compared in 2-D, pairs matched by texture, pairs matched by mask. */
  readonly stats: { readonly candidatePairs: number; readonly comparedPairs: number; readonly textureMatches: number; readonly maskMatches: number };
}

/**
 * Groups captures: inputs i and j are joined when their textures match (captureSimilarity ≥
 * threshold) or their masks do (same size, both non-empty, IoU ≥ maskIoU).
 */
export function findGroups(inputs: readonly GroupInput[], params: GroupingParams = DEFAULT_GROUPING): GroupingResult {
  const n = inputs.length;
  const uf = new UnionFind(n);
  // visit pairs in order of width so that only near sizes are looked at
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => inputs[i].features.width - inputs[j].features.width || i - j);
  let candidatePairs = 0;
  let comparedPairs = 0;
  let textureMatches = 0;
  let maskMatches = 0;
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi];
    const a = inputs[i];
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj];
      const b = inputs[j];
      if (b.features.width - a.features.width > params.sizeTolerance) break;
      if (Math.abs(a.features.height - b.features.height) > params.sizeTolerance) continue;
      candidatePairs++;
      if (
        params.maskIoU > 0 &&
        a.mask &&
        b.mask &&
        a.features.width === b.features.width &&
        a.features.height === b.features.height &&
        maskIoU(a.mask, b.mask) >= params.maskIoU
      ) {
        maskMatches++;
        uf.union(i, j);
        continue;
      }
      if (uf.find(i) === uf.find(j)) continue; // already joined: the answer cannot change the groups
      const sim = captureSimilarity(a.features, b.features, params);
      if (sim.score > -1) comparedPairs++;
      if (sim.score >= params.threshold) {
        textureMatches++;
        uf.union(i, j);
      }
    }
  }
  const groupOf = new Int32Array(n);
  const ids = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const r = uf.find(i);
    let g = ids.get(r);
    if (g === undefined) {
      g = ids.size;
      ids.set(r, g);
    }
    groupOf[i] = g;
  }
  return { groupOf, groupCount: ids.size, stats: { candidatePairs, comparedPairs, textureMatches, maskMatches } };
}

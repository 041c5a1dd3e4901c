/**
 * CutPaste (Li et al., CVPR 2021), a self-supervised pretext task for local irregularities of a texture:
 * the network sees a defect-free crop as it is (class 0), with a rectangle cut from it and pasted
 * elsewhere (1), or with a thin rotated strip, a "scar", pasted (2), and learns which. Defects on tiles
 * are local breaks of the texture; rotation prediction (pretext.ts) teaches orientation instead.
 * Pure functions over planar (plane-major) crops; every random choice comes from the caller's generator.
 */

export const CUTPASTE_CLASSES: readonly string[] = ['normal', 'cutpaste', 'scar'];
export type CutPasteKind = 'cutpaste' | 'scar';

/**
 * One paste: a source rectangle of `height` × `width` pixels centred at (srcY, srcX), turned by `angle`
 * (radians, counter-clockwise) about its centre and written centred at (dstY, dstX), its values scaled by
 * `brightness` and then spread about their mean by `contrast` (torchvision's definitions), clipped to [0, 1].
 */
export interface PastePatch {
  readonly height: number;
  readonly width: number;
  readonly srcY: number;
  readonly srcX: number;
  readonly dstY: number;
  readonly dstX: number;
  readonly angle: number;
  readonly brightness: number;
  readonly contrast: number;
}

/** The paper's ranges, for 256-pixel crops; scar sizes scale with the crop. */
const AREA_RATIO: readonly [number, number] = [0.02, 0.15];
const ASPECT_RATIO: readonly [number, number] = [0.3, 1 / 0.3];
const SCAR_WIDTH_256: readonly [number, number] = [2, 16];
const SCAR_LENGTH_256: readonly [number, number] = [10, 25];
const SCAR_ANGLE: readonly [number, number] = [-Math.PI / 4, Math.PI / 4];
const JITTER = 0.1;

function uniform(rand: () => number, [lo, hi]: readonly [number, number]): number {
  return lo + (hi - lo) * rand();
}

/** Half the height and width of the box around a height × width rectangle turned by `angle`. */
function halfExtents(height: number, width: number, angle: number): [number, number] {
  const c = Math.abs(Math.cos(angle));
  const s = Math.abs(Math.sin(angle));
  return [(c * height + s * width) / 2, (s * height + c * width) / 2];
}

/** The centre of a run of `extent` pixels placed uniformly inside `size` (on a pixel, or between two). */
function placeRun(rand: () => number, size: number, extent: number): number {
  const start = Math.floor(rand() * (size - extent + 1));
  return start + (extent - 1) / 2;
}

/**
 * Draws one paste for a size × size crop. 'cutpaste': an upright rectangle of 2–15 % of the crop's area,
 * aspect ratio log-uniform in [0.3, 3.3]. 'scar': 2–16 by 10–25 pixels at 256 (scaled to the crop, at
 * least 1 by 2), turned by up to ±45°. Both lie wholly inside the crop, at source and destination.
 */
export function drawPastePatch(rand: () => number, size: number, kind: CutPasteKind): PastePatch {
  let height: number;
  let width: number;
  let angle = 0;
  if (kind === 'cutpaste') {
    const area = uniform(rand, AREA_RATIO) * size * size;
    const aspect = Math.exp(uniform(rand, [Math.log(ASPECT_RATIO[0]), Math.log(ASPECT_RATIO[1])]));
    height = Math.min(size, Math.max(1, Math.round(Math.sqrt(area * aspect))));
    width = Math.min(size, Math.max(1, Math.round(Math.sqrt(area / aspect))));
  } else {
    const scale = size / 256;
    width = Math.min(size, Math.max(1, Math.round(uniform(rand, SCAR_WIDTH_256) * scale)));
    height = Math.min(size, Math.max(2, Math.round(uniform(rand, SCAR_LENGTH_256) * scale)));
    angle = uniform(rand, SCAR_ANGLE);
  }
  // the source is upright and copied whole; a turned patch's pixels lie within ceil(extent) − 1 of its
  // (whole-pixel) centre, which keeps it inside when it is placed as a run of that many pixels each side
  const srcY = placeRun(rand, size, height);
  const srcX = placeRun(rand, size, width);
  let dstY: number;
  let dstX: number;
  if (angle === 0) {
    dstY = placeRun(rand, size, height);
    dstX = placeRun(rand, size, width);
  } else {
    const [hy, hx] = halfExtents(height, width, angle);
    dstY = placeRun(rand, size, Math.min(size, 2 * Math.ceil(hy) - 1));
    dstX = placeRun(rand, size, Math.min(size, 2 * Math.ceil(hx) - 1));
  }
  const brightness = uniform(rand, [1 - JITTER, 1 + JITTER]);
  const contrast = uniform(rand, [1 - JITTER, 1 + JITTER]);
  return { height, width, srcY, srcX, dstY, dstX, angle, brightness, contrast };
}

/**
 * Where a patch goes in a height × width crop: destination pixel indices and, for each, its source pixel.
 * Destination pixel p is inside when its offset from (dstY, dstX), turned back by `angle`, lies strictly
 * within half the rectangle's size (so an upright patch covers exactly height × width pixels); it takes
 * the nearest source pixel at that offset from (srcY, srcX). Pixels outside the crop are left out.
 */
export function pasteMap(p: PastePatch, height: number, width: number): { dst: Int32Array; src: Int32Array } {
  const cos = Math.cos(p.angle);
  const sin = Math.sin(p.angle);
  const halfH = p.height / 2;
  const halfW = p.width / 2;
  const [ey, ex] = halfExtents(p.height, p.width, p.angle);
  const y0 = Math.max(0, Math.floor(p.dstY - ey - 1));
  const y1 = Math.min(height - 1, Math.ceil(p.dstY + ey + 1));
  const x0 = Math.max(0, Math.floor(p.dstX - ex - 1));
  const x1 = Math.min(width - 1, Math.ceil(p.dstX + ex + 1));
  const dst: number[] = [];
  const src: number[] = [];
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dy = y - p.dstY;
      const dx = x - p.dstX;
      // the offset in the patch's own frame (turned back by the angle)
      const qy = cos * dy - sin * dx;
      const qx = sin * dy + cos * dx;
      if (Math.abs(qy) >= halfH - 1e-9 || Math.abs(qx) >= halfW - 1e-9) continue;
      dst.push(y * width + x);
      src.push(Math.min(height - 1, Math.max(0, Math.round(p.srcY + qy))) * width + Math.min(width - 1, Math.max(0, Math.round(p.srcX + qx))));
    }
  }
  return { dst: Int32Array.from(dst), src: Int32Array.from(src) };
}

/**
 * The crop (`channels` planes of height × width) with the patch pasted (pasteMap), as a new array.
 * Every channel gets the same pixels and the same jitter.
 */
export function pastePatch(planes: Float32Array, channels: number, height: number, width: number, p: PastePatch): Float32Array {
  if (planes.length !== channels * height * width) throw new RangeError(`pastePatch: ${planes.length} values for ${channels} planes of ${height}×${width}`);
  const out = new Float32Array(planes);
  const { dst, src } = pasteMap(p, height, width);
  if (dst.length === 0) return out;
  const plane = height * width;
  for (let c = 0; c < channels; c++) {
    const base = c * plane;
    let mean = 0;
    for (const s of src) mean += p.brightness * planes[base + s];
    mean /= src.length;
    for (let i = 0; i < dst.length; i++) {
      const v = mean + p.contrast * (p.brightness * planes[base + src[i]] - mean);
      out[base + dst[i]] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return out;
}

/**
 * An (n, c, s, s) batch with each sample made into its class: labels[i] = 0 leaves it as it is, 1 pastes
 * a 'cutpaste' rectangle, 2 a scar (each drawn from `rand`).
 */
export function cutPasteBatch(x: Float32Array, n: number, c: number, s: number, labels: readonly number[], rand: () => number): Float32Array {
  if (x.length !== n * c * s * s || labels.length !== n) throw new RangeError(`cutPasteBatch: ${x.length} values, ${labels.length} labels for (${n}, ${c}, ${s}, ${s})`);
  const out = new Float32Array(x);
  const size = c * s * s;
  for (let i = 0; i < n; i++) {
    const k = labels[i];
    if (k === 0) continue;
    if (k !== 1 && k !== 2) throw new RangeError(`cutPasteBatch: label ${k} is not 0, 1 or 2`);
    const patch = drawPastePatch(rand, s, k === 1 ? 'cutpaste' : 'scar');
    out.set(pastePatch(x.subarray(i * size, (i + 1) * size), c, s, s, patch), i * size);
  }
  return out;
}

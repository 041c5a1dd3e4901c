/**
 * Geometric transforms applied identically to an image and its mask (pure, browser-safe).
 *
 * Masks travel through every transform as soft planar images (values in [0, 1]) with exactly the same
 * sampling as their image, and are thresholded at 0.5 only once, at the end (thresholdMask): so a
 * mask follows its image's geometry to the sub-pixel, and interpolation never shifts it.
 */
import { LrpsegError, mulberry32, normalGenerator, rotatePlanes90 } from '@lrpseg/core';
import type { PlanarImage } from './resize.js';

/** A rectangle [top, bottom) × [left, right). */
export interface Box {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
}

/** Mirror image left–right (every channel). */
export function flipHorizontal<T extends PlanarImage>(img: T): T {
  const { width: W, height: H, channels: C, data } = img;
  const out = new Float32Array(data.length);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const row = (c * H + y) * W;
      for (let x = 0; x < W; x++) out[row + x] = data[row + W - 1 - x];
    }
  }
  return { ...img, data: out };
}

/** Mirror image top–bottom (every channel). */
export function flipVertical<T extends PlanarImage>(img: T): T {
  const { width: W, height: H, channels: C, data } = img;
  const out = new Float32Array(data.length);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const src = (c * H + (H - 1 - y)) * W;
      out.set(data.subarray(src, src + W), (c * H + y) * W);
    }
  }
  return { ...img, data: out };
}

/** Pixels ≥ threshold as 1, else 0 (first channel), row-major H × W bytes. */
export function thresholdMask(mask: PlanarImage, threshold = 0.5): Uint8Array {
  const n = mask.width * mask.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = mask.data[i] >= threshold ? 1 : 0;
  return out;
}

/** The bounding box of the pixels ≥ threshold (first channel), or null when there are none. */
export function maskBox(mask: PlanarImage, threshold = 0.5): Box | null {
  const { width: W, height: H, data } = mask;
  let top = H;
  let left = W;
  let bottom = -1;
  let right = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (data[y * W + x] >= threshold) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  return bottom < 0 ? null : { top, left, bottom: bottom + 1, right: right + 1 };
}

/**
 * The range [lo, hi] of crop offsets along one axis for which a crop of `crop` pixels inside `size`
 * contains the interval [a, b): when the interval is longer than the crop, the crop lies inside it
 * instead (as much defect as fits). Without an interval every offset is allowed.
 */
export function cropOffsetRange(size: number, crop: number, a?: number, b?: number): [number, number] {
  const maxOff = size - crop;
  if (maxOff < 0) throw new LrpsegError('BAD_INPUT', `crop of ${crop} does not fit in ${size} pixels`);
  if (a === undefined || b === undefined) return [0, maxOff];
  let lo: number;
  let hi: number;
  if (b - a <= crop) {
    lo = b - crop;
    hi = a;
  } else {
    lo = a;
    hi = b - crop;
  }
  lo = Math.max(0, lo);
  hi = Math.min(maxOff, hi);
  return lo <= hi ? [lo, hi] : [Math.min(Math.max(0, a), maxOff), Math.min(Math.max(0, a), maxOff)];
}

/**
 * A random crop position (uniform over the allowed offsets) such that the crop contains `box`; any
 * position when box is null (defect-free images, or defect images without a marked defect).
 */
export function randomCropContaining(
  rand: () => number,
  size: readonly [number, number],
  crop: readonly [number, number],
  box: Box | null,
): { top: number; left: number } {
  const [yl, yh] = cropOffsetRange(size[0], crop[0], box?.top, box?.bottom);
  const [xl, xh] = cropOffsetRange(size[1], crop[1], box?.left, box?.right);
  const top = yl + Math.floor(rand() * (yh - yl + 1));
  const left = xl + Math.floor(rand() * (xh - xl + 1));
  return { top: Math.min(top, yh), left: Math.min(left, xh) };
}

/** The crop of size `crop` whose centre is closest to the centre of `box` (centre of the image when null). */
export function cropCentredOn(size: readonly [number, number], crop: readonly [number, number], box: Box | null): { top: number; left: number } {
  const place = (n: number, c: number, a?: number, b?: number): number => {
    const centre = a === undefined || b === undefined ? n / 2 : (a + b) / 2;
    return Math.min(Math.max(0, Math.round(centre - c / 2)), n - c);
  };
  return { top: place(size[0], crop[0], box?.top, box?.bottom), left: place(size[1], crop[1], box?.left, box?.right) };
}

/** Parameters of the U-Net augmentation (Ronneberger et al. 2015), all drawn per sample. */
export interface WarpParams {
  /** Largest rotation, degrees (uniform in ±). */
  readonly maxRotationDeg: number;
  /** Scale drawn uniformly in [1 − s, 1 + s]. */
  readonly maxScale: number;
  /** Shear drawn uniformly in ±. */
  readonly maxShear: number;
  /** Translation drawn uniformly in ± this fraction of the size. */
  readonly maxTranslate: number;
  /** Elastic deformation: a coarse grid of this many points per side... */
  readonly elasticGrid: number;
  /** ...with Gaussian displacements of this standard deviation, in pixels (0: no elastic part). */
  readonly elasticSigma: number;
}

/** Ronneberger et al.: 3 × 3 grid, σ = 10 px; mild affine transforms. */
export const DEFAULT_WARP: WarpParams = {
  maxRotationDeg: 15,
  maxScale: 0.1,
  maxShear: 0.05,
  maxTranslate: 0.05,
  elasticGrid: 3,
  elasticSigma: 10,
};

/** Catmull–Rom weights for fraction t, for the points p−1, p, p+1, p+2. */
function cubicWeights(t: number): [number, number, number, number] {
  const t2 = t * t;
  const t3 = t2 * t;
  return [-0.5 * t3 + t2 - 0.5 * t, 1.5 * t3 - 2.5 * t2 + 1, -1.5 * t3 + 2 * t2 + 0.5 * t, 0.5 * t3 - 0.5 * t2];
}

/** Bicubic interpolation of a g × g grid spanning the image, at every pixel: H × W values. */
function upsampleGridBicubic(grid: Float64Array, g: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  const at = (i: number, j: number): number => grid[Math.min(g - 1, Math.max(0, i)) * g + Math.min(g - 1, Math.max(0, j))];
  for (let y = 0; y < H; y++) {
    const gy = H > 1 ? (y * (g - 1)) / (H - 1) : 0;
    const iy = Math.min(g - 2, Math.floor(gy));
    const wy = cubicWeights(gy - iy);
    for (let x = 0; x < W; x++) {
      const gx = W > 1 ? (x * (g - 1)) / (W - 1) : 0;
      const ix = Math.min(g - 2, Math.floor(gx));
      const wx = cubicWeights(gx - ix);
      let s = 0;
      for (let a = 0; a < 4; a++) {
        let r = 0;
        for (let b = 0; b < 4; b++) r += wx[b] * at(iy - 1 + a, ix - 1 + b);
        s += wy[a] * r;
      }
      out[y * W + x] = s;
    }
  }
  return out;
}

/**
 * A sampling map (for every output pixel, the source x and y) of a random affine transform about the
 * centre plus a smooth elastic displacement. Seeded: the same seed gives the same map.
 */
export function randomWarpMap(seed: number, height: number, width: number, p: WarpParams = DEFAULT_WARP): { x: Float32Array; y: Float32Array } {
  const rand = mulberry32(seed);
  const normal = normalGenerator(rand);
  const u = (m: number): number => (2 * rand() - 1) * m;
  const th = (u(p.maxRotationDeg) * Math.PI) / 180;
  const sc = 1 + u(p.maxScale);
  const sh = u(p.maxShear);
  const tx = u(p.maxTranslate) * width;
  const ty = u(p.maxTranslate) * height;
  // source = centre + A (out − centre) + t, with A = R(θ)·[[1, sh], [0, 1]] / scale
  const cos = Math.cos(th) / sc;
  const sin = Math.sin(th) / sc;
  const a00 = cos;
  const a01 = cos * sh - sin;
  const a10 = sin;
  const a11 = sin * sh + cos;
  const g = Math.max(2, p.elasticGrid);
  const dxGrid = new Float64Array(g * g);
  const dyGrid = new Float64Array(g * g);
  for (let i = 0; i < g * g; i++) {
    dxGrid[i] = normal() * p.elasticSigma;
    dyGrid[i] = normal() * p.elasticSigma;
  }
  const dx = upsampleGridBicubic(dxGrid, g, height, width);
  const dy = upsampleGridBicubic(dyGrid, g, height, width);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const mx = new Float32Array(height * width);
  const my = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const ox = x - cx;
      const oy = y - cy;
      mx[i] = cx + a00 * ox + a01 * oy + tx + dx[i];
      my[i] = cy + a10 * ox + a11 * oy + ty + dy[i];
    }
  }
  return { x: mx, y: my };
}

/** Mirror an integer index into [0, n) (…2 1 0 | 0 1 2 … n−1 | n−1 n−2 …). */
function mirror(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let k = i % period;
  if (k < 0) k += period;
  return k < n ? k : period - 1 - k;
}

/**
 * Resamples an image through a sampling map (output size = the map's): bilinear, borders mirrored.
 * Image and mask warped with the same map stay aligned.
 */
export function warpBilinear<T extends PlanarImage>(img: T, map: { x: Float32Array; y: Float32Array }, height: number, width: number): T {
  const { width: W, height: H, channels: C, data } = img;
  if (map.x.length !== height * width || map.y.length !== height * width) {
    throw new LrpsegError('SHAPE_MISMATCH', `warpBilinear: map of ${map.x.length} points for ${height}×${width}`);
  }
  const out = new Float32Array(C * height * width);
  const hw = height * width;
  for (let i = 0; i < hw; i++) {
    const sx = map.x[i];
    const sy = map.y[i];
    const x0f = Math.floor(sx);
    const y0f = Math.floor(sy);
    const fx = sx - x0f;
    const fy = sy - y0f;
    const x0 = mirror(x0f, W);
    const x1 = mirror(x0f + 1, W);
    const y0 = mirror(y0f, H);
    const y1 = mirror(y0f + 1, H);
    for (let c = 0; c < C; c++) {
      const base = c * H * W;
      const a = data[base + y0 * W + x0];
      const b = data[base + y0 * W + x1];
      const d = data[base + y1 * W + x0];
      const e = data[base + y1 * W + x1];
      const top = a + (b - a) * fx;
      const bot = d + (e - d) * fx;
      out[c * hw + i] = top + (bot - top) * fy;
    }
  }
  return { ...img, width, height, data: out };
}

/**
 * Rotation by k quarter turns counter-clockwise (k taken mod 4), every channel. Odd k swaps width and
 * height; an exact permutation of the pixels, so a mask rotated with its image stays aligned bit for bit.
 */
export function rotate90<T extends PlanarImage>(img: T, k: number): T {
  const r = rotatePlanes90(img.data, img.channels, img.height, img.width, k);
  return { ...img, width: r.width, height: r.height, data: r.data };
}

/** Multiplies every value by `factor` and clips to [0, 1] (torchvision's adjust_brightness). */
export function adjustBrightness<T extends PlanarImage>(img: T, factor: number): T {
  const out = Float32Array.from(img.data, (v) => Math.min(1, Math.max(0, v * factor)));
  return { ...img, data: out };
}

/**
 * Blends with the image's mean value: mean + factor · (v − mean), clipped to [0, 1] (torchvision's
 * adjust_contrast for grey images; for colour images the mean is taken over every channel alike,
 * not over the luminance, which is the same for the grey tiles repeated to three channels).
 */
export function adjustContrast<T extends PlanarImage>(img: T, factor: number): T {
  let sum = 0;
  for (let i = 0; i < img.data.length; i++) sum += img.data[i];
  const mean = img.data.length > 0 ? sum / img.data.length : 0;
  const out = Float32Array.from(img.data, (v) => Math.min(1, Math.max(0, mean + factor * (v - mean))));
  return { ...img, data: out };
}

/** Photometric jitter magnitudes: factors drawn uniformly in [1 − m, 1 + m] (0: off). */
export interface PhotometricJitter {
  readonly brightness: number;
  readonly contrast: number;
}

/**
 * Random brightness, then random contrast (each only when its magnitude is > 0, so that a zero
 * magnitude draws nothing from `rand`). Applied to the image only: masks do not change with lighting.
 */
export function randomPhotometric<T extends PlanarImage>(rand: () => number, img: T, j: PhotometricJitter): T {
  for (const [name, m] of [['brightness', j.brightness], ['contrast', j.contrast]] as const) {
    if (!(m >= 0 && m < 1)) throw new LrpsegError('BAD_INPUT', `${name} jitter must be in [0, 1) (got ${m})`);
  }
  let out = img;
  if (j.brightness > 0) out = adjustBrightness(out, 1 + (2 * rand() - 1) * j.brightness);
  if (j.contrast > 0) out = adjustContrast(out, 1 + (2 * rand() - 1) * j.contrast);
  return out;
}

/** Hide-and-Seek: cells of `cell` × `cell` pixels, each hidden with probability `probability` (0: off). */
export interface HidePatches {
  readonly probability: number;
  readonly cell: number;
}

/**
 * Hide-and-Seek (Singh and Lee, ICCV 2017): the image cut into a grid of `cell` × `cell` cells (the
 * last row and column may be narrower), each hidden, i.e. filled with the image's per-channel mean,
 * with probability `probability`. A classifier that cannot count on seeing the most telling part of an
 * object has to learn the rest of it too; for weakly supervised localisation that widened class
 * activation maps to whole objects. Image only (the label stays, even where a small defect is hidden
 * whole). Draws one number per cell, none when the probability is 0.
 */
export function hidePatches<T extends PlanarImage>(rand: () => number, img: T, h: HidePatches): T {
  if (!(h.probability >= 0 && h.probability < 1)) throw new LrpsegError('BAD_INPUT', `the hiding probability must be in [0, 1) (got ${h.probability})`);
  if (!(Number.isInteger(h.cell) && h.cell >= 1)) throw new LrpsegError('BAD_INPUT', `the hidden cells' side must be a whole number of pixels ≥ 1 (got ${h.cell})`);
  if (h.probability === 0) return img;
  const { width: W, height: H, channels: C } = img;
  const plane = W * H;
  const means = Array.from({ length: C }, (_, c) => {
    let sum = 0;
    for (let i = c * plane; i < (c + 1) * plane; i++) sum += img.data[i];
    return plane > 0 ? sum / plane : 0;
  });
  const out = new Float32Array(img.data);
  for (let y0 = 0; y0 < H; y0 += h.cell) {
    for (let x0 = 0; x0 < W; x0 += h.cell) {
      if (rand() >= h.probability) continue;
      for (let c = 0; c < C; c++) {
        for (let y = y0; y < Math.min(H, y0 + h.cell); y++) out.fill(means[c], c * plane + y * W + x0, c * plane + y * W + Math.min(W, x0 + h.cell));
      }
    }
  }
  return { ...img, data: out };
}

/** Which factors scale jitter draws: `both` log-uniform in [1/s, s], `enlarge` log-uniform in [1, s]. */
export type ScaleRange = 'both' | 'enlarge';

/**
 * The size of a training image after a random rescale (scale jitter): a factor drawn log-uniformly in
 * [1/s, s] (or in [1, s] for `range` = `enlarge`), raised where needed so that the image still holds the
 * input (`inH × inW`), aspect ratio kept. Magnetic Tile's captures come at different resolutions (small
 * ones are scaled up to the input), so a defect's apparent size and the sharpness of the texture vary
 * between captures; this draws such variations for the training crops. `s` = 1 is off and draws nothing
 * from `rand`; otherwise one number is drawn, whatever the range.
 */
export function randomScaledSize(
  rand: () => number,
  h: number,
  w: number,
  inH: number,
  inW: number,
  s: number,
  range: ScaleRange = 'both',
): [number, number] {
  if (!(s >= 1 && s <= 4)) throw new LrpsegError('BAD_INPUT', `scale jitter must be in [1, 4] (got ${s})`);
  if (h < inH || w < inW) throw new LrpsegError('BAD_INPUT', `randomScaledSize: image of ${h}×${w} is smaller than the input ${inH}×${inW}`);
  if (s === 1) return [h, w];
  // 'both' keeps its original expression, so that runs made before 'enlarge' existed replay bit for bit
  const exponent = range === 'both' ? 2 * rand() - 1 : rand();
  const f = Math.max(Math.exp(exponent * Math.log(s)), inH / h, inW / w);
  return [Math.max(inH, Math.round(h * f)), Math.max(inW, Math.round(w * f))];
}

/**
 * One sample, from decoded image and soft mask to model input (pure, browser-safe): the patch region,
 * the scale-up of small images (and for training an optional scale jitter), the crop (random and containing the defect for training, centred for
 * evaluation), flips, and for U-Net the affine + elastic warp. Image and mask go through the same steps.
 */
import { LrpsegError, mulberry32 } from '@lrpseg/core';
import {
  DEFAULT_WARP,
  cropCentredOn,
  flipHorizontal,
  flipVertical,
  maskBox,
  randomCropContaining,
  hidePatches,
  randomPhotometric,
  randomScaledSize,
  type ScaleRange,
  randomWarpMap,
  rotate90,
  thresholdMask,
  warpBilinear,
  type Box,
  type HidePatches,
  type WarpParams,
} from './augment.js';
import type { EvalView, Region } from './manifest.js';
import { centerCropOffset, cropRegion, resizeBilinear, toChannels, type PlanarImage } from './resize.js';

export type SampleMode = 'train' | 'eval';

/** How a training sample is augmented. */
export interface TrainAugment {
  /** Random horizontal and vertical flips (each with probability ½). */
  readonly flips: boolean;
  /** Random affine + elastic warp (U-Net); null: none. */
  readonly warp: WarpParams | null;
  /** Random quarter turns, k uniform in {0, 1, 2, 3} (square inputs only; default off). */
  readonly rot90?: boolean;
  /** Brightness factor uniform in [1 − b, 1 + b] (default 0: off). */
  readonly brightness?: number;
  /** Contrast factor uniform in [1 − c, 1 + c] (default 0: off). */
  readonly contrast?: number;
  /** Scale jitter before the crop: the image and its mask rescaled by a factor log-uniform in [1/s, s] (default 1: off). */
  readonly scale?: number;
  /** The factors `scale` draws: [1/s, s] (`both`, default) or [1, s] (`enlarge`: never shrinks). */
  readonly scaleRange?: ScaleRange;
  /** Hide-and-Seek: random cells of the crop filled with its mean (default off). */
  readonly hide?: HidePatches;
}

export const CLASSIFIER_AUGMENT: TrainAugment = { flips: true, warp: null };
export const UNET_AUGMENT: TrainAugment = { flips: true, warp: DEFAULT_WARP };

export interface SampleSpec {
  readonly mode: SampleMode;
  /** Model input, height × width. */
  readonly size: readonly [number, number];
  /** Model input channels (grey images are repeated to 3). */
  readonly channels: number;
  /** The part of the decoded image to use (patches), or undefined for all of it. */
  readonly region?: Region;
  /** Training: the per-sample seed of every random choice. */
  readonly seed: number;
  readonly augment: TrainAugment;
  /** Evaluation: which view (section 3.4 adds each image's flips to val and test). */
  readonly view: EvalView;
  /** Evaluation crop: 'center' as the paper, or 'defect' (centred on the defect's bounding box). */
  readonly evalCrop: 'center' | 'defect';
}

export interface PreparedSample {
  /** channels × H × W, values in [0, 1]. */
  readonly data: Float32Array;
  /** H × W bytes, 1 = defect (soft mask ≥ 0.5 after all transforms); all 0 without a mask. */
  readonly mask: Uint8Array;
  /** Whether the crop contains any defect pixel (a centre crop may miss a small defect). */
  readonly maskHasDefect: boolean;
}

/** Scale-up factor of the paper: small images grow, keeping their aspect ratio, until both sides fit. */
export function scaledSize(h: number, w: number, inH: number, inW: number): [number, number] {
  if (h >= inH && w >= inW) return [h, w];
  const s = Math.max(inH / h, inW / w);
  return [Math.max(inH, Math.round(h * s)), Math.max(inW, Math.round(w * s))];
}

/**
 * What a training crop must contain: the defect's bounding box when it fits in the crop; otherwise
 * (a long crack, defects far apart) one defect pixel drawn at random, so that the crop always shows
 * some defect.
 */
function cropTarget(mask: PlanarImage, box: Box, inH: number, inW: number, rand: () => number): Box {
  if (box.bottom - box.top <= inH && box.right - box.left <= inW) return box;
  const W = mask.width;
  const hits: number[] = [];
  for (let y = box.top; y < box.bottom; y++) for (let x = box.left; x < box.right; x++) if (mask.data[y * W + x] >= 0.5) hits.push(y * W + x);
  const p = hits[Math.floor(rand() * hits.length)];
  const y = Math.floor(p / W);
  const x = p % W;
  return { top: y, left: x, bottom: y + 1, right: x + 1 };
}

/**
 * What an evaluation 'defect' crop is centred on: the defect's bounding box when it fits in the crop;
 * otherwise the defect pixel nearest to the box's centre (the box's centre may fall between two
 * parts of a long crack).
 */
function centreTarget(mask: PlanarImage, box: Box, inH: number, inW: number): Box {
  if (box.bottom - box.top <= inH && box.right - box.left <= inW) return box;
  const W = mask.width;
  const cy = (box.top + box.bottom - 1) / 2;
  const cx = (box.left + box.right - 1) / 2;
  let best = Infinity;
  let by = box.top;
  let bx = box.left;
  for (let y = box.top; y < box.bottom; y++) {
    for (let x = box.left; x < box.right; x++) {
      if (mask.data[y * W + x] < 0.5) continue;
      const d = (y - cy) ** 2 + (x - cx) ** 2;
      if (d < best) {
        best = d;
        by = y;
        bx = x;
      }
    }
  }
  return { top: by, left: bx, bottom: by + 1, right: bx + 1 };
}

/**
 * Prepares one sample. `mask` is a one-channel soft mask of the image's size (or null: no mask,
 * which yields an all-zero mask).
 */
export function prepareSample(image: PlanarImage, mask: PlanarImage | null, spec: SampleSpec): PreparedSample {
  if (mask && (mask.width !== image.width || mask.height !== image.height)) {
    throw new LrpsegError('BAD_INPUT', `mask of ${mask.width}×${mask.height} does not match its image of ${image.width}×${image.height}`);
  }
  let img: PlanarImage = image;
  let msk: PlanarImage | null = mask;
  if (spec.region) {
    const r = spec.region;
    img = cropRegion(img, r.top, r.left, r.height, r.width);
    msk = msk && cropRegion(msk, r.top, r.left, r.height, r.width);
  }
  const [inH, inW] = spec.size;
  const rand = mulberry32(spec.seed);
  let [h, w] = scaledSize(img.height, img.width, inH, inW);
  // drawn first, and nothing is drawn at the default 1: the default augmentation's draws stay as they were
  if (spec.mode === 'train') [h, w] = randomScaledSize(rand, h, w, inH, inW, spec.augment.scale ?? 1, spec.augment.scaleRange);
  if (h !== img.height || w !== img.width) {
    img = resizeBilinear(img, h, w);
    msk = msk && resizeBilinear(msk, h, w);
  }
  const box = msk ? maskBox(msk) : null;
  let top: number;
  let left: number;
  if (spec.mode === 'train') {
    ({ top, left } = randomCropContaining(rand, [h, w], [inH, inW], box && msk ? cropTarget(msk, box, inH, inW, rand) : null));
  } else if (spec.evalCrop === 'defect') {
    ({ top, left } = cropCentredOn([h, w], [inH, inW], box && msk ? centreTarget(msk, box, inH, inW) : null));
  } else {
    top = centerCropOffset(h, inH);
    left = centerCropOffset(w, inW);
  }
  img = cropRegion(img, top, left, inH, inW);
  msk = msk && cropRegion(msk, top, left, inH, inW);
  if (spec.mode === 'train') {
    if (spec.augment.flips) {
      if (rand() < 0.5) {
        img = flipHorizontal(img);
        msk = msk && flipHorizontal(msk);
      }
      if (rand() < 0.5) {
        img = flipVertical(img);
        msk = msk && flipVertical(msk);
      }
    }
    if (spec.augment.warp) {
      const map = randomWarpMap(Math.floor(rand() * 2 ** 32), inH, inW, spec.augment.warp);
      img = warpBilinear(img, map, inH, inW);
      msk = msk && warpBilinear(msk, map, inH, inW);
    }
    // drawn after the flips and the warp, and only when enabled: the default augmentation's draws stay as they were
    if (spec.augment.rot90) {
      if (inH !== inW) throw new LrpsegError('BAD_INPUT', `90° rotations need a square input (got ${inH}×${inW})`);
      const k = Math.floor(rand() * 4);
      img = rotate90(img, k);
      msk = msk && rotate90(msk, k);
    }
    const brightness = spec.augment.brightness ?? 0;
    const contrast = spec.augment.contrast ?? 0;
    if (brightness > 0 || contrast > 0) img = randomPhotometric(rand, img, { brightness, contrast });
    // last, so that the hidden cells hold the mean of what the network would otherwise have seen
    if (spec.augment.hide) img = hidePatches(rand, img, spec.augment.hide);
  } else if (spec.view === 'hflip') {
    img = flipHorizontal(img);
    msk = msk && flipHorizontal(msk);
  } else if (spec.view === 'vflip') {
    img = flipVertical(img);
    msk = msk && flipVertical(msk);
  }
  const data = toChannels(img, spec.channels).data;
  const maskBytes = msk ? thresholdMask(msk) : new Uint8Array(inH * inW);
  return { data: data === image.data ? new Float32Array(data) : data, mask: maskBytes, maskHasDefect: maskBytes.includes(1) };
}

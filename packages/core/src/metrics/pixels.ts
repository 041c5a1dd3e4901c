/**
 * Pixel metrics for the damage class (SEGMENTATION.md, "Scores"): counts per image, pooled sums, and
 * IoU / precision / recall from them. A ratio whose denominator is 0 is NaN ("undefined"), never a
 * silent 0 or 1.
 */
import { LrpsegError } from '../errors.js';

export interface PixelCounts {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
}

export const ZERO_COUNTS: PixelCounts = { tp: 0, fp: 0, fn: 0, tn: 0 };

/** Ground truth from a mask's 8-bit values: damage where value ≥ 128 (the Magnetic Tile masks have soft edges). */
export function damageFromMask8(values: ArrayLike<number>, threshold = 128): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] >= threshold ? 1 : 0;
  return out;
}

/** TP, FP, FN, TN of a predicted mask against ground truth (both 0/1, non-zero counts as 1). */
export function countPixels(predicted: ArrayLike<number>, truth: ArrayLike<number>): PixelCounts {
  if (predicted.length !== truth.length) {
    throw new LrpsegError('SHAPE_MISMATCH', `countPixels: ${predicted.length} predicted pixels but ${truth.length} ground-truth pixels`);
  }
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < predicted.length; i++) {
    const p = predicted[i] !== 0;
    const t = truth[i] !== 0;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn, tn: predicted.length - tp - fp - fn };
}

export function addCounts(a: PixelCounts, b: PixelCounts): PixelCounts {
  return { tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn, tn: a.tn + b.tn };
}

const ratio = (num: number, den: number): number => (den > 0 ? num / den : NaN);

/** TP / (TP + FP + FN); NaN when prediction and truth are both empty. */
export function pixelIoU(c: PixelCounts): number {
  return ratio(c.tp, c.tp + c.fp + c.fn);
}
/** TP / (TP + FP); NaN when nothing is predicted. */
export function pixelPrecision(c: PixelCounts): number {
  return ratio(c.tp, c.tp + c.fp);
}
/** TP / (TP + FN); NaN when the truth is empty. */
export function pixelRecall(c: PixelCounts): number {
  return ratio(c.tp, c.tp + c.fn);
}

export interface SegmentationScores {
  readonly images: number;
  /** TP, FP, FN, TN summed over every pixel of every image. */
  readonly pooled: PixelCounts;
  readonly iou: number;
  readonly precision: number;
  readonly recall: number;
  /** Mean of the per-image IoUs that are defined (prediction or truth non-empty); NaN if none is. */
  readonly meanImageIoU: number;
  /** How many images entered meanImageIoU. */
  readonly meanImageIoUCount: number;
}

/** Pooled IoU, precision, recall and the mean per-image IoU of a set of per-image counts. */
export function segmentationScores(perImage: readonly PixelCounts[]): SegmentationScores {
  let pooled = ZERO_COUNTS;
  let sum = 0;
  let count = 0;
  for (const c of perImage) {
    pooled = addCounts(pooled, c);
    const v = pixelIoU(c);
    if (!Number.isNaN(v)) {
      sum += v;
      count++;
    }
  }
  return {
    images: perImage.length,
    pooled,
    iou: pixelIoU(pooled),
    precision: pixelPrecision(pooled),
    recall: pixelRecall(pooled),
    meanImageIoU: count > 0 ? sum / count : NaN,
    meanImageIoUCount: count,
  };
}

/**
 * Percentile bootstrap intervals over images: how far a test figure could move with another draw of
 * test images of the same kind. Views of one image (its flips) are one resampling unit, since they are
 * not independent; strata (e.g. defective and defect-free images) are resampled separately, so each
 * resample keeps the test split's class counts.
 */
import { LrpsegError } from '../errors.js';
import { mulberry32 } from '../random.js';
import type { PixelCounts } from './pixels.js';

export interface BootstrapOptions {
  /** Number of resamples (default 2000). */
  readonly resamples?: number;
  /** Coverage of the interval (default 0.95). */
  readonly level?: number;
  readonly seed?: number;
}

/** A statistic of weighted units: weights[u] is how often unit u was drawn. */
export type WeightedStatistic = (weights: Float64Array) => number;

/**
 * The percentile interval of `statistic` over resamples that draw, within each stratum (a list of unit
 * indices), as many units as the stratum has, with replacement. Resamples where the statistic is not
 * finite are left out; null when more than half are (too few units to say anything).
 */
export function bootstrapInterval(units: number, strata: readonly (readonly number[])[], statistic: WeightedStatistic, opts: BootstrapOptions = {}): [number, number] | null {
  const resamples = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(resamples) || resamples < 1) throw new LrpsegError('BAD_INPUT', `bootstrap: ${resamples} resamples`);
  if (!(level > 0 && level < 1)) throw new LrpsegError('BAD_INPUT', `bootstrap: level ${level} is not in (0, 1)`);
  for (const s of strata) for (const u of s) if (!(Number.isInteger(u) && u >= 0 && u < units)) throw new LrpsegError('BAD_INPUT', `bootstrap: unit ${u} of ${units}`);
  const rand = mulberry32(opts.seed ?? 0);
  const weights = new Float64Array(units);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    weights.fill(0);
    for (const s of strata) for (let k = 0; k < s.length; k++) weights[s[Math.floor(rand() * s.length)]]++;
    const v = statistic(weights);
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length * 2 < resamples) return null;
  values.sort((a, b) => a - b);
  const at = (q: number): number => {
    // linear interpolation between order statistics (numpy's default percentile)
    const pos = q * (values.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(values.length - 1, lo + 1);
    return values[lo] + (pos - lo) * (values[hi] - values[lo]);
  };
  return [at((1 - level) / 2), at((1 + level) / 2)];
}

/** Binary decision counts of one resampling unit (an image and its views). */
export interface DecisionCounts {
  readonly tp: number;
  readonly fn: number;
  readonly tn: number;
  readonly fp: number;
}

/** Pixel counts of one resampling unit (its views summed). */
export type IoUCounts = Pick<PixelCounts, 'tp' | 'fp' | 'fn'>;

/** Balanced accuracy of the units, each counted weights[i] times. */
function weightedBalancedAccuracy(units: readonly DecisionCounts[], w: Float64Array): number {
  let tp = 0, fn = 0, tn = 0, fp = 0;
  for (let i = 0; i < units.length; i++) {
    tp += w[i] * units[i].tp;
    fn += w[i] * units[i].fn;
    tn += w[i] * units[i].tn;
    fp += w[i] * units[i].fp;
  }
  return (tp / (tp + fn) + tn / (tn + fp)) / 2;
}

/** Pooled IoU ΣTP / Σ(TP + FP + FN) of the units, each counted weights[i] times. */
function weightedPooledIoU(units: readonly IoUCounts[], w: Float64Array): number {
  let tp = 0, all = 0;
  for (let i = 0; i < units.length; i++) {
    tp += w[i] * units[i].tp;
    all += w[i] * (units[i].tp + units[i].fp + units[i].fn);
  }
  return tp / all;
}

/** The strata for balanced accuracy: units with defective views, and the others. */
function byClass(units: readonly DecisionCounts[]): number[][] {
  const positive: number[] = [], negative: number[] = [];
  units.forEach((u, i) => (u.tp + u.fn > 0 ? positive : negative).push(i));
  return [positive, negative];
}

const everyUnit = (n: number): number[][] => [Array.from({ length: n }, (_, i) => i)];

/** Interval of the balanced accuracy, resampling defective and defect-free images separately. */
export function balancedAccuracyInterval(units: readonly DecisionCounts[], opts: BootstrapOptions = {}): [number, number] | null {
  return bootstrapInterval(units.length, byClass(units), (w) => weightedBalancedAccuracy(units, w), opts);
}

/** Interval of the pooled IoU, resampling images (each unit: an image's views summed). */
export function pooledIoUInterval(units: readonly IoUCounts[], opts: BootstrapOptions = {}): [number, number] | null {
  return bootstrapInterval(units.length, everyUnit(units.length), (w) => weightedPooledIoU(units, w), opts);
}

/** A difference between two models on the same units, with its paired interval. */
export interface PairedDifference {
  /** statistic(B) − statistic(A) on all units. */
  readonly difference: number;
  readonly ci95: [number, number] | null;
}

/** The two models' counts on the union of their units (a unit one side lacks counts as zero there). */
function aligned<T>(a: ReadonlyMap<string, T>, b: ReadonlyMap<string, T>, zero: T): { ua: T[]; ub: T[] } {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return { ua: keys.map((k) => a.get(k) ?? zero), ub: keys.map((k) => b.get(k) ?? zero) };
}

function paired<T>(ua: readonly T[], ub: readonly T[], strata: number[][], statistic: (units: readonly T[], w: Float64Array) => number, opts: BootstrapOptions): PairedDifference {
  const difference = (w: Float64Array): number => statistic(ub, w) - statistic(ua, w);
  return { difference: difference(new Float64Array(ua.length).fill(1)), ci95: bootstrapInterval(ua.length, strata, difference, opts) };
}

/**
 * Pooled IoU of B minus that of A, both scored on the same units (keys): each resample draws units once
 * and scores both models on them, so what the two share (hard images, easy ones) cancels out.
 */
export function pairedIoUDifference(a: ReadonlyMap<string, IoUCounts>, b: ReadonlyMap<string, IoUCounts>, opts: BootstrapOptions = {}): PairedDifference {
  const { ua, ub } = aligned(a, b, { tp: 0, fp: 0, fn: 0 });
  return paired(ua, ub, everyUnit(ua.length), weightedPooledIoU, opts);
}

/** Balanced accuracy of B minus that of A on the same units; defective and defect-free units resampled separately. */
export function pairedBalancedAccuracyDifference(a: ReadonlyMap<string, DecisionCounts>, b: ReadonlyMap<string, DecisionCounts>, opts: BootstrapOptions = {}): PairedDifference {
  const { ua, ub } = aligned(a, b, { tp: 0, fn: 0, tn: 0, fp: 0 });
  return paired(ua, ub, byClass(ua), weightedBalancedAccuracy, opts);
}

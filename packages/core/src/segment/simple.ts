/**
 * Simple: the iterative (isodata) threshold of Umbaugh on the normalised map (SEGMENTATION.md).
 */
import { normalize01 } from './filters.js';
import { checkRelevanceMap, type RelevanceMap } from './map.js';

export const SIMPLE_TOLERANCE = 1e-6;
export const SIMPLE_MAX_STEPS = 1000;

export interface IterativeThreshold {
  readonly threshold: number;
  /** Refinement steps taken (0 when one side was empty from the start). */
  readonly steps: number;
}

const BINS = 16384;

/**
 * Starting from the mean, repeatedly sets t to the average of the means of the values above t and of
 * those at or below it; stops once t moves by less than 1e-6 (after taking the new value), after 1000
 * steps, or when one side is empty (then t stays as it is). Sums in float64.
 *
 * The values are first bucketed by value (a counting sort into 16384 equal-width bins, with prefix
 * counts and sums per bin), so that a step costs the size of the one bin holding t instead of a pass
 * over every value: every bin above t's holds only values > t, every bin below only values < t.
 */
export function iterativeThreshold(x: ArrayLike<number>): IterativeThreshold {
  const n = x.length;
  let total = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    total += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  let t = n > 0 ? total / n : 0;
  if (!(max > min)) return { threshold: t, steps: 0 }; // constant (or empty): one side is empty
  const scale = BINS / (max - min);
  const binOf = (v: number): number => {
    const b = Math.floor((v - min) * scale);
    return b < 0 ? 0 : b >= BINS ? BINS - 1 : b;
  };
  // counting sort by bin; cumCount[b], cumSum[b]: count and sum of the bins below b
  const cumCount = new Int32Array(BINS + 1);
  const cumSum = new Float64Array(BINS + 1);
  const bins = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const b = binOf(x[i]);
    bins[i] = b;
    cumCount[b + 1]++;
    cumSum[b + 1] += x[i];
  }
  for (let b = 0; b < BINS; b++) {
    cumCount[b + 1] += cumCount[b];
    cumSum[b + 1] += cumSum[b];
  }
  const fill = cumCount.slice(0, BINS);
  const grouped = new Float64Array(n);
  for (let i = 0; i < n; i++) grouped[fill[bins[i]]++] = x[i];

  let steps = 0;
  while (steps < SIMPLE_MAX_STEPS) {
    const b = binOf(t);
    let sHi = cumSum[BINS] - cumSum[b + 1];
    let nHi = n - cumCount[b + 1];
    for (let j = cumCount[b]; j < cumCount[b + 1]; j++) {
      const v = grouped[j];
      if (v > t) {
        sHi += v;
        nHi++;
      }
    }
    const nLo = n - nHi;
    if (nHi === 0 || nLo === 0) break;
    const next = (sHi / nHi + (cumSum[BINS] - sHi) / nLo) / 2;
    steps++;
    const converged = Math.abs(next - t) < SIMPLE_TOLERANCE;
    t = next;
    if (converged) break;
  }
  return { threshold: t, steps };
}

export interface SimpleSegmentation {
  readonly method: 'simple';
  /** 1 where normalize01(R) > threshold, else 0. */
  readonly mask: Uint8Array;
  /** normalize01(R): Simple has no posterior; this is what its PR curve uses (section 4 of the paper). */
  readonly score: Float32Array;
  readonly threshold: number;
  readonly steps: number;
  /** 'constant' when the map has a single value (then the mask is empty). */
  readonly degenerate?: 'constant';
}

export function segmentSimple(map: RelevanceMap): SimpleSegmentation {
  checkRelevanceMap(map, 'segment simple');
  const x = normalize01(map.data);
  const { threshold, steps } = iterativeThreshold(x);
  const n = x.length;
  const mask = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    if (x[i] > threshold) {
      mask[i] = 1;
      any = true;
    }
  }
  const score = Float32Array.from(x);
  const constant = !any && x.every((v) => v === 0);
  return { method: 'simple', mask, score, threshold, steps, ...(constant ? { degenerate: 'constant' as const } : {}) };
}

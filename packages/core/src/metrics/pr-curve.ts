/**
 * Precision-recall curves and average precision over pooled pixel scores, with scikit-learn's
 * definitions (`precision_recall_curve`, `average_precision_score`): one point per distinct score,
 * ties counted together, AP = Σ (Rₙ − Rₙ₋₁)·Pₙ over thresholds from high to low (no interpolation).
 *
 * Scores of positive and negative pixels are kept apart and each sorted once, so that a curve over
 * millions of pixels is two sorts and one merge.
 */
import { LrpsegError } from '../errors.js';
import { sortedFloat64 } from '../segment/sort.js';

export interface PrCurve {
  /**
   * scikit-learn's layout: thresholds ascending (one per distinct score); precision[i] and recall[i]
   * belong to thresholds[i] ("predict damage where score ≥ threshold"); the arrays end with the extra
   * point precision 1, recall 0 (length thresholds + 1).
   */
  readonly precision: Float64Array;
  readonly recall: Float64Array;
  readonly thresholds: Float64Array;
  readonly positives: number;
  readonly total: number;
}

class GrowableFloat64 {
  private buf = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  view(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Pixel scores and labels pooled over many images. */
export class PooledScores {
  private readonly pos = new GrowableFloat64();
  private readonly neg = new GrowableFloat64();

  /** Adds one image: a score per pixel and its label (non-zero = damage). */
  add(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
    if (scores.length !== labels.length) {
      throw new LrpsegError('SHAPE_MISMATCH', `PR curve: ${scores.length} scores for ${labels.length} labels`);
    }
    for (let i = 0; i < scores.length; i++) {
      const s = scores[i];
      if (!Number.isFinite(s)) throw new LrpsegError('BAD_INPUT', `PR curve: score ${i} is not finite (${s})`);
      if (labels[i] !== 0) this.pos.push(s);
      else this.neg.push(s);
    }
  }

  get positives(): number {
    return this.pos.length;
  }
  get total(): number {
    return this.pos.length + this.neg.length;
  }

  curve(): PrCurve {
    return curveFromSorted(sortedFloat64(this.pos.view()), sortedFloat64(this.neg.view()));
  }
}

function curveFromSorted(pos: Float64Array, neg: Float64Array): PrCurve {
  const positives = pos.length;
  const total = pos.length + neg.length;
  // Walk the distinct scores from high to low, counting the pixels at or above each.
  const tps: number[] = [];
  const fps: number[] = [];
  const ths: number[] = [];
  let ip = pos.length - 1;
  let ineg = neg.length - 1;
  let tp = 0;
  let fp = 0;
  while (ip >= 0 || ineg >= 0) {
    const t = ip < 0 ? neg[ineg] : ineg < 0 ? pos[ip] : Math.max(pos[ip], neg[ineg]);
    while (ip >= 0 && pos[ip] === t) {
      tp++;
      ip--;
    }
    while (ineg >= 0 && neg[ineg] === t) {
      fp++;
      ineg--;
    }
    tps.push(tp);
    fps.push(fp);
    ths.push(t);
  }
  const k = ths.length;
  const precision = new Float64Array(k + 1);
  const recall = new Float64Array(k + 1);
  const thresholds = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    const i = k - 1 - j; // ascending thresholds
    precision[i] = tps[j] / (tps[j] + fps[j]);
    // scikit-learn sets recall to 1 everywhere when there is no positive pixel
    recall[i] = positives > 0 ? tps[j] / positives : 1;
    thresholds[i] = ths[j];
  }
  precision[k] = 1;
  recall[k] = 0;
  return { precision, recall, thresholds, positives, total };
}

/** The PR curve of one set of scores and labels (non-zero = positive). */
export function precisionRecallCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): PrCurve {
  const pooled = new PooledScores();
  pooled.add(scores, labels);
  return pooled.curve();
}

/**
 * Average precision as scikit-learn computes it: −Σ diff(recall)·precision[:-1] over the curve, clipped
 * at 0. (Without positive pixels that is 0, as in scikit-learn, which also warns.)
 */
export function averagePrecision(curve: PrCurve): number {
  const { precision, recall } = curve;
  let s = 0;
  for (let i = 0; i + 1 < recall.length; i++) s -= (recall[i + 1] - recall[i]) * precision[i];
  return Math.max(0, s);
}

/** Precision of a classifier that calls every pixel damage: the damage-pixel fraction. */
export function noSkillPrecision(curve: Pick<PrCurve, 'positives' | 'total'>): number {
  return curve.total > 0 ? curve.positives / curve.total : NaN;
}

export interface PrPoint {
  readonly recall: number;
  readonly precision: number;
  readonly threshold: number;
}

/**
 * The curve's points from the highest threshold to the lowest (recall rising), thinned for plotting and
 * reports: a point is kept when recall or precision moved by at least `step` since the last kept one;
 * the first and last points are always kept.
 */
export function prPoints(curve: PrCurve, step = 0.001): PrPoint[] {
  const k = curve.thresholds.length;
  const out: PrPoint[] = [];
  let last: PrPoint | null = null;
  for (let i = k - 1; i >= 0; i--) {
    const p = { recall: curve.recall[i], precision: curve.precision[i], threshold: curve.thresholds[i] };
    if (last === null || i === 0 || Math.abs(p.recall - last.recall) >= step || Math.abs(p.precision - last.precision) >= step) {
      out.push(p);
      last = p;
    }
  }
  return out;
}

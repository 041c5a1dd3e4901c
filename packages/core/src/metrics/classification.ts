/** Image-level classification rates (Table 2 of the paper): TPR, TNR and balanced accuracy. */
import { LrpsegError } from '../errors.js';

export interface ClassificationScores {
  readonly tp: number;
  readonly fn: number;
  readonly tn: number;
  readonly fp: number;
  /** TP / (TP + FN); NaN without positive images. */
  readonly tpr: number;
  /** TN / (TN + FP); NaN without negative images. */
  readonly tnr: number;
  /** (TPR + TNR) / 2; NaN if either is. */
  readonly balancedAccuracy: number;
}

/** Rates of predicted against actual labels (true = defective). */
export function classificationScores(predicted: readonly boolean[], actual: readonly boolean[]): ClassificationScores {
  if (predicted.length !== actual.length) {
    throw new LrpsegError('SHAPE_MISMATCH', `classificationScores: ${predicted.length} predictions for ${actual.length} labels`);
  }
  let tp = 0, fn = 0, tn = 0, fp = 0;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i]) {
      if (predicted[i]) tp++;
      else fn++;
    } else if (predicted[i]) fp++;
    else tn++;
  }
  const tpr = tp + fn > 0 ? tp / (tp + fn) : NaN;
  const tnr = tn + fp > 0 ? tn / (tn + fp) : NaN;
  return { tp, fn, tn, fp, tpr, tnr, balancedAccuracy: (tpr + tnr) / 2 };
}

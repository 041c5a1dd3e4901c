/** Calibrating a trained classifier's decision threshold on data batches (core `train/calibrate.ts`). */
import {
  bestDecisionThreshold,
  decisionMargins,
  foldDecisionThreshold,
  type CalibratedThreshold,
  type LabeledBatch,
  type Model,
} from '@lrpseg/core';
import type { Batch } from '@lrpseg/datasets';

export interface Calibrated {
  readonly model: Model;
  readonly result: CalibratedThreshold;
  readonly positives: number;
  readonly negatives: number;
}

async function* labelled(batches: AsyncIterable<Batch>): AsyncIterable<LabeledBatch> {
  for await (const b of batches) yield { x: b.x, labels: Array.from(b.labels) };
}

/** The model with the threshold that maximises balanced accuracy on `batches` folded in. */
export async function calibrateOn(model: Model, batches: AsyncIterable<Batch>, source: string): Promise<Calibrated> {
  const margins = await decisionMargins(model, labelled(batches));
  const result = bestDecisionThreshold(margins);
  const positives = margins.labels.filter((l) => l === 1).length;
  const negatives = margins.labels.length - positives;
  const folded = await foldDecisionThreshold(model, result.threshold, {
    samples: { positive: positives, negative: negatives },
    balanced_accuracy: { before: result.balancedAccuracyAtZero, after: result.balancedAccuracy },
    source,
  });
  return { model: folded, result, positives, negatives };
}

export function describeCalibration(c: Calibrated): string {
  const r = c.result;
  return (
    `decision threshold ${r.threshold.toFixed(4)} on the margin (defect − defect-free logit), from ${c.positives} defect and ${c.negatives} ` +
    `defect-free views: balanced accuracy ${(100 * r.balancedAccuracyAtZero).toFixed(1)}% → ${(100 * r.balancedAccuracy).toFixed(1)}%`
  );
}


/**
 * Calibrating a binary classifier's decision threshold on held-out data. A classifier trained on few
 * defect images tends to miss defects (high TNR, low TPR) at the argmax decision; the threshold on the
 * margin (defect logit − defect-free logit) that maximises balanced accuracy on the validation subset is
 * folded into the defect-free output's bias, so the model's argmax — and everything built on it: the
 * segmentation gate, eval, the web page — takes the calibrated decision with no new file format. The
 * defect logit is untouched, so heatmaps of rules that start from the target logit alone are unchanged.
 */
import { LrpsegError } from '../errors.js';
import type { Model } from '../nn/model.js';
import { scope } from '../tensor.js';
import { rewriteLastLinear } from './head.js';
import type { LabeledBatch } from './trainer.js';

/** Each sample's binary label and margin: logit 1 − logit 0 (the model decides "defect" when it is > 0). */
export interface DecisionMargins {
  readonly labels: readonly number[];
  readonly margins: readonly number[];
}

export interface CalibratedThreshold {
  /** Decide "defect" when margin > threshold. */
  readonly threshold: number;
  readonly balancedAccuracy: number;
  /** Balanced accuracy at threshold 0 (the uncalibrated argmax decision). */
  readonly balancedAccuracyAtZero: number;
}

/** The provenance of a folded threshold, stored under `calibration` in the model's metadata. */
export interface CalibrationRecord {
  readonly threshold: number;
  readonly bias: string;
  /** What it was chosen on; absent for a threshold given by hand. */
  readonly samples?: { readonly positive: number; readonly negative: number };
  readonly balanced_accuracy?: { readonly before: number; readonly after: number };
  readonly source?: string;
}

export async function decisionMargins(model: Model, batches: AsyncIterable<LabeledBatch>): Promise<DecisionMargins> {
  const k = model.meta.arch.num_classes;
  if (k !== 2) throw new LrpsegError('BAD_INPUT', `calibration needs a two-class model (this one has ${k} classes)`);
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const labels: number[] = [];
  const margins: number[] = [];
  for await (const batch of batches) {
    const n = batch.labels.length;
    const logits = await scope(() => model.forward(model.backend.fromArray(batch.x, [n, c, h, w]))).read();
    for (let i = 0; i < n; i++) {
      labels.push(batch.labels[i] === 1 ? 1 : 0);
      margins.push(logits[2 * i + 1] - logits[2 * i]);
    }
  }
  return { labels, margins };
}

function balancedAccuracyAt(d: DecisionMargins, t: number): number {
  let tp = 0, p = 0, tn = 0, n = 0;
  for (let i = 0; i < d.labels.length; i++) {
    if (d.labels[i] === 1) {
      p++;
      if (d.margins[i] > t) tp++;
    } else {
      n++;
      if (!(d.margins[i] > t)) tn++;
    }
  }
  return (tp / p + tn / n) / 2;
}

/**
 * The threshold with the best balanced accuracy on `d`: 0 or a midpoint between consecutive distinct
 * margins (never a margin itself, so rounding cannot flip a sample); among equals, the one nearest 0.
 */
export function bestDecisionThreshold(d: DecisionMargins): CalibratedThreshold {
  const positives = d.labels.filter((l) => l === 1).length;
  if (positives === 0 || positives === d.labels.length) {
    throw new LrpsegError('BAD_INPUT', `calibration needs both classes (${positives} defect and ${d.labels.length - positives} defect-free samples)`);
  }
  if (d.margins.some((m) => !Number.isFinite(m))) throw new LrpsegError('BAD_INPUT', 'calibration: a margin is not finite');
  // distinct margins ascending, with how many defect and defect-free samples sit at each
  const order = d.margins.map((_, i) => i).sort((i, j) => d.margins[i] - d.margins[j]);
  const values: number[] = [], posAt: number[] = [], negAt: number[] = [];
  for (const i of order) {
    if (values.length === 0 || values[values.length - 1] !== d.margins[i]) {
      values.push(d.margins[i]);
      posAt.push(0);
      negAt.push(0);
    }
    (d.labels[i] === 1 ? posAt : negAt)[values.length - 1]++;
  }
  const p = positives, n = d.labels.length - positives;
  const atZero = balancedAccuracyAt(d, 0);
  let best = { threshold: 0, balancedAccuracy: atZero };
  // sweep: the candidate below values[j] (above values[j − 1]) calls "defect" exactly the samples at values[j…]
  let posBelow = 0, negBelow = 0;
  for (let j = 0; j <= values.length; j++) {
    const t = j === 0 ? values[0] - 1 : j === values.length ? values[j - 1] + 1 : (values[j - 1] + values[j]) / 2;
    const ba = ((p - posBelow) / p + negBelow / n) / 2;
    if (ba > best.balancedAccuracy || (ba === best.balancedAccuracy && Math.abs(t) < Math.abs(best.threshold))) best = { threshold: t, balancedAccuracy: ba };
    if (j < values.length) {
      posBelow += posAt[j];
      negBelow += negAt[j];
    }
  }
  return { ...best, balancedAccuracyAtZero: atZero };
}

/**
 * A new model (same backend) that decides "defect" when margin > threshold: the last linear layer's
 * bias of class 0 is raised by the threshold; `record` (what it was calibrated on) is stored with the
 * threshold as the metadata's `calibration`.
 */
export async function foldDecisionThreshold(model: Model, threshold: number, record: Omit<CalibrationRecord, 'threshold' | 'bias'>): Promise<Model> {
  if (model.meta.arch.num_classes !== 2) throw new LrpsegError('BAD_INPUT', `calibration needs a two-class model (this one has ${model.meta.arch.num_classes} classes)`);
  if (!Number.isFinite(threshold)) throw new LrpsegError('BAD_INPUT', `calibration: threshold ${threshold} is not finite`);
  const last = model.paramLayers().at(-1);
  const previous = model.meta.calibration as CalibrationRecord | undefined;
  // calibrating twice adds up: the second threshold is relative to the first's decision
  const calibration: CalibrationRecord = { threshold: (previous?.threshold ?? 0) + threshold, bias: `${last?.name}.bias`, ...record };
  return rewriteLastLinear(model, 'calibration', (weight, bias) => {
    bias.data[0] += threshold;
    return { weight, bias };
  }, { ...model.meta, calibration });
}

/**
 * Calibrating a binary classifier's decision threshold on held-out data. A classifier trained on few
 * defect images tends to miss defects (high TNR, low TPR) at the argmax decision; the threshold on the
 * margin (defect logit − defect-free logit) that maximises balanced accuracy on the validation subset is
 * folded into the defect-free output's bias, so the model's argmax — and everything built on it: the
 * segmentation gate, eval, the web page — takes the calibrated decision with no new file format. The
 * defect logit is untouched, so heatmaps of rules that start from the target logit alone are unchanged.
 */
import { LrpsegError } from '../errors.js';
import { serializeSafetensors } from '../io/safetensors.js';
import { loadModel, type Model } from '../nn/model.js';
import { scope } from '../tensor.js';
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
  const sorted = [...new Set(d.margins)].sort((a, b) => a - b);
  const candidates = [0, sorted[0] - 1, sorted[sorted.length - 1] + 1];
  for (let i = 1; i < sorted.length; i++) candidates.push((sorted[i - 1] + sorted[i]) / 2);
  const atZero = balancedAccuracyAt(d, 0);
  let best = { threshold: 0, balancedAccuracy: atZero };
  for (const t of candidates) {
    const ba = balancedAccuracyAt(d, t);
    if (ba > best.balancedAccuracy || (ba === best.balancedAccuracy && Math.abs(t) < Math.abs(best.threshold))) best = { threshold: t, balancedAccuracy: ba };
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
  const layers = model.paramLayers();
  const last = layers[layers.length - 1];
  if (last?.kind !== 'linear') throw new LrpsegError('BAD_INPUT', 'calibration: the model does not end in a linear layer');
  const biasName = `${last.name}.bias`;
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of model.parameters()) {
    const data = Float32Array.from(await t.read());
    if (name === biasName) data[0] += threshold;
    entries.push([name, { shape: t.shape, data }]);
  }
  const previous = model.meta.calibration as CalibrationRecord | undefined;
  // calibrating twice adds up: the second threshold is relative to the first's decision
  const calibration: CalibrationRecord = { threshold: (previous?.threshold ?? 0) + threshold, bias: biasName, ...record };
  const meta = { ...model.meta, calibration };
  return loadModel(model.backend, serializeSafetensors(entries, { lrpseg: JSON.stringify(meta) }));
}

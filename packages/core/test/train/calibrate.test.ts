import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { mulberry32 } from '../../src/random.js';
import type { ModelMeta } from '../../src/nn/arch.js';
import { buildVgg, loadModel, saveModel, type Model } from '../../src/nn/model.js';
import { parseComposite } from '../../src/lrp/composite.js';
import { classifyAndExplain } from '../../src/lrp/explain.js';
import { bestDecisionThreshold, decisionMargins, foldDecisionThreshold, type CalibrationRecord } from '../../src/train/calibrate.js';

const b = new CpuBackend();
const meta: ModelMeta = {
  format_version: 1,
  arch: { type: 'vgg', in_channels: 3, features: [4, 'M', 8, 'M'], classifier: [], num_classes: 2 },
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  input_size: [8, 8],
  classes: ['defect-free', 'defect'],
};
const record = { samples: { positive: 1, negative: 1 }, balanced_accuracy: { before: 0.5, after: 1 } };

/** Balanced accuracy of "defect iff margin > t", straight from the definition. */
function ba(labels: number[], margins: number[], t: number): number {
  const pos = labels.map((l, i) => [l, margins[i] > t ? 1 : 0]);
  const tpr = pos.filter(([l, d]) => l === 1 && d === 1).length / labels.filter((l) => l === 1).length;
  const tnr = pos.filter(([l, d]) => l === 0 && d === 0).length / labels.filter((l) => l === 0).length;
  return (tpr + tnr) / 2;
}

describe('decision threshold calibration', () => {
  it('finds the threshold with the best balanced accuracy, at a midpoint, nearest 0 among equals', () => {
    // defects with low margins (a classifier that misses defects): the best threshold is below 0
    const labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
    const margins = [2, 0.5, -0.2, -0.4, -0.3, -1, -2, -3, -0.9, -5];
    const c = bestDecisionThreshold({ labels, margins });
    expect(c.balancedAccuracyAtZero).toBeCloseTo(ba(labels, margins, 0), 12);
    expect(c.balancedAccuracy).toBeCloseTo(ba(labels, margins, c.threshold), 12);
    // exhaustive check: no threshold does better
    for (let t = -6; t <= 3; t += 0.01) expect(ba(labels, margins, t)).toBeLessThanOrEqual(c.balancedAccuracy + 1e-12);
    // every defect and 5 of 6 clean ones (t in [-0.9, -0.4)) beats 3 of 4 defects and every clean one (t in [-0.3, -0.2))
    expect(c.balancedAccuracy).toBeCloseTo((1 + 5 / 6) / 2, 12);
    expect(c.threshold).toBeCloseTo(-0.65, 12);
    expect(margins).not.toContain(c.threshold);
  });

  it('keeps 0 when the argmax is already best, and refuses one-class or non-finite data', () => {
    const c = bestDecisionThreshold({ labels: [1, 1, 0, 0], margins: [3, 1, -1, -2] });
    expect(c.threshold).toBe(0);
    expect(c.balancedAccuracy).toBe(1);
    expect(() => bestDecisionThreshold({ labels: [1, 1], margins: [1, 2] })).toThrow(/both classes/);
    expect(() => bestDecisionThreshold({ labels: [1, 0], margins: [1, NaN] })).toThrow(/not finite/);
  });

  it('folding: the defect logit unchanged, the margin lowered by the threshold, montavon heatmaps bit for bit, recorded in the metadata', async () => {
    const model: Model = buildVgg(b, meta, { seed: 3, biasStd: 0.1 });
    const r = mulberry32(9);
    const n = 6;
    const x = Float32Array.from({ length: n * 3 * 64 }, () => r());
    const t = -0.37;
    const folded = await foldDecisionThreshold(model, t, record);
    const before = await model.forward(b.fromArray(x, [n, 3, 8, 8])).read();
    const after = await folded.forward(b.fromArray(x, [n, 3, 8, 8])).read();
    for (let i = 0; i < n; i++) {
      expect(after[2 * i + 1]).toBe(before[2 * i + 1]);
      expect(after[2 * i]).toBeCloseTo(before[2 * i] + t, 5);
    }
    const margins = await decisionMargins(folded, (async function* () {
      yield { x, labels: [1, 0, 1, 0, 1, 0] };
    })());
    expect(margins.labels).toEqual([1, 0, 1, 0, 1, 0]);
    margins.margins.forEach((m, i) => expect(m).toBeCloseTo(before[2 * i + 1] - before[2 * i] - t, 5));
    const heatmaps = async (m: Model, rules: string) =>
      classifyAndExplain(m, b.fromArray(x, [n, 3, 8, 8]), { composite: parseComposite(rules, m.meta), target: 1 }).heatmaps.read();
    expect(Array.from(await heatmaps(folded, 'montavon'))).toEqual(Array.from(await heatmaps(model, 'montavon')));

    const calibration = loadModel(b, await saveModel(folded)).meta.calibration as CalibrationRecord;
    expect(calibration).toEqual({ threshold: t, bias: 'classifier.0.bias', ...record });
    // a second calibration is relative to the first: the recorded threshold adds up
    const twice = await foldDecisionThreshold(folded, 0.1, record);
    expect((twice.meta.calibration as CalibrationRecord).threshold).toBeCloseTo(t + 0.1, 12);
  });

  it('needs a two-class model', async () => {
    const three = buildVgg(b, { ...meta, arch: { ...meta.arch, num_classes: 3 }, classes: ['a', 'b', 'c'] }, { seed: 1 });
    await expect(foldDecisionThreshold(three, 0.1, record)).rejects.toThrow(/two-class model/);
    await expect(decisionMargins(three, (async function* () {})())).rejects.toThrow(/two-class model/);
  });
});

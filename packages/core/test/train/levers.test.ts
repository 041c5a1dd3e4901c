/** The training levers in core: label smoothing, auxiliary classes cut from the head, the decision among the first classes. */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { SeededRng, mulberry32 } from '../../src/random.js';
import type { ModelMeta } from '../../src/nn/arch.js';
import { buildVgg, loadModel, saveModel, type Model } from '../../src/nn/model.js';
import { parseComposite } from '../../src/lrp/composite.js';
import { classifyAndExplain } from '../../src/lrp/explain.js';
import { classifierGradients } from '../../src/train/classifier.js';
import { keepFirstClasses } from '../../src/train/head.js';
import { smoothedCrossEntropy } from '../../src/train/loss.js';
import { evaluateClassifier } from '../../src/train/trainer.js';

const b = new CpuBackend();

/** −Σₖ qₖ·log pₖ with PyTorch's soft targets and weighting, in float64, straight from the definition. */
function referenceLoss(logits: readonly number[], n: number, k: number, labels: readonly number[], eps: number, w?: readonly number[]): number {
  const wt = (c: number): number => (w ? w[c] : 1);
  let total = 0;
  for (const y of labels) total += wt(y);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.slice(i * k, (i + 1) * k);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    for (let c = 0; c < k; c++) {
      const nll = lse - row[c];
      const hard = c === labels[i] ? (1 - eps) * wt(c) : 0;
      loss += (hard + (eps / k) * wt(c)) * nll;
    }
  }
  return loss / total;
}

function randomLogits(n: number, k: number, seed: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n * k }, () => 4 * r() - 2);
}

describe('label smoothing', () => {
  const cases: { eps: number; w?: number[] }[] = [{ eps: 0.1 }, { eps: 0.3 }, { eps: 0.1, w: [0.6, 2.5, 1.3] }, { eps: 0.5, w: [1, 0.2, 3] }];
  for (const { eps, w } of cases) {
    it(`ε = ${eps}${w ? ', class weights' : ''}: loss matches the soft-target definition, gradient matches central differences`, async () => {
      const n = 5, k = 3;
      const labels = [0, 2, 1, 1, 0];
      const z = randomLogits(n, k, 7);
      const r = smoothedCrossEntropy(b, b.fromArray(z, [n, k]), labels, eps, w);
      const [loss] = await r.loss.read();
      const d = await r.dLogits.read();
      expect(loss).toBeCloseTo(referenceLoss(z, n, k, labels, eps, w), 5);
      // central differences of the reference (float64, h small) against the backend's gradient
      const h = 1e-5;
      for (let i = 0; i < n * k; i++) {
        const up = [...z], down = [...z];
        up[i] += h;
        down[i] -= h;
        const fd = (referenceLoss(up, n, k, labels, eps, w) - referenceLoss(down, n, k, labels, eps, w)) / (2 * h);
        expect(Math.abs(d[i] - fd), `logit ${i}`).toBeLessThan(1e-6);
      }
      // and central differences of the backend's own loss (float32, larger h)
      const H = 1e-2;
      let num = 0, den = 0;
      for (let i = 0; i < n * k; i++) {
        const up = Float32Array.from(z), down = Float32Array.from(z);
        up[i] += H;
        down[i] -= H;
        const lu = (await smoothedCrossEntropy(b, b.fromArray(up, [n, k]), labels, eps, w).loss.read())[0];
        const ld = (await smoothedCrossEntropy(b, b.fromArray(down, [n, k]), labels, eps, w).loss.read())[0];
        const fd = (lu - ld) / (2 * H);
        num += (fd - d[i]) ** 2;
        den += fd ** 2;
      }
      expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
    });
  }

  it('ε = 0 is the plain cross-entropy bit for bit; ε pulls the gradient of a confident right answer away from zero; ε ≥ 1 is refused', async () => {
    const z = randomLogits(4, 2, 3);
    const labels = [1, 0, 0, 1];
    const plain = b.crossEntropy(b.fromArray(z, [4, 2]), labels, [0.7, 1.9]);
    const zero = smoothedCrossEntropy(b, b.fromArray(z, [4, 2]), labels, 0, [0.7, 1.9]);
    expect(Array.from(await zero.dLogits.read())).toEqual(Array.from(await plain.dLogits.read()));
    expect(await zero.loss.read()).toEqual(await plain.loss.read());
    // a very confident correct logit: hard targets push it further up (gradient < 0), ε pulls it back (> 0)
    const sure = b.fromArray([-10, 10], [1, 2]);
    expect((await b.crossEntropy(sure, [1]).dLogits.read())[1]).toBeLessThan(0);
    expect((await smoothedCrossEntropy(b, sure, [1], 0.1).dLogits.read())[1]).toBeGreaterThan(0);
    expect(() => smoothedCrossEntropy(b, sure, [1], 1)).toThrow(/label smoothing/);
    expect(() => smoothedCrossEntropy(b, sure, [1], -0.1)).toThrow(/label smoothing/);
  });

  it('whole-network gradients with label smoothing and class weights match central finite differences', async () => {
    const meta: ModelMeta = {
      format_version: 1,
      arch: { type: 'vgg', in_channels: 3, features: [4, 'M', 6, 'M'], classifier: [5], num_classes: 3 },
      normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      input_size: [8, 8],
      classes: ['defect-free', 'defect', 'other'],
    };
    const model = buildVgg(b, meta, { seed: 1, biasStd: 0.1 });
    const r = mulberry32(2);
    const x = Float32Array.from({ length: 3 * 3 * 64 }, () => r());
    const labels = [0, 1, 2];
    const opts = { labelSmoothing: 0.2, classWeights: [0.5, 2, 1] };
    const lossOf = async (): Promise<number> => {
      const logits = model.forward(b.fromArray(x, [3, 3, 8, 8]));
      return (await smoothedCrossEntropy(b, logits, labels, opts.labelSmoothing, opts.classWeights).loss.read())[0];
    };
    const { grads } = classifierGradients(model, b.fromArray(x, [3, 3, 8, 8]), labels, opts);
    const rng = new SeededRng(3);
    const h = 1e-2;
    let num = 0, den = 0;
    for (const [, p] of model.parameters()) {
      const g = await grads.get(p)!.read();
      const data = (p as unknown as { data: Float32Array }).data;
      for (let s = 0; s < 4; s++) {
        const i = rng.int(p.size);
        const keep = data[i];
        data[i] = keep + h;
        const up = await lossOf();
        data[i] = keep - h;
        const down = await lossOf();
        data[i] = keep;
        const fd = (up - down) / (2 * h);
        num += (fd - g[i]) ** 2;
        den += fd ** 2;
      }
    }
    expect(den).toBeGreaterThan(0);
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
  });
});

describe('auxiliary classes', () => {
  const meta5: ModelMeta = {
    format_version: 1,
    arch: { type: 'vgg', in_channels: 3, features: [4, 'M', 6, 'M'], classifier: [5], num_classes: 5 },
    normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    input_size: [8, 8],
    classes: ['defect-free', 'defect', 'Break', 'Fray', 'Uneven'],
  };

  it('keepFirstClasses: the same first logits, the same heatmaps where the last rule ignores other outputs, a two-class model file', async () => {
    const full = buildVgg(b, meta5, { seed: 4, biasStd: 0.1 });
    const two = await keepFirstClasses(full, 2);
    expect(two.meta.arch.num_classes).toBe(2);
    expect(two.meta.classes).toEqual(['defect-free', 'defect']);
    const r = mulberry32(5);
    const x = Float32Array.from({ length: 4 * 3 * 64 }, () => r());
    const lf = await full.forward(b.fromArray(x, [4, 3, 8, 8])).read();
    const l2 = await two.forward(b.fromArray(x, [4, 3, 8, 8])).read();
    for (let i = 0; i < 4; i++) expect([l2[2 * i], l2[2 * i + 1]]).toEqual([lf[5 * i], lf[5 * i + 1]]);
    const heatmaps = async (m: Model, rules: string) =>
      classifyAndExplain(m, b.fromArray(x, [4, 3, 8, 8]), { composite: parseComposite(rules, m.meta), target: 1 }).heatmaps.read();
    // montavon ends in LRP-0 and `zbox,gamma,alphabeta,gamma` in γ: relevance starts at the target logit alone
    for (const rules of ['montavon', 'zbox,gamma:0.25,alphabeta:2:1,gamma:0.25']) {
      const hf = await heatmaps(full, rules);
      expect(hf.some((v) => v !== 0)).toBe(true);
      expect(Array.from(await heatmaps(two, rules)), rules).toEqual(Array.from(hf));
    }
    // ours ends in LRP-ε, whose stabiliser is E·rms over the layer's outputs: five logits or two differ
    expect(Array.from(await heatmaps(two, 'ours'))).not.toEqual(Array.from(await heatmaps(full, 'ours')));
    // through a model file and back
    const again = loadModel(b, await saveModel(two));
    expect(Array.from(await again.forward(b.fromArray(x, [4, 3, 8, 8])).read())).toEqual(Array.from(l2));
    await expect(keepFirstClasses(full, 6)).rejects.toThrow(/cannot keep 6 of 5/);
  });

  it('evaluateClassifier decides among the first classes only when told to', async () => {
    const model: Model = buildVgg(b, meta5, { seed: 6 });
    // make an auxiliary class win everywhere: a large bias on class 3
    const layers = model.paramLayers();
    const last = layers[layers.length - 1];
    const bias = (last.bias as unknown as { data: Float32Array }).data;
    bias[3] = 100;
    bias[1] = 1;
    const x = new Float32Array(2 * 3 * 64).fill(0.5);
    const batches = async function* () {
      yield { x, labels: [1, 0] };
    };
    // argmax over all five: class 3, "not defect" for both
    expect(await evaluateClassifier(model, batches())).toEqual({ tp: 0, tn: 1, fp: 0, fn: 1 });
    // among the first two: class 1 wins for both
    expect(await evaluateClassifier(model, batches(), 2)).toEqual({ tp: 1, tn: 0, fp: 1, fn: 0 });
  });
});

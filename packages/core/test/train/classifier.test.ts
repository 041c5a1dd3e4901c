import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { SeededRng, mulberry32 } from '../../src/random.js';
import type { ModelMeta } from '../../src/nn/arch.js';
import { buildVgg, type Model } from '../../src/nn/model.js';
import { classifierGradients, createVggOptimizer, trainClassifierStep } from '../../src/train/classifier.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import type { OptimizerConfig } from '../../src/train/optimizer.js';
import { blobBatch } from './synthetic.js';

const b = new CpuBackend();
const tiny: ModelMeta = {
  format_version: 1,
  arch: { type: 'vgg', in_channels: 3, features: [4, 'M', 6, 'M'], classifier: [5], num_classes: 2 },
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  input_size: [8, 8],
  classes: ['defect-free', 'defect'],
};

function randomInput(n: number, seed: number, meta: ModelMeta): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n * 3 * meta.input_size[0] * meta.input_size[1] }, () => r());
}

async function lossOf(model: Model, x: Float32Array, labels: number[]): Promise<number> {
  const logits = model.forward(b.fromArray(x, [labels.length, 3, 8, 8]));
  const { loss } = b.crossEntropy(logits, labels);
  return (await loss.read())[0];
}

describe('classifier training', () => {
  it('gradients of the whole network match central finite differences', async () => {
    const model = buildVgg(b, tiny, { seed: 1, biasStd: 0.1 });
    const x = randomInput(3, 2, tiny);
    const labels = [0, 1, 1];
    const { grads } = classifierGradients(model, b.fromArray(x, [3, 3, 8, 8]), labels);
    const rng = new SeededRng(3);
    const h = 1e-2;
    let num = 0, den = 0;
    for (const [name, p] of model.parameters()) {
      const g = await grads.get(p)!.read();
      const data = (p as unknown as { data: Float32Array }).data;
      for (let s = 0; s < 4; s++) {
        const i = rng.int(p.size);
        const keep = data[i];
        data[i] = keep + h;
        const up = await lossOf(model, x, labels);
        data[i] = keep - h;
        const down = await lossOf(model, x, labels);
        data[i] = keep;
        const fd = (up - down) / (2 * h);
        num += (fd - g[i]) ** 2;
        den += fd ** 2;
        expect(Number.isFinite(g[i]), name).toBe(true);
      }
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
  });

  for (const config of [{ kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 }, { kind: 'adam', weightDecay: 0 }] as OptimizerConfig[]) {
    it(`${config.kind}: a resumed checkpoint gives the same weights as an uninterrupted run`, async () => {
      const steps = (model: Model, opt: ReturnType<typeof createVggOptimizer>, rng: SeededRng, n: number) => {
        for (let i = 0; i < n; i++) {
          const x = randomInput(4, rng.int(1e9), tiny);
          trainClassifierStep(model, opt, b.fromArray(x, [4, 3, 8, 8]), [0, 1, 0, 1], { dropoutRng: rng });
        }
      };
      const a = buildVgg(b, tiny, { seed: 5 });
      const optA = createVggOptimizer(a, config, { conv: 1e-2, fc: 1e-2 });
      const rngA = new SeededRng(9);
      steps(a, optA, rngA, 4);

      const c = buildVgg(b, tiny, { seed: 5 });
      const optC = createVggOptimizer(c, config, { conv: 1e-2, fc: 1e-2 });
      const rngC = new SeededRng(9);
      steps(c, optC, rngC, 2);
      const bytes = await saveCheckpoint(c, optC, { epoch: 0, rngState: rngC.state });
      const resumed = loadCheckpoint(b, bytes);
      steps(resumed.model, resumed.optimizer, new SeededRng(resumed.state.rngState), 2);

      expect(resumed.optimizer.step).toBe(4);
      for (const [name, t] of a.parameters()) {
        expect(Array.from(await resumed.model.parameters().get(name)!.read()), name).toEqual(Array.from(await t.read()));
      }
    });
  }

  it('learns bright blobs on noise to > 95% accuracy in a few hundred small steps', async () => {
    const meta: ModelMeta = { ...tiny, arch: { ...tiny.arch, features: [8, 'M', 16, 'M', 16, 'M'], classifier: [16] }, input_size: [32, 32] };
    const model = buildVgg(b, meta, { seed: 0 });
    const opt = createVggOptimizer(model, { kind: 'adam' }, { conv: 3e-3, fc: 3e-3 });
    const rng = new SeededRng(1);
    for (let step = 0; step < 150; step++) {
      const batch = blobBatch(rng, 16, 32);
      trainClassifierStep(model, opt, b.fromArray(batch.x, [16, 3, 32, 32]), batch.labels, { dropoutRng: rng });
    }
    const test = blobBatch(new SeededRng(1234), 200, 32);
    const logits = await model.forward(b.fromArray(test.x, [200, 3, 32, 32])).read();
    let correct = 0;
    for (let i = 0; i < 200; i++) if ((logits[2 * i + 1] > logits[2 * i] ? 1 : 0) === test.labels[i]) correct++;
    expect(correct / 200).toBeGreaterThan(0.95);
  });
});

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { SeededRng, mulberry32 } from '../../src/random.js';
import type { ModelMeta } from '../../src/nn/arch.js';
import { buildVgg, loadModel, type Model } from '../../src/nn/model.js';
import { TensorSession, scope, type Tensor } from '../../src/tensor.js';
import { BatchNorms, BATCH_NORM_EPS, foldBatchNorms } from '../../src/train/batchnorm.js';
import { broadcastChannels, channelSums } from '../../src/train/channels.js';
import { classifierGradientsWithBatchNorm, createVggOptimizer, trainClassifierStepWithBatchNorm } from '../../src/train/classifier.js';
import { Tape } from '../../src/train/tape.js';
import { resumeFromCheckpoint, trainClassifier, type ClassifierTrainingConfig, type LabeledBatch, type TrainingHooks } from '../../src/train/trainer.js';
import { BLOB_VGG_META, blobBatch } from './synthetic.js';
import { relL2 } from '../../src/testing/dense-lrp.js';
import { refBatchNorm } from '../../src/testing/reference.js';

const b = new CpuBackend();
const data = (t: Tensor) => (t as unknown as { data: Float32Array }).data;

function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
}

const tiny: ModelMeta = {
  format_version: 1,
  arch: { type: 'vgg', in_channels: 3, features: [4, 'M', 6, 'M'], classifier: [5], num_classes: 2 },
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  input_size: [8, 8],
  classes: ['defect-free', 'defect'],
};

/** Batch norms with γ and β away from their initial 1 and 0, so that the tests see them act. */
function perturbedBatchNorms(model: Model, seed: number): BatchNorms {
  const bns = BatchNorms.fresh(model);
  let s = seed;
  for (const l of bns.layers.values()) {
    data(l.gamma).set(randomArray(l.gamma.size, s++, 0.5, 1.5));
    data(l.beta).set(randomArray(l.beta.size, s++, -0.3, 0.3));
  }
  return bns;
}

describe('per-channel ops composed from Backend ops', () => {
  it('channelSums sums over N, H, W and broadcastChannels spreads a vector over them', async () => {
    const shape = [2, 3, 4, 5];
    const x = randomArray(120, 1);
    const sums = await scope(() => channelSums(b, b.fromArray(x, shape))).read();
    for (let c = 0; c < 3; c++) {
      let ref = 0;
      for (let n = 0; n < 2; n++) for (let p = 0; p < 20; p++) ref += x[(n * 3 + c) * 20 + p];
      expect(sums[c]).toBeCloseTo(ref, 4);
    }
    const spread = await scope(() => broadcastChannels(b, b.fromArray([1.5, -2, 7], [3]), shape)).read();
    for (let i = 0; i < spread.length; i++) expect(spread[i]).toBe([1.5, -2, 7][Math.floor(i / 20) % 3]);
  });
});

describe('TensorSession', () => {
  it('keeps what a run created until close, then disposes all but the result; refuses runs after close', () => {
    const session = new TensorSession();
    const a = session.run(() => b.fromArray([1, 2], [2]));
    const c = session.run(() => b.add(a, a));
    expect(a.disposed).toBe(false);
    session.close(c);
    expect(a.disposed).toBe(true);
    expect(c.disposed).toBe(false);
    expect(() => session.run(() => b.zeros([1]))).toThrow(/closed/);
  });
});

describe('batch norm on the tape', () => {
  it('forward and every gradient equal the float64 definition (central differences)', async () => {
    const shape = [3, 2, 3, 4];
    const x = randomArray(72, 2, -2, 3);
    const gamma = randomArray(2, 3, 0.5, 1.5), beta = randomArray(2, 4, -1, 1);
    const dy = randomArray(72, 5);
    const xt = b.fromArray(x, shape), gt = b.fromArray(gamma, [2]), bt = b.fromArray(beta, [2]);
    const session = new TensorSession();
    const tape = new Tape(b, [xt, gt, bt]);
    // The statistics the training forward reads back, here computed directly.
    const mean: number[] = [], invStd: number[] = [];
    for (let c = 0; c < 2; c++) {
      const vals = [0, 1, 2].flatMap((n) => Array.from(x.subarray((n * 2 + c) * 12, (n * 2 + c + 1) * 12)));
      const m = vals.reduce((s, v) => s + v, 0) / vals.length;
      mean.push(m);
      invStd.push(1 / Math.sqrt(vals.reduce((s, v) => s + (v - m) ** 2, 0) / vals.length + BATCH_NORM_EPS));
    }
    const y = session.run(() => tape.batchNorm(xt, gt, bt, { mean, invStd, gamma: Array.from(gamma), beta: Array.from(beta) }));
    const x64 = Float64Array.from(x);
    expect(relL2(await y.read(), refBatchNorm(x64, shape, gamma, beta).y)).toBeLessThan(1e-6);
    const grads = session.run(() => tape.backward(y, b.fromArray(dy, shape), [xt, gt, bt]));

    const loss = (xv: Float64Array, g: ArrayLike<number>, be: ArrayLike<number>) =>
      refBatchNorm(xv, shape, g, be).y.reduce((s, v, i) => s + v * dy[i], 0);
    const h = 1e-5;
    const fdX = Array.from(x64, (_, i) => {
      const up = Float64Array.from(x64), down = Float64Array.from(x64);
      up[i] += h;
      down[i] -= h;
      return (loss(up, gamma, beta) - loss(down, gamma, beta)) / (2 * h);
    });
    const fdVec = (which: 'g' | 'b') => [0, 1].map((c) => {
      const up = Array.from(which === 'g' ? gamma : beta), down = [...up];
      up[c] += h;
      down[c] -= h;
      return which === 'g'
        ? (loss(x64, up, beta) - loss(x64, down, beta)) / (2 * h)
        : (loss(x64, gamma, up) - loss(x64, gamma, down)) / (2 * h);
    });
    expect(relL2(await grads.get(xt)!.read(), fdX)).toBeLessThan(1e-4);
    expect(relL2(await grads.get(gt)!.read(), fdVec('g'))).toBeLessThan(1e-5);
    expect(relL2(await grads.get(bt)!.read(), fdVec('b'))).toBeLessThan(1e-5);
    session.close();
  });

  it('gradients of a whole network with batch norms match central finite differences', async () => {
    const model = buildVgg(b, tiny, { seed: 1, biasStd: 0.1 });
    const bns = perturbedBatchNorms(model, 10);
    const x = b.fromArray(randomArray(3 * 3 * 64, 2, 0, 1), [3, 3, 8, 8]);
    const labels = [0, 1, 1];
    const lossOf = async () => (await (await classifierGradientsWithBatchNorm(model, bns, x, labels)).loss.read())[0];
    const { grads } = await classifierGradientsWithBatchNorm(model, bns, x, labels);
    const rng = new SeededRng(3);
    const h = 1e-2;
    let num = 0, den = 0;
    const params = [...model.parameters(), ...bns.parameters().map((p) => [p.name, p.tensor] as const)];
    expect(params.map(([n]) => n)).toContain('batchnorm.features.0.weight');
    for (const [name, p] of params) {
      const g = await grads.get(p)!.read();
      const d = data(p);
      for (let s = 0; s < 4; s++) {
        const i = rng.int(p.size);
        const keepV = d[i];
        d[i] = keepV + h;
        const up = await lossOf();
        d[i] = keepV - h;
        const down = await lossOf();
        d[i] = keepV;
        const fd = (up - down) / (2 * h);
        num += (fd - g[i]) ** 2;
        den += fd ** 2;
        expect(Number.isFinite(g[i]), name).toBe(true);
      }
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
  });
});

describe('folding', () => {
  it('the folded model computes the network with each batch norm at its running statistics', async () => {
    const model = buildVgg(b, tiny, { seed: 4, biasStd: 0.1 });
    const bns = perturbedBatchNorms(model, 20);
    const opt = createVggOptimizer(model, { kind: 'adam' }, { conv: 1e-2, fc: 1e-2 });
    const rng = new SeededRng(1);
    for (let s = 0; s < 3; s++) {
      const x = b.fromArray(randomArray(4 * 192, 100 + s, 0, 1), [4, 3, 8, 8]);
      await trainClassifierStepWithBatchNorm(model, bns, opt, x, [0, 1, 0, 1], { dropoutRng: rng });
    }
    for (const l of bns.layers.values()) {
      expect(Array.from(l.runningMean).some((v) => v !== 0), 'running means moved').toBe(true);
      expect(Array.from(l.runningVar).some((v) => v !== 1), 'running variances moved').toBe(true);
    }
    const x = b.fromArray(randomArray(5 * 192, 9, 0, 1), [5, 3, 8, 8]);
    // Reference: convolution, then the batch norm as its own per-channel affine map.
    const reference = await scope(() => {
      const { scale, shift } = model.normalization();
      let cur = b.affineChannels(x, scale, shift);
      for (const layer of model.layers) {
        if (layer.kind === 'conv2d') {
          const bn = bns.get(layer.name);
          const g = data(bn.gamma), be = data(bn.beta);
          const s = Array.from(g, (v, c) => v / Math.sqrt(bn.runningVar[c] + BATCH_NORM_EPS));
          cur = b.conv2d(cur, layer.weight, layer.bias, { stride: layer.stride, padding: layer.padding });
          cur = b.affineChannels(cur, s, s.map((v, c) => be[c] - bn.runningMean[c] * v));
        } else if (layer.kind === 'linear') cur = b.linear(cur, layer.weight, layer.bias);
        else if (layer.kind === 'relu') cur = b.relu(cur);
        else if (layer.kind === 'maxpool') cur = b.maxPool2d(cur, { kernel: layer.kernel, stride: layer.stride });
        else if (layer.kind === 'flatten') cur = b.reshape(cur, [cur.shape[0], cur.size / cur.shape[0]]);
      }
      return cur;
    }).read();
    const folded = await foldBatchNorms(model, bns);
    expect(relL2(await folded.forward(x).read(), reference)).toBeLessThan(1e-5);
  });
});

describe('training with batch norms', () => {
  const meta = BLOB_VGG_META;
  const config: ClassifierTrainingConfig = {
    epochs: 3, stepsPerEpoch: 12, optimizer: { kind: 'adam' }, lrs: { conv: 3e-3, fc: 3e-3 },
    schedule: { kind: 'cosine', warmupSteps: 5 }, patience: 0, seed: 7, batchNorm: true,
  };
  function hooks(saved: Map<string, Uint8Array>): TrainingHooks {
    const val = blobBatch(new SeededRng(500), 40, 32);
    return {
      async *trainBatches(_epoch: number, rng: SeededRng): AsyncIterable<LabeledBatch> {
        for (;;) yield blobBatch(rng, 8, 32);
      },
      async *validationBatches() {
        yield { x: val.x, labels: val.labels };
      },
      async saveCheckpoint(bytes, kind) {
        saved.set(kind, bytes);
        if (!saved.has('epoch1')) saved.set('epoch1', bytes);
      },
    };
  }

  it('learns the blobs; a checkpoint is the folded plain model; resuming gives the uninterrupted weights', async () => {
    const saved = new Map<string, Uint8Array>();
    const model = buildVgg(b, meta, { seed: 1 });
    const { history } = await trainClassifier(model, config, hooks(saved));
    expect(history[history.length - 1].val.balancedAccuracy).toBeGreaterThan(0.9);

    // The checkpoint read as a model is the folded network, and it scores what validation recorded.
    const asModel = loadModel(b, saved.get('last')!);
    const { model: resumedLast, resume: lastState } = resumeFromCheckpoint(b, saved.get('last')!);
    const folded = await foldBatchNorms(resumedLast, lastState.batchNorms!);
    for (const [name, t] of asModel.parameters()) expect(Array.from(await t.read()), name).toEqual(Array.from(await folded.parameters().get(name)!.read()));
    const x = b.fromArray(blobBatch(new SeededRng(9), 6, 32).x, [6, 3, 32, 32]);
    expect(Array.from(await asModel.forward(x).read())).toEqual(Array.from(await folded.forward(x).read()));
    expect(Array.from(await asModel.parameters().get('features.0.weight')!.read()))
      .not.toEqual(Array.from(await model.parameters().get('features.0.weight')!.read()));

    const { model: resumed, resume } = resumeFromCheckpoint(b, saved.get('epoch1')!);
    expect(resume.batchNorms).toBeDefined();
    const again = await trainClassifier(resumed, config, hooks(new Map()), resume);
    expect(again.history.map((r) => r.val)).toEqual(history.map((r) => r.val));
    for (const [name, t] of model.parameters()) expect(Array.from(await resumed.parameters().get(name)!.read()), name).toEqual(Array.from(await t.read()));

    await expect(trainClassifier(resumeFromCheckpoint(b, saved.get('epoch1')!).model, { ...config, batchNorm: false }, hooks(new Map()),
      resumeFromCheckpoint(b, saved.get('epoch1')!).resume)).rejects.toThrow(/with batch norms/);
  });
});

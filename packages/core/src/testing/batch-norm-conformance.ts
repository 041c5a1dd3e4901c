/**
 * Batch-norm training (`train classifier --batch-norm`) on any backend: it has no kernels of its own but
 * composes Backend ops in unusual shapes (1×1 convolutions with one input channel, a convolution's bias
 * gradient as a channel sum), so each backend runs this suite before a GPU session spends time on it.
 * Checked against float64 definitions; the whole-network gradients against the CPU backend. The closed
 * form of the batch norm's backward pass used here is itself checked against central differences of the
 * definition in packages/core/test/train/batchnorm.test.ts.
 *
 *   batchNormConformance('cuda emulation', () => createCudaBackend({ emulate: true }));
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../backend.js';
import { CpuBackend } from '../cpu/backend.js';
import type { ModelMeta } from '../nn/arch.js';
import { buildVgg, modelFromParameters, type Model } from '../nn/model.js';
import { TensorSession, scope, type Tensor } from '../tensor.js';
import { BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, BatchNorms, batchStatistics, type BatchNormLayer } from '../train/batchnorm.js';
import { broadcastChannels, channelSums } from '../train/channels.js';
import { classifierGradientsWithBatchNorm } from '../train/classifier.js';
import { Tape } from '../train/tape.js';
import { relativeL2Error, type ConformanceOptions } from './conformance.js';
import { mulberry32, randomTensorData } from './random.js';
import { channelMoments, refBatchNorm } from './reference.js';

export interface BatchNormConformanceOptions extends ConformanceOptions {
  /** Tolerance on whole-network gradients against the CPU backend (default max(10·rtol, 1e-4)). */
  readonly networkRtol?: number;
}

/** Shapes (N, C, H, W): awkward small ones and VGG-like ones that span several GEMM tiles. */
const SHAPES: readonly (readonly [number, number, number, number])[] = [[3, 2, 3, 4], [2, 5, 7, 9], [4, 16, 12, 12], [8, 64, 14, 14]];

const TINY: ModelMeta = {
  format_version: 1,
  arch: { type: 'vgg', in_channels: 3, features: [8, 'M', 12, 12, 'M'], classifier: [10], num_classes: 2 },
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  input_size: [16, 16],
  classes: ['defect-free', 'defect'],
};

export function batchNormConformance(label: string, make: () => Promise<Backend>, opts: BatchNormConformanceOptions = {}): void {
  const rtol = opts.rtol ?? 1e-5;
  const networkRtol = opts.networkRtol ?? Math.max(10 * rtol, 1e-4);

  describe(`batch-norm training conformance: ${label}`, () => {
    let be: Backend;
    beforeAll(async () => {
      be = await make();
    });
    afterAll(async () => {
      if (be) await be.destroy();
    });
    const expectClose = (got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = rtol) => {
      expect(got.length, what).toBe(want.length);
      const err = relativeL2Error(got, want);
      expect(err, `${what}: relative L2 error ${err.toExponential(2)} > ${tol}`).toBeLessThanOrEqual(tol);
    };

    for (const shape of SHAPES) {
      const name = `[${shape.join(', ')}]`;
      const size = shape.reduce((a, v) => a * v, 1);
      const c = shape[1];

      it(`channelSums and broadcastChannels: ${name}`, async () => {
        const r = mulberry32(size + 1);
        const x = randomTensorData(r, size, { mean: 0.7, std: 1.3 });
        const v = randomTensorData(r, c);
        const [sums, spread] = await scope(() => {
          const xt = be.fromArray(x, shape);
          return [channelSums(be, xt), broadcastChannels(be, be.fromArray(v, [c]), shape)];
        }) as [Tensor, Tensor];
        const count = size / c;
        expectClose(await sums.read(), Array.from(channelMoments(x, shape).mean, (m) => m * count), `channelSums ${name}`);
        const want = new Float64Array(size);
        for (let k = 0; k < size; k++) want[k] = v[Math.floor(k / (shape[2] * shape[3])) % c];
        expectClose(await spread.read(), want, `broadcastChannels ${name}`);
        sums.dispose();
        spread.dispose();
      });

      it(`batchStatistics (and the running statistics), tape.batchNorm forward and backward: ${name}`, async () => {
        const r = mulberry32(size + 2);
        // An offset and spread per channel, as a convolution's outputs have: the variance must not be
        // computed as E[x²] − E[x]², which loses digits when the mean is large against the spread.
        const x = randomTensorData(r, size);
        const hw = shape[2] * shape[3];
        for (let k = 0; k < size; k++) {
          const ch = Math.floor(k / hw) % c;
          x[k] = 3 * Math.sin(ch + 1) + (0.2 + (ch % 3)) * x[k];
        }
        const gamma = randomTensorData(r, c, { kind: 'uniform', low: 0.5, high: 1.5 });
        const beta = randomTensorData(r, c, { kind: 'uniform', low: -0.5, high: 0.5 });
        const dy = randomTensorData(r, size);
        const ref = refBatchNorm(x, shape, gamma, beta, dy);

        const session = new TensorSession();
        try {
          const xt = session.run(() => be.fromArray(x, shape));
          const gt = session.run(() => be.fromArray(gamma, [c])), bt = session.run(() => be.fromArray(beta, [c]));
          const layer: BatchNormLayer = {
            layer: 'features.0', gamma: gt, beta: bt,
            runningMean: new Float32Array(c).fill(0.25), runningVar: new Float32Array(c).fill(2),
          };
          const stats = await batchStatistics(be, session, xt, layer, { gamma, beta });
          expectClose(stats.mean, ref.mean, `batch mean ${name}`);
          expectClose(stats.invStd, Array.from(ref.variance, (v) => 1 / Math.sqrt(v + BATCH_NORM_EPS)), `batch 1/std ${name}`);
          const count = size / c, m = BATCH_NORM_MOMENTUM;
          expectClose(layer.runningMean, Array.from(ref.mean, (v) => (1 - m) * 0.25 + m * v), `running mean ${name}`);
          expectClose(layer.runningVar, Array.from(ref.variance, (v) => (1 - m) * 2 + m * v * count / (count - 1)), `running variance ${name}`);

          const tape = new Tape(be, [xt, gt, bt]);
          const y = session.run(() => tape.batchNorm(xt, gt, bt, stats));
          expectClose(await y.read(), ref.y, `forward ${name}`);
          const grads = session.run(() => tape.backward(y, be.fromArray(dy, shape), [xt, gt, bt]));
          expectClose(await grads.get(xt)!.read(), ref.dx, `dx ${name}`);
          expectClose(await grads.get(gt)!.read(), ref.dGamma, `dγ ${name}`);
          expectClose(await grads.get(bt)!.read(), ref.dBeta, `dβ ${name}`);
        } finally {
          session.close();
        }
      });
    }

    it('whole-network gradients with batch norms (every weight, γ and β) and the running statistics equal the CPU backend\'s', async () => {
      const cpu = new CpuBackend();
      const reference = buildVgg(cpu, TINY, { seed: 5, biasStd: 0.1 });
      const values = new Map<string, Float32Array>();
      for (const [n, t] of reference.parameters()) values.set(n, await t.read());
      const model = modelFromParameters(be, TINY, (n) => values.get(n)!);
      const r = mulberry32(77);
      const x = randomTensorData(r, 6 * 3 * 16 * 16, { kind: 'uniform', low: 0, high: 1 });
      const labels = [0, 1, 1, 0, 1, 0];
      /** Batch norms with γ and β away from 1 and 0, the same on both backends. */
      const batchNorms = (m: Model) => {
        const rr = mulberry32(99);
        const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
        for (const l of m.paramLayers()) {
          if (l.kind !== 'conv2d') continue;
          const c = l.weight.shape[0];
          tensors.set(`batchnorm.${l.name}.weight`, { shape: [c], data: randomTensorData(rr, c, { kind: 'uniform', low: 0.5, high: 1.5 }) });
          tensors.set(`batchnorm.${l.name}.bias`, { shape: [c], data: randomTensorData(rr, c, { kind: 'uniform', low: -0.3, high: 0.3 }) });
          tensors.set(`batchnorm.${l.name}.running_mean`, { shape: [c], data: new Float32Array(c) });
          tensors.set(`batchnorm.${l.name}.running_var`, { shape: [c], data: new Float32Array(c).fill(1) });
        }
        return BatchNorms.fromTensors(m, tensors);
      };
      const run = async (m: Model) => {
        const bns = batchNorms(m);
        const g = await classifierGradientsWithBatchNorm(m, bns, m.backend.fromArray(x, [6, 3, 16, 16]), labels);
        const out = new Map<string, Float32Array>();
        for (const [n, t] of m.parameters()) out.set(n, await g.grads.get(t)!.read());
        for (const p of bns.parameters()) out.set(p.name, await g.grads.get(p.tensor)!.read());
        for (const l of bns.layers.values()) {
          out.set(`${l.layer}.running_mean`, Float32Array.from(l.runningMean));
          out.set(`${l.layer}.running_var`, Float32Array.from(l.runningVar));
        }
        out.set('loss', await g.loss.read());
        for (const t of g.grads.values()) t.dispose();
        g.loss.dispose();
        g.logits.dispose();
        bns.dispose();
        return out;
      };
      const want = await run(reference);
      const got = await run(model);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      expect([...want.keys()]).toContain('batchnorm.features.3.weight');
      // A batch norm cancels the bias of the convolution before it: that gradient is 0 in exact arithmetic
      // and rounding noise on any backend, so it is held against the batch norm's β gradient in size.
      const cancelled = new Set(reference.paramLayers().filter((l) => l.kind === 'conv2d').map((l) => `${l.name}.bias`));
      for (const [n, w] of want) {
        if (!cancelled.has(n)) {
          expectClose(got.get(n)!, w, n, networkRtol);
          continue;
        }
        const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, e) => s + e * e, 0));
        const scale = norm(want.get(`batchnorm.${n.slice(0, -'.bias'.length)}.bias`)!);
        expect(norm(got.get(n)!), `${n}: the cancelled bias's gradient against its batch norm's dβ (${scale.toExponential(2)})`).toBeLessThanOrEqual(networkRtol * scale);
      }
      model.dispose();
      reference.dispose();
    });
  });
}

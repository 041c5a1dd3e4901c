/**
 * Batch normalisation during training only, a lever against training from scratch without ImageNet
 * weights: a batch norm after every convolution, as in torchvision's vgg11_bn, trained with each batch's
 * statistics while running statistics are kept (PyTorch's momentum 0.1, eps 1e-5, unbiased running
 * variance). What is validated and saved is the folded network: each batch norm, with its running
 * statistics, merged into the convolution before it (w' = w·s, b' = (b − μ)·s + β, s = γ / sqrt(var + eps)),
 * so the model file is a plain VGG-A and every LRP rule, backend and command applies to it unchanged.
 */
import type { Backend } from '../backend.js';
import { LrpsegError, fmtShape } from '../errors.js';
import { keep, scope, type Tensor, type TensorSession } from '../tensor.js';
import { modelFromParameters, type Model } from '../nn/model.js';
import { channelSums } from './channels.js';
import type { BatchNormStatistics } from './tape.js';

export const BATCH_NORM_EPS = 1e-5;
export const BATCH_NORM_MOMENTUM = 0.1;

/** The batch norm after one convolution. */
export interface BatchNormLayer {
  /** The convolution's name (features.N). */
  readonly layer: string;
  readonly gamma: Tensor;
  readonly beta: Tensor;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
}

/** Names in checkpoints: the batch norm's tensors and the convolution's own (unfolded) weights. */
const bnName = (layer: string, what: 'weight' | 'bias' | 'running_mean' | 'running_var') => `batchnorm.${layer}.${what}`;
export const unfoldedName = (param: string) => `unfolded.${param}`;

type StoredTensor = { readonly shape: readonly number[]; readonly data: Float32Array };

export class BatchNorms {
  private constructor(readonly layers: ReadonlyMap<string, BatchNormLayer>) {}

  /** γ = 1, β = 0, running mean 0 and variance 1 after every convolution of `model`. */
  static fresh(model: Model): BatchNorms {
    const b = model.backend;
    const layers = new Map<string, BatchNormLayer>();
    for (const l of model.paramLayers()) {
      if (l.kind !== 'conv2d') continue;
      const c = l.weight.shape[0];
      layers.set(l.name, {
        layer: l.name,
        gamma: keep(b.fromArray(new Float32Array(c).fill(1), [c])),
        beta: keep(b.zeros([c])),
        runningMean: new Float32Array(c),
        runningVar: new Float32Array(c).fill(1),
      });
    }
    return new BatchNorms(layers);
  }

  /** The batch norms stored by `entries` (a checkpoint's tensors). */
  static fromTensors(model: Model, tensors: ReadonlyMap<string, StoredTensor>): BatchNorms {
    const b = model.backend;
    const layers = new Map<string, BatchNormLayer>();
    for (const l of model.paramLayers()) {
      if (l.kind !== 'conv2d') continue;
      const c = l.weight.shape[0];
      const get = (what: 'weight' | 'bias' | 'running_mean' | 'running_var'): Float32Array => {
        const t = tensors.get(bnName(l.name, what));
        if (!t) throw new LrpsegError('BAD_MODEL_FILE', `checkpoint: no tensor "${bnName(l.name, what)}" for the batch norm after ${l.name}`);
        if (t.shape.length !== 1 || t.shape[0] !== c) {
          throw new LrpsegError('BAD_MODEL_FILE', `checkpoint: "${bnName(l.name, what)}" has shape ${fmtShape(t.shape)}, the layer has ${c} channels`);
        }
        return t.data;
      };
      layers.set(l.name, {
        layer: l.name,
        gamma: keep(b.fromArray(get('weight'), [c])),
        beta: keep(b.fromArray(get('bias'), [c])),
        runningMean: Float32Array.from(get('running_mean')),
        runningVar: Float32Array.from(get('running_var')),
      });
    }
    return new BatchNorms(layers);
  }

  get(layer: string): BatchNormLayer {
    const bn = this.layers.get(layer);
    if (!bn) throw new LrpsegError('BAD_INPUT', `no batch norm after layer ${layer}`);
    return bn;
  }

  /** The trained parameters (γ, β) under their checkpoint names. */
  parameters(): { name: string; tensor: Tensor }[] {
    return [...this.layers.values()].flatMap((l) => [
      { name: bnName(l.layer, 'weight'), tensor: l.gamma },
      { name: bnName(l.layer, 'bias'), tensor: l.beta },
    ]);
  }

  /** Every tensor to store in a checkpoint, running statistics included. */
  async entries(): Promise<[string, StoredTensor][]> {
    const out: [string, StoredTensor][] = [];
    for (const l of this.layers.values()) {
      const c = l.runningMean.length;
      out.push([bnName(l.layer, 'weight'), { shape: [c], data: await l.gamma.read() }]);
      out.push([bnName(l.layer, 'bias'), { shape: [c], data: await l.beta.read() }]);
      out.push([bnName(l.layer, 'running_mean'), { shape: [c], data: Float32Array.from(l.runningMean) }]);
      out.push([bnName(l.layer, 'running_var'), { shape: [c], data: Float32Array.from(l.runningVar) }]);
    }
    return out;
  }

  dispose(): void {
    for (const l of this.layers.values()) {
      l.gamma.dispose();
      l.beta.dispose();
    }
  }
}

/**
 * The batch's per-channel mean and variance of a convolution's output z (N, C, H, W), read back; updates
 * the layer's running statistics. Returns what Tape.batchNorm needs, with γ and β as given.
 */
export async function batchStatistics(
  b: Backend, session: TensorSession, z: Tensor, bn: BatchNormLayer, affine: { gamma: Float32Array; beta: Float32Array },
): Promise<BatchNormStatistics> {
  const [n, c, h, w] = z.shape;
  const count = n * h * w;
  const sums = await session.run(() => channelSums(b, z)).read();
  const mean = Array.from(sums, (s) => s / count);
  const squares = await session.run(() => scope(() => {
    const centred = b.affineChannels(z, mean.map(() => 1), mean.map((m) => -m));
    return channelSums(b, b.mul(centred, centred));
  })).read();
  const variance = Array.from(squares, (s) => Math.max(0, s / count));
  const m = BATCH_NORM_MOMENTUM;
  const unbias = count > 1 ? count / (count - 1) : 1;
  for (let i = 0; i < c; i++) {
    bn.runningMean[i] = (1 - m) * bn.runningMean[i] + m * mean[i];
    bn.runningVar[i] = (1 - m) * bn.runningVar[i] + m * variance[i] * unbias;
  }
  return {
    mean,
    invStd: variance.map((v) => 1 / Math.sqrt(v + BATCH_NORM_EPS)),
    gamma: Array.from(affine.gamma),
    beta: Array.from(affine.beta),
  };
}

/** Current γ and β of every batch norm, read back once per step. */
export async function readAffine(bns: BatchNorms): Promise<Map<string, { gamma: Float32Array; beta: Float32Array }>> {
  const out = new Map<string, { gamma: Float32Array; beta: Float32Array }>();
  for (const l of bns.layers.values()) out.set(l.layer, { gamma: await l.gamma.read(), beta: await l.beta.read() });
  return out;
}

/** The plain VGG that `model` with `bns` (at their running statistics) computes at inference. */
export async function foldBatchNorms(model: Model, bns: BatchNorms): Promise<Model> {
  const values = new Map<string, Float32Array>();
  for (const [name, t] of model.parameters()) values.set(name, new Float32Array(await t.read()));
  for (const l of bns.layers.values()) {
    const w = values.get(`${l.layer}.weight`), bias = values.get(`${l.layer}.bias`);
    if (!w || !bias) throw new LrpsegError('BAD_INPUT', `foldBatchNorms: the model has no convolution ${l.layer}`);
    const gamma = await l.gamma.read(), beta = await l.beta.read();
    const c = bias.length, per = w.length / c;
    for (let o = 0; o < c; o++) {
      const s = gamma[o] / Math.sqrt(l.runningVar[o] + BATCH_NORM_EPS);
      for (let k = o * per; k < (o + 1) * per; k++) w[k] *= s;
      bias[o] = (bias[o] - l.runningMean[o]) * s + beta[o];
    }
  }
  return modelFromParameters(model.backend, model.meta, (name) => {
    const v = values.get(name);
    if (!v) throw new LrpsegError('BAD_INPUT', `foldBatchNorms: no values for ${name}`);
    return v;
  });
}

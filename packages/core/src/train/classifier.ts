/** Training of the VGG classifier: forward with dropout on a Tape, cross-entropy, optimiser step. */
import { scope, TensorSession, type Tensor } from '../tensor.js';
import type { Layer } from '../nn/layers.js';
import { BatchNorms, batchStatistics, readAffine } from './batchnorm.js';
import type { SeededRng } from '../random.js';
import type { Model } from '../nn/model.js';
import { smoothedCrossEntropy } from './loss.js';
import { Tape } from './tape.js';
import { Optimizer, type OptimizerConfig, type ParamGroup } from './optimizer.js';

/** The paper's parameter groups: FC layers at `fcLr` (1e-3), convolutions at `convLr` (1e-4). */
export function vggParamGroups(model: Model, convLr = 1e-4, fcLr = 1e-3, bns?: BatchNorms): ParamGroup[] {
  const named = (kind: 'conv2d' | 'linear') =>
    model.paramLayers().filter((l) => l.kind === kind).flatMap((l) => [
      { name: `${l.name}.weight`, tensor: l.weight },
      { name: `${l.name}.bias`, tensor: l.bias },
    ]);
  return [
    { name: 'conv', lr: convLr, params: [...named('conv2d'), ...(bns?.parameters() ?? [])] },
    { name: 'fc', lr: fcLr, params: named('linear') },
  ];
}

export function createVggOptimizer(model: Model, config: OptimizerConfig, lrs: { conv?: number; fc?: number } = {}, bns?: BatchNorms): Optimizer {
  return new Optimizer(model.backend, vggParamGroups(model, lrs.conv, lrs.fc, bns), config);
}

export interface ClassifierStepOptions {
  /** Per-class loss weights (PyTorch's weighted mean), e.g. against the 952 : 172 imbalance. */
  readonly classWeights?: readonly number[];
  /** Draws the dropout masks; without it dropout is off. */
  readonly dropoutRng?: SeededRng;
  readonly lrScale?: number;
  /** Label smoothing ε of the cross-entropy (PyTorch's label_smoothing; default 0). */
  readonly labelSmoothing?: number;
}

/** One layer of the training forward pass, recorded on the tape (dropout drawn from `rng`, off without it). */
function layerOnTape(tape: Tape, layer: Layer, cur: Tensor, rng: SeededRng | undefined): Tensor {
  switch (layer.kind) {
    case 'conv2d':
      return tape.conv2d(cur, layer.weight, layer.bias, { stride: layer.stride, padding: layer.padding });
    case 'linear':
      return tape.linear(cur, layer.weight, layer.bias);
    case 'relu':
      return tape.relu(cur);
    case 'maxpool':
      return tape.maxPool2d(cur, { kernel: layer.kernel, stride: layer.stride });
    case 'flatten':
      return tape.reshape(cur, [cur.shape[0], cur.size / cur.shape[0]]);
    case 'dropout': {
      if (!rng || layer.p <= 0) return cur;
      const keepP = 1 - layer.p;
      const mask = new Float32Array(cur.size);
      for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < keepP ? 1 / keepP : 0;
      return tape.mulConstant(cur, tape.backend.fromArray(mask, cur.shape));
    }
  }
}

/** Forward with dropout recorded on a tape; returns the logits. */
function forwardOnTape(tape: Tape, model: Model, x: Tensor, rng: SeededRng | undefined): Tensor {
  const { scale, shift } = model.normalization();
  let cur = model.backend.affineChannels(x, scale, shift);
  for (const layer of model.layers) cur = layerOnTape(tape, layer, cur, rng);
  return cur;
}

/**
 * The same forward with a training-mode batch norm after every convolution: each one's batch statistics
 * are read back (the awaits), so the ops run in `session` rather than a synchronous scope.
 */
async function forwardOnTapeWithBatchNorm(
  tape: Tape, session: TensorSession, model: Model, bns: BatchNorms, x: Tensor, rng: SeededRng | undefined,
): Promise<Tensor> {
  const b = model.backend;
  const affine = await readAffine(bns);
  const { scale, shift } = model.normalization();
  let cur = session.run(() => b.affineChannels(x, scale, shift));
  for (const layer of model.layers) {
    const out = session.run(() => layerOnTape(tape, layer, cur, rng));
    if (layer.kind !== 'conv2d') {
      cur = out;
      continue;
    }
    const bn = bns.get(layer.name);
    const stats = await batchStatistics(b, session, out, bn, affine.get(layer.name)!);
    cur = session.run(() => tape.batchNorm(out, bn.gamma, bn.beta, stats));
  }
  return cur;
}

/** Loss, logits and the gradient of every parameter for one batch. */
export function classifierGradients(
  model: Model, x: Tensor, labels: readonly number[], opts: ClassifierStepOptions = {},
): { loss: Tensor; logits: Tensor; grads: Map<Tensor, Tensor> } {
  model.checkInput('train', x);
  const params = [...model.parameters().values()];
  return scope(() => {
    const tape = new Tape(model.backend, params);
    const logits = forwardOnTape(tape, model, x, opts.dropoutRng);
    const { loss, dLogits } = smoothedCrossEntropy(model.backend, logits, labels, opts.labelSmoothing ?? 0, opts.classWeights);
    const grads = tape.backward(logits, dLogits, params);
    return { loss, logits, grads };
  });
}

/** One optimiser step on a batch; returns the loss (scalar tensor) and the logits of the batch. */
export function trainClassifierStep(
  model: Model, optimizer: Optimizer, x: Tensor, labels: readonly number[], opts: ClassifierStepOptions = {},
): { loss: Tensor; logits: Tensor } {
  return scope(() => {
    const { loss, logits, grads } = classifierGradients(model, x, labels, opts);
    optimizer.apply(grads, opts.lrScale ?? 1);
    return { loss, logits };
  });
}

/**
 * classifierGradients with a training-mode batch norm after every convolution; the gradients include
 * γ and β of each. Updates the batch norms' running statistics.
 */
export async function classifierGradientsWithBatchNorm(
  model: Model, bns: BatchNorms, x: Tensor, labels: readonly number[], opts: ClassifierStepOptions = {},
): Promise<{ loss: Tensor; logits: Tensor; grads: Map<Tensor, Tensor> }> {
  model.checkInput('train', x);
  const params = [...model.parameters().values(), ...bns.parameters().map((p) => p.tensor)];
  const session = new TensorSession();
  let result: { loss: Tensor; logits: Tensor; grads: Map<Tensor, Tensor> } | undefined;
  try {
    const tape = new Tape(model.backend, params);
    const logits = await forwardOnTapeWithBatchNorm(tape, session, model, bns, x, opts.dropoutRng);
    result = session.run(() => {
      const { loss, dLogits } = smoothedCrossEntropy(model.backend, logits, labels, opts.labelSmoothing ?? 0, opts.classWeights);
      return { loss, logits, grads: tape.backward(logits, dLogits, params) };
    });
    return result;
  } finally {
    session.close(result);
  }
}

/** trainClassifierStep with a training-mode batch norm after every convolution (see batchnorm.ts). */
export async function trainClassifierStepWithBatchNorm(
  model: Model, bns: BatchNorms, optimizer: Optimizer, x: Tensor, labels: readonly number[], opts: ClassifierStepOptions = {},
): Promise<{ loss: Tensor; logits: Tensor }> {
  const { loss, logits, grads } = await classifierGradientsWithBatchNorm(model, bns, x, labels, opts);
  scope(() => optimizer.apply(grads, opts.lrScale ?? 1));
  for (const g of grads.values()) g.dispose();
  return { loss, logits };
}

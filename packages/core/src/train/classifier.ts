/** Training of the VGG classifier: forward with dropout on a Tape, cross-entropy, optimiser step. */
import { scope, type Tensor } from '../tensor.js';
import type { SeededRng } from '../random.js';
import type { Model } from '../nn/model.js';
import { smoothedCrossEntropy } from './loss.js';
import { Tape } from './tape.js';
import { Optimizer, type OptimizerConfig, type ParamGroup } from './optimizer.js';

/** The paper's parameter groups: FC layers at `fcLr` (1e-3), convolutions at `convLr` (1e-4). */
export function vggParamGroups(model: Model, convLr = 1e-4, fcLr = 1e-3): ParamGroup[] {
  const named = (kind: 'conv2d' | 'linear') =>
    model.paramLayers().filter((l) => l.kind === kind).flatMap((l) => [
      { name: `${l.name}.weight`, tensor: l.weight },
      { name: `${l.name}.bias`, tensor: l.bias },
    ]);
  return [
    { name: 'conv', lr: convLr, params: named('conv2d') },
    { name: 'fc', lr: fcLr, params: named('linear') },
  ];
}

export function createVggOptimizer(model: Model, config: OptimizerConfig, lrs: { conv?: number; fc?: number } = {}): Optimizer {
  return new Optimizer(model.backend, vggParamGroups(model, lrs.conv, lrs.fc), config);
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

/** Forward with dropout recorded on a tape; returns the logits. */
function forwardOnTape(tape: Tape, model: Model, x: Tensor, rng: SeededRng | undefined): Tensor {
  const b = model.backend;
  const { scale, shift } = model.normalization();
  let cur = b.affineChannels(x, scale, shift);
  for (const layer of model.layers) {
    switch (layer.kind) {
      case 'conv2d':
        cur = tape.conv2d(cur, layer.weight, layer.bias, { stride: layer.stride, padding: layer.padding });
        break;
      case 'linear':
        cur = tape.linear(cur, layer.weight, layer.bias);
        break;
      case 'relu':
        cur = tape.relu(cur);
        break;
      case 'maxpool':
        cur = tape.maxPool2d(cur, { kernel: layer.kernel, stride: layer.stride });
        break;
      case 'flatten':
        cur = tape.reshape(cur, [cur.shape[0], cur.size / cur.shape[0]]);
        break;
      case 'dropout': {
        if (!rng || layer.p <= 0) break;
        const keepP = 1 - layer.p;
        const mask = new Float32Array(cur.size);
        for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < keepP ? 1 / keepP : 0;
        cur = tape.mulConstant(cur, b.fromArray(mask, cur.shape));
        break;
      }
    }
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

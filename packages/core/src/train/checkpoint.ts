/**
 * Resumable training checkpoints: the model's weights and metadata as in any model file (so a checkpoint
 * is also a usable model), plus the optimiser state under `optimizer.*` and the training state (step,
 * epoch, random generator, configuration) under the `lrpseg_train` metadata key.
 */
import type { Backend } from '../backend.js';
import { LrpsegError } from '../errors.js';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { loadModel, modelFromParameters, type Model } from '../nn/model.js';
import { Optimizer, type OptimizerConfig } from './optimizer.js';
import { vggParamGroups } from './classifier.js';
import { BatchNorms, foldBatchNorms, unfoldedName } from './batchnorm.js';
import { WeightAverage, trainedName } from './ema.js';

export interface TrainState {
  readonly epoch: number;
  /** State of the SeededRng that drives shuffling, augmentation and dropout. */
  readonly rngState: number;
  /** Anything else the trainer wants back (best score, history, …). */
  readonly extra?: Record<string, unknown>;
}

interface StoredTrainState extends TrainState {
  readonly format_version: 1;
  readonly optimizer: OptimizerConfig;
  readonly lrs: { readonly conv: number; readonly fc: number };
  readonly step: number;
  /** True when training runs a batch norm after every convolution (absent before batch norms existed). */
  readonly batch_norm?: boolean;
  /** The decay of the weights' moving average, when training keeps one (absent before it existed). */
  readonly ema?: number;
}

/**
 * With batch norms, the model's tensors hold the folded network (so the checkpoint is still a usable
 * model) and the trained convolutions and batch norms are stored beside it under `unfolded.*` and
 * `batchnorm.*`, from which loadCheckpoint resumes. With a moving average of the weights, likewise: the
 * model's tensors hold the average (the network that was validated) and the weights being trained are
 * stored under `trained.*`.
 */
export async function saveCheckpoint(
  model: Model, optimizer: Optimizer, state: TrainState, bns?: BatchNorms, average?: WeightAverage,
): Promise<Uint8Array> {
  if (bns && average) throw new LrpsegError('BAD_INPUT', 'saveCheckpoint: batch norms and a moving average of the weights together are not supported');
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  const store = async (m: Model, prefix = '') => {
    for (const [name, t] of m.parameters()) entries.push([prefix + name, { shape: t.shape, data: await t.read() }]);
  };
  if (bns) {
    const folded = await foldBatchNorms(model, bns);
    await store(folded);
    folded.dispose();
    await store(model, unfoldedName(''));
    entries.push(...(await bns.entries()));
  } else if (average) {
    entries.push(...(await average.entries()));
    await store(model, trainedName(''));
  } else {
    await store(model);
  }
  for (const [name, t] of optimizer.stateTensors()) entries.push([name, { shape: t.shape, data: await t.read() }]);
  const lr = (g: string) => optimizer.groups.find((x) => x.name === g)?.lr ?? 0;
  const stored: StoredTrainState = {
    format_version: 1, optimizer: optimizer.config, lrs: { conv: lr('conv'), fc: lr('fc') }, step: optimizer.step,
    ...(bns ? { batch_norm: true } : {}), ...(average ? { ema: average.decay } : {}), ...state,
  };
  return serializeSafetensors(entries, { lrpseg: JSON.stringify(model.meta), lrpseg_train: JSON.stringify(stored) });
}

/**
 * The network being trained, when a checkpoint's model tensors hold another one (the folded or averaged
 * network that was validated) and the trained weights lie beside them under `nameOf(param)`.
 */
function storedBeside(
  backend: Backend, meta: Model['meta'], tensors: ReadonlyMap<string, { readonly data: Float32Array }>, nameOf: (param: string) => string, what: string,
): Model {
  return modelFromParameters(backend, meta, (name, shape) => {
    const t = tensors.get(nameOf(name));
    if (!t || t.data.length !== shape.reduce((a, d) => a * d, 1)) {
      throw new LrpsegError('BAD_MODEL_FILE', `checkpoint ${what} has no tensor "${nameOf(name)}" of the model's shape`);
    }
    return t.data;
  });
}

export function loadCheckpoint(
  backend: Backend, bytes: Uint8Array,
): { model: Model; optimizer: Optimizer; state: TrainState; batchNorms?: BatchNorms; average?: WeightAverage } {
  const file = parseSafetensors(bytes, { requireFinite: true });
  const raw = file.metadata.lrpseg_train;
  if (raw === undefined) throw new LrpsegError('BAD_MODEL_FILE', 'not a training checkpoint: no "lrpseg_train" metadata');
  let stored: StoredTrainState;
  try {
    stored = JSON.parse(raw) as StoredTrainState;
  } catch {
    throw new LrpsegError('BAD_MODEL_FILE', 'checkpoint: the "lrpseg_train" entry is not valid JSON');
  }
  if (stored.format_version !== 1 || typeof stored.step !== 'number' || typeof stored.rngState !== 'number') {
    throw new LrpsegError('BAD_MODEL_FILE', 'checkpoint: unsupported or incomplete "lrpseg_train" entry');
  }
  let model = loadModel(backend, bytes);
  let batchNorms: BatchNorms | undefined;
  let average: WeightAverage | undefined;
  if (stored.ema !== undefined) {
    if (typeof stored.ema !== 'number' || !(stored.ema > 0 && stored.ema < 1)) throw new LrpsegError('BAD_MODEL_FILE', 'checkpoint: "ema" is not a decay in (0, 1)');
    const averaged = model;
    model = storedBeside(backend, averaged.meta, file.tensors, trainedName, 'with a moving average of the weights');
    averaged.dispose();
    average = WeightAverage.fromTensors(model, stored.ema, file.tensors);
  } else if (stored.batch_norm === true) {
    const folded = model;
    model = storedBeside(backend, folded.meta, file.tensors, unfoldedName, 'trained with batch norms');
    folded.dispose();
    batchNorms = BatchNorms.fromTensors(model, file.tensors);
  }
  const optimizer = new Optimizer(backend, vggParamGroups(model, stored.lrs.conv, stored.lrs.fc, batchNorms), stored.optimizer);
  optimizer.loadState(file.tensors, stored.step);
  return {
    model, optimizer, state: { epoch: stored.epoch, rngState: stored.rngState, extra: stored.extra },
    ...(batchNorms ? { batchNorms } : {}), ...(average ? { average } : {}),
  };
}

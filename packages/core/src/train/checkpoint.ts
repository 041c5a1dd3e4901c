/**
 * Resumable training checkpoints: the model's weights and metadata as in any model file (so a checkpoint
 * is also a usable model), plus the optimiser state under `optimizer.*` and the training state (step,
 * epoch, random generator, configuration) under the `lrpseg_train` metadata key.
 */
import type { Backend } from '../backend.js';
import { LrpsegError } from '../errors.js';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { loadModel, type Model } from '../nn/model.js';
import { Optimizer, type OptimizerConfig } from './optimizer.js';
import { vggParamGroups } from './classifier.js';

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
}

export async function saveCheckpoint(model: Model, optimizer: Optimizer, state: TrainState): Promise<Uint8Array> {
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of model.parameters()) entries.push([name, { shape: t.shape, data: await t.read() }]);
  for (const [name, t] of optimizer.stateTensors()) entries.push([name, { shape: t.shape, data: await t.read() }]);
  const lr = (g: string) => optimizer.groups.find((x) => x.name === g)?.lr ?? 0;
  const stored: StoredTrainState = { format_version: 1, optimizer: optimizer.config, lrs: { conv: lr('conv'), fc: lr('fc') }, step: optimizer.step, ...state };
  return serializeSafetensors(entries, { lrpseg: JSON.stringify(model.meta), lrpseg_train: JSON.stringify(stored) });
}

export function loadCheckpoint(backend: Backend, bytes: Uint8Array): { model: Model; optimizer: Optimizer; state: TrainState } {
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
  const model = loadModel(backend, bytes);
  const optimizer = new Optimizer(backend, vggParamGroups(model, stored.lrs.conv, stored.lrs.fc), stored.optimizer);
  optimizer.loadState(file.tensors, stored.step);
  return { model, optimizer, state: { epoch: stored.epoch, rngState: stored.rngState, extra: stored.extra } };
}

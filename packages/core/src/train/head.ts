/**
 * The classifier head: cutting its output down to its first classes, so that a model trained with
 * auxiliary classes (e.g. the other Magnetic Tile defects) becomes the plain defect-free / defect model
 * that explain, segment and eval expect; and rewriting its last linear layer (also for calibration).
 */
import { LrpsegError } from '../errors.js';
import { serializeSafetensors } from '../io/safetensors.js';
import type { ModelMeta } from '../nn/arch.js';
import { loadModel, type Model } from '../nn/model.js';

/**
 * A new model (same backend) whose last linear layer keeps only the rows of classes [0, count). Its
 * logits are the first `count` logits of the original, unchanged. LRP heatmaps are unchanged where
 * the last layer's rule does not look at the other outputs (zero, gamma, alphabeta: relevance starts at
 * the target logit alone); LRP-ε's stabiliser is E·rms(z) over the layer's outputs (LRP.md), so under
 * `ours` the cut model's heatmap is that of a two-output model, as for one trained binary from the start.
 */
export async function keepFirstClasses(model: Model, count: number, classes?: readonly string[]): Promise<Model> {
  const k = model.meta.arch.num_classes;
  if (!Number.isInteger(count) || count < 1 || count > k) {
    throw new LrpsegError('BAD_INPUT', `keepFirstClasses: cannot keep ${count} of ${k} classes`);
  }
  const names = classes ?? model.meta.classes.slice(0, count);
  if (names.length !== count) throw new LrpsegError('BAD_INPUT', `keepFirstClasses: ${names.length} class names for ${count} classes`);
  const meta = { ...model.meta, arch: { ...model.meta.arch, num_classes: count }, classes: [...names] };
  return rewriteLastLinear(model, 'keepFirstClasses', (weight, bias) => ({
    weight: { shape: [count, weight.shape[1]], data: weight.data.slice(0, count * weight.shape[1]) },
    bias: { shape: [count], data: bias.data.slice(0, count) },
  }), meta);
}

interface StoredTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * A new model (same backend) with the last linear layer's weight and bias replaced by `edit`'s (copies
 * of the originals are passed in) and the given metadata; every other tensor is kept. `who` names the
 * caller in errors.
 */
export async function rewriteLastLinear(
  model: Model, who: string, edit: (weight: StoredTensor, bias: StoredTensor) => { weight: StoredTensor; bias: StoredTensor }, meta: ModelMeta,
): Promise<Model> {
  const layers = model.paramLayers();
  const last = layers[layers.length - 1];
  if (last?.kind !== 'linear') throw new LrpsegError('BAD_INPUT', `${who}: the model does not end in a linear layer`);
  const params = model.parameters();
  const read = async (name: string): Promise<StoredTensor> => {
    const t = params.get(name)!;
    return { shape: t.shape, data: Float32Array.from(await t.read()) };
  };
  const edited = edit(await read(`${last.name}.weight`), await read(`${last.name}.bias`));
  const entries: [string, StoredTensor][] = [];
  for (const [name, t] of params) {
    if (name === `${last.name}.weight`) entries.push([name, edited.weight]);
    else if (name === `${last.name}.bias`) entries.push([name, edited.bias]);
    else entries.push([name, { shape: t.shape, data: await t.read() }]);
  }
  return loadModel(model.backend, serializeSafetensors(entries, { lrpseg: JSON.stringify(meta) }));
}

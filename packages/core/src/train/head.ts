/**
 * Cutting a classifier's output down to its first classes: a model trained with auxiliary classes
 * (e.g. the other Magnetic Tile defects) becomes the plain defect-free / defect model that explain,
 * segment and eval expect.
 */
import { LrpsegError } from '../errors.js';
import { serializeSafetensors } from '../io/safetensors.js';
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
  const layers = model.paramLayers();
  const last = layers[layers.length - 1];
  if (last?.kind !== 'linear') throw new LrpsegError('BAD_INPUT', 'keepFirstClasses: the model does not end in a linear layer');
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of model.parameters()) {
    const data = await t.read();
    if (name === `${last.name}.weight`) {
      const inFeatures = t.shape[1];
      entries.push([name, { shape: [count, inFeatures], data: data.slice(0, count * inFeatures) }]);
    } else if (name === `${last.name}.bias`) {
      entries.push([name, { shape: [count], data: data.slice(0, count) }]);
    } else {
      entries.push([name, { shape: t.shape, data }]);
    }
  }
  const meta = { ...model.meta, arch: { ...model.meta.arch, num_classes: count }, classes: [...names] };
  return loadModel(model.backend, serializeSafetensors(entries, { lrpseg: JSON.stringify(meta) }));
}

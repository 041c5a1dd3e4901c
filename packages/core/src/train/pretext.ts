/**
 * Rotation prediction, a self-supervised pretext task (Gidaris et al. 2018): the network sees an
 * unlabelled crop turned by k quarter turns and learns k. Only its convolutions are kept, written under
 * torchvision's names so that `loadFeatureWeights` (`train classifier --init`) takes them.
 */
import { serializeSafetensors } from '../io/safetensors.js';
import { rotatePlanes90 } from '../rotate.js';
import { argmaxRow } from '../argmax.js';
import type { Model } from '../nn/model.js';
import { scope } from '../tensor.js';
import type { LabeledBatch } from './trainer.js';

/** The pretext task's classes: the quarter turns k = 0, 1, 2, 3 (counter-clockwise). */
export const ROTATION_CLASSES: readonly string[] = ['rot0', 'rot90', 'rot180', 'rot270'];

/** Turns each sample of an (n, c, s, s) batch by ks[i] quarter turns counter-clockwise (rotatePlanes90). */
export function rotateSquareBatch(x: Float32Array, n: number, c: number, s: number, ks: readonly number[]): Float32Array {
  if (x.length !== n * c * s * s || ks.length !== n) throw new RangeError(`rotateSquareBatch: ${x.length} values, ${ks.length} turns for (${n}, ${c}, ${s}, ${s})`);
  const out = new Float32Array(x.length);
  const size = c * s * s;
  for (let i = 0; i < n; i++) out.set(rotatePlanes90(x.subarray(i * size, (i + 1) * size), c, s, s, ks[i]).data, i * size);
  return out;
}

/** Top-1 accuracy of the model's argmax against the batches' labels (all classes). */
export async function argmaxAccuracy(model: Model, batches: AsyncIterable<LabeledBatch>): Promise<{ correct: number; total: number }> {
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const k = model.meta.arch.num_classes;
  let correct = 0, total = 0;
  for await (const batch of batches) {
    const n = batch.labels.length;
    const logits = await scope(() => model.forward(model.backend.fromArray(batch.x, [n, c, h, w]))).read();
    for (let i = 0; i < n; i++) if (argmaxRow(logits, i, k) === batch.labels[i]) correct++;
    total += n;
  }
  return { correct, total };
}

/**
 * Whether `correct` of `total` over `k` classes is clearly above chance (1/k): more than two binomial
 * standard errors above it. Samples are treated as independent, which the held-out set (each image once
 * as every class) is not quite; a network that collapsed to one output scores exactly 1/k there.
 */
export function clearlyAboveChance(correct: number, total: number, k: number): boolean {
  if (!(k >= 2) || !(total >= 1) || !(correct >= 0 && correct <= total)) throw new RangeError(`clearlyAboveChance: ${correct} of ${total} over ${k} classes`);
  const p = 1 / k;
  return correct / total > p + 2 * Math.sqrt((p * (1 - p)) / total);
}

/**
 * The model's convolutions alone (`features.N.weight` / `.bias`), as safetensors. No "lrpseg" model
 * metadata, so that the file is not mistaken for a model; `provenance` goes under "lrpseg_pretext".
 */
export async function saveFeatureWeights(model: Model, provenance: unknown): Promise<Uint8Array> {
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const layer of model.paramLayers()) {
    if (layer.kind !== 'conv2d') continue;
    entries.push([`${layer.name}.weight`, { shape: layer.weight.shape, data: await layer.weight.read() }]);
    entries.push([`${layer.name}.bias`, { shape: layer.bias.shape, data: await layer.bias.read() }]);
  }
  return serializeSafetensors(entries, { lrpseg_pretext: JSON.stringify(provenance) });
}

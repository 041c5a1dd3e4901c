/** Bright blobs on noise: the paper's idea at toy scale (a defect is a small bright region). */
import type { ModelMeta } from '../../src/nn/arch.js';
import { SeededRng } from '../../src/random.js';
import type { LabeledBatch, TrainingHooks } from '../../src/train/trainer.js';

/** A small VGG for 32 × 32 blob images: what the training tests train. */
export const BLOB_VGG_META: ModelMeta = {
  format_version: 1,
  arch: { type: 'vgg', in_channels: 3, features: [8, 'M', 16, 'M', 16, 'M'], classifier: [16], num_classes: 2 },
  normalize: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  input_size: [32, 32],
  classes: ['defect-free', 'defect'],
};

export interface BlobBatch {
  readonly x: Float32Array; // (n, 3, s, s) in [0, 1]
  readonly labels: number[];
  readonly masks: Uint8Array; // (n, s, s): 1 inside the blob
}

export function blobBatch(rng: SeededRng, n: number, size: number): BlobBatch {
  const x = new Float32Array(n * 3 * size * size);
  const masks = new Uint8Array(n * size * size);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    labels.push(label);
    const cy = 6 + rng.next() * (size - 12), cx = 6 + rng.next() * (size - 12), r = 2.5 + rng.next() * 1.5;
    for (let y = 0; y < size; y++) {
      for (let xx = 0; xx < size; xx++) {
        const inBlob = label === 1 && (y - cy) ** 2 + (xx - cx) ** 2 <= r * r;
        if (inBlob) masks[(i * size + y) * size + xx] = 1;
        const v = Math.min(1, 0.3 + 0.2 * rng.next() + (inBlob ? 0.5 : 0));
        for (let c = 0; c < 3; c++) x[((i * 3 + c) * size + y) * size + xx] = v;
      }
    }
  }
  return { x, labels, masks };
}

/**
 * Trainer hooks over endless batches of 8 blob images drawn from the trainer's generator, validated on
 * `val`; checkpoints go to `save`.
 */
export function blobTrainingHooks(val: BlobBatch, save: (bytes: Uint8Array, kind: 'last' | 'best') => void): TrainingHooks {
  return {
    async *trainBatches(_epoch: number, rng: SeededRng): AsyncIterable<LabeledBatch> {
      for (;;) {
        const batch = blobBatch(rng, 8, 32);
        yield { x: batch.x, labels: batch.labels };
      }
    },
    async *validationBatches() {
      yield { x: val.x, labels: val.labels };
    },
    async saveCheckpoint(bytes, kind) {
      save(bytes, kind);
    },
  };
}

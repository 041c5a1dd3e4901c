/**
 * The segmentation goldens (packages/core/test/golden/segment/) are masks of stored heatmaps. This
 * checks that those heatmaps are still what the fixed model gives on the real images, i.e. that the
 * goldens stay goldens of real LRP heatmaps. On a mismatch after a deliberate LRP change, regenerate
 * with packages/cli/scripts/make-segment-golden.mjs and review.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuBackend, buildVgg, explain, parseComposite, parseNpy, vgg11Meta } from '@lrpseg/core';
import { decodeImage, prepareForModel } from '@lrpseg/datasets';
import { SHARED_DIR } from './helpers.js';

const goldenDir = path.resolve(import.meta.dirname, '../../core/test/golden/segment');
const golden = JSON.parse(readFileSync(path.join(goldenDir, 'masks.json'), 'utf8')) as {
  model: { variant: '128n' | 'onefc'; widthDivisor: number; inputSize: [number, number]; seed: number };
  rules: string;
  images: string[];
};
const images = golden.images.map((rel) => path.join(SHARED_DIR, 'datasets', 'magnetic-tile', rel));

describe.skipIf(!images.every((f) => existsSync(f)))('golden heatmaps', () => {
  it('the fixed model still gives the stored heatmaps on the real images', async () => {
    const backend = new CpuBackend();
    const meta = vgg11Meta(golden.model.variant, { inputSize: golden.model.inputSize, widthDivisor: golden.model.widthDivisor });
    const model = buildVgg(backend, meta, { seed: golden.model.seed });
    const [h, w] = meta.input_size;
    const data = new Float32Array(images.length * 3 * h * w);
    for (let i = 0; i < images.length; i++) data.set(prepareForModel(decodeImage(readFileSync(images[i]), images[i]), [h, w], 3).data, i * 3 * h * w);
    const x = backend.fromArray(data, [images.length, 3, h, w]);
    const r = explain(model, x, { composite: parseComposite(golden.rules, meta) });
    const got = await r.read();
    r.dispose();
    x.dispose();
    model.dispose();
    const stored = parseNpy(readFileSync(path.join(goldenDir, 'heatmaps.npy')));
    expect(stored.shape).toEqual([images.length, h, w]);
    const want = stored.data as Float32Array;
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]));
      worst = Math.max(worst, Math.abs(got[i] - want[i]));
    }
    expect(scale).toBeGreaterThan(0);
    expect(worst / scale).toBeLessThan(1e-5);
  });
});

/**
 * Goldens on real heatmaps: LRP of a fixed seeded VGG-11 on three Magnetic Tile images, stored in
 * test/golden/segment/ with the masks each method gave when they were generated and reviewed
 * (review.png). Regenerate only on purpose: packages/cli/scripts/make-segment-golden.mjs.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseNpy } from '../../src/io/npy.js';
import { segmentMap, type SegmentMethod } from '../../src/segment/segment.js';

const dir = path.join(import.meta.dirname, '../golden/segment');
const heatmaps = parseNpy(readFileSync(path.join(dir, 'heatmaps.npy')));
const golden = JSON.parse(readFileSync(path.join(dir, 'masks.json'), 'utf8')) as {
  shape: [number, number, number];
  maps: { image: string; masks: Record<string, { area: number; bits: string }> }[];
};

function unpack(bits: string, n: number): Uint8Array {
  const bytes = Buffer.from(bits, 'base64');
  return Uint8Array.from({ length: n }, (_, i) => (bytes[i >> 3] >> (i & 7)) & 1);
}

describe('goldens on real LRP heatmaps', () => {
  const [n, h, w] = golden.shape;
  it('the stored heatmaps have the recorded shape', () => {
    expect(heatmaps.shape).toEqual([n, h, w]);
    expect(golden.maps.length).toBe(n);
  });
  for (let i = 0; i < n; i++) {
    for (const key of Object.keys(golden.maps[i].masks)) {
      it(`${golden.maps[i].image}: ${key}`, () => {
        const [method, scaleText] = key.split('_x') as [SegmentMethod, string | undefined];
        const scale = scaleText === undefined ? 1 : Number(scaleText);
        const raw = (heatmaps.data as Float32Array).subarray(i * h * w, (i + 1) * h * w);
        const data = scale === 1 ? raw : Float32Array.from(raw, (v) => v * scale);
        const s = segmentMap(method, { data, height: h, width: w });
        const want = golden.maps[i].masks[key];
        const area = s.mask.reduce((a, b) => a + b, 0);
        expect(area).toBe(want.area);
        const expected = unpack(want.bits, h * w);
        let differ = 0;
        for (let p = 0; p < h * w; p++) if (expected[p] !== s.mask[p]) differ++;
        expect(differ).toBe(0);
      });
    }
  }
});

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSeg, patchOffsets, type Manifest } from '@lrpseg/datasets';
import { CRACKFOREST_FULL, CRACKFOREST_PAPER, CRACKFOREST_QUICK, splitCrackForest } from '../src/reproduce/crackforest.js';
import { MAGNETIC_TILE_PAPER } from '../src/reproduce/magnetic-tile.js';
import { SHARED_DIR, tempDir } from './helpers.js';

const CF = path.join(SHARED_DIR, 'datasets', 'crackforest');
const have = existsSync(path.join(CF, 'seg'));

describe('reproduce: the paper figures of both studies', () => {
  it('have every network × rule set × method', () => {
    for (const paper of [MAGNETIC_TILE_PAPER, CRACKFOREST_PAPER]) {
      expect(Object.keys(paper.classification).sort()).toEqual(['VGG-A 128N', 'VGG-A one FC']);
      for (const n of ['VGG-A 128N', 'VGG-A one FC']) {
        for (const r of ['montavon', 'ours']) {
          for (const m of ['simple', 'gmm', 'bmm']) {
            const t = paper.segmentation[n]?.[r]?.[m];
            expect(t, `${n} ${r} ${m}`).toHaveLength(3);
            for (const x of t!) expect(x).toBeGreaterThan(0);
          }
        }
      }
    }
  });

  it('crackforest full scale feeds whole 112 patches scaled ×2 to 224; quick feeds whole patches as they are', () => {
    expect(CRACKFOREST_FULL.size / CRACKFOREST_FULL.patch).toBe(2);
    expect(CRACKFOREST_QUICK.size).toBe(CRACKFOREST_QUICK.patch);
    for (const s of [CRACKFOREST_FULL, CRACKFOREST_QUICK]) expect(s.minCrackPixels).toBe(Math.round(0.005 * s.patch * s.patch));
  });
});

describe.skipIf(!have)('reproduce crackforest: patches and their split', () => {
  const { dir, cleanup } = tempDir('lrpseg-cf-split-');
  afterAll(cleanup);
  const s = CRACKFOREST_QUICK;

  it('is deterministic, keeps every photo in one subset, and labels patches by their crack pixels', async () => {
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    const c = path.join(dir, 'c.json');
    const m = await splitCrackForest(CF, s, 0, a);
    await splitCrackForest(CF, s, 0, b);
    await splitCrackForest(CF, s, 1, c);
    expect(readFileSync(b, 'utf8')).toBe(readFileSync(a, 'utf8'));
    expect(readFileSync(c, 'utf8')).not.toBe(readFileSync(a, 'utf8'));

    const photos = { train: new Set<string>(), val: new Set<string>(), test: new Set<string>() };
    const entries = (['train', 'val', 'test'] as const).flatMap((k) => m.subsets[k].map((e) => ({ ...e, subset: k })));
    for (const e of entries) photos[e.subset].add(e.image);
    const all = new Set(entries.map((e) => e.image));
    expect(all.size).toBe(118);
    expect(photos.train.size + photos.val.size + photos.test.size).toBe(118); // no photo in two subsets
    for (const k of ['train', 'val', 'test'] as const) {
      expect(Math.abs(photos[k].size / 118 - { train: 0.6, val: 0.2, test: 0.2 }[k]), k).toBeLessThan(0.05);
      expect(m.counts[k].crack, k).toBeGreaterThan(0);
      expect(m.counts[k]['no-crack'], k).toBeGreaterThan(0);
    }

    // every patch position of every photo: crack (≥ min pixels), no crack (0), or left out (in between)
    let leftOut = 0;
    const listed = new Map(entries.map((e) => [`${e.image}@${e.region!.top},${e.region!.left}`, e]));
    for (const img of [...all].sort()) {
      const stem = path.basename(img, '.jpg');
      const seg = parseSeg(readFileSync(path.join(CF, 'seg', `${stem}.seg`), 'utf8'), stem);
      for (const top of patchOffsets(seg.height, s.patch, s.stride)) {
        for (const left of patchOffsets(seg.width, s.patch, s.stride)) {
          let n = 0;
          for (let y = top; y < top + s.patch; y++) for (let x = left; x < left + s.patch; x++) if (seg.data[y * seg.width + x]) n++;
          const e = listed.get(`${img}@${top},${left}`);
          if (n > 0 && n < s.minCrackPixels) {
            expect(e, `${img} ${top},${left}: ${n} crack pixels`).toBeUndefined();
            leftOut++;
          } else {
            expect(e?.label, `${img} ${top},${left}: ${n} crack pixels`).toBe(n > 0 ? 1 : 0);
          }
        }
      }
    }
    expect(listed.size + leftOut).toBe(118 * patchOffsets(320, s.patch, s.stride).length * patchOffsets(480, s.patch, s.stride).length);
    expect(leftOut).toBeGreaterThan(0);

    // the manifest's root points at the data set from the manifest's folder
    const json = JSON.parse(readFileSync(a, 'utf8')) as Manifest;
    expect(existsSync(path.join(dir, json.root, json.subsets.test[0].image))).toBe(true);
  });
});

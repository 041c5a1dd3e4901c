import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LrpsegError } from '@lrpseg/core';
import { SUBSET_NAMES, groupScans, indexCrackForest, makeManifest, parseSeg, patchOffsets, scanDataset } from '../src/index.js';
import { CRACKFOREST_DIR, HAVE_CRACKFOREST } from './shared.js';

describe('Berkeley .seg files', () => {
  it('parses runs (colEnd inclusive); label 0 is background', () => {
    const text = 'format ascii cr\nwidth 4\nheight 3\nsegments 2\ndata\n0 0 0 3\n1 1 1 2\n0 1 0 0\n0 1 3 3\n2 2 3 3\n';
    const m = parseSeg(text, 't.seg');
    expect([m.width, m.height]).toEqual([4, 3]);
    expect(Array.from(m.data)).toEqual([0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0, 255]);
  });

  it('reports what is wrong, with the line', () => {
    const bad = (t: string): string => {
      try {
        parseSeg(t, 'x.seg');
      } catch (e) {
        expect(e).toBeInstanceOf(LrpsegError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad('width 4\nheight 3\n')).toMatch(/^x\.seg:\d+: no "data" line/);
    expect(bad('width 4\ndata\n')).toMatch(/invalid width\/height/);
    expect(bad('width 4\nheight 3\ndata\n1 3 0 0\n')).toBe('x.seg:4: run (row 3, columns 0–0) outside the 4×3 image');
    expect(bad('width 4\nheight 3\ndata\n1 0 0 4\n')).toMatch(/outside/);
    expect(bad('width 4\nheight 3\ndata\n1 0 x 2\n')).toMatch(/^x\.seg:4: expected "label row colStart colEnd"/);
    expect(bad('width 4\nheight 3\nformat binary\ndata\n')).toMatch(/unsupported format/);
  });

  it('patch offsets are spread evenly and reach the border', () => {
    expect(patchOffsets(480, 112, 112)).toEqual([0, 92, 184, 276, 368]);
    expect(patchOffsets(320, 112, 112)).toEqual([0, 104, 208]);
    expect(patchOffsets(112, 112, 112)).toEqual([0]);
    expect(patchOffsets(100, 112, 112)).toEqual([]);
  });
});

describe.skipIf(!HAVE_CRACKFOREST)('CrackForest on the real data set', () => {
  it('labels patches by their crack pixels and splits by photo', async () => {
    const index = await indexCrackForest(CRACKFOREST_DIR);
    expect(index.problems).toEqual([]);
    expect(new Set(index.entries.map((e) => e.image)).size).toBe(118);
    expect(index.entries).toHaveLength(118 * 15);
    // the label is exactly "the patch has a crack pixel", checked against the .seg of one photo
    const seg = parseSeg(readFileSync(path.join(CRACKFOREST_DIR, 'seg', '001.seg'), 'utf8'), '001.seg');
    for (const e of index.entries.filter((x) => x.image === 'image/001.jpg')) {
      const r = e.region!;
      let n = 0;
      for (let y = r.top; y < r.top + r.height; y++) for (let x = r.left; x < r.left + r.width; x++) if (seg.data[y * seg.width + x]) n++;
      expect(e.label).toBe(n > 0 ? 1 : 0);
      expect(e.class).toBe(n > 0 ? 'crack' : 'no-crack');
    }
    const pos = index.entries.filter((e) => e.label === 1).length;
    expect(pos).toBeGreaterThan(700);
    expect(index.entries.length - pos).toBeGreaterThan(700);

    const scan = await scanDataset(index);
    expect(scan.problems).toEqual([]);
    const m = makeManifest(scan, groupScans('crackforest', scan.scans), { seed: 3, root: '.' });
    const where = new Map<string, string>();
    for (const s of SUBSET_NAMES) {
      for (const e of m.subsets[s]) {
        expect(where.get(e.image) ?? s).toBe(s); // all patches of a photo in one subset
        where.set(e.image, s);
        expect(e.group).toBe(e.image.slice(6, 9));
      }
      const share = m.subsets[s].length / index.entries.length;
      expect(Math.abs(share - { train: 0.6, val: 0.2, test: 0.2 }[s])).toBeLessThanOrEqual(0.02);
    }
  });
});

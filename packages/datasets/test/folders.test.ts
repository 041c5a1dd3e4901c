import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectKind, encodePngGrey, indexClassFolders, indexMaskFolders, openDataset, scanDataset } from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lrpseg-folders-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const png = (v: number, w = 4, h = 3): Uint8Array => encodePngGrey(new Uint8Array(w * h).fill(v), w, h);

describe('bring your own data', () => {
  it('a folder of images and a folder of masks (label from the mask)', async () => {
    mkdirSync(path.join(dir, 'set', 'images'), { recursive: true });
    mkdirSync(path.join(dir, 'set', 'masks'), { recursive: true });
    writeFileSync(path.join(dir, 'set', 'images', 'a.png'), png(100));
    writeFileSync(path.join(dir, 'set', 'images', 'b.png'), png(100));
    writeFileSync(path.join(dir, 'set', 'images', 'c.png'), png(100));
    writeFileSync(path.join(dir, 'set', 'masks', 'a.png'), png(255));
    writeFileSync(path.join(dir, 'set', 'masks', 'b.png'), png(0));
    writeFileSync(path.join(dir, 'set', 'masks', 'orphan.png'), png(0));
    const idx = await indexMaskFolders(path.join(dir, 'set', 'images'), path.join(dir, 'set', 'masks'));
    expect(idx.root).toBe(path.join(dir, 'set'));
    expect(idx.entries).toEqual([
      { image: 'images/a.png', mask: 'masks/a.png', label: 1, class: 'defect' },
      { image: 'images/b.png', mask: 'masks/b.png', label: 0, class: 'defect-free' },
    ]);
    expect(idx.problems).toHaveLength(1);
    expect(idx.problems[0]).toMatch(/images\/c\.png: no mask \(expected .*masks\/c\.png\)/);
    const same = await openDataset({ source: path.join(dir, 'set', 'images'), masks: path.join(dir, 'set', 'masks') });
    expect(same.kind).toBe('masks');
  });

  it('one folder per class; a mask of another size is a problem', async () => {
    for (const c of ['good', 'bad']) mkdirSync(path.join(dir, 'cls', c), { recursive: true });
    writeFileSync(path.join(dir, 'cls', 'good', '1.png'), png(10));
    writeFileSync(path.join(dir, 'cls', 'bad', '2.png'), png(20));
    writeFileSync(path.join(dir, 'cls', 'bad', '3.png'), png(30));
    const idx = await indexClassFolders(path.join(dir, 'cls'), { negative: 'good' });
    expect(idx.labels).toEqual(['good', 'positive']);
    expect(idx.entries.map((e) => [e.image, e.label, e.class])).toEqual([
      ['bad/2.png', 1, 'bad'],
      ['bad/3.png', 1, 'bad'],
      ['good/1.png', 0, 'good'],
    ]);
    const byIndex = await indexClassFolders(path.join(dir, 'cls'));
    expect(byIndex.entries.map((e) => e.label)).toEqual([0, 0, 1]);
    expect(await detectKind(path.join(dir, 'cls'))).toBeNull();
    await expect(openDataset({ source: path.join(dir, 'cls') })).rejects.toThrow(/cannot tell the kind/);

    writeFileSync(path.join(dir, 'set', 'masks', 'b.png'), png(0, 5, 3));
    const idx2 = await indexMaskFolders(path.join(dir, 'set', 'images'), path.join(dir, 'set', 'masks'));
    const scan = await scanDataset(idx2);
    expect(scan.problems.at(-1)).toMatch(/masks\/b\.png: mask of 5×3 does not match its image images\/b\.png of 4×3/);
  });
});

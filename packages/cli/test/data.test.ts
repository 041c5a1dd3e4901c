import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseManifest, type Manifest } from '@lrpseg/datasets';
import { SHARED_DIR, lrpseg, oneErrorLine, tempDir } from './helpers.js';

const MT = path.join(SHARED_DIR, 'datasets', 'magnetic-tile');
const CF = path.join(SHARED_DIR, 'datasets', 'crackforest');
const HAVE_MT = existsSync(path.join(MT, 'MT_Free'));
const HAVE_CF = existsSync(path.join(CF, 'seg'));
const { dir, cleanup } = tempDir('lrpseg-data-');
afterAll(cleanup);

function readManifest(file: string): Manifest {
  return parseManifest(readFileSync(file, 'utf8'), file);
}

describe.skipIf(!HAVE_MT)('lrpseg data on the Magnetic Tile data set', () => {
  it('inspect: counts, sizes, empty masks and groups', async () => {
    const t0 = performance.now();
    const r = await lrpseg('data', 'inspect', MT, '--json', '-q');
    const seconds = (performance.now() - t0) / 1000;
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as {
      total: number;
      classes: { class: string; images: number; width: number[]; height: number[]; emptyMasks: number; label: number }[];
      groups: { count: number; largest: number; sizes: Record<string, number> };
      problems: string[];
      timingsMs: Record<string, number>;
    };
    console.log(`data inspect (all 6 classes, 1,344 images): ${seconds.toFixed(1)} s; ${JSON.stringify(rep.timingsMs)}; ${rep.groups.count} groups`);
    const by = Object.fromEntries(rep.classes.map((c) => [c.class, c]));
    expect(Object.fromEntries(rep.classes.map((c) => [c.class, c.images]))).toEqual({ Blowhole: 115, Break: 85, Crack: 57, Fray: 32, Free: 952, Uneven: 103 });
    expect(rep.total).toBe(1344);
    expect(by.Free.emptyMasks).toBe(952);
    expect(by.Uneven.emptyMasks).toBe(4);
    expect(by.Free.label).toBe(0);
    expect(by.Crack.label).toBe(1);
    // README: width 103–632, height 222–403
    expect(Math.min(...rep.classes.map((c) => c.width[0]))).toBe(103);
    expect(Math.max(...rep.classes.map((c) => c.width[1]))).toBe(632);
    expect(Math.min(...rep.classes.map((c) => c.height[0]))).toBe(222);
    expect(Math.max(...rep.classes.map((c) => c.height[1]))).toBe(403);
    expect(rep.groups.sizes['6']).toBeGreaterThan(100);
    expect(rep.problems).toEqual([]);

    const text = await lrpseg('data', 'inspect', MT, '--classes', 'crack', '--no-groups');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^Crack\s+1 defect\s+57\s+119–606\s+242–403\s+0\s/m);
    expect(text.stdout).toMatch(/^groups\s+57 \(none\)/m);
  });

  it('split: writes the manifest (paper classes by default), the same bytes for the same seed', async () => {
    const out = path.join(dir, 'm', 'split.json');
    const r = await lrpseg('data', 'split', MT, '--out', out, '--seed', '7', '--no-groups');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^wrote .*split\.json: 1,124 images in 1,124 groups \(none\), seed 7$/m);
    const m = readManifest(out);
    expect(m.classes).toEqual(['Crack', 'Blowhole', 'Free']);
    expect(m.seed).toBe(7);
    expect(path.resolve(path.dirname(out), m.root)).toBe(path.resolve(MT));
    expect(m.subsets.train.length + m.subsets.val.length + m.subsets.test.length).toBe(1124);
    expect(m.subsets.train[0]).toEqual(expect.objectContaining({ image: expect.stringMatching(/^MT_\w+\/Imgs\/.+\.jpg$/), label: expect.any(Number), group: expect.any(String) }));
    const again = path.join(dir, 'm', 'again.json');
    expect((await lrpseg('data', 'split', MT, '-o', again, '--seed', '7', '--no-groups', '-q')).code).toBe(0);
    expect(readFileSync(again)).toEqual(readFileSync(out));
    expect(readdirSync(path.join(dir, 'm')).sort()).toEqual(['again.json', 'split.json']);
  });
});

describe.skipIf(!HAVE_CF)('lrpseg data on CrackForest', () => {
  it('split by photo with patch labels', async () => {
    const out = path.join(dir, 'cf.json');
    const r = await lrpseg('data', 'split', CF, '--out', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    const m = readManifest(out);
    expect(m.dataset).toBe('crackforest');
    expect(m.grouping.groups).toBe(118);
    expect(m.subsets.test.every((e) => e.region !== undefined && e.mask?.endsWith('.seg'))).toBe(true);
  });
});

describe.skipIf(!HAVE_MT)('lrpseg data: bad inputs and usage', () => {
  const bad = path.join(dir, 'bad');
  const imgs = path.join(bad, 'MT_Crack', 'Imgs');
  mkdirSync(imgs, { recursive: true });
  for (const s of ['exp1_num_3191', 'exp1_num_32128', 'exp1_num_249594']) {
    for (const ext of ['.jpg', '.png']) copyFileSync(path.join(MT, 'MT_Crack', 'Imgs', s + ext), path.join(imgs, s + ext));
  }
  const jpg = readFileSync(path.join(imgs, 'exp1_num_3191.jpg'));
  writeFileSync(path.join(imgs, 'exp1_num_3191.jpg'), jpg.subarray(0, 2000));
  copyFileSync(path.join(MT, 'MT_Crack', 'Imgs', 'exp2_num_3211.jpg'), path.join(imgs, 'exp2_num_3211.jpg'));

  it('split names each bad file and writes nothing; --skip-bad splits the rest and still exits 1', async () => {
    const out = path.join(dir, 'bad.json');
    const r = await lrpseg('data', 'split', bad, '--out', out, '-q');
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe('lrpseg: MT_Crack/Imgs/exp2_num_3211.jpg: no mask (expected MT_Crack/Imgs/exp2_num_3211.png)');
    expect(lines[1]).toMatch(/^lrpseg: .*exp1_num_3191\.jpg: corrupt or truncated JPEG/);
    expect(lines[2]).toMatch(/^lrpseg: 2 problem\(s\) in .*; nothing written/);
    expect(existsSync(out)).toBe(false);
    const r2 = await lrpseg('data', 'split', bad, '--out', out, '--skip-bad', '-q');
    expect(r2.code).toBe(1);
    expect(readManifest(out).counts.train.total + readManifest(out).counts.val.total + readManifest(out).counts.test.total).toBe(2);
    const r3 = await lrpseg('data', 'inspect', bad, '--classes', 'Crack');
    expect(r3.code).toBe(1);
    expect(r3.stdout).toMatch(/^problems {2}2$/m);
  });

  it('split --folds K --fold I: group k-fold manifests that test every image once', async () => {
    const k = 3;
    const manifests: Manifest[] = [];
    for (let fold = 0; fold < k; fold++) {
      const out = path.join(dir, 'folds', `fold${fold}.json`);
      const r = await lrpseg('data', 'split', MT, '--out', out, '--folds', String(k), '--fold', String(fold), '--no-groups');
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`fold ${fold} of ${k} (test; val: fold ${(fold + 1) % k})`);
      manifests.push(readManifest(out));
    }
    const tested = manifests.flatMap((m) => m.subsets.test.map((e) => e.image));
    expect(tested).toHaveLength(1124);
    expect(new Set(tested).size).toBe(1124);
    manifests.forEach((m, fold) => {
      expect(m.folds).toEqual({ k, fold });
      // val of fold I is the test of fold I + 1
      expect(m.subsets.val.map((e) => e.image).sort()).toEqual(manifests[(fold + 1) % k].subsets.test.map((e) => e.image).sort());
      expect(m.counts.train.total + m.counts.val.total + m.counts.test.total).toBe(1124);
    });
    const both = await lrpseg('data', 'split', MT, '-o', path.join(dir, 'y.json'), '--folds', '5', '--fold', '1', '--ratios', '70,15,15');
    expect(both.code).toBe(2);
    expect(oneErrorLine(both)).toMatch(/--ratios and --folds exclude each other/);
    const noFold = await lrpseg('data', 'split', MT, '-o', path.join(dir, 'y.json'), '--folds', '5');
    expect(noFold.code).toBe(2);
    expect(oneErrorLine(noFold)).toMatch(/--folds 5 needs --fold <i> \(0 … 4\)/);
    const beyond = await lrpseg('data', 'split', MT, '-o', path.join(dir, 'y.json'), '--folds', '5', '--fold', '5');
    expect(oneErrorLine(beyond)).toMatch(/--fold 5: must be below --folds 5/);
    expect((await lrpseg('data', 'split', MT, '-o', path.join(dir, 'y.json'), '--folds', '2', '--fold', '0')).code).toBe(2);
  });

  it('usage errors exit 2; a missing data set or class is one line, exit 1', async () => {
    expect((await lrpseg('data', 'split', MT)).code).toBe(2);
    const ratios = await lrpseg('data', 'split', MT, '-o', path.join(dir, 'x.json'), '--ratios', '60,20');
    expect(ratios.code).toBe(2);
    expect(oneErrorLine(ratios)).toMatch(/--ratios: expected three non-negative numbers/);
    const missing = await lrpseg('data', 'inspect', path.join(dir, 'nowhere'));
    expect(missing.code).toBe(1);
    expect(oneErrorLine(missing)).toMatch(/nowhere: no such file or folder/);
    const cls = await lrpseg('data', 'inspect', MT, '--classes', 'Scratch');
    expect(cls.code).toBe(1);
    expect(oneErrorLine(cls)).toBe('lrpseg: unknown class "Scratch" (this data set has Blowhole, Break, Crack, Fray, Free, Uneven)');
  });
});

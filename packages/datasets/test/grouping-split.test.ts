import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@lrpseg/core';
import {
  DEFAULT_GROUPING,
  UnionFind,
  assignFold,
  assignGroups,
  captureFeatures,
  captureSimilarity,
  findGroups,
  parseManifest,
  serializeManifest,
  type Manifest,
} from '../src/index.js';

/** A random surface texture (vertical streaks plus speckle) of h × w, as 8-bit grey. */
function surface(seed: number, h: number, w: number): Uint8Array {
  const rand = mulberry32(seed);
  const streak = Float32Array.from({ length: w }, () => rand() * 40);
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = Math.round(80 + streak[x] + rand() * 60 + 0.1 * y);
  return out;
}

/** A capture: a crop at (top, left) of size h × w, under another light (gain, offset). */
function capture(src: Uint8Array, sw: number, top: number, left: number, h: number, w: number, gain: number, offset: number) {
  const data = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = Math.max(0, Math.min(255, Math.round(gain * src[(top + y) * sw + left + x] + offset)));
  return { width: w, height: h, data };
}

describe('repeated-capture detection', () => {
  const regionA = surface(1, 320, 260);
  const regionB = surface(2, 320, 260);
  const a1 = captureFeatures(capture(regionA, 260, 10, 12, 290, 230, 1, 0));
  const a2 = captureFeatures(capture(regionA, 260, 16, 4, 296, 240, 0.6, 50)); // shifted, resized, other light
  const b1 = captureFeatures(capture(regionB, 260, 10, 12, 290, 230, 1, 0));

  it('matches two captures of one region under different light and cropping, not two regions', () => {
    const same = captureSimilarity(a1, a2);
    const other = captureSimilarity(a1, b1);
    expect(same.score).toBeGreaterThan(0.9);
    expect(other.score).toBeLessThan(0.2); // −1: not even compared in 2-D (profiles too unlike)
    expect(Math.abs(captureSimilarity(a1, b1, { ...DEFAULT_GROUPING, prefilter: -1 }).score)).toBeLessThan(0.2);
    // the offset found is the crop difference, in half-resolution pixels
    expect([same.dx, same.dy]).toEqual([4, -3]);
  });

  it('groups transitively and also by identical masks', () => {
    const a3 = captureFeatures(capture(regionA, 260, 20, 20, 280, 230, 1.3, -20));
    const c = captureFeatures(capture(surface(3, 320, 260), 260, 0, 0, 290, 230, 1, 0));
    const d = captureFeatures(capture(surface(4, 320, 260), 260, 0, 0, 290, 230, 1, 0));
    const mask = new Uint8Array(290 * 230);
    mask.fill(1, 1000, 1100);
    const r = findGroups([
      { features: a1, mask: null },
      { features: b1, mask: null },
      { features: a2, mask: null },
      { features: c, mask },
      { features: a3, mask: null },
      { features: d, mask: mask.slice() },
    ]);
    expect(Array.from(r.groupOf)).toEqual([0, 1, 0, 2, 0, 2]);
    expect(r.groupCount).toBe(3);
    expect(r.stats.maskMatches).toBe(1);
  });

  it('union-find does not depend on the order of unions', () => {
    const u = new UnionFind(5);
    u.union(3, 4);
    u.union(4, 1);
    expect([0, 1, 2, 3, 4].map((i) => u.find(i))).toEqual([0, 1, 2, 1, 1]);
  });
});

describe('assignGroups', () => {
  it('keeps groups whole and hits the ratios of every class', () => {
    const rand = mulberry32(9);
    const groups = Array.from({ length: 200 }, (_, i) => {
      const n = 1 + Math.floor(rand() * 6);
      return { classCounts: new Map([[i % 5 === 0 ? 'defect' : 'free', n]]) };
    });
    const totals = new Map<string, number>();
    for (const g of groups) for (const [c, n] of g.classCounts) totals.set(c, (totals.get(c) ?? 0) + n);
    const where = assignGroups(groups, totals, { train: 0.6, val: 0.2, test: 0.2 }, 1);
    for (const cls of ['defect', 'free']) {
      const count = (s: string): number => groups.reduce((a, g, i) => a + (where[i] === s ? (g.classCounts.get(cls) ?? 0) : 0), 0);
      const total = totals.get(cls)!;
      expect(Math.abs(count('train') / total - 0.6)).toBeLessThan(0.02);
      expect(Math.abs(count('val') / total - 0.2)).toBeLessThan(0.02);
    }
    expect(assignGroups(groups, totals, { train: 0.6, val: 0.2, test: 0.2 }, 1)).toEqual(where);
    expect(assignGroups(groups, totals, { train: 0.6, val: 0.2, test: 0.2 }, 2)).not.toEqual(where);
    expect(() => assignGroups(groups, totals, { train: 0.6, val: 0.2, test: 0.3 }, 1)).toThrow(/sum to 1/);
  });
});

describe('assignFold (group k-fold)', () => {
  const rand = mulberry32(4);
  const groups = Array.from({ length: 120 }, (_, i) => ({ classCounts: new Map([[i % 4 === 0 ? 'defect' : 'free', 1 + Math.floor(rand() * 6)]]) }));
  const totals = new Map<string, number>();
  for (const g of groups) for (const [c, n] of g.classCounts) totals.set(c, (totals.get(c) ?? 0) + n);
  const k = 5;
  const folds = Array.from({ length: k }, (_, fold) => assignFold(groups, totals, { k, fold }, 3));

  it('tests every group exactly once over the k folds, and validates on the next fold', () => {
    groups.forEach((_, g) => {
      const testedIn = folds.map((w, f) => (w[g] === 'test' ? f : -1)).filter((f) => f >= 0);
      expect(testedIn).toHaveLength(1);
      // the fold that tests g is the one before the fold that validates it
      const validatedIn = folds.map((w, f) => (w[g] === 'val' ? f : -1)).filter((f) => f >= 0);
      expect(validatedIn).toEqual([(testedIn[0] + k - 1) % k]);
      expect(folds.filter((w) => w[g] === 'train')).toHaveLength(k - 2);
    });
  });

  it('stratifies every class across the folds, deterministically', () => {
    for (const cls of ['defect', 'free']) {
      const total = totals.get(cls)!;
      for (const w of folds) {
        const tested = groups.reduce((a, g, i) => a + (w[i] === 'test' ? (g.classCounts.get(cls) ?? 0) : 0), 0);
        expect(Math.abs(tested / total - 1 / k)).toBeLessThan(0.03);
      }
    }
    expect(assignFold(groups, totals, { k, fold: 2 }, 3)).toEqual(folds[2]);
    expect(assignFold(groups, totals, { k, fold: 2 }, 4)).not.toEqual(folds[2]);
  });

  it('refuses fewer than 3 folds and a fold outside 0 … k − 1', () => {
    expect(() => assignFold(groups, totals, { k: 2, fold: 0 }, 0)).toThrow(/k ≥ 3/);
    expect(() => assignFold(groups, totals, { k: 4, fold: 4 }, 0)).toThrow(/fold must be 0 … 3/);
  });
});

describe('manifest', () => {
  const m: Manifest = {
    format: 'lrpseg-split',
    version: 1,
    dataset: 'magnetic-tile',
    root: '../data',
    seed: 0,
    ratios: { train: 0.6, val: 0.2, test: 0.2 },
    classes: ['Crack', 'Free'],
    labels: ['defect-free', 'defect'],
    grouping: { method: 'texture', groups: 2 },
    evalViews: ['identity', 'hflip', 'vflip'],
    counts: { train: { total: 1 }, val: { total: 1 }, test: { total: 0 } },
    subsets: {
      train: [{ image: 'MT_Crack/Imgs/a.jpg', mask: 'MT_Crack/Imgs/a.png', label: 1, class: 'Crack', group: 'g1' }],
      val: [{ image: 'MT_Free/Imgs/b.jpg', mask: 'MT_Free/Imgs/b.png', label: 0, class: 'Free', group: 'g2', region: { top: 0, left: 1, height: 2, width: 3 } }],
      test: [],
    },
  };

  it('round-trips; one entry per line', () => {
    const text = serializeManifest(m);
    expect(parseManifest(text, 'm.json')).toEqual(m);
    expect(text).not.toContain('"folds"');
    const fold = { ...m, folds: { k: 5, fold: 2 } };
    expect(parseManifest(serializeManifest(fold), 'm.json')).toEqual(fold);
    expect(text).toContain('\n      {"image":"MT_Crack/Imgs/a.jpg","mask":"MT_Crack/Imgs/a.png","label":1,"class":"Crack","group":"g1"}\n');
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('refuses what is not a manifest, and paths that leave the root', () => {
    expect(() => parseManifest('{', 'm.json')).toThrow(/m\.json: not valid JSON/);
    expect(() => parseManifest('{"format":"x"}', 'm.json')).toThrow(/not an lrpseg split manifest/);
    const evil = JSON.parse(serializeManifest(m)) as { subsets: { train: { image: string }[] } };
    evil.subsets.train[0].image = '../../etc/passwd';
    expect(() => parseManifest(JSON.stringify(evil), 'm.json')).toThrow(/subsets\.train\[0\]: path "\.\.\/\.\.\/etc\/passwd" must be relative/);
  });
});

import { describe, expect, it } from 'vitest';
import {
  DataLoader,
  MAGNETIC_TILE_CLASSES,
  SUBSET_NAMES,
  groupScans,
  indexMagneticTile,
  makeManifest,
  parseManifest,
  scanDataset,
  serializeManifest,
  type Groups,
  type ScanResult,
} from '../src/index.js';
import { HAVE_MT, MT_DIR } from './shared.js';

async function scanAndGroup(): Promise<{ scan: ScanResult; groups: Groups; ms: number }> {
  const t0 = performance.now();
  const index = await indexMagneticTile(MT_DIR);
  const scan = await scanDataset(index, { features: true });
  const groups = groupScans(index.kind, scan.scans);
  return { scan, groups, ms: performance.now() - t0 };
}

describe.skipIf(!HAVE_MT)('Magnetic Tile on the real data set', () => {
  it('counts per class match the data set README; every image has its mask', async () => {
    const index = await indexMagneticTile(MT_DIR, MAGNETIC_TILE_CLASSES);
    const counts = Object.fromEntries(index.classes.map((c) => [c, index.entries.filter((e) => e.class === c).length]));
    expect(counts).toEqual({ Blowhole: 115, Break: 85, Crack: 57, Fray: 32, Free: 952, Uneven: 103 });
    expect(index.problems).toEqual([]);
    expect(index.entries.find((e) => e.image === 'MT_Crack/Imgs/exp1_num_3191.jpg')).toEqual({
      image: 'MT_Crack/Imgs/exp1_num_3191.jpg',
      mask: 'MT_Crack/Imgs/exp1_num_3191.png',
      label: 1,
      class: 'Crack',
    });
    expect(new Set(index.entries.filter((e) => e.class === 'Free').map((e) => e.label))).toEqual(new Set([0]));
    // the paper's selection is the default
    const paper = await indexMagneticTile(MT_DIR);
    expect(paper.classes).toEqual(['Crack', 'Blowhole', 'Free']);
    expect(paper.entries).toHaveLength(57 + 115 + 952);
  });

  it("the paper's centre crop loses the defect of many public images; the 'defect' crop and training crops keep every one", async () => {
    const index = await indexMagneticTile(MT_DIR, ['Blowhole', 'Crack']);
    const entries = index.entries.map((e) => ({ ...e, group: '' }));
    const misses = async (evalCrop: 'center' | 'defect', mode: 'eval' | 'train' = 'eval'): Promise<Record<string, number>> => {
      const loader = new DataLoader({ root: index.root, entries, mode, views: ['identity'], batchSize: 64, evalCrop, seed: 5 });
      const out: Record<string, number> = { Blowhole: 0, Crack: 0 };
      try {
        for await (const b of loader.epoch(0)) {
          for (let i = 0; i < b.shape[0]; i++) if (!b.masks.subarray(i * 224 * 224, (i + 1) * 224 * 224).includes(1)) out[entries[b.items[i].entry].class]++;
        }
      } finally {
        await loader.close();
      }
      return out;
    };
    const centre = await misses('center');
    expect(centre).toEqual({ Blowhole: 62, Crack: 26 });
    // the scan's cheaper estimate agrees
    const scan = await scanDataset(index);
    expect(scan.scans.filter((s) => !s.centreCropHasDefect && s.entry.class === 'Blowhole').length).toBe(62);
    expect(await misses('defect')).toEqual({ Blowhole: 0, Crack: 0 });
    // training crops (random, containing the defect) never lose it either
    expect(await misses('center', 'train')).toEqual({ Blowhole: 0, Crack: 0 });
  });

  it('splits 60/20/20 by class, keeps every group in one subset, and is byte-for-byte reproducible', async () => {
    const a = await scanAndGroup();
    const text = serializeManifest(makeManifest(a.scan, a.groups, { seed: 0, root: '.' }));
    const m = parseManifest(text, 'manifest.json');
    console.log(`scan + grouping of ${a.scan.scans.length} images: ${(a.ms / 1000).toFixed(1)} s; ${m.grouping.groups} groups`);
    expect(a.scan.problems).toEqual([]);

    const all = SUBSET_NAMES.flatMap((s) => m.subsets[s].map((e) => ({ ...e, subset: s })));
    expect(all).toHaveLength(1124);
    expect(new Set(all.map((e) => e.image)).size).toBe(1124);
    for (const e of all) {
      expect(e.image).toMatch(/^MT_(Crack|Blowhole|Free)\/Imgs\/exp\d+_num_\d+\.jpg$/);
      expect(e.mask).toBe(e.image.replace(/\.jpg$/, '.png'));
      expect(e.label).toBe(e.class === 'Free' ? 0 : 1);
      expect(e.group).toMatch(/^g\d+$/);
    }
    const share = (s: string, cls?: string): number => {
      const pool = all.filter((e) => cls === undefined || e.class === cls);
      return pool.filter((e) => e.subset === s).length / pool.length;
    };
    const target = { train: 0.6, val: 0.2, test: 0.2 };
    for (const s of SUBSET_NAMES) {
      expect(Math.abs(share(s) - target[s])).toBeLessThanOrEqual(0.02);
      for (const cls of ['Crack', 'Blowhole', 'Free']) expect(Math.abs(share(s, cls) - target[s]), `${cls} ${s}`).toBeLessThanOrEqual(0.05);
    }
    // no group crosses subsets
    const subsetOfGroup = new Map<string, string>();
    for (const e of all) {
      const seen = subsetOfGroup.get(e.group);
      if (seen !== undefined) expect(seen, e.group).toBe(e.subset);
      subsetOfGroup.set(e.group, e.subset);
    }
    // groups are real: most are the six lighting set-ups (exp1..exp6) of one region
    const sizes = new Map<string, number>();
    for (const e of all) sizes.set(e.group, (sizes.get(e.group) ?? 0) + 1);
    expect([...sizes.values()].filter((n) => n === 6).length).toBeGreaterThan(100);
    expect(Math.max(...sizes.values())).toBeLessThanOrEqual(60);
    // the README's example of repeated captures
    const groupOf = (stem: string): string => all.find((e) => e.image === `MT_Crack/Imgs/${stem}.jpg`)!.group;
    expect(new Set(['exp4_num_85602', 'exp4_num_85998', 'exp4_num_88149'].map(groupOf)).size).toBe(1);
    // one region under six lighting set-ups (found while building the grouping; docs/datasets.md)
    const freeGroup = (stem: string): string => all.find((e) => e.image === `MT_Free/Imgs/${stem}.jpg`)!.group;
    expect(new Set(['exp1_num_106151', 'exp2_num_106169', 'exp4_num_106203', 'exp5_num_106221', 'exp6_num_106244'].map(freeGroup)).size).toBe(1);

    // the same seed from scratch gives the same bytes; another seed another split
    const b = await scanAndGroup();
    expect(serializeManifest(makeManifest(b.scan, b.groups, { seed: 0, root: '.' }))).toBe(text);
    expect(serializeManifest(makeManifest(b.scan, b.groups, { seed: 1, root: '.' }))).not.toBe(text);
  });
});

import { describe, expect, it } from 'vitest';
import { parseManifest, selectClasses, serializeManifest, type Manifest, type ManifestEntry } from '../src/index.js';

function entry(cls: string, i: number, group: string): ManifestEntry {
  return { image: `MT_${cls}/Imgs/${cls}${i}.jpg`, mask: `MT_${cls}/Imgs/${cls}${i}.png`, label: cls === 'Free' ? 0 : 1, class: cls, group };
}

const manifest: Manifest = {
  format: 'lrpseg-split', version: 1, dataset: 'magnetic-tile', root: 'data', seed: 0, ratios: { train: 0.6, val: 0.2, test: 0.2 },
  classes: ['Crack', 'Free', 'Break'], labels: ['defect-free', 'defect'], grouping: { method: 'texture', groups: 3 }, evalViews: ['identity', 'hflip', 'vflip'],
  counts: { train: { total: 4, Crack: 1, Free: 2, Break: 1 }, val: { total: 2, Crack: 0, Free: 1, Break: 1 }, test: { total: 1, Crack: 1, Free: 0, Break: 0 } },
  subsets: {
    // g1 holds a Free and a Break capture of one region: both stay in train
    train: [entry('Break', 1, 'g1'), entry('Crack', 1, 'g2'), entry('Free', 1, 'g1'), entry('Free', 2, 'g2')],
    val: [entry('Break', 2, 'g3'), entry('Free', 3, 'g3')],
    test: [entry('Crack', 2, 'g4')],
  },
};

describe('selectClasses', () => {
  it('keeps the chosen classes in every subset, in order, with their groups, and recounts', () => {
    const m = selectClasses(manifest, ['Free', 'Crack']);
    expect(m.classes).toEqual(['Crack', 'Free']);
    expect(m.subsets.train.map((e) => e.image)).toEqual(['MT_Crack/Imgs/Crack1.jpg', 'MT_Free/Imgs/Free1.jpg', 'MT_Free/Imgs/Free2.jpg']);
    expect(m.subsets.train.map((e) => e.group)).toEqual(['g2', 'g1', 'g2']);
    expect(m.subsets.val.map((e) => e.class)).toEqual(['Free']);
    expect(m.counts).toEqual({ train: { total: 3, Crack: 1, Free: 2 }, val: { total: 1, Crack: 0, Free: 1 }, test: { total: 1, Crack: 1, Free: 0 } });
    expect(m.labels).toEqual(manifest.labels);
    expect(m.grouping).toEqual(manifest.grouping);
    // still a valid manifest
    expect(parseManifest(serializeManifest(m), 'cut.json')).toEqual(m);
  });

  it('refuses classes the manifest does not have, and an empty choice', () => {
    expect(() => selectClasses(manifest, ['Free', 'Fray'])).toThrow(/"Fray" not in the manifest/);
    expect(() => selectClasses(manifest, [])).toThrow(/no classes/);
  });
});

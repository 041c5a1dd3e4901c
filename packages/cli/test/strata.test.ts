import { describe, expect, it } from 'vitest';
import { areaBinNames, areaTerciles, stratify, type ViewStratumInfo } from '../src/report/strata.js';
import { strataSection, type ConfigRow } from '../src/report/table.js';

describe('segmentation strata (by class, by damage area)', () => {
  it('area terciles: the sorted areas at n/3 and 2n/3; none for fewer than three views', () => {
    expect(areaTerciles([900, 10, 50, 300, 20, 70])).toEqual({ lower: 50, upper: 300 });
    expect(areaTerciles([5, 1, 3])).toEqual({ lower: 3, upper: 5 });
    expect(areaTerciles([1, 2])).toBeNull();
    expect(areaBinNames({ lower: 50, upper: 300 })).toEqual(['< 50 px', '50–299 px', '≥ 300 px']);
  });

  it('pools each stratum over its views; views without a class count only by area, unknown views nowhere', () => {
    const counts: Record<string, [number, number, number]> = {
      'a/identity': [10, 5, 5], // Blowhole, 15 px
      'a/hflip': [0, 0, 15], // Blowhole, 15 px, missed
      b: [40, 40, 20], // Crack, 60 px
      c: [100, 0, 200], // Crack, 300 px
      d: [1, 1, 1], // no class, 2 px
      e: [7, 7, 7], // not in info
    };
    const info = new Map<string, ViewStratumInfo>([
      ['a/identity', { class: 'Blowhole', damagePixels: 15 }],
      ['a/hflip', { class: 'Blowhole', damagePixels: 15 }],
      ['b', { class: 'Crack', damagePixels: 60 }],
      ['c', { class: 'Crack', damagePixels: 300 }],
      ['d', { damagePixels: 2 }],
    ]);
    const cuts = areaTerciles([...info.values()].map((v) => v.damagePixels))!;
    expect(cuts).toEqual({ lower: 15, upper: 60 });
    const s = stratify(counts, info, cuts);
    expect(s.by_class).toEqual([
      { name: 'Blowhole', views: 2, damage_pixels: 30, tp: 10, fp: 5, fn: 20, iou: 10 / 35, precision: 10 / 15, recall: 10 / 30 },
      { name: 'Crack', views: 2, damage_pixels: 360, tp: 140, fp: 40, fn: 220, iou: 0.35, precision: 0.777778, recall: 0.388889 },
    ].map((x) => ({ ...x, iou: Math.round(x.iou * 1e6) / 1e6, precision: Math.round(x.precision * 1e6) / 1e6, recall: Math.round(x.recall * 1e6) / 1e6 })));
    expect(s.by_area.map((a) => [a.name, a.views, a.tp, a.fp, a.fn])).toEqual([
      ['< 15 px', 1, 1, 1, 1],
      ['15–59 px', 2, 10, 5, 20],
      ['≥ 60 px', 2, 140, 40, 220],
    ]);
    // the area strata partition the views that have info: their counts sum to the whole
    const sum = (k: 'tp' | 'fp' | 'fn') => s.by_area.reduce((t, a) => t + a[k], 0);
    expect([sum('tp'), sum('fp'), sum('fn')]).toEqual([151, 46, 241]);
    // no cuts: no area strata; an empty bin stays, with NaN scores (shown as —)
    expect(stratify(counts, info, null).by_area).toEqual([]);
    const empty = stratify({ b: [1, 0, 0] }, info, { lower: 10, upper: 20 }).by_area;
    expect(empty.map((a) => a.views)).toEqual([0, 0, 1]);
    expect(Number.isNaN(empty[0].iou)).toBe(true);
  });

  it('the Markdown table: one column per class and area bin with its view count, IoU (precision / recall) per row', () => {
    const cells = { iou: 0.3, precision: 0.4, recall: 0.5, meanImageIoU: 0.3, ap: null };
    const strata = stratify(
      { x: [10, 10, 10], y: [0, 5, 5], z: [20, 0, 20] },
      new Map<string, ViewStratumInfo>([
        ['x', { class: 'Blowhole', damagePixels: 20 }],
        ['y', { class: 'Blowhole', damagePixels: 5 }],
        ['z', { class: 'Crack', damagePixels: 40 }],
      ]),
      { lower: 20, upper: 40 },
    );
    const rows: ConfigRow[] = [
      { network: 'N', rules: 'ours', method: 'BMM', gated: cells, ungated: null, strata },
      { network: 'N', rules: 'ours', method: 'Simple', gated: cells, ungated: null },
    ];
    const md = strataSection(rows).join('\n');
    expect(md).toContain('## Segmentation by defect class and by damage area (gate on)');
    expect(md).toContain('| Network | Rules | Method | Blowhole (2) | Crack (1) | < 20 px (1) | 20–39 px (1) | ≥ 40 px (1) |');
    expect(md).toContain('| N | ours | BMM | 0.250 (0.40 / 0.40) | 0.500 (1.00 / 0.50) | 0.000 (0.00 / 0.00) | 0.333 (0.50 / 0.50) | 0.500 (1.00 / 0.50) |');
    expect(md).not.toContain('| Simple |'); // a row without strata is left out
    expect(strataSection([rows[1]])).toEqual([]);
  });
});

import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SHARED_DIR, lrpseg, tempDir } from './helpers.js';
import { LRP_CELLS, expectEveryCell, type ClassificationRow, type SegmentationRow } from './study-metrics.js';

const MT = path.join(SHARED_DIR, 'datasets', 'magnetic-tile');
const have = existsSync(MT);

interface StudyMetrics {
  format: string;
  quick: boolean;
  classification: (ClassificationRow & { by_class: { class: string; correct: number; views: number }[] })[];
  segmentation: SegmentationRow[];
  seconds: { total: number };
}

describe.skipIf(!have)('lrpseg reproduce magnetic-tile --quick', () => {
  const { dir, cleanup } = tempDir('lrpseg-reproduce-');
  afterAll(cleanup);
  const out = path.join(dir, 'study');

  it('runs the whole study at the quick scale and writes a complete report', { timeout: 600_000 }, async () => {
    const r = await lrpseg('reproduce', 'magnetic-tile', '--quick', '--data', MT, '--out', out);
    expect(r.stderr).toMatch(/reproduce \[1\/5\] grouped split/);
    expect(r.stderr).toMatch(/reproduce \[5\/5\] report: done/);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toMatch(/reproduced magnetic-tile \(quick\)/);

    for (const f of [
      'split.json',
      'report.md',
      'metrics.json',
      'eval/metrics.json',
      'eval/metrics.md',
      'eval/pr-montavon.png',
      'eval/pr-ours.png',
      'eval/pr-montavon.svg',
      'models/vgg-128n/model.safetensors',
      'models/vgg-onefc/model.safetensors',
      'models/unet/unet.safetensors',
    ]) {
      expect(existsSync(path.join(out, f)), f).toBe(true);
    }
    expect(existsSync(path.join(out, 'eval', 'examples-VGG-A-128N-ours.png'))).toBe(true);
    expect(existsSync(path.join(out, 'eval', 'examples-unet-unet.png'))).toBe(true);

    const m = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as StudyMetrics;
    expect(m.format).toBe('lrpseg-reproduce-report');
    expect(m.quick).toBe(true);
    // every network, and every network × rule set × method plus the U-Net
    expectEveryCell(m);
    for (const c of m.classification) {
      // per-class tallies that add up to the network's TPR and TNR
      expect(c.by_class.map((b) => b.class).sort()).toEqual(['Blowhole', 'Crack', 'Free']);
      expect(c.by_class.reduce((a, b) => a + b.views, 0)).toBe(c.views);
      const [free, defect] = [c.by_class.filter((b) => b.class === 'Free'), c.by_class.filter((b) => b.class !== 'Free')];
      const rate = (bs: typeof free) => bs.reduce((a, b) => a + b.correct, 0) / bs.reduce((a, b) => a + b.views, 0);
      expect(rate(defect)).toBeCloseTo(c.tpr, 12);
      expect(rate(free)).toBeCloseTo(c.tnr, 12);
    }

    // the report has every row of tables 2 and 3, ours beside the paper's
    const md = readFileSync(path.join(out, 'report.md'), 'utf8');
    expect(md).toMatch(/## Table 2/);
    expect(md).toMatch(/\| VGG-A 128N \| [\d.]+% \| ([\d.]+%–[\d.]+%|—) \| [\d.]+% \| [\d.]+% \| \d+ \| 96\.1% \| 95\.7% \| 96\.5% \|/);
    expect(md).toMatch(/\| VGG-A one FC \| [\d.]+% \| ([\d.]+%–[\d.]+%|—) \| [\d.]+% \| [\d.]+% \| \d+ \| 98\.5% \| 97\.1% \| 99\.9% \|/);
    for (const k of LRP_CELLS) {
      const [n, r, me] = k.split('/');
      const label = me === 'simple' ? 'Simple' : me.toUpperCase();
      expect(md, k).toMatch(new RegExp(`\\| ${n} \\| ${r} \\| ${label} \\| [\\d.]+ \\| ([\\d.]+–[\\d.]+|—) \\| [\\d.—]+ \\| [\\d.]+ \\| [\\d.]+ \\| 0\\.\\d{3} \\| 0\\.\\d{3} \\| 0\\.\\d{3} \\|`));
    }
    expect(md).toMatch(/Views decided correctly, by class[^]*\n- VGG-A 128N: (Blowhole|Crack|Free) \d+\/\d+ \([\d.]+%\), /);
    expect(md).toMatch(/\| U-Net \| - \| U-Net \| [\d.]+ \| ([\d.]+–[\d.]+|—) \| [\d.—]+ \| [\d.]+ \| [\d.]+ \| 0\.461 \| 0\.578 \| 0\.699 \|/);

    // the quick classifiers learn something: one of the two clearly beats chance on the test split
    const best = Math.max(...m.classification.map((c) => c.balanced_accuracy));
    expect(best, JSON.stringify(m.classification)).toBeGreaterThanOrEqual(0.65);
  });

  it('refuses an unknown data set as a usage error, writing nothing', async () => {
    const r = await lrpseg('reproduce', 'sewer-pipes', '--quick', '--out', path.join(dir, 'sp'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown data set "sewer-pipes" \(magnetic-tile, crackforest\)/);
    expect(existsSync(path.join(dir, 'sp'))).toBe(false);
  });
});

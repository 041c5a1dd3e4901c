import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend, classifyAndExplain, classifyAndExplainTta, countPixels, formatRule, loadModel, parseComposite, pooledIoUInterval, segmentMap, segmentationScores } from '@lrpseg/core';
import { decodeImage, encodePngGrey, prepareForModel, readImageFile } from '@lrpseg/datasets';
import { networkNames, type EvalReport } from '../src/commands/eval.js';
import { binarizeTruth, flipPlanar } from '../src/report/eval-data.js';
import { BLOWHOLE_DIR, HAVE_BLOWHOLE, SHARED_DIR, blowholeJpegs, lrpseg, tempDir } from './helpers.js';
import { SIZE, writeGateModel } from './segment-fixtures.js';

const { dir, cleanup } = tempDir('lrpseg-eval-');
afterAll(cleanup);

const FREE_DIR = path.join(SHARED_DIR, 'datasets', 'magnetic-tile', 'MT_Free', 'Imgs');
const readReport = (out: string): EvalReport => JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as EvalReport;

describe('network names in a report', () => {
  it('tell models apart by variant, then file name, then path, then a number', () => {
    expect(networkNames(['a.safetensors', 'b.safetensors'], ['VGG-A one FC', 'VGG-A 128N'])).toEqual(['VGG-A one FC', 'VGG-A 128N']);
    expect(networkNames(['x/a.safetensors', 'b.safetensors'], ['V', 'V'])).toEqual(['V (a.safetensors)', 'V (b.safetensors)']);
    expect(networkNames(['r1/model.safetensors', 'r2/model.safetensors', 'c.safetensors'], ['V', 'V', 'V'])).toEqual([
      'V (r1/model.safetensors)',
      'V (r2/model.safetensors)',
      'V (c.safetensors)',
    ]);
    expect(networkNames(['m.safetensors', 'm.safetensors'], ['V', 'V'])).toEqual(['V (m.safetensors) #1', 'V (m.safetensors) #2']);
  });
});

describe.skipIf(!HAVE_BLOWHOLE)('eval on real images', () => {
  const data = path.join(dir, 'data'); // images and masks side by side, as in MT_*/Imgs
  const model = path.join(dir, 'm.safetensors');
  /** The first three Blowhole images whose damage lies inside the model's 64×64 center crop. */
  const defective: string[] = [];
  const free = 'exp0_num_743';
  let stems: string[] = [];

  beforeAll(async () => {
    for (const f of blowholeJpegs(60)) {
      const truth = binarizeTruth(prepareForModel(await readImageFile(f.replace(/\.jpg$/, '.png')), [SIZE, SIZE], 1).data);
      if (truth.some((v) => v === 1)) defective.push(path.basename(f, '.jpg'));
      if (defective.length === 3) break;
    }
    expect(defective).toHaveLength(3);
    mkdirSync(data, { recursive: true });
    for (const s of defective) for (const ext of ['.jpg', '.png']) copyFileSync(path.join(BLOWHOLE_DIR, s + ext), path.join(data, s + ext));
    for (const ext of ['.jpg', '.png']) copyFileSync(path.join(FREE_DIR, free + ext), path.join(data, free + ext));
    stems = [...defective, free].sort();
    await writeGateModel(model, stems.map((s) => path.join(data, `${s}.jpg`)));
  });

  /** The defective images' views (each image, then its left–right and top–bottom mirror images), as eval prepares them. */
  async function defectiveViews(): Promise<{ x: Float32Array; truth: Uint8Array }[]> {
    const views: { x: Float32Array; truth: Uint8Array }[] = [];
    for (const s of stems) {
      const img = prepareForModel(await readImageFile(path.join(data, `${s}.jpg`)), [SIZE, SIZE], 3);
      const truth = binarizeTruth(prepareForModel(await readImageFile(path.join(data, `${s}.png`)), [SIZE, SIZE], 1).data);
      if (!truth.some((v) => v === 1)) continue;
      for (const v of ['identity', 'hflip', 'vflip'] as const) views.push({ x: flipPlanar(img.data, 3, SIZE, SIZE, v), truth: flipPlanar(truth, 1, SIZE, SIZE, v) });
    }
    return views;
  }

  it('--tta none,flips: each rule set explained both ways, named apart, paired; the flip-averaged masks as computed directly', async () => {
    const out = path.join(dir, 'report-tta');
    const r = await lrpseg('eval', '--model', model, '--rules', 'ours', '--tta', 'none,flips', '--methods', 'bmm', '--data', data, '--out', out, '--crop', 'center', '-q');
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out);
    expect(rep.segmentation.map((s) => s.rules)).toEqual(['ours@none', 'ours@flips']);
    expect(rep.rule_sets).toEqual([
      { name: 'ours@none', rules: 'ours', pool: 'wta', tta: 'none' },
      { name: 'ours@flips', rules: 'ours', pool: 'wta', tta: 'flips' },
    ]);
    expect(rep.rule_comparisons!.map((c) => `${c.rules} − ${c.reference}`)).toEqual(['ours@flips − ours@none']);
    const m = loadModel(new CpuBackend(), readFileSync(model));
    const views = await defectiveViews();
    const hw = SIZE * SIZE;
    const composite = parseComposite('ours', m.meta);
    const x = Float32Array.from(views.flatMap((v) => Array.from(v.x)));
    const direct = async (tta: 'none' | 'flips') => {
      const { heatmaps } = await classifyAndExplainTta(m, x, views.length, { composite, tta });
      return segmentationScores(views.map((v, i) => countPixels(segmentMap('bmm', { data: heatmaps.subarray(i * hw, (i + 1) * hw), height: SIZE, width: SIZE }).mask, v.truth)));
    };
    const [none, flips] = rep.segmentation;
    expect(none.ungated!.pooled).toEqual((await direct('none')).pooled);
    expect(flips.ungated!.pooled).toEqual((await direct('flips')).pooled);
    expect(flips.ungated!.pooled).not.toEqual(none.ungated!.pooled);
    m.dispose();
    const bad = await lrpseg('eval', '--model', model, '--rules', 'ours', '--tta', 'none,mirror', '--data', data, '--out', path.join(dir, 'report-bad-tta'), '-q');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--tta takes none, flips, dihedral/);
  });

  it('scores a named custom rule list like the composite it spells out, pairs rule sets against the first, and refuses a name given twice', async () => {
    const m = loadModel(new CpuBackend(), readFileSync(model));
    const spelled = parseComposite('ours', m.meta).assignments.map((a) => formatRule(a.rule)).join(',');
    const out = path.join(dir, 'report-custom');
    const r = await lrpseg('eval', '--model', model, '--rules', 'ours', '--rules', `spelled=${spelled}`, '--rules', 'montavon', '--methods', 'bmm', '--data', data, '--out', out, '--crop', 'center', '-q');
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out);
    const [ours, custom, montavon] = ['ours', 'spelled', 'montavon'].map((n) => rep.segmentation.find((s) => s.rules === n && s.method === 'bmm')!);
    expect(custom.gated.pooled).toEqual(ours.gated.pooled);
    expect(custom.ungated!.pooled).toEqual(ours.ungated!.pooled);
    const md = readFileSync(path.join(out, 'metrics.md'), 'utf8');
    expect(md).toContain('spelled: IoU');
    expect(md).toContain('## Paired differences between rule sets, against ours');
    const [same, other] = rep.rule_comparisons!;
    expect(same).toEqual({ network: rep.classification[0].network, reference: 'ours', rules: 'spelled', method: 'bmm', gated: { difference: 0, ci95: [0, 0] }, ungated: { difference: 0, ci95: [0, 0] } });
    expect(other).toMatchObject({ reference: 'ours', rules: 'montavon', method: 'bmm' });
    expect(montavon.ungated!.iou).not.toBe(ours.ungated!.iou);
    expect(other.ungated.difference).toBeCloseTo(montavon.ungated!.iou - ours.ungated!.iou, 5);
    expect(other.ungated.ci95![0]).toBeLessThanOrEqual(other.ungated.difference);
    expect(other.ungated.ci95![1]).toBeGreaterThanOrEqual(other.ungated.difference);
    // both max-pool rules: each rule set explained with each, named apart and paired
    const both = path.join(dir, 'report-pools');
    const p = await lrpseg('eval', '--model', model, '--rules', 'ours', '--pool', 'wta,avg', '--methods', 'bmm', '--data', data, '--out', both, '--crop', 'center', '-q');
    expect(p.code, p.stderr).toBe(0);
    const pools = readReport(both);
    expect(pools.segmentation.map((s) => s.rules)).toEqual(['ours@wta', 'ours@avg']);
    expect(pools.segmentation[0].gated.pooled).toEqual(ours.gated.pooled);
    expect(pools.segmentation[1].ungated!.pooled).not.toEqual(ours.ungated!.pooled);
    expect(pools.rule_comparisons!.map((c) => `${c.rules} − ${c.reference}`)).toEqual(['ours@avg − ours@wta']);
    const badPool = await lrpseg('eval', '--model', model, '--rules', 'ours', '--pool', 'wta,max', '--data', data, '--out', path.join(dir, 'report-bad-pool'), '-q');
    expect(badPool.code).toBe(2);
    expect(badPool.stderr).toMatch(/--pool takes wta, avg or wta,avg/);
    const twice = await lrpseg('eval', '--model', model, '--rules', 'ours', '--rules', 'ours', '--data', data, '--out', path.join(dir, 'report-twice'), '-q');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/rule set "ours" given twice/);
  });

  it('model form: metrics.json, the Table 3 Markdown, PR curves and panels; numbers as computed directly', async () => {
    const out = path.join(dir, 'report');
    const r = await lrpseg('eval', '--model', model, '--rules', 'ours,montavon', '--data', data, '--out', out, '--batch-size', '2', '--crop', 'center');
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out);
    expect(rep.data).toMatchObject({ items: 4, defective_items: 3, views: ['identity', 'hflip', 'vflip'], defective_views: 9, failed: [] });
    expect(rep.classification).toHaveLength(1);
    const c = rep.classification[0];
    expect([c.views, c.tp + c.fn, c.tn + c.fp]).toEqual([12, 9, 3]);
    expect(c.balancedAccuracy).toBeCloseTo((c.tpr + c.tnr) / 2, 12);
    expect(rep.segmentation.map((s) => `${s.rules}/${s.method}`)).toEqual(['ours/simple', 'ours/gmm', 'ours/bmm', 'montavon/simple', 'montavon/gmm', 'montavon/bmm']);

    // Recompute "ours / bmm" without the gate: the 9 defective views, explained in one batch as eval does.
    const backend = new CpuBackend();
    const m = loadModel(backend, readFileSync(model));
    const views = await defectiveViews();
    expect(views).toHaveLength(9);
    const hw = SIZE * SIZE;
    const x = backend.fromArray(Float32Array.from(views.flatMap((v) => Array.from(v.x))), [9, 3, SIZE, SIZE]);
    const res = classifyAndExplain(m, x, { composite: parseComposite('ours', m.meta), target: 1 });
    const maps = await res.heatmaps.read();
    const logits = await res.logits.read();
    const counts = views.map((v, i) => countPixels(segmentMap('bmm', { data: maps.subarray(i * hw, (i + 1) * hw), height: SIZE, width: SIZE }).mask, v.truth));
    const gatedCounts = views.map((v, i) => (logits[2 * i + 1] > logits[2 * i] ? counts[i] : countPixels(new Uint8Array(hw), v.truth)));
    const direct = segmentationScores(counts);
    const directGated = segmentationScores(gatedCounts);
    // each view's decision record: the direct logits' margin, the gate's decision, the damage seen
    const defectiveKeys = stems.filter((s) => s !== free).flatMap((s) => ['identity', 'hflip', 'vflip'].map((v) => `${s}/${v}`));
    expect(Object.keys(c.per_view!).sort()).toEqual([...defectiveKeys, ...['identity', 'hflip', 'vflip'].map((v) => `${free}/${v}`)].sort());
    defectiveKeys.forEach((key, i) => {
      const d = c.per_view![key];
      expect(d.label).toBe(1);
      expect(d.margin).toBeCloseTo(logits[2 * i + 1] - logits[2 * i], 4);
      expect(d.defect).toBe(logits[2 * i + 1] > logits[2 * i]);
      expect(d.damage_pixels).toBe(views[i].truth.reduce((a, b) => a + b, 0));
      expect(d.damage_pixels).toBeGreaterThan(0);
    });
    expect(c.per_view![`${free}/identity`]).toMatchObject({ label: 0, damage_pixels: 0 });
    expect(Object.values(c.per_view!).filter((d) => d.label === 1 && d.defect).length).toBe(c.tp);
    const bmm = rep.segmentation.find((s) => s.rules === 'ours' && s.method === 'bmm')!;
    expect(bmm.ungated!.pooled).toEqual(direct.pooled);
    expect(bmm.ungated!.iou).toBeCloseTo(direct.iou, 6);
    expect(bmm.ungated!.mean_image_iou).toBeCloseTo(direct.meanImageIoU, 6);
    expect(bmm.gated.pooled).toEqual(directGated.pooled);
    // by damage area: thirds of the 9 views by their damage pixels, the same cuts in each mode, summing to the pooled counts
    // (a folder names no classes, so no class strata)
    const areas = views.map((v) => v.truth.reduce((a, b) => a + b, 0));
    const sorted = [...areas].sort((a, b) => a - b);
    const [lower, upper] = [sorted[3], sorted[6]];
    for (const [mode, perView] of [[bmm.ungated!, counts], [bmm.gated, gatedCounts]] as const) {
      expect(mode.by_class).toBeUndefined();
      const bins = mode.by_area!;
      expect(bins.map((b) => b.name)).toEqual([`< ${lower} px`, `${lower}–${Math.max(lower, upper - 1)} px`, `≥ ${upper} px`]);
      const inBin = (i: number, b: number) => (areas[i] < lower ? 0 : areas[i] < upper ? 1 : 2) === b;
      bins.forEach((b, bi) => {
        const mine = perView.filter((_, i) => inBin(i, bi));
        expect([b.views, b.tp, b.fp, b.fn]).toEqual([mine.length, ...(['tp', 'fp', 'fn'] as const).map((k) => mine.reduce((t, c) => t + c[k], 0))]);
      });
      expect((['tp', 'fp', 'fn'] as const).map((k) => bins.reduce((t, b) => t + b[k], 0))).toEqual([mode.pooled.tp, mode.pooled.fp, mode.pooled.fn]);
    }
    expect(bmm.ungated!.ap).toBeGreaterThan(0);
    expect(bmm.gated.pr_curve!.length).toBeGreaterThan(1);
    // the interval resamples images: each image's three views summed into one unit
    const perImage = [0, 1, 2].map((img) => counts.slice(3 * img, 3 * img + 3).reduce((a, b) => ({ tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn }), { tp: 0, fp: 0, fn: 0 }));
    const ci = pooledIoUInterval(perImage)!;
    expect(bmm.ungated!.iou_ci95![0]).toBeCloseTo(ci[0], 6);
    expect(bmm.ungated!.iou_ci95![1]).toBeCloseTo(ci[1], 6);
    expect(ci[0]).toBeLessThanOrEqual(bmm.ungated!.iou);
    expect(ci[1]).toBeGreaterThanOrEqual(bmm.ungated!.iou);
    const baCi = c.balanced_accuracy_ci95!;
    expect(baCi[0]).toBeLessThanOrEqual(c.balancedAccuracy);
    expect(baCi[1]).toBeGreaterThanOrEqual(c.balancedAccuracy);
    expect(rep.no_skill_precision).toBeCloseTo(views.reduce((s, v) => s + v.truth.reduce((a, b) => a + b, 0), 0) / (9 * hw), 6);
    res.logits.dispose();
    res.heatmaps.dispose();
    x.dispose();
    m.dispose();

    const md = readFileSync(path.join(out, 'metrics.md'), 'utf8');
    expect(md).toContain('| Network | Method | ours: IoU | ours: Precision | ours: Recall | montavon: IoU |');
    expect(md).toContain('| VGG-A one FC | Simple |');
    expect(md).toMatch(/## Classification/);
    expect(md).toMatch(/## 95 % intervals[^]*\| Network \| Method \| ours: IoU, gate on \| ours: IoU, no gate \| montavon: IoU, gate on \| montavon: IoU, no gate \|/);
    expect(md).toMatch(/## 95 % intervals[^]*\| {2}\| BMM \| (—|\d\.\d{3}–\d\.\d{3}) \| \d\.\d{3}–\d\.\d{3} \|/);
    expect(md).toMatch(/\| Network \| Balanced accuracy \| 95 % interval \|\n\| --- \| ---: \| ---: \|\n\| VGG-A one FC \| [\d.]+% \| [\d.]+%–[\d.]+% \|/);
    for (const f of ['pr-ours', 'pr-montavon', 'pr-ours-ungated']) {
      const svg = readFileSync(path.join(out, `${f}.svg`), 'utf8');
      expect(svg).toMatch(/^<svg/);
      expect(svg).toContain('Recall');
      expect(svg).toContain('no skill');
      const png = decodeImage(readFileSync(path.join(out, `${f}.png`)), f);
      expect(png.width).toBeGreaterThan(400);
    }
    const panel = decodeImage(readFileSync(path.join(out, 'examples-VGG-A-one-FC-ours.png')), 'panel');
    expect(panel.width).toBeGreaterThan(6 * SIZE);
  });

  it('manifest form: reads the test subset, paths relative to root; --no-flips', async () => {
    const manifest = path.join(dir, 'split.json');
    writeFileSync(
      manifest,
      JSON.stringify({
        root: 'data',
        subsets: {
          train: [{ image: `${defective[0]}.jpg`, mask: `${defective[0]}.png`, label: 1 }],
          test: [
            { image: `${defective[1]}.jpg`, mask: `${defective[1]}.png`, label: 1, class: 'Blowhole', group: 'g1' },
            { image: `${free}.jpg`, mask: null, label: 0, class: 'Free', group: 'g2' },
          ],
        },
      }),
    );
    const out = path.join(dir, 'report-manifest');
    const r = await lrpseg('eval', '--model', model, '--rules', 'ours', '--methods', 'bmm', '--data', manifest, '--no-flips', '--out', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out);
    expect(rep.data).toMatchObject({ items: 2, defective_items: 1, views: ['identity'], defective_views: 1 });
    expect(rep.classification[0].views).toBe(2);
    expect(rep.segmentation).toHaveLength(1);
    expect(Object.keys(rep.segmentation[0].gated.per_view_iou)).toEqual([defective[1]]);
    // the manifest's class travels into the per-view decisions
    expect(rep.classification[0].per_view![defective[1]]).toMatchObject({ label: 1, class: 'Blowhole', group: 'g1' });
    expect(rep.classification[0].per_view![free]).toMatchObject({ label: 0, class: 'Free', damage_pixels: 0 });
    const d = rep.classification[0].per_view!;
    const cell = (v: { defect: boolean; label: number }, want: boolean) => `${v.defect === want ? 1 : 0}/1 (${v.defect === want ? '100.0' : '0.0'}%)`;
    const md = readFileSync(path.join(out, 'metrics.md'), 'utf8');
    expect(md).toContain(`### Views decided correctly, by class`);
    // one defective view: its class is a stratum of its own; too few views for thirds of the areas
    const seg = rep.segmentation[0].gated;
    const [tp, fp, fn] = seg.per_view_counts![defective[1]];
    expect(seg.by_class).toEqual([expect.objectContaining({ name: 'Blowhole', views: 1, damage_pixels: d[defective[1]].damage_pixels, tp, fp, fn })]);
    expect(seg.by_area).toBeUndefined();
    expect(md).toMatch(/## Segmentation by defect class and by damage area \(gate on\)[^]*\| Network \| Rules \| Method \| Blowhole \(1\) \|\n\| --- \| --- \| --- \| ---: \|\n\| VGG-A one FC \| ours \| BMM \| /);
    expect(md).toContain(`| Network | Blowhole | Free |\n| --- | ---: | ---: |\n| VGG-A one FC | ${cell(d[defective[1]], true)} | ${cell(d[free], false)} |`);
  });

  it('the intervals resample a manifest group as one unit', async () => {
    // predictions that mark every pixel: each image's IoU is its damage fraction, which differs between images
    const pred = path.join(dir, 'pred-all');
    mkdirSync(pred, { recursive: true });
    const test = [
      { image: `${defective[1]}.jpg`, mask: `${defective[1]}.png`, label: 1, group: 'g1' },
      { image: `${defective[2]}.jpg`, mask: `${defective[2]}.png`, label: 1, group: 'g1' },
      { image: `${free}.jpg`, mask: null, label: 0, group: 'g2' },
    ];
    for (const e of test) {
      const img = await readImageFile(path.join(data, e.image));
      writeFileSync(path.join(pred, e.image.replace(/\.jpg$/, '.png')), encodePngGrey(new Uint8Array(img.height * img.width).fill(255), img.width, img.height));
    }
    const manifest = path.join(dir, 'split-groups.json');
    const evalWith = async (entries: object[], name: string) => {
      writeFileSync(manifest, JSON.stringify({ root: 'data', subsets: { test: entries } }));
      const out = path.join(dir, name);
      const r = await lrpseg('eval', '--pred', pred, '--data', manifest, '--out', out, '-q');
      expect(r.code, r.stderr).toBe(0);
      return readReport(out).segmentation[0].gated;
    };
    const grouped = await evalWith(test, 'report-groups');
    expect(new Set(Object.values(grouped.per_view_iou)).size).toBe(2);
    // one group of defective images: every resample draws it, so the interval is the figure itself
    expect(grouped.iou_ci95).toEqual([grouped.iou, grouped.iou]);
    // as separate units, the same views give a spread around it
    const apart = await evalWith(test.map(({ group: _, ...e }) => e), 'report-apart');
    expect(apart.iou).toBe(grouped.iou);
    expect(apart.iou_ci95![0]).toBeLessThan(apart.iou);
    expect(apart.iou_ci95![1]).toBeGreaterThan(apart.iou);
  });

  it('two or more models: each later one against the first on the same views, paired', async () => {
    const same = path.join(dir, 'same.safetensors');
    copyFileSync(model, same);
    const shifted = path.join(dir, 'shifted.safetensors');
    // a threshold far below every margin: every view called defective
    expect((await lrpseg('calibrate', model, '--threshold', '-1000', '-o', shifted, '-q')).code).toBe(0);
    const out = path.join(dir, 'report-paired');
    const r = await lrpseg('eval', '--model', model, '--model', same, '--model', shifted, '--rules', 'ours', '--methods', 'bmm', '--data', data, '--out', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out);
    expect(rep.comparisons).toHaveLength(2);
    const [twin, all] = rep.comparisons!;
    expect(twin.reference).toBe(rep.classification[0].network);
    expect(twin.balanced_accuracy).toEqual({ difference: 0, ci95: [0, 0] });
    expect(twin.segmentation).toEqual([{ rules: 'ours', method: 'bmm', gated: { difference: 0, ci95: [0, 0] }, ungated: { difference: 0, ci95: [0, 0] } }]);
    const [c0, , c2] = rep.classification;
    expect([c2.tpr, c2.tnr]).toEqual([1, 0]);
    expect(all.balanced_accuracy.difference).toBeCloseTo(c2.balancedAccuracy - c0.balancedAccuracy, 6);
    const bmm = (i: number) => rep.segmentation[i];
    expect(all.segmentation[0].gated.difference).toBeCloseTo(bmm(2).gated.iou - bmm(0).gated.iou, 5);
    const ci = all.balanced_accuracy.ci95!;
    expect(ci[0]).toBeLessThanOrEqual(all.balanced_accuracy.difference);
    expect(ci[1]).toBeGreaterThanOrEqual(all.balanced_accuracy.difference);
    const md = readFileSync(path.join(out, 'metrics.md'), 'utf8');
    expect(md).toContain(`## Paired differences against ${c0.network} (same views; 95 % paired bootstrap)`);
    expect(md).toContain('| VGG-A one FC (same.safetensors) | +0.0 points (+0.0 to +0.0) |');
    expect(md).toContain('| VGG-A one FC (same.safetensors) | ours | BMM | +0.000 (+0.000 to +0.000) | +0.000 (+0.000 to +0.000) |');
  });

  it('lrpseg pool: reports of disjoint folds pool to the figures of one eval over their union', async () => {
    // the second model has the first one's file name, in another folder: eval names them by path
    const shifted = path.join(dir, 'pool-b', path.basename(model));
    expect((await lrpseg('calibrate', model, '--threshold', '-1000', '-o', shifted, '-q')).code).toBe(0);
    const entry = (stem: string, group: string) =>
      stem === free ? { image: `${stem}.jpg`, mask: null, label: 0, class: 'Free', group } : { image: `${stem}.jpg`, mask: `${stem}.png`, label: 1, class: 'Blowhole', group };
    const foldA = [entry(defective[0], 'gA'), entry(free, 'gF')];
    const foldB = [entry(defective[1], 'gB'), entry(defective[2], 'gB')];
    const evalOn = async (name: string, test: object[], models = ['--model', model, '--model', shifted]) => {
      const manifest = path.join(dir, `${name}.json`);
      writeFileSync(manifest, JSON.stringify({ root: 'data', subsets: { test } }));
      const out = path.join(dir, `report-${name}`);
      const r = await lrpseg('eval', ...models, '--rules', 'ours,montavon', '--methods', 'simple,bmm', '--data', manifest, '--out', out, '-q');
      expect(r.code, r.stderr).toBe(0);
      return out;
    };
    const [a, b, union] = [await evalOn('fold-a', foldA), await evalOn('fold-b', foldB), await evalOn('fold-union', [...foldA, ...foldB])];
    const pooledDir = path.join(dir, 'pooled');
    const r = await lrpseg('pool', a, path.join(b, 'metrics.json'), '--out', pooledDir);
    expect(r.code, r.stderr).toBe(0);
    const p = JSON.parse(readFileSync(path.join(pooledDir, 'pooled.json'), 'utf8')) as import('../src/report/pool.js').PooledReport;
    const u = readReport(union);
    expect(p.units).toBe(3); // gA, gF, gB
    expect(p.classification.map((c) => c.network)).toEqual([`VGG-A one FC (${model})`, `VGG-A one FC (${shifted})`]);
    p.classification.forEach((c, i) => {
      const w = u.classification[i];
      expect([c.tp, c.fn, c.tn, c.fp, c.views]).toEqual([w.tp, w.fn, w.tn, w.fp, w.views]);
      expect(c.balancedAccuracy).toBeCloseTo(w.balancedAccuracy, 6);
      // fold b holds no defect-free view: its balanced accuracy is undefined (null in JSON)
      expect(c.per_fold).toEqual([readReport(a).classification[i].balancedAccuracy, readReport(b).classification[i].balancedAccuracy].map((x) => (x === null ? null : Math.round(x * 1e6) / 1e6)));
      expect(c.per_fold[1]).toBeNull();
    });
    expect(p.segmentation.map((s) => `${s.rules}/${s.method}`)).toEqual(u.segmentation.map((s) => `${s.rules}/${s.method}`));
    p.segmentation.forEach((s, i) => {
      const w = u.segmentation[i];
      for (const m of ['gated', 'ungated'] as const) {
        expect([s[m]!.tp, s[m]!.fp, s[m]!.fn], `${s.network} ${s.method} ${m}`).toEqual([w[m]!.pooled.tp, w[m]!.pooled.fp, w[m]!.pooled.fn]);
        expect(s[m]!.iou).toBeCloseTo(w[m]!.iou, 6);
        // the strata too: the area cuts over all folds' views are the union's
        expect(s[m]!.by_class, `${s.network} ${s.method} ${m}`).toEqual(w[m]!.by_class);
        expect(s[m]!.by_area).toEqual(w[m]!.by_area);
      }
    });
    expect(p.segmentation[0].gated.by_class!.map((c) => [c.name, c.views])).toEqual([['Blowhole', 9]]);
    expect(p.segmentation[0].gated.by_area!.reduce((t, b) => t + b.views, 0)).toBe(9);
    // the paired differences pool too: the point figures are the union's
    const [pc, uc] = [p.comparisons[0], u.comparisons![0]];
    expect(pc.balanced_accuracy.difference).toBeCloseTo(uc.balanced_accuracy.difference, 6);
    pc.segmentation.forEach((s, i) => expect(s.gated.difference).toBeCloseTo(uc.segmentation[i].gated.difference, 6));
    // and those between rule sets (montavon − ours, per classifier and method)
    expect(p.rule_comparisons.map((c) => `${c.rules}/${c.method}`)).toEqual(u.rule_comparisons!.map((c) => `${c.rules}/${c.method}`));
    expect(p.rule_comparisons).toHaveLength(4);
    p.rule_comparisons.forEach((c, i) => expect(c.ungated.difference).toBeCloseTo(u.rule_comparisons![i].ungated.difference, 6));
    const md = readFileSync(path.join(pooledDir, 'pooled.md'), 'utf8');
    expect(r.stdout).toBe(md);
    expect(md).toContain('# Pooled over 2 folds');
    expect(md).toMatch(/\| 12 \| [\d.]+%, — \|/); // fold b's undefined balanced accuracy
    expect(md).toMatch(new RegExp(`\\| VGG-A one FC \\(${shifted.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\) \\| [\\d.]+% \\| ([\\d.]+%–[\\d.]+%|—) \\|`));
    expect(md).toContain(`## Paired differences against VGG-A one FC (${model})`);
    expect(md).toContain('## Segmentation by defect class and by damage area (gate on)');
    expect(md).toMatch(/\| Network \| Rules \| Method \| Blowhole \(9\) \| < \d+ px \(\d\) \| \d+–\d+ px \(\d\) \| ≥ \d+ px \(\d\) \|/);

    // the same fold twice, or reports of other models, are refused
    const twice = await lrpseg('pool', a, a, '-q');
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/both test group g[AF]: pooling needs disjoint test sets/);
    const other = await lrpseg('pool', a, await evalOn('fold-b-one-model', foldB, ['--model', model]), '-q');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/holds other networks or rules × methods/);
    expect((await lrpseg('pool', a)).code).toBe(1);
  });

  it('prediction form: scores the masks (and scores) that lrpseg segment wrote', async () => {
    const pred = path.join(dir, 'pred');
    const s = await lrpseg('segment', '--model', model, '--rules', 'ours', '--method', 'bmm', '--no-gate', '--scores', '--out', pred, '-q', ...stems.map((x) => path.join(data, `${x}.jpg`)));
    expect(s.code, s.stderr).toBe(0);
    const out = path.join(dir, 'report-pred');
    const r = await lrpseg('eval', '--pred', pred, '--data', data, '--out', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out);
    expect(rep.segmentation).toHaveLength(1);
    const cfg = rep.segmentation[0];
    expect([cfg.network, cfg.rules, cfg.method]).toEqual(['VGG-A one FC', 'ours', 'bmm']);
    // direct: the PNG masks against the truth prepared to the mask's size
    const counts = [];
    for (const st of stems) {
      const truth = binarizeTruth(prepareForModel(await readImageFile(path.join(data, `${st}.png`)), [SIZE, SIZE], 1).data);
      if (!truth.some((v) => v === 1)) continue;
      const mask = decodeImage(readFileSync(path.join(pred, `${st}.png`)), st);
      counts.push(countPixels(Uint8Array.from(mask.data, (v) => (v > 0.5 ? 1 : 0)), truth));
    }
    expect(cfg.gated.pooled).toEqual(segmentationScores(counts).pooled);
    expect(cfg.gated.ap).not.toBeNull();
    expect(cfg.ungated).toBeNull();
    expect(rep.classification[0].views).toBe(4); // verdicts from the segment summary
    expect(readFileSync(path.join(out, 'pr.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('a bad item is reported by name and the rest evaluated (exit 1); usage errors exit 2', async () => {
    const mixed = path.join(dir, 'mixed');
    mkdirSync(mixed, { recursive: true });
    for (const ext of ['.jpg', '.png']) copyFileSync(path.join(data, defective[0] + ext), path.join(mixed, defective[0] + ext));
    copyFileSync(path.join(data, `${defective[1]}.jpg`), path.join(mixed, 'nomask.jpg')); // no nomask.png
    writeFileSync(path.join(mixed, 'broken.jpg'), readFileSync(path.join(data, `${defective[1]}.jpg`)).subarray(0, 1000));
    writeFileSync(path.join(mixed, 'broken.png'), readFileSync(path.join(data, `${defective[1]}.png`)));
    const out = path.join(dir, 'report-mixed');
    const r = await lrpseg('eval', '--model', model, '--rules', 'ours', '--methods', 'simple', '--data', mixed, '--out', out, '--no-flips');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nomask/);
    expect(r.stderr).toMatch(/broken\.jpg/);
    const rep = readReport(out);
    expect(rep.data.failed).toHaveLength(2);
    expect(rep.data.defective_views).toBe(1);

    expect((await lrpseg('eval', '--model', model, '--pred', out, '--data', data, '--out', out)).code).toBe(2);
    expect((await lrpseg('eval', '--model', model, '--data', data, '--out', out)).code).toBe(2);
    expect((await lrpseg('eval', '--model', model, '--rules', 'ours', '--out', out)).code).toBe(2);
    expect((await lrpseg('eval', '--model', model, '--rules', 'ours', '--methods', 'otsu', '--data', data, '--out', out)).code).toBe(2);
  });
});

/**
 * The bundled model (models/README.md): the file is the documented one, it finds the blowhole of the
 * synthetic sample, and a fresh evaluation on the grouped test split gives the documented figures.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, parseManifest, selectClasses, serializeManifest } from '@lrpseg/datasets';
import { SHARED_DIR, lrpseg, tempDir } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODEL = path.join(ROOT, 'models', 'mt-vgg11-onefc-w8.safetensors');
const SAMPLE = path.join(ROOT, 'samples', 'synthetic-tile-blowhole.png');
const MT = path.join(SHARED_DIR, 'datasets', 'magnetic-tile');

interface Pooled { tp: number; fp: number; fn: number; tn: number }
interface EvalRecord {
  classification: { views: number; tp: number; fn: number; tn: number; fp: number; balancedAccuracy: number };
  segmentation: { rules: string; method: string; gated: { pooled: Pooled; iou: number }; ungated: { pooled: Pooled; iou: number } }[];
}
/** lrpseg eval's metrics.json: one classification row per model. */
interface EvalReport { classification: EvalRecord['classification'][]; segmentation: EvalRecord['segmentation'] }
const documented = JSON.parse(readFileSync(path.join(ROOT, 'models', 'mt-vgg11-onefc-w8.eval.json'), 'utf8')) as EvalRecord;

const { dir, cleanup } = tempDir('lrpseg-bundled-');
afterAll(cleanup);

describe('the bundled model', () => {
  it('is the file models/README.md describes', () => {
    const sha = createHash('sha256').update(readFileSync(MODEL)).digest('hex');
    expect(readFileSync(path.join(ROOT, 'models', 'README.md'), 'utf8')).toContain(sha);
  });

  it('calls the synthetic sample defective, and its BMM mask with ours is the drawn blowhole', async () => {
    const out = path.join(dir, 'segment');
    const r = await lrpseg('segment', '--model', MODEL, '--rules', 'ours', '--method', 'bmm', '--segment-threads', '0', '--out', out, '-q', SAMPLE);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { images: { verdict: string }[] };
    expect(summary.images[0].verdict).toBe('defect');
    const maskFile = path.join(out, 'synthetic-tile-blowhole.png');
    const mask = decodeImage(readFileSync(maskFile), maskFile);
    // scripts/make-sample.mjs: an elliptical pit centred at (140, 90) with radii 9 × 6, its rim out to 1.35 radii
    const drawn = (x: number, y: number) => Math.hypot((x - 140) / 9, (y - 90) / 6) < 1.35;
    const truthPixels: [number, number][] = [];
    const markedPixels: [number, number][] = [];
    for (let y = 0; y < mask.height; y++) {
      for (let x = 0; x < mask.width; x++) {
        if (drawn(x, y)) truthPixels.push([x, y]);
        if (mask.data[y * mask.width + x] > 0.5) markedPixels.push([x, y]); // first plane, values in [0, 1]
      }
    }
    const inter = markedPixels.filter(([x, y]) => drawn(x, y)).length;
    expect(inter / (markedPixels.length + truthPixels.length - inter)).toBeGreaterThan(0.5);
    // Near the blowhole, over- and under-marking is the IoU's business. "Far" is a mark elsewhere on the
    // tile: more than the pit's smaller radius (6 px) from every drawn pixel, in pixels and so the same in
    // every direction, as an explanation's spread is (square kernels and pooling); models/README.md,
    // "The sample test".
    const distanceToDrawn = ([x, y]: [number, number]) => Math.min(...truthPixels.map(([u, v]) => Math.hypot(x - u, y - v)));
    const far = markedPixels.filter((p) => distanceToDrawn(p) > 6);
    expect(far).toEqual([]);
  });

  it.skipIf(!existsSync(MT))('scores on the grouped test split what mt-vgg11-onefc-w8.eval.json says', async () => {
    const six = path.join(dir, 'six.json');
    const split = await lrpseg('data', 'split', MT, '--classes', 'Crack,Blowhole,Free,Break,Fray,Uneven', '-o', six, '-q');
    expect(split.code, split.stderr).toBe(0);
    const paper = path.join(dir, 'paper.json');
    const m = selectClasses(parseManifest(readFileSync(six, 'utf8'), six), ['Crack', 'Blowhole', 'Free']);
    writeFileSync(paper, serializeManifest({ ...m, root: MT }));
    const out = path.join(dir, 'eval');
    const r = await lrpseg('eval', '--model', MODEL, '--rules', 'ours', '--methods', 'bmm', '--data', paper, '--subset', 'test', '--segment-threads', '0', '--out', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as EvalReport;
    const counts = ({ views, tp, fn, tn, fp }: EvalRecord['classification']) => ({ views, tp, fn, tn, fp });
    expect(counts(got.classification[0])).toEqual(counts(documented.classification));
    const want = documented.segmentation.find((s) => s.rules === 'ours' && s.method === 'bmm')!;
    const row = got.segmentation.find((s) => s.rules === 'ours' && s.method === 'bmm')!;
    expect(row.gated.pooled).toEqual(want.gated.pooled);
    expect(row.ungated.pooled).toEqual(want.ungated.pooled);
  }, 300_000);
});

import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNpy, segmentMap, serializeNpy, SEGMENT_METHODS } from '@lrpseg/core';
import { decodeImage } from '@lrpseg/datasets';
import type { SegmentSummary } from '../src/commands/segment.js';
import { maskToOriginal } from '../src/report/masks.js';
import { parseShard, shardPositions } from '../src/report/shard.js';
import { HAVE_BLOWHOLE, blowholeJpegs, lrpseg, oneErrorLine, tempDir } from './helpers.js';
import { SIZE, expectedSegmentation, writeGateModel } from './segment-fixtures.js';

const { dir, cleanup } = tempDir('lrpseg-segment-');
afterAll(cleanup);

const noTmpLeft = (d: string): void => {
  const walk = (p: string): string[] => readdirSync(p, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(p, e.name)) : [e.name]));
  expect(walk(d).filter((f) => f.includes('.tmp-'))).toEqual([]);
};

function readMaskPng(file: string): { data: Uint8Array; width: number; height: number } {
  const img = decodeImage(readFileSync(file), file);
  return { data: Uint8Array.from(img.data, (v) => (v > 0.5 ? 1 : 0)), width: img.width, height: img.height };
}

describe('segment --relevance (npy form)', () => {
  const goldenMaps = path.resolve(import.meta.dirname, '../../core/test/golden/segment/heatmaps.npy');
  const maps = parseNpy(readFileSync(goldenMaps));
  const [n, h, w] = maps.shape;

  it('writes uint8 0/1 masks and float32 scores equal to core, for every method', async () => {
    for (const method of SEGMENT_METHODS) {
      const out = path.join(dir, `m-${method}.npy`);
      const scores = path.join(dir, `s-${method}.npy`);
      const r = await lrpseg('segment', '--relevance', goldenMaps, '--method', method, '--out', out, '--score-out', scores, '--segment-threads', '2');
      expect(r.code, r.stderr).toBe(0);
      const m = parseNpy(readFileSync(out));
      const s = parseNpy(readFileSync(scores));
      expect([m.dtype, ...m.shape]).toEqual(['u1', n, h, w]);
      expect([s.dtype, ...s.shape]).toEqual(['f4', n, h, w]);
      for (let i = 0; i < n; i++) {
        const want = segmentMap(method, { data: (maps.data as Float32Array).subarray(i * h * w, (i + 1) * h * w), height: h, width: w });
        expect(Array.from(m.data.subarray(i * h * w, (i + 1) * h * w))).toEqual(Array.from(want.mask));
        expect(Array.from(s.data.subarray(i * h * w, (i + 1) * h * w))).toEqual(Array.from(want.score));
      }
    }
    noTmpLeft(dir);
  });

  it('takes a single (H, W) map and writes (H, W)', async () => {
    const one = path.join(dir, 'one.npy');
    writeFileSync(one, serializeNpy((maps.data as Float32Array).slice(0, h * w), [h, w], 'f4'));
    const out = path.join(dir, 'one-m.npy');
    const r = await lrpseg('segment', '--relevance', one, '--method', 'simple', '--out', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(parseNpy(readFileSync(out)).shape).toEqual([h, w]);
  });

  it('a map with NaN is reported by index and written empty; the others are segmented; exit 1', async () => {
    const data = Float32Array.from(maps.data as Float32Array);
    data[1 * h * w + 5] = NaN;
    const bad = path.join(dir, 'bad.npy');
    writeFileSync(bad, serializeNpy(data, [n, h, w], 'f4'));
    const out = path.join(dir, 'bad-m.npy');
    const r = await lrpseg('segment', '--relevance', bad, '--method', 'bmm', '--out', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.npy: map 1: .*non-finite value \(NaN\) at row 0, column 5/);
    const m = parseNpy(readFileSync(out)).data;
    expect(m.subarray(h * w, 2 * h * w).every((v) => v === 0)).toBe(true);
    expect(m.subarray(0, h * w).some((v) => v === 1)).toBe(true);
    // --fail-fast writes nothing
    const out2 = path.join(dir, 'bad-m2.npy');
    expect((await lrpseg('segment', '--relevance', bad, '--method', 'bmm', '--out', out2, '--fail-fast')).code).toBe(1);
    expect(existsSync(out2)).toBe(false);
  });

  it('usage errors exit 2; a bad file exits 1 with one line', async () => {
    expect((await lrpseg('segment', '--relevance', goldenMaps, '--method', 'bmm', '--out', path.join(dir, 'x.png'))).code).toBe(2);
    expect((await lrpseg('segment', '--relevance', goldenMaps, '--method', 'otsu', '--out', path.join(dir, 'x.npy'))).code).toBe(2);
    expect((await lrpseg('segment', '--relevance', goldenMaps, '--method', 'bmm', '--out', path.join(dir, 'x.npy'), 'img.png')).code).toBe(2);
    expect((await lrpseg('segment', '--method', 'bmm', '--out', path.join(dir, 'x'))).code).toBe(2);
    // explanation options mean nothing for heatmaps already made
    for (const extra of [['--tta', 'flips'], ['--pool', 'avg']]) {
      const r = await lrpseg('segment', '--relevance', goldenMaps, '--method', 'bmm', '--out', path.join(dir, 'x.npy'), ...extra);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(extra[0]);
    }
    const notNpy = path.join(dir, 'not.npy');
    writeFileSync(notNpy, 'hello');
    const r = await lrpseg('segment', '--relevance', notNpy, '--method', 'gmm', '--out', path.join(dir, 'y.npy'));
    expect(r.code).toBe(1);
    expect(oneErrorLine(r)).toMatch(/not\.npy/);
  });
});

describe.skipIf(!HAVE_BLOWHOLE)('segment with a model on real images', () => {
  const images = blowholeJpegs(6);
  const model = path.join(dir, 'gate.safetensors');
  const corrupt = path.join(dir, 'broken.jpg');
  let verdicts: boolean[] = [];
  let expected: Awaited<ReturnType<typeof expectedSegmentation>>;

  beforeAll(async () => {
    verdicts = await writeGateModel(model, images);
    expected = await expectedSegmentation(model, images, 'ours', 'bmm');
    // the first 2 kB of a real JPEG: a truncated file
    writeFileSync(corrupt, readFileSync(images[0]).subarray(0, 2048));
  });

  it('the fixture model gates some images in and some out', () => {
    expect(verdicts.filter((v) => v).length).toBe(3);
    expect(expected.verdicts).toEqual(verdicts);
  });

  it('writes a mask per image, the summary, heatmaps/overlays/scores; reports a corrupt image and goes on', async () => {
    const out = path.join(dir, 'run1');
    const r = await lrpseg('segment', '--model', model, '--rules', 'ours', '--method', 'bmm', '--out', out, '--heatmaps', '--overlays', '--scores', ...images, corrupt);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lrpseg: .*broken\.jpg/);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as SegmentSummary;
    expect(summary.counts).toEqual({ inputs: 7, processed: 6, resumed: 0, failed: 1, defect: 3, defect_free: 3, explained: 3 });
    expect(summary.method).toBe('bmm');
    expect(summary.gate).toBe(true);
    const bad = summary.images.find((i) => i.input === corrupt)!;
    expect(bad.status).toBe('failed');
    expect(bad.error).toMatch(/broken\.jpg/);
    images.forEach((f, i) => {
      const stem = path.basename(f, '.jpg');
      const rec = summary.images.find((x) => x.stem === stem)!;
      expect(rec.status).toBe('done');
      expect(rec.verdict).toBe(verdicts[i] ? 'defect' : 'defect-free');
      expect(rec.score! > 0.5).toBe(verdicts[i]); // two classes: the target's softmax probability
      expect(rec.explained).toBe(verdicts[i]);
      expect(rec.timings_ms).toHaveProperty('decode');
      const mask = readMaskPng(path.join(out, `${stem}.png`));
      expect([mask.width, mask.height]).toEqual([SIZE, SIZE]);
      expect(rec.mask_area).toBe(mask.data.reduce((a, b) => a + b, 0));
      if (verdicts[i]) {
        // the mask is the method's on the model's heatmap, bit for bit
        expect(Array.from(mask.data)).toEqual(Array.from(expected.masks[i]!));
        expect(existsSync(path.join(out, 'heatmaps', `${stem}.png`))).toBe(true);
        const s = parseNpy(readFileSync(path.join(out, 'scores', `${stem}.npy`)));
        expect(s.shape).toEqual([SIZE, SIZE]);
        expect(Array.from(s.data)).toEqual(Array.from(segmentMap('bmm', { data: expected.heatmaps[i]!, height: SIZE, width: SIZE }).score));
      } else {
        // gated out: an empty mask, not explained, no heatmap
        expect(mask.data.every((v) => v === 0)).toBe(true);
        expect(existsSync(path.join(out, 'heatmaps', `${stem}.png`))).toBe(false);
      }
      expect(existsSync(path.join(out, 'overlays', `${stem}.png`))).toBe(true);
    });
    expect(expected.masks.some((m) => m !== null && m.some((v) => v === 1))).toBe(true);
    noTmpLeft(out);

    // --fail-fast stops at the bad input (listed first)
    const ff = await lrpseg('segment', '--model', model, '--rules', 'ours', '--method', 'bmm', '--out', path.join(dir, 'ff'), '--fail-fast', corrupt, ...images);
    expect(ff.code).toBe(1);
    expect(ff.stderr).toMatch(/--fail-fast/);
    expect(readdirSync(path.join(dir, 'ff')).filter((f) => f.endsWith('.png'))).toEqual([]);
  });

  it('--tta flips: the masks of the flip-averaged heatmaps, the same gate; the summary says so', async () => {
    const out = path.join(dir, 'run-tta');
    const r = await lrpseg('segment', '--model', model, '--rules', 'ours', '--method', 'bmm', '--tta', 'flips', '--out', out, '-q', ...images);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as SegmentSummary;
    expect(summary.tta).toBe('flips');
    expect(summary.counts.explained).toBe(3);
    const flips = await expectedSegmentation(model, images, 'ours', 'bmm', 'flips');
    expect(flips.verdicts).toEqual(verdicts);
    let differs = false;
    images.forEach((f, i) => {
      const mask = readMaskPng(path.join(out, `${path.basename(f, '.jpg')}.png`));
      if (!verdicts[i]) return expect(mask.data.every((v) => v === 0)).toBe(true);
      expect(Array.from(mask.data)).toEqual(Array.from(flips.masks[i]!));
      differs ||= flips.masks[i]!.some((v, p) => v !== expected.masks[i]![p]);
    });
    expect(differs).toBe(true);
    const bad = await lrpseg('segment', '--model', model, '--rules', 'ours', '--method', 'bmm', '--tta', 'mirror', '--out', path.join(dir, 'run-bad-tta'), images[0]);
    expect(bad.code).toBe(2);
  });

  it('--resume skips finished images and redoes only what is missing', async () => {
    const out = path.join(dir, 'run2');
    const args = ['segment', '--model', model, '--rules', 'ours', '--method', 'simple', '--out', out, ...images];
    expect((await lrpseg(...args)).code).toBe(0);
    const first = path.join(out, `${path.basename(images[0], '.jpg')}.png`);
    const second = path.join(out, `${path.basename(images[1], '.jpg')}.png`);
    const before = statSync(second).mtimeMs;
    const firstBytes = readFileSync(first);
    rmSync(first);
    await new Promise((res) => setTimeout(res, 20));
    const r = await lrpseg(...args, '--resume');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as SegmentSummary;
    expect(summary.counts.processed).toBe(6);
    expect(summary.counts.resumed).toBe(5);
    expect(statSync(second).mtimeMs).toBe(before); // not rewritten
    expect(readFileSync(first)).toEqual(firstBytes); // redone, the same
    // resumed images keep their records from the earlier summary
    const rec = summary.images.find((x) => x.stem === path.basename(images[1], '.jpg'))!;
    expect(rec.resumed).toBe(true);
    expect(rec.verdict).toBe(verdicts[1] ? 'defect' : 'defect-free');
  });

  it('--shard K/N partitions the inputs exactly; --no-gate explains all; --mask-size original', async () => {
    const out = path.join(dir, 'run3');
    const seen: string[] = [];
    for (let k = 0; k < 4; k++) {
      const r = await lrpseg('segment', '--model', model, '--rules', 'montavon', '--method', 'gmm', '--out', out, '--shard', `${k}/4`, '--no-gate', '-q', ...images);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(readFileSync(path.join(out, `summary.shard-${k}-of-4.json`), 'utf8')) as SegmentSummary;
      expect(s.shard).toEqual({ index: k, count: 4 });
      expect(s.counts.explained).toBe(s.counts.inputs);
      expect(s.images.map((x) => x.input)).toEqual(images.filter((_, i) => i % 4 === k));
      seen.push(...s.images.map((x) => x.stem));
    }
    expect([...seen].sort()).toEqual(images.map((f) => path.basename(f, '.jpg')).sort());
    expect(readdirSync(out).filter((f) => f.endsWith('.png')).length).toBe(images.length);

    const orig = path.join(dir, 'run4');
    const r = await lrpseg('segment', '--model', model, '--rules', 'ours', '--method', 'bmm', '--out', orig, '--mask-size', 'original', '-q', images[0]);
    expect(r.code, r.stderr).toBe(0);
    const src = decodeImage(readFileSync(images[0]), images[0]);
    const m = readMaskPng(path.join(orig, `${path.basename(images[0], '.jpg')}.png`));
    expect([m.width, m.height]).toEqual([src.width, src.height]);
  });

  it('--shard rejects K ≥ N and malformed values (usage error)', async () => {
    for (const bad of ['4/4', '1/0', 'a/b', '-1/3']) {
      const r = await lrpseg('segment', '--model', model, '--rules', 'ours', '--method', 'bmm', '--out', path.join(dir, 'x'), '--shard', bad, images[0]);
      expect(r.code, bad).toBe(2);
    }
  });
});

describe('masks back to the original image', () => {
  it('follows the scale-up and the center crop (nearest pixel); the cropped margin is 0', () => {
    // a 3×5 original scaled ×2 to 6×10, center-cropped to 4×4 at (1, 3)
    const g = { original: [3, 5] as const, scale: 2, resized: [6, 10] as const, crop: { top: 1, left: 3, height: 4, width: 4 } };
    const mask = new Uint8Array(16).fill(1);
    const m = maskToOriginal(mask, g);
    expect([m.width, m.height]).toEqual([5, 3]);
    // original column x lands on resized column floor((x + 0.5)·2) = 2x + 1, crop column 2x − 2: inside for x = 1, 2
    // original row y lands on resized row 2y + 1, crop row 2y: inside for y = 0, 1
    expect(Array.from(m.data)).toEqual([0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('shard partition', () => {
  it('parts are disjoint, cover the list and differ in size by at most one', () => {
    for (const n of [0, 1, 7, 100]) {
      for (const count of [1, 3, 8]) {
        const parts = Array.from({ length: count }, (_, k) => shardPositions(n, parseShard(`${k}/${count}`)));
        const all = parts.flat().sort((a, b) => a - b);
        expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
        const sizes = parts.map((p) => p.length);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      }
    }
  });
});


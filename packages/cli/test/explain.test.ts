import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend, classifyAndExplainTta, loadModel, mulberry32, parseComposite, parseNpy, serializeNpy } from '@lrpseg/core';
import { decodeImage } from '@lrpseg/datasets';
import { HAVE_BLOWHOLE, blowholeJpegs, lrpseg, oneErrorLine, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
const model = path.join(dir, 'm.safetensors');
const N = 5;

function randomImages(n: number, c: number, h: number, w: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: n * c * h * w }, () => rnd());
}

beforeAll(async () => {
  const r = await lrpseg('make-model', '--arch', 'vgg11-128n', '--width-divisor', '16', '--size', '32', '32', '--out', model, '-q');
  expect(r.code, r.stderr).toBe(0);
  writeFileSync(path.join(dir, 'x.npy'), serializeNpy(randomImages(N, 3, 32, 32, 1), [N, 3, 32, 32], 'f4'));
});
afterAll(cleanup);

function readHeatmaps(file: string): { shape: readonly number[]; data: Float32Array; dtype: string } {
  const a = parseNpy(readFileSync(file));
  return { shape: a.shape, data: a.data as Float32Array, dtype: a.dtype };
}

describe('explain on .npy', () => {
  it('writes float32 (N, H, W) heatmaps, the same for every batch size', async () => {
    const x = path.join(dir, 'x.npy');
    const outs: Float32Array[] = [];
    for (const bs of ['1', '2', '8']) {
      const out = path.join(dir, `r${bs}.npy`);
      const r = await lrpseg('explain', '--model', model, '--input', x, '--rules', 'ours', '--batch-size', bs, '--out', out);
      expect(r.code, r.stderr).toBe(0);
      const h = readHeatmaps(out);
      expect(h.dtype).toBe('f4');
      expect(h.shape).toEqual([N, 32, 32]);
      outs.push(h.data);
    }
    expect(outs[0].some((v) => v !== 0)).toBe(true);
    for (const o of outs.slice(1)) {
      for (let i = 0; i < o.length; i++) expect(Math.abs(o[i] - outs[0][i])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(outs[0][i])));
    }
    expect(readdirSync(dir).some((f) => f.includes('.tmp-'))).toBe(false);
  });

  it('accepts float64 and uint8 (divided by 255), and one channel for an RGB model', async () => {
    const f32 = randomImages(2, 3, 32, 32, 3);
    const q = Uint8Array.from(f32, (v) => Math.round(v * 255));
    const qf = Float32Array.from(q, (v) => v / 255);
    writeFileSync(path.join(dir, 'q.npy'), serializeNpy(q, [2, 3, 32, 32], 'u1'));
    writeFileSync(path.join(dir, 'qf.npy'), serializeNpy(qf, [2, 3, 32, 32], 'f4'));
    writeFileSync(path.join(dir, 'qd.npy'), serializeNpy(Float64Array.from(qf), [2, 3, 32, 32], 'f8'));
    const maps: Float32Array[] = [];
    for (const name of ['q', 'qf', 'qd']) {
      const out = path.join(dir, `${name}-r.npy`);
      const r = await lrpseg('explain', '--model', model, '--input', path.join(dir, `${name}.npy`), '--rules', 'montavon', '--out', out);
      expect(r.code, r.stderr).toBe(0);
      maps.push(readHeatmaps(out).data);
    }
    expect(Array.from(maps[0])).toEqual(Array.from(maps[1]));
    expect(Array.from(maps[2])).toEqual(Array.from(maps[1]));

    const grey = randomImages(2, 1, 32, 32, 4);
    const rgb = new Float32Array(2 * 3 * 1024);
    for (let i = 0; i < 2; i++) for (let c = 0; c < 3; c++) rgb.set(grey.subarray(i * 1024, (i + 1) * 1024), (i * 3 + c) * 1024);
    writeFileSync(path.join(dir, 'g1.npy'), serializeNpy(grey, [2, 1, 32, 32], 'f4'));
    writeFileSync(path.join(dir, 'g3.npy'), serializeNpy(rgb, [2, 3, 32, 32], 'f4'));
    const g1 = path.join(dir, 'g1-r.npy');
    const g3 = path.join(dir, 'g3-r.npy');
    expect((await lrpseg('explain', '--model', model, '--input', path.join(dir, 'g1.npy'), '--rules', 'ours', '--out', g1)).code).toBe(0);
    expect((await lrpseg('explain', '--model', model, '--input', path.join(dir, 'g3.npy'), '--rules', 'ours', '--out', g3)).code).toBe(0);
    expect(Array.from(readHeatmaps(g1).data)).toEqual(Array.from(readHeatmaps(g3).data));
  });

  it('takes --target, --pool avg and a custom rule list', async () => {
    const x = path.join(dir, 'x.npy');
    const base = path.join(dir, 't1.npy');
    const t0 = path.join(dir, 't0.npy');
    const avg = path.join(dir, 'avg.npy');
    const custom = path.join(dir, 'custom.npy');
    expect((await lrpseg('explain', '--model', model, '--input', x, '--rules', 'ours', '--out', base)).code).toBe(0);
    expect((await lrpseg('explain', '--model', model, '--input', x, '--rules', 'ours', '--target', 'defect-free', '--out', t0)).code).toBe(0);
    expect((await lrpseg('explain', '--model', model, '--input', x, '--rules', 'ours', '--pool', 'avg', '--out', avg)).code).toBe(0);
    const spec = 'zbox,gamma:0.25,gamma:0.25,gamma:0.25,epsilon:0.25,epsilon:0.25,epsilon:0.25,epsilon:0.25,zero,zero,zero';
    const montavon = path.join(dir, 'montavon.npy');
    expect((await lrpseg('explain', '--model', model, '--input', x, '--rules', spec, '--out', custom)).code).toBe(0);
    expect((await lrpseg('explain', '--model', model, '--input', x, '--rules', 'montavon', '--out', montavon)).code).toBe(0);
    const b = readHeatmaps(base).data;
    expect(Array.from(readHeatmaps(t0).data)).not.toEqual(Array.from(b));
    expect(Array.from(readHeatmaps(avg).data)).not.toEqual(Array.from(b));
    expect(Array.from(readHeatmaps(custom).data)).toEqual(Array.from(readHeatmaps(montavon).data));
    // --tta flips: core's flip average, not the plain heatmap
    const flips = path.join(dir, 'flips.npy');
    expect((await lrpseg('explain', '--model', model, '--input', x, '--rules', 'ours', '--tta', 'flips', '--out', flips)).code).toBe(0);
    const m = loadModel(new CpuBackend(), readFileSync(model));
    const want = await classifyAndExplainTta(m, parseNpy(readFileSync(x)).data as Float32Array, N, { composite: parseComposite('ours', m.meta), tta: 'flips' });
    m.dispose();
    expect(Array.from(readHeatmaps(flips).data)).toEqual(Array.from(want.heatmaps));
    expect(Array.from(want.heatmaps)).not.toEqual(Array.from(b));
    const bad = await lrpseg('explain', '--model', model, '--input', x, '--rules', 'ours', '--target', '2', '--out', base);
    expect(bad.code).toBe(1);
    expect(oneErrorLine(bad)).toContain('2 classes');
  });
});

describe.skipIf(!HAVE_BLOWHOLE)('explain on magnetic tile images', () => {
  const jpegs = blowholeJpegs(5);

  it('writes one colour PNG per image of a folder, at the model input size', async () => {
    const imgs = path.join(dir, 'imgs');
    mkdirSync(imgs, { recursive: true });
    for (const f of jpegs) copyFileSync(f, path.join(imgs, path.basename(f)));
    const out = path.join(dir, 'heat');
    const r = await lrpseg('explain', '--model', model, '--input', imgs, '--rules', 'ours', '--batch-size', '2', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const stems = jpegs.map((f) => path.basename(f, '.jpg')).sort();
    expect(readdirSync(out).sort()).toEqual(stems.map((s) => `${s}.png`));
    for (const s of stems) {
      const png = decodeImage(readFileSync(path.join(out, `${s}.png`)), s);
      expect([png.channels, png.height, png.width]).toEqual([3, 32, 32]);
    }
  });

  it('stacks heatmaps into one .npy, or writes both formats into a folder; files or folders as positional inputs', async () => {
    const stackFile = path.join(dir, 'stack.npy');
    const r = await lrpseg('explain', '--model', model, ...jpegs.slice(0, 3), '--rules', 'montavon', '--out', stackFile);
    expect(r.code, r.stderr).toBe(0);
    const stack = readHeatmaps(stackFile);
    expect(stack.shape).toEqual([3, 32, 32]);

    const both = path.join(dir, 'both');
    const r2 = await lrpseg('explain', '--model', model, '-i', jpegs[0], '-i', jpegs[1], '--rules', 'montavon', '--out', both, '--format', 'both');
    expect(r2.code, r2.stderr).toBe(0);
    const stem0 = path.basename(jpegs[0], '.jpg');
    expect(existsSync(path.join(both, `${stem0}.png`))).toBe(true);
    const single = readHeatmaps(path.join(both, `${stem0}.npy`));
    expect(single.shape).toEqual([32, 32]);
    expect(Array.from(single.data)).toEqual(Array.from(stack.data.subarray(0, 1024)));

    const one = path.join(dir, 'one.png');
    expect((await lrpseg('explain', '--model', model, jpegs[0], '--rules', 'ours', '--out', one)).code).toBe(0);
    expect(decodeImage(readFileSync(one), one).width).toBe(32);
  });

  it('reports a corrupt image by name, writes the others, and exits 1', async () => {
    const mixed = path.join(dir, 'mixed');
    mkdirSync(mixed, { recursive: true });
    for (const f of jpegs.slice(0, 3)) copyFileSync(f, path.join(mixed, path.basename(f)));
    const good = readFileSync(jpegs[0]);
    writeFileSync(path.join(mixed, 'broken.jpg'), good.subarray(0, good.length >> 1));
    writeFileSync(path.join(mixed, 'noise.png'), Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff));
    const out = path.join(dir, 'mixed-out');
    const r = await lrpseg('explain', '--model', model, mixed, '--rules', 'ours', '--batch-size', '2', '--out', out, '-q');
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^lrpseg: .*broken\.jpg: /);
    expect(lines[1]).toMatch(/^lrpseg: .*noise\.png: /);
    expect(readdirSync(out).sort()).toEqual(jpegs.slice(0, 3).map((f) => `${path.basename(f, '.jpg')}.png`).sort());

    // stacked: the good ones only
    const stack = path.join(dir, 'mixed.npy');
    const r2 = await lrpseg('explain', '--model', model, mixed, '--rules', 'ours', '--out', stack, '-q');
    expect(r2.code).toBe(1);
    expect(readHeatmaps(stack).shape).toEqual([3, 32, 32]);

    // --fail-fast stops at the first
    const ff = path.join(dir, 'ff.npy');
    const r3 = await lrpseg('explain', '--model', model, mixed, '--rules', 'ours', '--out', ff, '--fail-fast', '-q');
    expect(r3.code).toBe(1);
    expect(oneErrorLine(r3)).toContain('broken.jpg');
    expect(existsSync(ff)).toBe(false);
  });
});

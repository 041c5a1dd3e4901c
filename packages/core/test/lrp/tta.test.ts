import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { vgg11Meta } from '../../src/nn/arch.js';
import { buildVgg } from '../../src/nn/model.js';
import { parseComposite } from '../../src/lrp/composite.js';
import { classifyAndExplain } from '../../src/lrp/explain.js';
import { flipPlanes } from '../../src/flip.js';
import { classifyAndExplainTta, transformPlanes, ttaTransforms, untransformPlanes } from '../../src/lrp/tta.js';
import { LrpsegError } from '../../src/errors.js';
import { mulberry32 } from '../../src/random.js';

const backend = new CpuBackend();

function randomArray(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand());
}

describe('flipPlanes', () => {
  it('mirrors each plane left–right, top–bottom or both, and is its own inverse', () => {
    // two planes of 2 × 3
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]);
    expect(Array.from(flipPlanes(x, 2, 2, 3, { horizontal: true, vertical: false }))).toEqual([3, 2, 1, 6, 5, 4, 30, 20, 10, 60, 50, 40]);
    expect(Array.from(flipPlanes(x, 2, 2, 3, { horizontal: false, vertical: true }))).toEqual([4, 5, 6, 1, 2, 3, 40, 50, 60, 10, 20, 30]);
    expect(Array.from(flipPlanes(x, 2, 2, 3, { horizontal: true, vertical: true }))).toEqual([6, 5, 4, 3, 2, 1, 60, 50, 40, 30, 20, 10]);
    const none = flipPlanes(x, 2, 2, 3, { horizontal: false, vertical: false });
    expect(none).not.toBe(x);
    expect(Array.from(none)).toEqual(Array.from(x));
    const f = { horizontal: true, vertical: true };
    expect(Array.from(flipPlanes(flipPlanes(x, 2, 2, 3, f), 2, 2, 3, f))).toEqual(Array.from(x));
    expect(() => flipPlanes(x, 2, 3, 3, f)).toThrow(RangeError);
  });
});

describe('heatmap TTA transforms', () => {
  it('none, flips and dihedral are 1, 4 and 8 distinct permutations, the identity first', () => {
    const side = 5;
    const probe = Float32Array.from({ length: side * side }, (_, i) => i);
    for (const [tta, count] of [['none', 1], ['flips', 4], ['dihedral', 8]] as const) {
      const ts = ttaTransforms(tta);
      expect(ts).toHaveLength(count);
      expect(ts[0]).toEqual({ quarterTurns: 0, mirror: false });
      const images = ts.map((t) => Array.from(transformPlanes(probe, 1, side, side, t)).join(','));
      expect(new Set(images).size).toBe(count);
      for (const im of images) expect(im.split(',').map(Number).sort((a, b) => a - b)).toEqual(Array.from(probe));
    }
  });

  it('flips are the identity, left–right, top–bottom and both', () => {
    const x = randomArray(2 * 4 * 6, 1);
    const got = ttaTransforms('flips').map((t) => Array.from(transformPlanes(x, 2, 4, 6, t)));
    const want = [
      { horizontal: false, vertical: false },
      { horizontal: true, vertical: false },
      { horizontal: false, vertical: true },
      { horizontal: true, vertical: true },
    ].map((f) => Array.from(flipPlanes(x, 2, 4, 6, f)));
    expect(got).toEqual(want);
  });

  it('untransformPlanes undoes transformPlanes for every symmetry of the square', () => {
    const x = randomArray(3 * 7 * 7, 2);
    for (const t of ttaTransforms('dihedral')) {
      expect(Array.from(untransformPlanes(transformPlanes(x, 3, 7, 7, t), 3, 7, 7, t))).toEqual(Array.from(x));
    }
  });

  it('a quarter turn of a non-square input is refused', () => {
    expect(() => transformPlanes(randomArray(4 * 6, 3), 1, 4, 6, { quarterTurns: 1, mirror: false })).toThrow(LrpsegError);
  });
});

describe('classifyAndExplainTta', () => {
  const meta = vgg11Meta('onefc', { inputSize: [32, 32], widthDivisor: 16 });
  const model = buildVgg(backend, meta, { seed: 5, biasStd: 0.05 });
  const composite = parseComposite('ours', model.meta);
  const n = 2;
  const size = 3 * 32 * 32;
  const x = randomArray(n * size, 4);

  it('with none it is classifyAndExplain', async () => {
    const t = model.backend.fromArray(x, [n, 3, 32, 32]);
    const ref = classifyAndExplain(model, t, { composite });
    const got = await classifyAndExplainTta(model, x, n, { composite, tta: 'none' });
    expect(Array.from(got.logits)).toEqual(Array.from(await ref.logits.read()));
    expect(Array.from(got.heatmaps)).toEqual(Array.from(await ref.heatmaps.read()));
    t.dispose();
  });

  it('flips averages the four mirror images\' heatmaps mapped back, and keeps the input\'s own logits', async () => {
    const got = await classifyAndExplainTta(model, x, n, { composite, tta: 'flips' });
    const flips = [
      { horizontal: false, vertical: false },
      { horizontal: true, vertical: false },
      { horizontal: false, vertical: true },
      { horizontal: true, vertical: true },
    ];
    const want = new Float64Array(n * 32 * 32);
    let logits: Float32Array | null = null;
    for (const f of flips) {
      const xf = new Float32Array(x.length);
      for (let i = 0; i < n; i++) xf.set(flipPlanes(x.subarray(i * size, (i + 1) * size), 3, 32, 32, f), i * size);
      const t = model.backend.fromArray(xf, [n, 3, 32, 32]);
      const r = classifyAndExplain(model, t, { composite });
      logits ??= await r.logits.read();
      const maps = await r.heatmaps.read();
      for (let i = 0; i < n; i++) {
        const back = flipPlanes(maps.subarray(i * 1024, (i + 1) * 1024), 1, 32, 32, f);
        for (let p = 0; p < 1024; p++) want[i * 1024 + p] += back[p] / 4;
      }
      t.dispose();
    }
    expect(Array.from(got.logits)).toEqual(Array.from(logits!));
    for (let p = 0; p < want.length; p++) expect(got.heatmaps[p]).toBeCloseTo(want[p], 6);
    // the mirror images' heatmaps differ, so the average is not the plain heatmap
    const plain = await classifyAndExplainTta(model, x, n, { composite, tta: 'none' });
    expect(Array.from(got.heatmaps)).not.toEqual(Array.from(plain.heatmaps));
  });

  it('the flip-averaged heatmap of a mirrored input is the mirrored heatmap (equivariance)', async () => {
    const f = { horizontal: true, vertical: false };
    const xf = new Float32Array(x.length);
    for (let i = 0; i < n; i++) xf.set(flipPlanes(x.subarray(i * size, (i + 1) * size), 3, 32, 32, f), i * size);
    for (const tta of ['flips', 'dihedral'] as const) {
      const a = await classifyAndExplainTta(model, x, n, { composite, tta });
      const b = await classifyAndExplainTta(model, xf, n, { composite, tta });
      for (let i = 0; i < n; i++) {
        const am = flipPlanes(a.heatmaps.subarray(i * 1024, (i + 1) * 1024), 1, 32, 32, f);
        const bm = b.heatmaps.subarray(i * 1024, (i + 1) * 1024);
        const scale = Math.max(...am.map(Math.abs));
        for (let p = 0; p < 1024; p++) expect(Math.abs(bm[p] - am[p])).toBeLessThanOrEqual(1e-5 * scale);
      }
    }
  });

  it('refuses a buffer of the wrong length', async () => {
    await expect(classifyAndExplainTta(model, x.subarray(1), n, { composite, tta: 'flips' })).rejects.toThrow(LrpsegError);
  });
});

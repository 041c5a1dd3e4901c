import { describe, expect, it } from 'vitest';
import { LrpsegError } from '../../src/errors.js';
import { iterativeThreshold, segmentSimple } from '../../src/segment/simple.js';
import { kmeans1dSorted, quantileSorted } from '../../src/segment/kmeans1d.js';
import { fitGmm1d, segmentGmm } from '../../src/segment/gmm.js';
import { betaFromMoments, segmentBmm } from '../../src/segment/bmm.js';
import { SEGMENT_METHODS, segmentMap } from '../../src/segment/segment.js';
import { count, depthInRect, distToRect, inRect, levelMap, type Rect } from './synthetic.js';

const H = 64;
const W = 64;

/** Every pixel at depth ≥ inner inside the rectangle is 1, every pixel farther than outer outside is 0. */
function expectRectMask(mask: Uint8Array, r: Rect, inner: number, outer: number): void {
  let wrongInside = 0;
  let wrongOutside = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const m = mask[y * W + x];
      if (inRect(r, y, x) && depthInRect(r, y, x) >= inner && m !== 1) wrongInside++;
      if (!inRect(r, y, x) && distToRect(r, y, x) > outer && m !== 0) wrongOutside++;
    }
  }
  expect({ wrongInside, wrongOutside }).toEqual({ wrongInside: 0, wrongOutside: 0 });
}

describe('Simple', () => {
  it('iterative threshold by hand: [0, 0.2, 0.4, 1] → t = 0.4, then 0.6, then 0.6 (2 steps)', () => {
    const r = iterativeThreshold([0, 0.2, 0.4, 1]);
    expect(r.threshold).toBeCloseTo(0.6, 15);
    expect(r.steps).toBe(2);
  });
  it('stops when one side is empty (a constant input keeps its mean)', () => {
    expect(iterativeThreshold([0.3, 0.3, 0.3])).toEqual({ threshold: 0.3, steps: 0 });
  });
  it('segments a bright square on a noisy background exactly (no filtering)', () => {
    const sq: Rect = { y0: 10, y1: 30, x0: 35, x1: 50 };
    const R = levelMap(H, W, (y, x) => (inRect(sq, y, x) ? 0.9 : 0.1), 0.02, 1);
    const s = segmentSimple({ data: R, height: H, width: W });
    expectRectMask(s.mask, sq, 1, 0);
    expect(count(s.mask)).toBe(20 * 15);
    // the score is normalize01(R)
    expect(Math.min(...s.score)).toBe(0);
    expect(Math.max(...s.score)).toBe(1);
  });
});

describe('k-means (1-D, sorted)', () => {
  it('quantiles interpolate linearly as NumPy does', () => {
    expect(quantileSorted([1, 2, 3, 4], 1 / 6)).toBeCloseTo(1.5, 15);
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 5 / 6)).toBeCloseTo(3.5, 15);
    expect(quantileSorted([7], 0.3)).toBe(7);
  });
  it('finds three separated groups from the quantile start', () => {
    const xs = Float64Array.from([0, 0.1, 0.2, 5, 5.1, 5.2, 10, 10.4]);
    const r = kmeans1dSorted(xs, [1 / 6, 1 / 2, 5 / 6].map((q) => quantileSorted(xs, q)));
    expect(r.converged).toBe(true);
    expect(r.clusters.map((c) => [c.start, c.end])).toEqual([[0, 3], [3, 6], [6, 8]]);
    expect(r.clusters[2].mean).toBeCloseTo(10.2, 14);
    expect(r.clusters[2].variance).toBeCloseTo(0.04, 14);
  });
  it('a sample exactly between two centres goes to the lower cluster id; shared centres leave clusters empty', () => {
    const xs = Float64Array.from([0, 1, 2]);
    // centres 0 and 2 (ids 1 and 0): x = 1 is at equal distance and goes to id 0, the one at 2
    const r = kmeans1dSorted(xs, [2, 0], 0);
    expect(r.clusters.map((c) => [c.start, c.end])).toEqual([[1, 3], [0, 1]]);
    const same = kmeans1dSorted(Float64Array.from([0, 0, 0]), [0, 0, 0]);
    expect(same.clusters.map((c) => c.count)).toEqual([3, 0, 0]);
  });
});

describe('GMM', () => {
  // three levels: 0 (upper half), 1 (lower half) and a 4-level damage block in the lower half
  const block: Rect = { y0: 38, y1: 62, x0: 10, x1: 36 };
  const level = (y: number, x: number): number => (inRect(block, y, x) ? 4 : y >= 32 ? 1 : 0);

  it('puts the three levels into three components and segments the block (± the 2-pixel filter border)', () => {
    const R = levelMap(H, W, level, 0.05, 2);
    const s = segmentGmm({ data: R, height: H, width: W });
    expect(s.fit?.converged).toBe(true);
    const means = [...s.fit!.means].sort((a, b) => a - b);
    expect(means[0]).toBeCloseTo(0, 1);
    // the middle component also takes the filter's transition pixels between the levels
    expect(means[1]).toBeGreaterThan(0.8);
    expect(means[1]).toBeLessThan(1.2);
    expect(means[2]).toBeGreaterThan(3); // the block, with part of its border ring towards level 1
    expect(s.fit!.means[s.damage!]).toBe(means[2]);
    expectRectMask(s.mask, block, 3, 2);
    // deep inside the block the posterior is 1
    expect(s.score[50 * W + 22]).toBeGreaterThan(0.999);
    expect(s.score[10 * W + 10]).toBeLessThan(1e-4);
  });
  it('EM fit recovers a 1-D mixture', () => {
    const R = levelMap(1, 3000, (_, x) => (x < 1500 ? 0 : x < 2500 ? 3 : 8), 0.5, 3);
    const fit = fitGmm1d(Float64Array.from(R));
    const order = [0, 1, 2].sort((a, b) => fit.means[a] - fit.means[b]);
    expect(order.map((j) => fit.means[j])).toEqual([expect.closeTo(0, 1), expect.closeTo(3, 1), expect.closeTo(8, 1)]);
    expect(order.map((j) => fit.weights[j])).toEqual([expect.closeTo(0.5, 1), expect.closeTo(1 / 3, 1), expect.closeTo(1 / 6, 1)]);
    expect(order.map((j) => fit.variances[j])).toEqual([expect.closeTo(0.25, 1), expect.closeTo(0.25, 1), expect.closeTo(0.25, 1)]);
  });
});

describe('BMM', () => {
  const blob: Rect = { y0: 20, y1: 32, x0: 40, x1: 52 };
  it('method of moments inverts the Beta mean and variance', () => {
    const p = betaFromMoments(0.25, 0.0375)!; // Beta(1, 3): mean 1/4, variance 3/80
    expect(p.alpha).toBeCloseTo(1, 12);
    expect(p.beta).toBeCloseTo(3, 12);
    expect(betaFromMoments(0.5, 0)).toBeNull();
    expect(betaFromMoments(0.5, 0.3)).toBeNull(); // wider than any Beta of that mean
  });
  it('segments a bright blob on a weak positive background (± the filter border)', () => {
    const R = levelMap(H, W, (y, x) => (inRect(blob, y, x) ? 1 : 0.05), 0.03, 4);
    const s = segmentBmm({ data: R, height: H, width: W });
    expect(s.degenerate).toBeUndefined();
    expect(s.fit!.stop).toBe('converged');
    expect(s.fit!.fitSize).toBe((H * W) / 2);
    expectRectMask(s.mask, blob, 2, 2);
    expect(s.score[26 * W + 46]).toBe(1); // above the damage mean: overridden to 1
    expect(s.score[5 * W + 5]).toBe(0); // outside S: at the lower clamp, inside the background's 90%
  });
  it('ignores negative relevance (f = max(mean5(R), 0)): a negative blob is background', () => {
    const neg: Rect = { y0: 40, y1: 52, x0: 5, x1: 17 };
    const R = levelMap(H, W, (y, x) => (inRect(blob, y, x) ? 1 : inRect(neg, y, x) ? -5 : 0.05), 0.03, 5);
    const s = segmentBmm({ data: R, height: H, width: W });
    expectRectMask(s.mask, blob, 2, 2);
    for (let y = neg.y0; y < neg.y1; y++) for (let x = neg.x0; x < neg.x1; x++) expect(s.mask[y * W + x]).toBe(0);
  });
});

describe('degenerate maps', () => {
  const cases: [string, Float64Array, number, number][] = [
    ['all zero', new Float64Array(16 * 16), 16, 16],
    ['constant 3.7', new Float64Array(16 * 16).fill(3.7), 16, 16],
    ['constant negative', new Float64Array(10 * 12).fill(-2), 10, 12],
    ['1×1', Float64Array.of(5), 1, 1],
  ];
  for (const [name, data, h, w] of cases) {
    it(`${name}: every method gives an empty mask and zero scores`, () => {
      for (const m of SEGMENT_METHODS) {
        const s = segmentMap(m, { data, height: h, width: w });
        expect(count(s.mask), m).toBe(0);
        expect(s.score.every((v) => v === 0), m).toBe(true);
        expect(s.degenerate, m).toBeDefined();
      }
    });
  }

  it('a single hot pixel: Simple marks that pixel; GMM stays within its 5×5 neighbourhood; BMM (S flat) is empty', () => {
    const data = new Float64Array(32 * 32);
    data[10 * 32 + 20] = 1;
    const map = { data, height: 32, width: 32 };
    const simple = segmentSimple(map);
    expect(Array.from(simple.mask.keys()).filter((i) => simple.mask[i] === 1)).toEqual([10 * 32 + 20]);
    const gmm = segmentGmm(map);
    for (let i = 0; i < data.length; i++) {
      if (gmm.mask[i]) expect(Math.max(Math.abs(Math.floor(i / 32) - 10), Math.abs((i % 32) - 20))).toBeLessThanOrEqual(2);
    }
    const bmm = segmentBmm(map);
    expect(bmm.degenerate).toBe('flat');
    expect(count(bmm.mask)).toBe(0);
  });

  it('a hot pixel in the corner (unequal filtered values) gives a defined BMM result', () => {
    const data = new Float64Array(32 * 32);
    data[0] = 1;
    const s = segmentBmm({ data, height: 32, width: 32 });
    expect(s.mask.length).toBe(1024);
    for (let i = 0; i < 1024; i++) if (s.mask[i]) expect(Math.max(Math.floor(i / 32), i % 32)).toBeLessThanOrEqual(2);
    expect(s.score.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it('two-valued and tiny maps never throw', () => {
    const two = new Float64Array(64).map((_, i) => (i % 3 === 0 ? 1 : 0));
    for (const m of SEGMENT_METHODS) {
      for (const [data, h, w] of [[two, 8, 8], [Float64Array.of(0, 1), 1, 2], [Float64Array.of(0, 1, 2, 3), 2, 2]] as const) {
        const s = segmentMap(m, { data, height: h, width: w });
        expect(s.mask.length).toBe(h * w);
        expect(s.score.every((v) => Number.isFinite(v))).toBe(true);
      }
    }
  });

  it('NaN and ±Infinity are refused with a BAD_INPUT error that says where', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const data = new Float64Array(25);
      data[7] = bad;
      for (const m of SEGMENT_METHODS) {
        let err: unknown;
        try {
          segmentMap(m, { data, height: 5, width: 5 });
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(LrpsegError);
        expect((err as LrpsegError).code).toBe('BAD_INPUT');
        expect((err as LrpsegError).message).toMatch(/row 1, column 2/);
      }
    }
  });

  it('sizes that do not match the data, and values too large for EM, are refused', () => {
    expect(() => segmentMap('simple', { data: new Float64Array(10), height: 3, width: 3 })).toThrow(/10 values for a 3×3 map/);
    const huge = new Float64Array(25).fill(1);
    huge[3] = 1e200;
    expect(() => segmentMap('gmm', { data: huge, height: 5, width: 5 })).toThrow(/too large/);
    expect(() => segmentMap('bmm', { data: huge, height: 5, width: 5 })).toThrow(/too large/);
    expect(count(segmentMap('simple', { data: huge, height: 5, width: 5 }).mask)).toBe(1);
  });
});

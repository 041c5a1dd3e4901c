import { describe, expect, it } from 'vitest';
import { mean5, normalize01 } from '../../src/segment/filters.js';
import { sortedFloat64 } from '../../src/segment/sort.js';
import { mulberry32 } from '../../src/random.js';

describe('normalize01', () => {
  it('maps the minimum to 0 and the maximum to 1', () => {
    expect(Array.from(normalize01([2, 4, 3, 6]))).toEqual([0, 0.5, 0.25, 1]);
    expect(Array.from(normalize01([-1, 1]))).toEqual([0, 1]);
  });
  it('gives all 0 for a constant map', () => {
    expect(Array.from(normalize01([3, 3, 3]))).toEqual([0, 0, 0]);
    expect(Array.from(normalize01([0]))).toEqual([0]);
  });
});

/** The 5×5 mean by its definition: the mean over the window's pixels inside the image. */
function mean5Direct(x: ArrayLike<number>, h: number, w: number): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let c = 0; c < w; c++) {
      let s = 0;
      let n = 0;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const yy = y + dy;
          const xx = c + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
            s += x[yy * w + xx];
            n++;
          }
        }
      }
      out.push(s / n);
    }
  }
  return out;
}

describe('mean5', () => {
  it('averages over the part of the window inside the image (hand-computed 3×3)', () => {
    // every window covers the whole 3×3 image
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    expect(Array.from(mean5(x, 3, 3))).toEqual(new Array(9).fill(5));
  });
  it('a single 1 in a 7×7 map: 1/25 inside the 5×5 block around it, fewer pixels at the border', () => {
    const x = new Float64Array(49);
    x[3 * 7 + 3] = 1;
    const f = mean5(x, 7, 7);
    expect(f[3 * 7 + 3]).toBeCloseTo(1 / 25, 15);
    expect(f[2 * 7 + 2]).toBeCloseTo(1 / 25, 15);
    expect(f[1 * 7 + 1]).toBeCloseTo(1 / 16, 15); // its window is clipped to 4×4 pixels and holds the 1
    expect(f[0 * 7 + 0]).toBe(0); // (0,0) is 3 away
    expect(f[0]).toBe(0);
    const y = new Float64Array(49);
    y[0] = 1; // corner: the corner's own window has 3×3 pixels
    const g = mean5(y, 7, 7);
    expect(g[0]).toBeCloseTo(1 / 9, 15);
    expect(g[2 * 7 + 2]).toBeCloseTo(1 / 25, 15);
    expect(g[1]).toBeCloseTo(1 / 12, 15);
  });
  it('matches the direct definition on random maps of several sizes (1×1 to 9×13)', () => {
    const rnd = mulberry32(5);
    for (const [h, w] of [[1, 1], [1, 6], [2, 3], [4, 4], [5, 5], [9, 13]]) {
      const x = Float64Array.from({ length: h * w }, () => rnd() * 2 - 1);
      const f = mean5(x, h, w);
      const d = mean5Direct(x, h, w);
      for (let i = 0; i < h * w; i++) expect(f[i]).toBeCloseTo(d[i], 14);
    }
  });
});

describe('sortedFloat64', () => {
  it('sorts as TypedArray.prototype.sort does (negatives, ±0, subnormals, ties), small and large', () => {
    const rnd = mulberry32(9);
    for (const n of [0, 1, 100, 5000, 70000]) {
      const v = Float64Array.from({ length: n }, () => (rnd() - 0.4) * Math.exp(rnd() * 40 - 20));
      if (n > 10) {
        v[0] = 0;
        v[1] = -0;
        v[2] = 5e-324;
        v[3] = -5e-324;
        v[4] = v[5];
      }
      const want = v.slice().sort();
      const got = sortedFloat64(v);
      expect(got.length).toBe(n);
      for (let i = 0; i < n; i++) if (!Object.is(got[i], want[i])) throw new Error(`n=${n}: index ${i}: ${got[i]} vs ${want[i]}`);
    }
  });
  it('sorts values that share their high 32 bits (short and long runs, both signs)', () => {
    const rnd = mulberry32(11);
    // 1 + k·2^-40 all share the high word of 1.0; a few runs of 2–40 values with equal high words
    const shared = Float64Array.from({ length: 20000 }, () => (rnd() < 0.5 ? -1 : 1) * (1 + Math.floor(rnd() * 2 ** 20) * 2 ** -40));
    const runs = Float64Array.from({ length: 9000 }, (_, i) => (rnd() < 0.5 ? -1 : 1) * 2 ** ((i % 300) - 150) * (1 + Math.floor(rnd() * 4096) * 2 ** -44));
    for (const v of [shared, runs]) {
      const want = v.slice().sort();
      const got = sortedFloat64(v);
      for (let i = 0; i < v.length; i++) if (!Object.is(got[i], want[i])) throw new Error(`index ${i}: ${got[i]} vs ${want[i]}`);
    }
  });
});

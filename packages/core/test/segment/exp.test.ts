import { describe, expect, it } from 'vitest';
import { expNonPositive } from '../../src/segment/exp.js';
import { mulberry32 } from '../../src/random.js';

/** |a − b| relative to b, in units of 2^-52. */
function ulps(a: number, b: number): number {
  return Math.abs(a - b) / Math.abs(b) / Number.EPSILON;
}

describe('expNonPositive', () => {
  it('is within 3 ulp of Math.exp on [−708, 0]', () => {
    const rnd = mulberry32(3);
    let worst = 0;
    for (let i = 0; i < 400000; i++) {
      // half the arguments where GMM's E-step lives (a few units below 0), half over the normal range
      const x = i % 2 ? -rnd() * 8 : -rnd() * 708;
      worst = Math.max(worst, ulps(expNonPositive(x), Math.exp(x)));
    }
    expect(worst).toBeLessThan(3);
    for (const x of [-0, -1e-300, -1e-17, -Math.LN2 / 4096, -Math.LN2 / 2048, -Math.LN2, -1, -1.5, -37, -700, -708]) {
      expect(ulps(expNonPositive(x), Math.exp(x))).toBeLessThan(3);
    }
    expect(expNonPositive(0)).toBe(1);
  });
  it('follows Math.exp through the subnormals to 0', () => {
    for (const x of [-709, -720, -740, -745]) {
      const want = Math.exp(x);
      // a subnormal keeps fewer bits: allow 3 ulp of the value or 2 units of the smallest subnormal
      expect(Math.abs(expNonPositive(x) - want)).toBeLessThanOrEqual(Math.max(3 * Number.EPSILON * want, 2 * 5e-324));
    }
    expect(expNonPositive(-745.2)).toBe(0);
    expect(expNonPositive(-1e6)).toBe(0);
    expect(expNonPositive(-Infinity)).toBe(0);
    expect(expNonPositive(NaN)).toBeNaN();
  });
});

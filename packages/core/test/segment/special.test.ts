import { describe, expect, it } from 'vitest';
import { betaCdf, betaQuantile, logBeta, logGamma } from '../../src/segment/special.js';

describe('log Γ and log B', () => {
  it('matches known values', () => {
    expect(logGamma(1)).toBeCloseTo(0, 14);
    expect(logGamma(2)).toBeCloseTo(0, 14);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
    expect(logGamma(0.1)).toBeCloseTo(2.252712651734206, 13); // log Γ(0.1), Γ(0.1) = 9.51350769866873
    expect(logGamma(171.5)).toBeCloseTo(709.1431630309283, 9); // scipy.special.gammaln
    expect(logBeta(2, 3)).toBeCloseTo(Math.log(1 / 12), 14);
    expect(logBeta(0.5, 0.5)).toBeCloseTo(Math.log(Math.PI), 14);
  });
});

describe('Beta CDF and quantile', () => {
  it('closed forms: Beta(1,1) is uniform, Beta(2,1) is x², Beta(1,3) is 1 − (1 − x)³', () => {
    for (const x of [0.01, 0.3, 0.5, 0.77, 0.99]) {
      expect(betaCdf(x, 1, 1)).toBeCloseTo(x, 14);
      expect(betaCdf(x, 2, 1)).toBeCloseTo(x * x, 14);
      expect(betaCdf(x, 1, 3)).toBeCloseTo(1 - (1 - x) ** 3, 14);
    }
    expect(betaCdf(0.5, 2, 3)).toBeCloseTo(11 / 16, 14);
    expect(betaCdf(0, 2, 3)).toBe(0);
    expect(betaCdf(1, 2, 3)).toBe(1);
  });
  it('large parameters stay accurate (Beta(200, 300) is nearly normal around 0.4)', () => {
    // mean 0.4, sd = sqrt(0.4·0.6/501) ≈ 0.021887: CDF at the mean ≈ 0.5 (skew is tiny)
    expect(betaCdf(0.4, 200, 300)).toBeGreaterThan(0.49);
    expect(betaCdf(0.4, 200, 300)).toBeLessThan(0.52);
    expect(betaCdf(0.4 + 3 * 0.021887, 200, 300)).toBeGreaterThan(0.997);
  });
  it('the quantile is the edge of the CDF test: CDF below p just under it, at least p at it', () => {
    expect(betaQuantile(0.9, 2, 1)).toBeCloseTo(Math.sqrt(0.9), 14);
    expect(betaQuantile(0.9, 1, 1)).toBeCloseTo(0.9, 14);
    for (const [a, b] of [[1.4, 6.3], [0.3, 0.7], [13, 8], [50, 400]]) {
      const q = betaQuantile(0.9, a, b);
      expect(betaCdf(q, a, b)).toBeGreaterThanOrEqual(0.9);
      expect(betaCdf(q * (1 - 1e-12), a, b)).toBeLessThan(0.9);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/random.js';
import { balancedAccuracyInterval, bootstrapInterval, pairedBalancedAccuracyDifference, pairedIoUDifference, pooledIoUInterval } from '../../src/metrics/bootstrap.js';

describe('bootstrap intervals', () => {
  it('the mean of n fair coin flips: an interval around the sample mean about 2·1.96·sqrt(p(1-p)/n) wide', () => {
    const r = mulberry32(3);
    const n = 400;
    const x = Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
    const mean = x.reduce((a, b) => a + b, 0) / n;
    const all = x.map((_, i) => i);
    const ci = bootstrapInterval(n, [all], (w) => x.reduce((s, v, i) => s + w[i] * v, 0) / n, { seed: 1 })!;
    expect(ci[0]).toBeLessThan(mean);
    expect(ci[1]).toBeGreaterThan(mean);
    const normalWidth = 2 * 1.96 * Math.sqrt((mean * (1 - mean)) / n);
    expect((ci[1] - ci[0]) / normalWidth).toBeGreaterThan(0.85);
    expect((ci[1] - ci[0]) / normalWidth).toBeLessThan(1.15);
    // seeded: the same interval again, another with another seed
    expect(bootstrapInterval(n, [all], (w) => x.reduce((s, v, i) => s + w[i] * v, 0) / n, { seed: 1 })).toEqual(ci);
    expect(bootstrapInterval(n, [all], (w) => x.reduce((s, v, i) => s + w[i] * v, 0) / n, { seed: 2 })).not.toEqual(ci);
  });

  it('strata are resampled separately: each resample draws as many units from each as it has', () => {
    const strata = [[0, 1, 2], [3, 4, 5, 6, 7]];
    bootstrapInterval(8, strata, (w) => {
      expect(w[0] + w[1] + w[2]).toBe(3);
      expect(w[3] + w[4] + w[5] + w[6] + w[7]).toBe(5);
      return 0;
    }, { resamples: 50 });
  });

  it('balanced accuracy: a perfect classifier has [1, 1]; otherwise the interval holds the figure; too few positives give null', () => {
    const perfect = [{ tp: 3, fn: 0, tn: 0, fp: 0 }, { tp: 0, fn: 0, tn: 3, fp: 0 }, { tp: 0, fn: 0, tn: 3, fp: 0 }];
    expect(balancedAccuracyInterval(perfect)).toEqual([1, 1]);
    const r = mulberry32(7);
    const units = Array.from({ length: 200 }, (_, i) => {
      const pos = i < 40;
      const right = r() < (pos ? 0.75 : 0.97);
      return pos ? { tp: right ? 3 : 0, fn: right ? 0 : 3, tn: 0, fp: 0 } : { tp: 0, fn: 0, tn: right ? 3 : 0, fp: right ? 0 : 3 };
    });
    const sum = (k: 'tp' | 'fn' | 'tn' | 'fp') => units.reduce((s, u) => s + u[k], 0);
    const ba = (sum('tp') / (sum('tp') + sum('fn')) + sum('tn') / (sum('tn') + sum('fp'))) / 2;
    const ci = balancedAccuracyInterval(units)!;
    expect(ci[0]).toBeLessThan(ba);
    expect(ci[1]).toBeGreaterThan(ba);
    expect(ci[1] - ci[0]).toBeGreaterThan(0.05);
    expect(balancedAccuracyInterval([{ tp: 0, fn: 0, tn: 3, fp: 0 }])).toBeNull();
  });

  it('pooled IoU: weighted by the units drawn, so one huge image dominates its resamples', () => {
    const units = [{ tp: 90, fp: 5, fn: 5 }, { tp: 1, fp: 9, fn: 0 }, { tp: 1, fp: 0, fn: 9 }];
    const ci = pooledIoUInterval(units, { resamples: 4000 })!;
    // the extremes: the big image alone (0.9) and the two small ones without it (0.1)
    expect(ci[0]).toBeGreaterThanOrEqual(0.1 - 1e-12);
    expect(ci[1]).toBeLessThanOrEqual(0.9 + 1e-12);
    expect(ci[0]).toBeLessThan(92 / 120);
    expect(ci[1]).toBeGreaterThan(92 / 120);
    expect(() => bootstrapInterval(2, [[0, 2]], () => 0)).toThrow(/unit 2 of 2/);
  });

  it('paired differences: identical models give exactly [0, 0]; a model better on every unit has an interval above 0, narrower than the unpaired ones', () => {
    const r = mulberry32(11);
    const a = new Map<string, { tp: number; fp: number; fn: number }>();
    const b = new Map<string, { tp: number; fp: number; fn: number }>();
    for (let i = 0; i < 30; i++) {
      // images of very different difficulty; B finds a few more pixels of each than A
      const size = 50 + Math.floor(r() * 500);
      const hit = Math.floor(size * r());
      a.set(`u${i}`, { tp: hit, fp: 20, fn: size - hit });
      const more = Math.min(size - hit, 10);
      b.set(`u${i}`, { tp: hit + more, fp: 20, fn: size - hit - more });
    }
    expect(pairedIoUDifference(a, a)).toEqual({ difference: 0, ci95: [0, 0] });
    const d = pairedIoUDifference(a, b);
    const pooled = (m: typeof a) => { let tp = 0, all = 0; for (const c of m.values()) { tp += c.tp; all += c.tp + c.fp + c.fn; } return tp / all; };
    expect(d.difference).toBeCloseTo(pooled(b) - pooled(a), 12);
    expect(d.ci95![0]).toBeGreaterThan(0);
    const ia = pooledIoUInterval([...a.values()])!, ib = pooledIoUInterval([...b.values()])!;
    // unpaired, the two intervals overlap: the difference could not be seen that way
    expect(ia[1]).toBeGreaterThan(ib[0]);
    expect(d.ci95![1] - d.ci95![0]).toBeLessThan((ib[1] - ib[0]) / 3);
    // a unit only one side has counts as zero on the other
    const c = new Map(b);
    c.set('extra', { tp: 5, fp: 0, fn: 0 });
    expect(pairedIoUDifference(a, c).difference).toBeGreaterThan(d.difference);
  });

  it('paired balanced accuracy: B fixes two missed defects of A', () => {
    const a = new Map<string, { tp: number; fn: number; tn: number; fp: number }>();
    for (let i = 0; i < 20; i++) a.set(`p${i}`, i < 5 ? { tp: 0, fn: 3, tn: 0, fp: 0 } : { tp: 3, fn: 0, tn: 0, fp: 0 });
    for (let i = 0; i < 40; i++) a.set(`n${i}`, { tp: 0, fn: 0, tn: 3, fp: 0 });
    const b = new Map(a);
    b.set('p0', { tp: 3, fn: 0, tn: 0, fp: 0 });
    b.set('p1', { tp: 3, fn: 0, tn: 0, fp: 0 });
    const d = pairedBalancedAccuracyDifference(a, b);
    expect(d.difference).toBeCloseTo(2 / 20 / 2, 12);
    expect(d.ci95![0]).toBeGreaterThanOrEqual(0);
    expect(d.ci95![1]).toBeGreaterThan(d.difference);
    expect(pairedBalancedAccuracyDifference(a, a).ci95).toEqual([0, 0]);
  });
});

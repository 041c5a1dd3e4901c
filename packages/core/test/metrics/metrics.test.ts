import { describe, expect, it } from 'vitest';
import {
  PooledScores,
  averagePrecision,
  classificationScores,
  countPixels,
  damageFromMask8,
  noSkillPrecision,
  precisionRecallCurve,
  prPoints,
  segmentationScores,
} from '../../src/metrics/index.js';

describe('pixel metrics', () => {
  it('ground truth: mask values ≥ 128 are damage', () => {
    expect(Array.from(damageFromMask8([0, 127, 128, 255, 200]))).toEqual([0, 0, 1, 1, 1]);
  });
  it('counts TP, FP, FN, TN', () => {
    expect(countPixels([1, 1, 0, 0, 1], [1, 0, 1, 0, 1])).toEqual({ tp: 2, fp: 1, fn: 1, tn: 1 });
    expect(() => countPixels([1], [1, 0])).toThrow(/1 predicted pixels but 2/);
  });
  it('pools the counts over images before dividing, and averages per-image IoU separately', () => {
    // image A: tp 2, fp 1, fn 1 → IoU 2/4; image B: tp 0, fp 0, fn 3 → IoU 0; image C: both empty → undefined
    const a = countPixels([1, 1, 1, 0, 0], [1, 1, 0, 1, 0]);
    const b = countPixels([0, 0, 0, 0], [1, 1, 1, 0]);
    const c = countPixels([0, 0], [0, 0]);
    const s = segmentationScores([a, b, c]);
    expect(s.pooled).toEqual({ tp: 2, fp: 1, fn: 4, tn: 4 });
    expect(s.iou).toBeCloseTo(2 / 7, 15);
    expect(s.precision).toBeCloseTo(2 / 3, 15);
    expect(s.recall).toBeCloseTo(2 / 6, 15);
    expect(s.meanImageIoU).toBeCloseTo((0.5 + 0) / 2, 15);
    expect(s.meanImageIoUCount).toBe(2);
    expect(s.images).toBe(3);
  });
  it('undefined ratios are NaN: nothing predicted, nothing to find', () => {
    const s = segmentationScores([countPixels([0, 0], [0, 0])]);
    expect(s.iou).toBeNaN();
    expect(s.precision).toBeNaN();
    expect(s.recall).toBeNaN();
    expect(s.meanImageIoU).toBeNaN();
    const onlyFn = segmentationScores([countPixels([0, 0], [1, 0])]);
    expect(onlyFn.precision).toBeNaN();
    expect(onlyFn.recall).toBe(0);
    expect(onlyFn.iou).toBe(0);
  });
});

describe('precision-recall curve and average precision (scikit-learn definitions)', () => {
  it("scikit-learn's documented example", () => {
    // precision_recall_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    const c = precisionRecallCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]);
    expect(Array.from(c.thresholds)).toEqual([0.1, 0.35, 0.4, 0.8]);
    expect(Array.from(c.precision)).toEqual([0.5, 2 / 3, 0.5, 1, 1]);
    expect(Array.from(c.recall)).toEqual([1, 1, 0.5, 0.5, 0]);
    // average_precision_score = 0.8333…: 0.5·1 + 0.5·(2/3)
    expect(averagePrecision(c)).toBeCloseTo(5 / 6, 15);
    expect(noSkillPrecision(c)).toBe(0.5);
  });
  it('tied scores form one threshold', () => {
    // three pixels at 0.5 (two damage), one at 0.1: thresholds 0.1 and 0.5
    const c = precisionRecallCurve([0.5, 0.5, 0.5, 0.1], [1, 0, 1, 0]);
    expect(Array.from(c.thresholds)).toEqual([0.1, 0.5]);
    expect(Array.from(c.precision)).toEqual([0.5, 2 / 3, 1]);
    expect(Array.from(c.recall)).toEqual([1, 1, 0]);
    expect(averagePrecision(c)).toBeCloseTo(2 / 3, 15);
    // all scores tied: one threshold, AP = the damage fraction
    const flat = precisionRecallCurve([0, 0, 0, 0, 0], [1, 0, 0, 0, 0]);
    expect(flat.thresholds.length).toBe(1);
    expect(averagePrecision(flat)).toBeCloseTo(0.2, 15);
  });
  it('hand-computed AP with ties straddling labels', () => {
    // scores: 0.9(1) 0.8(0) 0.8(1) 0.7(1) 0.3(0) 0.3(0)
    // thresholds high→low: 0.9: tp1 fp0 P=1 R=1/3; 0.8: tp2 fp1 P=2/3 R=2/3; 0.7: tp3 fp1 P=3/4 R=1; 0.3: P=1/2 R=1
    // AP = 1/3·1 + 1/3·2/3 + 1/3·3/4 + 0·1/2 = 29/36
    const c = precisionRecallCurve([0.3, 0.8, 0.9, 0.7, 0.3, 0.8], [0, 1, 1, 1, 0, 0]);
    expect(averagePrecision(c)).toBeCloseTo(29 / 36, 15);
  });
  it('a perfect ranking gives AP 1; no damage pixel gives recall 1 and AP 0 (as scikit-learn)', () => {
    expect(averagePrecision(precisionRecallCurve([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]))).toBe(1);
    const none = precisionRecallCurve([0.9, 0.1], [0, 0]);
    expect(Array.from(none.recall)).toEqual([1, 1, 0]);
    expect(averagePrecision(none)).toBe(0);
    expect(noSkillPrecision(none)).toBe(0);
  });
  it('pooling over images equals one curve over the concatenated pixels; empty masks are fine', () => {
    const pooled = new PooledScores();
    pooled.add([0.2, 0.9, 0.4], [0, 1, 0]);
    pooled.add([0, 0, 0], [0, 0, 0]); // an empty prediction on an image without damage
    pooled.add([0.4, 0.6], [1, 1]);
    const one = precisionRecallCurve([0.2, 0.9, 0.4, 0, 0, 0, 0.4, 0.6], [0, 1, 0, 0, 0, 0, 1, 1]);
    const c = pooled.curve();
    expect(Array.from(c.precision)).toEqual(Array.from(one.precision));
    expect(Array.from(c.recall)).toEqual(Array.from(one.recall));
    expect(c.positives).toBe(3);
    expect(c.total).toBe(8);
    expect(noSkillPrecision(c)).toBe(3 / 8);
  });
  it('refuses non-finite scores', () => {
    expect(() => precisionRecallCurve([0.1, NaN], [0, 1])).toThrow(/not finite/);
  });
  it('thinned points keep both ends and every large step', () => {
    const n = 10000;
    const scores = Array.from({ length: n }, (_, i) => i / n);
    const labels = scores.map((s, i) => (i % 3 === 0 || s > 0.9 ? 1 : 0));
    const c = precisionRecallCurve(scores, labels);
    const pts = prPoints(c, 0.01);
    expect(pts.length).toBeLessThan(300);
    expect(pts[0].threshold).toBe(c.thresholds[c.thresholds.length - 1]);
    expect(pts[pts.length - 1].recall).toBe(1);
    for (let i = 1; i < pts.length; i++) expect(pts[i].recall).toBeGreaterThanOrEqual(pts[i - 1].recall);
  });
});

describe('classification', () => {
  it('TPR, TNR and balanced accuracy by hand', () => {
    // actual: 4 defective (3 found), 6 defect-free (1 false alarm)
    const actual = [true, true, true, true, false, false, false, false, false, false];
    const predicted = [true, true, false, true, false, true, false, false, false, false];
    const s = classificationScores(predicted, actual);
    expect(s).toMatchObject({ tp: 3, fn: 1, tn: 5, fp: 1 });
    expect(s.tpr).toBe(0.75);
    expect(s.tnr).toBeCloseTo(5 / 6, 15);
    expect(s.balancedAccuracy).toBeCloseTo((0.75 + 5 / 6) / 2, 15);
    expect(classificationScores([true], [true]).tnr).toBeNaN();
  });
});

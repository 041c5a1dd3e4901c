/**
 * Segmentation scores split by defect class and by damage area: where the masks fail. The pooled IoU
 * of a whole test set hides whether small defects get masks that are too large (low precision) or
 * large ones masks that cover only a part (low recall); these strata show it.
 */

import { pixelIoU, pixelPrecision, pixelRecall } from '@lrpseg/core';

/** What a scored view is, for stratifying: its manifest class (where named) and its damage area. */
export interface ViewStratumInfo {
  readonly class?: string;
  /** Damage pixels of the view's ground truth at the size it was scored. */
  readonly damagePixels: number;
}

/** Summed pixel counts and the scores they give (rounded to 6 digits; NaN where undefined). */
export interface PooledPixelScores {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly iou: number;
  readonly precision: number;
  readonly recall: number;
}

/** Pooled scores of the views in one stratum. */
export interface StratumScores extends PooledPixelScores {
  readonly name: string;
  readonly views: number;
  readonly damage_pixels: number;
}

/** Damage-area bins: [0, lower), [lower, upper), [upper, ∞) pixels. */
export interface AreaCuts {
  readonly lower: number;
  readonly upper: number;
}

export interface Strata {
  readonly by_class: readonly StratumScores[];
  readonly by_area: readonly StratumScores[];
}

/**
 * Cut points that split the areas into thirds (as scripts/missed-defects.mjs does): the areas at
 * positions ⌊n/3⌋ and ⌊2n/3⌋ of the sorted list. Null for fewer than three views, where thirds say nothing.
 */
export function areaTerciles(areas: readonly number[]): AreaCuts | null {
  if (areas.length < 3) return null;
  const sorted = [...areas].sort((a, b) => a - b);
  return { lower: sorted[Math.floor(sorted.length / 3)], upper: sorted[Math.floor((2 * sorted.length) / 3)] };
}

/** The bin names of `cuts`, lowest first. */
export function areaBinNames(cuts: AreaCuts): [string, string, string] {
  return [`< ${cuts.lower} px`, `${cuts.lower}–${Math.max(cuts.lower, cuts.upper - 1)} px`, `≥ ${cuts.upper} px`];
}

const r6 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x);

export function pooledPixelScores(tp: number, fp: number, fn: number): PooledPixelScores {
  const c = { tp, fp, fn, tn: 0 };
  return { tp, fp, fn, iou: r6(pixelIoU(c)), precision: r6(pixelPrecision(c)), recall: r6(pixelRecall(c)) };
}

/**
 * Pools each stratum's [TP, FP, FN] over its views. Views missing from `info` are counted in no
 * stratum; views without a class in no class stratum. Classes in order of first appearance in `counts`;
 * `cuts` null gives no area strata.
 */
export function stratify(
  counts: Readonly<Record<string, readonly [number, number, number]>>,
  info: ReadonlyMap<string, ViewStratumInfo>,
  cuts: AreaCuts | null,
): Strata {
  type Acc = { views: number; damage: number; tp: number; fp: number; fn: number };
  const add = (m: Map<string, Acc>, key: string, d: number, [tp, fp, fn]: readonly [number, number, number]): void => {
    const a = m.get(key) ?? { views: 0, damage: 0, tp: 0, fp: 0, fn: 0 };
    a.views++;
    a.damage += d;
    a.tp += tp;
    a.fp += fp;
    a.fn += fn;
    m.set(key, a);
  };
  const byClass = new Map<string, Acc>();
  const bins = cuts ? areaBinNames(cuts) : null;
  const byArea = new Map<string, Acc>(bins ? bins.map((b) => [b, { views: 0, damage: 0, tp: 0, fp: 0, fn: 0 }]) : []);
  for (const [key, c] of Object.entries(counts)) {
    const v = info.get(key);
    if (!v) continue;
    if (v.class !== undefined) add(byClass, v.class, v.damagePixels, c);
    if (cuts && bins) add(byArea, bins[v.damagePixels < cuts.lower ? 0 : v.damagePixels < cuts.upper ? 1 : 2], v.damagePixels, c);
  }
  const out = (m: Map<string, Acc>): StratumScores[] => [...m].map(([n, a]) => ({ name: n, views: a.views, damage_pixels: a.damage, ...pooledPixelScores(a.tp, a.fp, a.fn) }));
  return { by_class: out(byClass), by_area: out(byArea) };
}

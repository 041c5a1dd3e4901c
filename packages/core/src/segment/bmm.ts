/**
 * BMM: two Beta components fitted by an EM with the paper's overrides (SEGMENTATION.md, section 3.3.2).
 *
 * The fit set S is kept sorted, which turns both overrides into index ranges: a Beta CDF is increasing,
 * so "CDF_background(x) < 0.9" is "x below the background's 0.9 quantile", and "x above the damage mean"
 * is a suffix. Only the pixels between the two edges need a posterior, and the M-step sums over the
 * ranges come from prefix sums.
 */
import { mean5 } from './filters.js';
import { MAX_ABS_RELEVANCE, checkRelevanceMap, isConstantMap, type RelevanceMap } from './map.js';
import { sortedFloat64 } from './sort.js';
import { iterativeThreshold } from './simple.js';
import { betaCdf, betaQuantile, logBeta } from './special.js';

export const BMM_CLAMP = 1e-4;
export const BMM_TOLERANCE = 1e-6;
export const BMM_MAX_ITERATIONS = 200;
/** The background override covers the lower 90% of the background Beta. */
export const BMM_BACKGROUND_QUANTILE = 0.9;

export interface BetaParams {
  readonly alpha: number;
  readonly beta: number;
}

export interface BmmFit {
  /** null when not even the initial assignment could be fitted (then it is the result: score 1 above the initial threshold). */
  readonly damage: BetaParams | null;
  readonly background: BetaParams | null;
  /** Mixing weights (damage, background) of the final E-step. */
  readonly weights: readonly [number, number];
  readonly iterations: number;
  /** converged: no parameter moved by more than 1e-6; max-iterations: 200 reached; degenerate: a component could not be estimated (no responsibility, or zero variance) and the last valid parameters were kept. */
  readonly stop: 'converged' | 'max-iterations' | 'degenerate';
  /** The Simple threshold on S that started the fit. */
  readonly initialThreshold: number;
  /** Size of the fit set S. */
  readonly fitSize: number;
  /** The normalisation of f: x = (f − min_S) / (max_S − min_S). */
  readonly minS: number;
  readonly maxS: number;
}

export interface BmmSegmentation {
  readonly method: 'bmm';
  /** 1 where the damage posterior (with the overrides) exceeds 0.5. */
  readonly mask: Uint8Array;
  readonly score: Float32Array;
  /** Absent for a degenerate map. */
  readonly fit?: BmmFit;
  /**
   * 'no-fit-set': no pixel lies above the median (e.g. a constant map); 'flat': every pixel of S has the
   * same value, so S cannot be normalised. Both give an empty mask and zero scores.
   */
  readonly degenerate?: 'no-fit-set' | 'flat';
}

/** Method of moments for a Beta from a weighted mean and variance; null if they describe no Beta. */
export function betaFromMoments(mean: number, variance: number): BetaParams | null {
  if (!(variance > 0) || !(mean > 0 && mean < 1)) return null;
  const common = (mean * (1 - mean)) / variance - 1;
  if (!(common > 0) || !Number.isFinite(common)) return null;
  return { alpha: mean * common, beta: (1 - mean) * common };
}

/** First index in ascending xs whose value is ≥ v (strict = false) or > v (strict = true). */
function lowerBound(xs: Float64Array, v: number, strict: boolean): number {
  let a = 0;
  let b = xs.length;
  while (a < b) {
    const m = (a + b) >>> 1;
    if (strict ? xs[m] > v : xs[m] >= v) b = m;
    else a = m + 1;
  }
  return a;
}

interface Model {
  readonly damage: BetaParams;
  readonly background: BetaParams;
  /** log-weights (damage, background) of the E-step that uses this model. */
  readonly logWD: number;
  readonly logWB: number;
}

/** The rule of one E-step, for any x: the override edges and the posterior's log-odds coefficients. */
interface EStepRule {
  /** x < q: background override (r_damage = 0). */
  readonly q: number;
  /** x > damageMean: damage override (r_damage = 1), unless the background override applies. */
  readonly damageMean: number;
  readonly k0: number;
  readonly kx: number;
  readonly k1x: number;
}

/** The E-step's rule; `q` is computed only when asked (the EM loop needs just its position in S). */
function eStepRule(m: Model, withQuantile: boolean): EStepRule {
  const { damage: d, background: b } = m;
  return {
    q: withQuantile ? betaQuantile(BMM_BACKGROUND_QUANTILE, b.alpha, b.beta) : NaN,
    damageMean: d.alpha / (d.alpha + d.beta),
    // log-odds of damage: log π_d + log Beta(x; d) − log π_b − log Beta(x; b)
    k0: m.logWD - m.logWB - logBeta(d.alpha, d.beta) + logBeta(b.alpha, b.beta),
    kx: d.alpha - b.alpha,
    k1x: d.beta - b.beta,
  };
}

/** Damage posterior at one x under a rule (the overrides included; the background one wins a conflict). */
function damagePosterior(rule: EStepRule, x: number, lx: number, l1x: number): number {
  if (x < rule.q) return 0;
  if (x > rule.damageMean) return 1;
  return 1 / (1 + Math.exp(-(rule.k0 + rule.kx * lx + rule.k1x * l1x)));
}

export function segmentBmm(map: RelevanceMap): BmmSegmentation {
  checkRelevanceMap(map, 'segment bmm', MAX_ABS_RELEVANCE);
  const n = map.height * map.width;
  const empty = (degenerate: 'no-fit-set' | 'flat'): BmmSegmentation => ({ method: 'bmm', mask: new Uint8Array(n), score: new Float32Array(n), degenerate });
  // (a constant R is tested itself: its filtered values can differ in the last bit)
  if (isConstantMap(map.data)) return empty('no-fit-set');
  const f = mean5(map.data, map.height, map.width);
  for (let i = 0; i < n; i++) if (f[i] < 0) f[i] = 0;
  const sorted = sortedFloat64(f);
  const half = n >> 1;
  const median = n % 2 === 1 ? sorted[half] : 0.5 * (sorted[half - 1] + sorted[half]);
  const first = lowerBound(sorted, median, true);
  if (first >= n) return empty('no-fit-set');
  const minS = sorted[first];
  const maxS = sorted[n - 1];
  if (!(maxS > minS)) return empty('flat');

  const range = maxS - minS;
  const toX = (v: number): number => {
    const x = (v - minS) / range;
    return x < BMM_CLAMP ? BMM_CLAMP : x > 1 - BMM_CLAMP ? 1 - BMM_CLAMP : x;
  };
  // S, ascending, with its logs and prefix sums of x and x²
  const size = n - first;
  const xs = new Float64Array(size);
  const lx = new Float64Array(size);
  const l1x = new Float64Array(size);
  const p1 = new Float64Array(size + 1);
  const p2 = new Float64Array(size + 1);
  for (let i = 0; i < size; i++) {
    const x = toX(sorted[first + i]);
    xs[i] = x;
    lx[i] = Math.log(x);
    l1x[i] = Math.log1p(-x);
    p1[i + 1] = p1[i] + x;
    p2[i + 1] = p2[i] + x * x;
  }

  // Responsibilities of damage on S: 0 on [0, lo), r[i] on [lo, hi), 1 on [hi, size).
  const r = new Float64Array(size);
  const initialThreshold = iterativeThreshold(xs).threshold;
  let lo = lowerBound(xs, initialThreshold, true);
  let hi = lo;

  /** M-step: both Betas by the method of moments on their own responsibility-weighted moments. */
  const mStep = (): { damage: BetaParams; background: BetaParams; nD: number } | null => {
    let nD = size - hi;
    let s1 = p1[size] - p1[hi];
    let s2 = p2[size] - p2[hi];
    for (let i = lo; i < hi; i++) {
      const ri = r[i];
      const x = xs[i];
      nD += ri;
      s1 += ri * x;
      s2 += ri * x * x;
    }
    const nB = size - nD;
    if (!(nD > 0) || !(nB > 0)) return null;
    const mD = s1 / nD;
    const mB = (p1[size] - s1) / nB;
    const damage = betaFromMoments(mD, s2 / nD - mD * mD);
    const background = betaFromMoments(mB, (p2[size] - s2) / nB - mB * mB);
    return damage && background ? { damage, background, nD } : null;
  };

  let model: Model | null = null;
  let iterations = 0;
  let stop: BmmFit['stop'] = 'max-iterations';
  while (iterations < BMM_MAX_ITERATIONS) {
    const est = mStep();
    if (est === null) {
      stop = 'degenerate';
      break;
    }
    const wD = est.nD / size;
    const next: Model = { damage: est.damage, background: est.background, logWD: Math.log(wD), logWB: Math.log(1 - wD) };
    iterations++;
    const converged =
      model !== null &&
      Math.abs(next.damage.alpha - model.damage.alpha) <= BMM_TOLERANCE &&
      Math.abs(next.damage.beta - model.damage.beta) <= BMM_TOLERANCE &&
      Math.abs(next.background.alpha - model.background.alpha) <= BMM_TOLERANCE &&
      Math.abs(next.background.beta - model.background.beta) <= BMM_TOLERANCE &&
      Math.abs(Math.exp(next.logWD) - Math.exp(model.logWD)) <= BMM_TOLERANCE;
    model = next;
    if (converged) {
      stop = 'converged';
      break;
    }
    // E-step on S. The background override covers the pixels with CDF_b(x) < 0.9: a prefix of the
    // sorted S, found by binary search over S itself (~15 CDF evaluations instead of a quantile search).
    const rule = eStepRule(model, false);
    const { alpha: ab, beta: bb } = model.background;
    let a = 0;
    let b = size;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (betaCdf(xs[m], ab, bb) < BMM_BACKGROUND_QUANTILE) a = m + 1;
      else b = m;
    }
    lo = a;
    hi = Math.max(lo, lowerBound(xs, rule.damageMean, true));
    for (let i = lo; i < hi; i++) r[i] = 1 / (1 + Math.exp(-(rule.k0 + rule.kx * lx[i] + rule.k1x * l1x[i])));
  }

  const mask = new Uint8Array(n);
  const score = new Float32Array(n);
  if (model === null) {
    // Not even the initial assignment could be fitted: it is the result.
    const t = initialThreshold;
    for (let i = 0; i < n; i++) {
      if (f[i] >= minS && toX(f[i]) > t) {
        mask[i] = 1;
        score[i] = 1;
      }
    }
  } else {
    const rule = eStepRule(model, true);
    for (let i = 0; i < n; i++) {
      const x = toX(f[i]);
      const p = damagePosterior(rule, x, Math.log(x), Math.log1p(-x));
      score[i] = p;
      if (p > 0.5) mask[i] = 1;
    }
  }
  const initialWD = (size - lowerBound(xs, initialThreshold, true)) / size;
  const fit: BmmFit = {
    damage: model?.damage ?? null,
    background: model?.background ?? null,
    weights: model ? [Math.exp(model.logWD), Math.exp(model.logWB)] : [initialWD, 1 - initialWD],
    iterations,
    stop,
    initialThreshold,
    fitSize: size,
    minS,
    maxS,
  };
  return { method: 'bmm', mask, score, fit };
}

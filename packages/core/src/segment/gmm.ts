/**
 * GMM: a 3-component 1-D Gaussian mixture on the 5×5-mean-filtered map, initialised by k-means and
 * fitted by EM the way scikit-learn's GaussianMixture does it (SEGMENTATION.md).
 */
import { expNonPositive } from './exp.js';
import { mean5 } from './filters.js';
import { kmeans1dSorted, quantileSorted } from './kmeans1d.js';
import { sortedFloat64 } from './sort.js';
import { MAX_ABS_RELEVANCE, checkRelevanceMap, isConstantMap, type RelevanceMap } from './map.js';

export const GMM_COMPONENTS = 3;
/** Added to every variance (scikit-learn's reg_covar default). */
export const GMM_REG_COVAR = 1e-6;
/** EM stops when the mean log-likelihood changes by less than this (scikit-learn's tol default). */
export const GMM_TOLERANCE = 1e-3;
export const GMM_MAX_ROUNDS = 100;
export const KMEANS_MAX_ROUNDS = 300;
/** scikit-learn adds 10·eps to every component's responsibility sum, so an empty component stays defined. */
const NK_EPS = 10 * Number.EPSILON;
const LOG_2PI = Math.log(2 * Math.PI);

export interface Gmm1d {
  readonly weights: readonly number[];
  readonly means: readonly number[];
  readonly variances: readonly number[];
}

export interface GmmFit extends Gmm1d {
  /** EM rounds (E-step + M-step) run. */
  readonly rounds: number;
  readonly converged: boolean;
  /** Mean log-likelihood of the samples under the parameters before the last M-step (scikit-learn's lower bound). */
  readonly meanLogLikelihood: number;
  readonly kmeansRounds: number;
  readonly kmeansConverged: boolean;
}

/** The EM state: per-component log(weight) − ½·log(2π·variance), 0.5 / variance, mean. */
interface Compiled {
  readonly c: Float64Array;
  readonly h: Float64Array;
  readonly m: Float64Array;
}

function compile(g: Gmm1d): Compiled {
  const k = g.means.length;
  const c = new Float64Array(k);
  const h = new Float64Array(k);
  const m = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    c[j] = Math.log(g.weights[j]) - 0.5 * (LOG_2PI + Math.log(g.variances[j]));
    h[j] = 0.5 / g.variances[j];
    m[j] = g.means[j];
  }
  return { c, h, m };
}

/**
 * One E-step over x fused with the sums of the next M-step, written into `sums` (n, Σ r·(x − m_old),
 * Σ r·(x − m_old)² per component). Returns the mean log-likelihood. Specialised for 3 components (the
 * only count SEGMENTATION.md uses), in log space. Results go out through a Float64Array, not an array
 * literal: a literal whose elements are sometimes all integers (an empty component sums to 0) changes its
 * elements kind, and V8 then deoptimises this loop's function on every call.
 */
function eStepSums(x: Float64Array, p: Compiled, sums: Float64Array): number {
  const c0 = p.c[0], c1 = p.c[1], c2 = p.c[2];
  const h0 = p.h[0], h1 = p.h[1], h2 = p.h[2];
  const m0 = p.m[0], m1 = p.m[1], m2 = p.m[2];
  let ll = 0;
  let n0 = 0, n1 = 0, n2 = 0;
  let s0 = 0, s1 = 0, s2 = 0; // Σ r·(x − m_old)
  let q0 = 0, q1 = 0, q2 = 0; // Σ r·(x − m_old)²
  const n = x.length;
  // log Σ e is accumulated as a product of the sums (each in [1, 3]) with one log per 256 samples
  let prod = 1;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const d0 = v - m0, d1 = v - m1, d2 = v - m2;
    const l0 = c0 - d0 * d0 * h0;
    const l1 = c1 - d1 * d1 * h1;
    const l2 = c2 - d2 * d2 * h2;
    let e0 = 1, e1 = 1, e2 = 1, mx: number;
    if (l0 >= l1 && l0 >= l2) {
      mx = l0;
      e1 = expNonPositive(l1 - mx);
      e2 = expNonPositive(l2 - mx);
    } else if (l1 >= l2) {
      mx = l1;
      e0 = expNonPositive(l0 - mx);
      e2 = expNonPositive(l2 - mx);
    } else {
      mx = l2;
      e0 = expNonPositive(l0 - mx);
      e1 = expNonPositive(l1 - mx);
    }
    const s = e0 + e1 + e2;
    ll += mx;
    prod *= s;
    if ((i & 255) === 255) {
      ll += Math.log(prod);
      prod = 1;
    }
    const inv = 1 / s;
    const r0 = e0 * inv, r1 = e1 * inv, r2 = e2 * inv;
    n0 += r0; n1 += r1; n2 += r2;
    const a0 = r0 * d0, a1 = r1 * d1, a2 = r2 * d2;
    s0 += a0; s1 += a1; s2 += a2;
    q0 += a0 * d0; q1 += a1 * d1; q2 += a2 * d2;
  }
  ll += Math.log(prod);
  sums[0] = n0; sums[1] = n1; sums[2] = n2;
  sums[3] = s0; sums[4] = s1; sums[5] = s2;
  sums[6] = q0; sums[7] = q1; sums[8] = q2;
  return ll / n;
}

/** The M-step from eStepSums' sums (taken around the previous means p.m). */
function mStep(sums: Float64Array, p: Compiled): Gmm1d {
  const nk = [sums[0] + NK_EPS, sums[1] + NK_EPS, sums[2] + NK_EPS];
  const total = nk[0] + nk[1] + nk[2];
  const means: number[] = [];
  const variances: number[] = [];
  for (let j = 0; j < 3; j++) {
    const old = p.m[j];
    const nj = sums[j], sj = sums[3 + j], qj = sums[6 + j];
    const mean = (old * nj + sj) / nk[j];
    const shift = mean - old;
    // Σ r (x − mean)² from the sums around the old mean
    const dev = Math.max(0, qj - 2 * shift * sj + shift * shift * nj);
    means.push(mean);
    variances.push(dev / nk[j] + GMM_REG_COVAR);
  }
  return { weights: nk.map((v) => v / total), means, variances };
}

/**
 * Fits the mixture to samples x: k-means (Lloyd) from the 1/6, 1/2, 5/6 quantiles, then EM until the
 * mean log-likelihood changes by less than 1e-3 (at most 100 rounds), as scikit-learn does.
 */
export function fitGmm1d(x: Float64Array): GmmFit {
  const sorted = sortedFloat64(x);
  const init = [1 / 6, 1 / 2, 5 / 6].map((q) => quantileSorted(sorted, q));
  const km = kmeans1dSorted(sorted, init, KMEANS_MAX_ROUNDS);
  // scikit-learn's _initialize: one-hot responsibilities from the labels, then an M-step
  const nk = km.clusters.map((cl) => cl.count + NK_EPS);
  let params: Gmm1d = {
    weights: nk.map((v) => v / x.length),
    means: km.clusters.map((cl, j) => (cl.mean * cl.count) / nk[j]),
    variances: km.clusters.map((cl) => (cl.variance * cl.count) / (cl.count + NK_EPS) + GMM_REG_COVAR),
  };
  let lower = -Infinity;
  const sums = new Float64Array(9);
  let rounds = 0;
  let converged = false;
  while (rounds < GMM_MAX_ROUNDS) {
    const prev = lower;
    const compiled = compile(params);
    lower = eStepSums(sorted, compiled, sums);
    params = mStep(sums, compiled);
    rounds++;
    if (Math.abs(lower - prev) < GMM_TOLERANCE) {
      converged = true;
      break;
    }
  }
  return { ...params, rounds, converged, meanLogLikelihood: lower, kmeansRounds: km.rounds, kmeansConverged: km.converged };
}

/** Posterior of each component at one value. */
export function gmmPosteriorsAt(g: Gmm1d, v: number): number[] {
  const p = compile(g);
  const l = Array.from(p.c, (c, j) => c - (v - p.m[j]) * (v - p.m[j]) * p.h[j]);
  const mx = Math.max(...l);
  const e = l.map((x) => Math.exp(x - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/**
 * Posterior of one component per sample (a column of scikit-learn's predict_proba), log-sum-exp with the
 * largest term as the reference. All three exps are taken (one is exp(0)) rather than branching on which
 * component is largest: the pixels come in image order, where that branch mispredicts.
 */
export function gmmPosterior(g: Gmm1d, x: Float64Array, component: number): Float64Array {
  const p = compile(g);
  const c0 = p.c[0], c1 = p.c[1], c2 = p.c[2];
  const h0 = p.h[0], h1 = p.h[1], h2 = p.h[2];
  const m0 = p.m[0], m1 = p.m[1], m2 = p.m[2];
  const n = x.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const d0 = v - m0, d1 = v - m1, d2 = v - m2;
    const l0 = c0 - d0 * d0 * h0;
    const l1 = c1 - d1 * d1 * h1;
    const l2 = c2 - d2 * d2 * h2;
    const mx = Math.max(l0, l1, l2);
    const e0 = expNonPositive(l0 - mx), e1 = expNonPositive(l1 - mx), e2 = expNonPositive(l2 - mx);
    out[i] = (component === 0 ? e0 : component === 1 ? e1 : e2) / (e0 + e1 + e2);
  }
  return out;
}

export interface GmmSegmentation {
  readonly method: 'gmm';
  /** 1 where the damage component's posterior exceeds 0.5. */
  readonly mask: Uint8Array;
  /** The damage component's posterior per pixel. */
  readonly score: Float32Array;
  /** Absent for a degenerate map. */
  readonly fit?: GmmFit;
  /** Index of the damage component in fit. */
  readonly damage?: number;
  /** 'constant' when the filtered map has a single value: empty mask, zero scores, no fit. */
  readonly degenerate?: 'constant';
}

/**
 * Picks the component with the largest posterior at the largest sample (a tie goes to the larger mean,
 * then to the lower index).
 */
export function damageComponent(g: Gmm1d, maxValue: number): number {
  const post = gmmPosteriorsAt(g, maxValue);
  let best = 0;
  for (let j = 1; j < post.length; j++) {
    if (post[j] > post[best] || (post[j] === post[best] && g.means[j] > g.means[best])) best = j;
  }
  return best;
}

/** Smallest and largest value. */
function valueRange(f: Float64Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < f.length; i++) {
    if (f[i] < min) min = f[i];
    if (f[i] > max) max = f[i];
  }
  return { min, max };
}

/** The posterior as float32 scores, and the mask score > 0.5 (decided on the float64 value). */
function scoresAndMask(posterior: Float64Array): { score: Float32Array; mask: Uint8Array } {
  const n = posterior.length;
  const mask = new Uint8Array(n);
  const score = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    score[i] = posterior[i];
    if (posterior[i] > 0.5) mask[i] = 1;
  }
  return { score, mask };
}

// segmentGmm keeps no per-pixel loop of its own: V8 deoptimised it at its result literal on every call in
// some call patterns (--trace-deopt: "insufficient type feedback"), which left its loops in the interpreter.
export function segmentGmm(map: RelevanceMap): GmmSegmentation {
  checkRelevanceMap(map, 'segment gmm', MAX_ABS_RELEVANCE);
  const n = map.data.length;
  // (a constant R is tested itself: its filtered values can differ in the last bit)
  if (isConstantMap(map.data)) return { method: 'gmm', mask: new Uint8Array(n), score: new Float32Array(n), degenerate: 'constant' };
  const f = mean5(map.data, map.height, map.width);
  const { min, max } = valueRange(f);
  if (!(max > min)) return { method: 'gmm', mask: new Uint8Array(n), score: new Float32Array(n), degenerate: 'constant' };
  const fit = fitGmm1d(f);
  const damage = damageComponent(fit, max);
  // The final E-step (scikit-learn runs one after fitting, and predict_proba is the same computation)
  const { score, mask } = scoresAndMask(gmmPosterior(fit, f, damage));
  return { method: 'gmm', mask, score, fit, damage };
}

/**
 * Dense-matrix forms of the LRP rules (LRP.md, "Properties"): a layer becomes the matrix W (M × D) obtained
 * by applying it to unit vectors, and each rule is evaluated with plain float64 matrix products, one
 * sample at a time. This is independent of the backends' convolution code.
 */
import type { Rule } from '../lrp/rule.js';
import { refConv2d } from './reference.js';

export type Mat = { rows: number; cols: number; v: Float64Array };

/** Direct float64 convolution of one sample (C, H, W) with weights (O, C, k, k), no bias. */
export function directConv(x: ArrayLike<number>, w: ArrayLike<number>, c: number, h: number, wd: number, o: number, k: number, stride: number, pad: number): { out: Float64Array; oh: number; ow: number } {
  const { y, shape } = refConv2d(x, [1, c, h, wd], w, [o, c, k, k], null, stride, pad);
  return { out: y, oh: shape[2], ow: shape[3] };
}

/** The matrix of a linear map given as a function on input vectors of length d. */
export function matrixOf(d: number, apply: (x: Float64Array) => Float64Array): Mat {
  let m: Mat | null = null;
  for (let j = 0; j < d; j++) {
    const e = new Float64Array(d);
    e[j] = 1;
    const col = apply(e);
    if (!m) m = { rows: col.length, cols: d, v: new Float64Array(col.length * d) };
    for (let i = 0; i < col.length; i++) m.v[i * d + j] = col[i];
  }
  return m!;
}

const mapM = (m: Mat, f: (x: number) => number): Mat => ({ ...m, v: m.v.map(f) });
const pos = (x: number) => (x > 0 ? x : 0);
const neg = (x: number) => (x < 0 ? x : 0);

function matvec(m: Mat, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.v[i * m.cols + j] * x[j];
    out[i] = s;
  }
  return out;
}

function matTvec(m: Mat, s: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) out[j] += m.v[i * m.cols + j] * s[i];
  return out;
}

const stab = (z: number, e: number) => (z >= 0 ? z + e : z - e);
const DELTA = 1e-9;
const U32 = 2 ** -24;

/**
 * Denominators as float32 arithmetic may have computed them: each z_j moved towards zero by the
 * rounding bound of a K-term float32 sum, u·(K + 2)·Σ|terms|. Comparing the exact and the perturbed
 * reference tells how far float32 rounding alone can move a result (small |z| amplify it).
 */
function perturbTowardZero(z: Float64Array, W: Mat, terms: ArrayLike<number>[], bias: Float64Array | null): Float64Array {
  const absW = mapM(W, Math.abs);
  const mag = new Float64Array(z.length);
  for (const t of terms) {
    const m = matvec(absW, Array.from(t, Math.abs));
    for (let i = 0; i < mag.length; i++) mag[i] += m[i];
  }
  if (bias) for (let i = 0; i < mag.length; i++) mag[i] += Math.abs(bias[i]);
  return z.map((v, i) => v - Math.sign(v) * U32 * (W.cols + 2) * mag[i]);
}

/**
 * One sample's input relevance by the LRP.md formula. `bias` is per output unit (already broadcast);
 * `low`/`high` per input unit.
 */
export function denseRule(
  rule: Rule, W: Mat, bias: Float64Array, a: ArrayLike<number>, R: ArrayLike<number>, low?: Float64Array, high?: Float64Array, perturb = false,
): Float64Array {
  const av = Float64Array.from(a);
  const p = (z: Float64Array, terms: ArrayLike<number>[], b: Float64Array | null) => (perturb ? perturbTowardZero(z, W, terms, b) : z);
  const addv = (x: Float64Array, y: Float64Array, c = 1) => x.map((v, i) => v + c * y[i]);
  const mulv = (x: Float64Array, y: Float64Array) => x.map((v, i) => v * y[i]);
  const divStab = (z: Float64Array, e: number) => Float64Array.from(R, (r, i) => r / stab(z[i], e));
  switch (rule.kind) {
    case 'zero':
    case 'epsilon': {
      const z = p(addv(matvec(W, av), bias), [av], bias);
      // e never below δ: an all-zero layer output must not divide by zero (docs/lrp.md)
      const e = rule.kind === 'zero' ? DELTA : Math.max(DELTA, rule.epsilon * Math.sqrt(z.reduce((s, v) => s + v * v, 0) / z.length));
      return mulv(av, matTvec(W, divStab(z, e)));
    }
    case 'gamma': {
      const W2 = mapM(W, (v) => v + rule.gamma * pos(v));
      const b2 = bias.map((v) => v + rule.gamma * pos(v));
      const z = p(addv(matvec(W2, av), b2), [av], b2);
      return mulv(av, matTvec(W2, divStab(z, DELTA)));
    }
    case 'alphabeta': {
      const Wp = mapM(W, pos), Wn = mapM(W, neg);
      const ap = av.map(pos), an = av.map(neg);
      const zp = p(addv(addv(matvec(Wp, ap), matvec(Wn, an)), bias.map(pos)), [av], bias);
      const zn = p(addv(addv(matvec(Wn, ap), matvec(Wp, an)), bias.map(neg)), [av], bias);
      const sp = divStab(zp, DELTA), sn = divStab(zn, DELTA);
      const plus = addv(mulv(ap, matTvec(Wp, sp)), mulv(an, matTvec(Wn, sp)));
      const minus = addv(mulv(ap, matTvec(Wn, sn)), mulv(an, matTvec(Wp, sn)));
      return addv(plus.map((v) => rule.alpha * v), minus, -rule.beta);
    }
    case 'zbox': {
      const Wp = mapM(W, pos), Wn = mapM(W, neg);
      const z = p(addv(addv(matvec(W, av), matvec(Wp, low!), -1), matvec(Wn, high!), -1), [av, low!, high!], null);
      const s = divStab(z, DELTA);
      return addv(addv(mulv(av, matTvec(W, s)), mulv(low!, matTvec(Wp, s)), -1), mulv(high!, matTvec(Wn, s)), -1);
    }
  }
}

export function relL2(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < expected.length; i++) {
    num += (actual[i] - expected[i]) ** 2;
    den += expected[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-300));
}

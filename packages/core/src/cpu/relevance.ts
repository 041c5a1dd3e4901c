/**
 * Relevance ops of the reference CPU backend, written as LRP.md states each rule: modified forward,
 * stabilised division, adjoint (transposed conv or s·W), product with the input. Readable first; the
 * GPU backends fuse these steps.
 */
import type { Conv2dParams, Pool2dParams } from '../backend.js';
import { LRP_DELTA, type PoolRule, type Rule } from '../lrp/rule.js';
import type { CpuTensor } from './tensor.js';
import type { GemmFn } from './kernels/gemm.js';
import { conv2dBackwardData, conv2dForward, convGeometry } from './kernels/conv.js';
import { linearBackwardData, linearForward } from './kernels/linear.js';

/** A layer seen as a pair of maps: forward (W·a, no bias) and adjoint (Wᵀ·s), for any weights. */
interface LinearMap {
  forward(a: Float32Array, w: Float32Array): Float32Array;
  adjoint(s: Float32Array, w: Float32Array): Float32Array;
  /** Adds the bias to a forward result in place. */
  addBias(z: Float32Array, b: Float32Array): void;
  /** Number of samples and outputs per sample (for per-sample statistics). */
  readonly n: number;
  readonly outPerSample: number;
}

const positive = (x: Float32Array): Float32Array => x.map((v) => (v > 0 ? v : 0));
const negative = (x: Float32Array): Float32Array => x.map((v) => (v < 0 ? v : 0));

/** stab(z, e) = z + e·sign(z) with sign(0) = +1. */
function stab(z: number, e: number): number {
  return z >= 0 ? z + e : z - e;
}

/** s = r / stab(z, e), with e one value per sample. */
function stabilisedDivide(r: Float32Array, z: Float32Array, ePerSample: Float64Array, outPerSample: number): Float32Array {
  const s = new Float32Array(r.length);
  for (let sample = 0, i = 0; i < r.length; sample++) {
    const e = ePerSample[sample];
    for (const end = i + outPerSample; i < end; i++) s[i] = r[i] / stab(z[i], e);
  }
  return s;
}

function constantPerSample(n: number, e: number): Float64Array {
  return new Float64Array(n).fill(e);
}

/**
 * e = E · sqrt(mean(z²)) over each sample's outputs (LRP.md, epsilon), never below δ, so that a sample
 * whose layer output is all zero gets zero relevance instead of 0/0.
 */
function epsilonPerSample(z: Float32Array, n: number, outPerSample: number, factor: number): Float64Array {
  const e = new Float64Array(n);
  for (let s = 0; s < n; s++) {
    let sum = 0;
    for (let i = s * outPerSample; i < (s + 1) * outPerSample; i++) sum += z[i] * z[i];
    e[s] = Math.max(LRP_DELTA, factor * Math.sqrt(sum / outPerSample));
  }
  return e;
}

/** out += c · x ⊙ y */
function addProduct(out: Float32Array, c: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] += c * x[i] * y[i];
}

/** Broadcasts per-channel values to an (N, C, rest) layout. */
function broadcastChannels(values: readonly number[], n: number, c: number, rest: number): Float32Array {
  const out = new Float32Array(n * c * rest);
  for (let s = 0; s < n; s++) for (let ch = 0; ch < c; ch++) out.fill(values.length === 1 ? values[0] : values[ch], (s * c + ch) * rest, (s * c + ch + 1) * rest);
  return out;
}

function relevanceOfInput(
  map: LinearMap, a: Float32Array, r: Float32Array, w: Float32Array, b: Float32Array | null, rule: Rule,
  zForward: Float32Array | undefined, boxShape: { n: number; c: number; rest: number },
): Float32Array {
  const { n, outPerSample } = map;
  const biased = (z: Float32Array, bias: Float32Array | null): Float32Array => {
    if (bias) map.addBias(z, bias);
    return z;
  };
  switch (rule.kind) {
    case 'zero':
    case 'epsilon': {
      const z = zForward ?? biased(map.forward(a, w), b);
      const e = rule.kind === 'zero' ? constantPerSample(n, LRP_DELTA) : epsilonPerSample(z, n, outPerSample, rule.epsilon);
      const c = map.adjoint(stabilisedDivide(r, z, e, outPerSample), w);
      const out = new Float32Array(a.length);
      addProduct(out, 1, a, c);
      return out;
    }
    case 'gamma': {
      const w2 = w.map((v) => (v > 0 ? v + rule.gamma * v : v));
      const b2 = b ? b.map((v) => (v > 0 ? v + rule.gamma * v : v)) : null;
      const z = biased(map.forward(a, w2), b2);
      const c = map.adjoint(stabilisedDivide(r, z, constantPerSample(n, LRP_DELTA), outPerSample), w2);
      const out = new Float32Array(a.length);
      addProduct(out, 1, a, c);
      return out;
    }
    case 'alphabeta': {
      // Post-ReLU inputs have no negative part: skip its four convolutions (half the cost).
      const ap = positive(a), an = negative(a), wp = positive(w), wn = negative(w);
      const hasNegative = an.some((v) => v !== 0);
      const delta = constantPerSample(n, LRP_DELTA);
      const out = new Float32Array(a.length);
      const zp = map.forward(ap, wp);
      if (hasNegative) addInto(zp, map.forward(an, wn));
      const sp = stabilisedDivide(r, biased(zp, b ? positive(b) : null), delta, outPerSample);
      addProduct(out, rule.alpha, ap, map.adjoint(sp, wp));
      if (hasNegative) addProduct(out, rule.alpha, an, map.adjoint(sp, wn));
      if (rule.beta !== 0) {
        const zn = map.forward(ap, wn);
        if (hasNegative) addInto(zn, map.forward(an, wp));
        const sn = stabilisedDivide(r, biased(zn, b ? negative(b) : null), delta, outPerSample);
        addProduct(out, -rule.beta, ap, map.adjoint(sn, wn));
        if (hasNegative) addProduct(out, -rule.beta, an, map.adjoint(sn, wp));
      }
      return out;
    }
    case 'zbox': {
      const low = broadcastChannels(rule.low, boxShape.n, boxShape.c, boxShape.rest);
      const high = broadcastChannels(rule.high, boxShape.n, boxShape.c, boxShape.rest);
      const wp = positive(w), wn = negative(w);
      const z = map.forward(a, w);
      addScaled(z, -1, map.forward(low, wp));
      addScaled(z, -1, map.forward(high, wn));
      const s = stabilisedDivide(r, z, constantPerSample(n, LRP_DELTA), outPerSample);
      const out = new Float32Array(a.length);
      addProduct(out, 1, a, map.adjoint(s, w));
      addProduct(out, -1, low, map.adjoint(s, wp));
      addProduct(out, -1, high, map.adjoint(s, wn));
      return out;
    }
  }
}

function addInto(out: Float32Array, x: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] += x[i];
}

function addScaled(out: Float32Array, c: number, x: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] += c * x[i];
}

export function lrpConv2dCpu(
  a: CpuTensor, r: CpuTensor, w: CpuTensor, b: CpuTensor | null, p: Conv2dParams, rule: Rule, z?: CpuTensor, gemm?: GemmFn,
): Float32Array {
  const g = convGeometry(a.shape, w.shape, p);
  const perChannel = g.oh * g.ow;
  const map: LinearMap = {
    forward: (x, wt) => conv2dForward(x, wt, null, g, gemm),
    adjoint: (s, wt) => conv2dBackwardData(s, wt, g, gemm),
    addBias: (out, bias) => {
      for (let plane = 0, i = 0; i < out.length; plane++) {
        const bv = bias[plane % g.o];
        for (const end = i + perChannel; i < end; i++) out[i] += bv;
      }
    },
    n: g.n,
    outPerSample: g.o * perChannel,
  };
  return relevanceOfInput(map, a.data, r.data, w.data, b ? b.data : null, rule, z?.data, { n: g.n, c: g.c, rest: g.h * g.w });
}

export function lrpLinearCpu(
  a: CpuTensor, r: CpuTensor, w: CpuTensor, b: CpuTensor | null, rule: Rule, z?: CpuTensor, gemm?: GemmFn,
): Float32Array {
  const [n, inF] = a.shape;
  const outF = w.shape[0];
  const map: LinearMap = {
    forward: (x, wt) => linearForward(x, wt, null, n, inF, outF, gemm),
    adjoint: (s, wt) => linearBackwardData(s, wt, n, inF, outF, gemm),
    addBias: (out, bias) => {
      for (let i = 0; i < out.length; i++) out[i] += bias[i % outF];
    },
    n,
    outPerSample: outF,
  };
  // zbox on a linear layer: bounds per input feature, or one value for all.
  return relevanceOfInput(map, a.data, r.data, w.data, b ? b.data : null, rule, z?.data, { n, c: rule.kind === 'zbox' && rule.low.length > 1 ? inF : 1, rest: rule.kind === 'zbox' && rule.low.length > 1 ? 1 : inF });
}

/**
 * Max-pool relevance. wta: each window's relevance to the position of its maximum (first in row-major
 * order on ties). avg: R_in = a / stab(Σ_window a, δ) · R, accumulated over overlapping windows.
 */
export function lrpMaxPool2dCpu(a: CpuTensor, r: CpuTensor, p: Pool2dParams, rule: PoolRule): Float32Array {
  const [n, c, h, w] = a.shape;
  const [, , oh, ow] = r.shape;
  const x = a.data;
  const rel = r.data;
  const out = new Float32Array(a.size);
  for (let plane = 0; plane < n * c; plane++) {
    const base = plane * h * w;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const rv = rel[(plane * oh + oy) * ow + ox];
        const y0 = oy * p.stride, x0 = ox * p.stride;
        if (rule === 'wta') {
          let best = base + y0 * w + x0;
          for (let ky = 0; ky < p.kernel; ky++) {
            for (let kx = 0; kx < p.kernel; kx++) {
              const idx = base + (y0 + ky) * w + x0 + kx;
              if (x[idx] > x[best]) best = idx;
            }
          }
          out[best] += rv;
        } else {
          let sum = 0;
          for (let ky = 0; ky < p.kernel; ky++) for (let kx = 0; kx < p.kernel; kx++) sum += x[base + (y0 + ky) * w + x0 + kx];
          const s = rv / stab(sum, LRP_DELTA);
          for (let ky = 0; ky < p.kernel; ky++) {
            for (let kx = 0; kx < p.kernel; kx++) {
              const idx = base + (y0 + ky) * w + x0 + kx;
              out[idx] += x[idx] * s;
            }
          }
        }
      }
    }
  }
  return out;
}

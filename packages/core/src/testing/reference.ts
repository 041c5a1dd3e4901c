/**
 * Direct definitions of the Backend ops in plain float64 loops: the oracle of the conformance suite.
 * Deliberately naive (no im2col, no GEMM, no cleverness) so that they can be checked by reading.
 * Arrays are flat, NCHW where 4-D.
 */

import { BATCH_NORM_EPS } from '../train/batchnorm.js';

export type Arr = ArrayLike<number>;

/** y[n,o,i,j] = b[o] + Σ_{c,kh,kw} x[n,c,i·s−p+kh, j·s−p+kw]·w[o,c,kh,kw] (zero outside x). */
export function refConv2d(
  x: Arr, xs: readonly number[], w: Arr, ws: readonly number[], b: Arr | null, stride: number, pad: number,
): { y: Float64Array; shape: number[] } {
  const [n, c, h, wd] = xs;
  const [o, , k] = ws;
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(n * o * oh * ow);
  for (let ni = 0; ni < n; ni++)
    for (let oi = 0; oi < o; oi++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = b ? b[oi] : 0;
          for (let ci = 0; ci < c; ci++)
            for (let kh = 0; kh < k; kh++)
              for (let kw = 0; kw < k; kw++) {
                const yy = i * stride - pad + kh;
                const xx = j * stride - pad + kw;
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                s += x[((ni * c + ci) * h + yy) * wd + xx] * w[((oi * c + ci) * k + kh) * k + kw];
              }
          y[((ni * o + oi) * oh + i) * ow + j] = s;
        }
  return { y, shape: [n, o, oh, ow] };
}

/** Gradients of refConv2d by the chain rule on the same loops: dx, dw and db. */
export function refConv2dBackward(
  dy: Arr, x: Arr, xs: readonly number[], w: Arr, ws: readonly number[], stride: number, pad: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const [n, c, h, wd] = xs;
  const [o, , k] = ws;
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((wd + 2 * pad - k) / stride) + 1;
  const dx = new Float64Array(n * c * h * wd);
  const dw = new Float64Array(o * c * k * k);
  const db = new Float64Array(o);
  for (let ni = 0; ni < n; ni++)
    for (let oi = 0; oi < o; oi++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          const g = dy[((ni * o + oi) * oh + i) * ow + j];
          db[oi] += g;
          for (let ci = 0; ci < c; ci++)
            for (let kh = 0; kh < k; kh++)
              for (let kw = 0; kw < k; kw++) {
                const yy = i * stride - pad + kh;
                const xx = j * stride - pad + kw;
                if (yy < 0 || yy >= h || xx < 0 || xx >= wd) continue;
                const xi = ((ni * c + ci) * h + yy) * wd + xx;
                const wi = ((oi * c + ci) * k + kh) * k + kw;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
  return { dx, dw, db };
}

/** y[n,co,2i+di,2j+dj] = b[co] + Σ_ci x[n,ci,i,j]·w[ci,co,di,dj]. */
export function refConvTranspose2x2(x: Arr, xs: readonly number[], w: Arr, co: number, b: Arr | null): Float64Array {
  const [n, ci, h, wd] = xs;
  const y = new Float64Array(n * co * 4 * h * wd);
  for (let ni = 0; ni < n; ni++)
    for (let o = 0; o < co; o++)
      for (let yy = 0; yy < 2 * h; yy++)
        for (let xx = 0; xx < 2 * wd; xx++) {
          const i = yy >> 1, di = yy & 1, j = xx >> 1, dj = xx & 1;
          let s = b ? b[o] : 0;
          for (let c = 0; c < ci; c++) s += x[((ni * ci + c) * h + i) * wd + j] * w[((c * co + o) * 2 + di) * 2 + dj];
          y[((ni * co + o) * 2 * h + yy) * 2 * wd + xx] = s;
        }
  return y;
}

export function refConvTranspose2x2Backward(
  dy: Arr, x: Arr, xs: readonly number[], w: Arr, co: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const [n, ci, h, wd] = xs;
  const dx = new Float64Array(n * ci * h * wd);
  const dw = new Float64Array(ci * co * 4);
  const db = new Float64Array(co);
  for (let ni = 0; ni < n; ni++)
    for (let o = 0; o < co; o++)
      for (let yy = 0; yy < 2 * h; yy++)
        for (let xx = 0; xx < 2 * wd; xx++) {
          const i = yy >> 1, di = yy & 1, j = xx >> 1, dj = xx & 1;
          const g = dy[((ni * co + o) * 2 * h + yy) * 2 * wd + xx];
          db[o] += g;
          for (let c = 0; c < ci; c++) {
            const xi = ((ni * ci + c) * h + i) * wd + j;
            const wi = ((c * co + o) * 2 + di) * 2 + dj;
            dx[xi] += g * w[wi];
            dw[wi] += g * x[xi];
          }
        }
  return { dx, dw, db };
}

/** Max pooling without padding; the argmax is the first maximum in row-major window order. */
export function refMaxPool2d(x: Arr, xs: readonly number[], k: number, s: number): { y: Float64Array; arg: Int32Array; shape: number[] } {
  const [n, c, h, w] = xs;
  const oh = Math.floor((h - k) / s) + 1;
  const ow = Math.floor((w - k) / s) + 1;
  const y = new Float64Array(n * c * oh * ow);
  const arg = new Int32Array(y.length);
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let best = -Infinity;
        let at = -1;
        for (let ki = 0; ki < k; ki++)
          for (let kj = 0; kj < k; kj++) {
            const idx = (p * h + i * s + ki) * w + j * s + kj;
            if (at < 0 || x[idx] > best) {
              best = x[idx];
              at = idx;
            }
          }
        const o = (p * oh + i) * ow + j;
        y[o] = best;
        arg[o] = at;
      }
  return { y, arg, shape: [n, c, oh, ow] };
}

export function refMaxPool2dBackward(dy: Arr, x: Arr, xs: readonly number[], k: number, s: number): Float64Array {
  const { arg } = refMaxPool2d(x, xs, k, s);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < arg.length; o++) dx[arg[o]] += dy[o];
  return dx;
}

/** y[n,j] = b[j] + Σ_i x[n,i]·w[j,i]. */
export function refLinear(x: Arr, n: number, inF: number, w: Arr, outF: number, b: Arr | null): Float64Array {
  const y = new Float64Array(n * outF);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < outF; j++) {
      let s = b ? b[j] : 0;
      for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[j * inF + i];
      y[r * outF + j] = s;
    }
  return y;
}

export function refLinearBackward(dy: Arr, x: Arr, n: number, inF: number, w: Arr, outF: number): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const dx = new Float64Array(n * inF);
  const dw = new Float64Array(outF * inF);
  const db = new Float64Array(outF);
  for (let r = 0; r < n; r++)
    for (let j = 0; j < outF; j++) {
      const g = dy[r * outF + j];
      db[j] += g;
      for (let i = 0; i < inF; i++) {
        dx[r * inF + i] += g * w[j * inF + i];
        dw[j * inF + i] += g * x[r * inF + i];
      }
    }
  return { dx, dw, db };
}

export function refSigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

export function refSoftmax(x: Arr, n: number, k: number): Float64Array {
  const y = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, x[r * k + j]);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(x[r * k + j] - max);
    for (let j = 0; j < k; j++) y[r * k + j] = Math.exp(x[r * k + j] - max) / s;
  }
  return y;
}

/** PyTorch CrossEntropyLoss(weight, reduction='mean'): Σ w[yᵢ]·(−log softmax(xᵢ)[yᵢ]) / Σ w[yᵢ]. */
export function refCrossEntropyLoss(x: Arr, n: number, k: number, labels: readonly number[], weights?: readonly number[]): number {
  const p = refSoftmax(x, n, k);
  let num = 0;
  let den = 0;
  for (let r = 0; r < n; r++) {
    const wr = weights ? weights[labels[r]] : 1;
    num += -wr * Math.log(p[r * k + labels[r]]);
    den += wr;
  }
  return num / den;
}

/** Its gradient written out: w[yᵢ]·(softmax(xᵢ) − onehot(yᵢ)) / Σ w[yⱼ]. */
export function refCrossEntropyGrad(x: Arr, n: number, k: number, labels: readonly number[], weights?: readonly number[]): Float64Array {
  const p = refSoftmax(x, n, k);
  let den = 0;
  for (let r = 0; r < n; r++) den += weights ? weights[labels[r]] : 1;
  const g = new Float64Array(n * k);
  for (let r = 0; r < n; r++) {
    const wr = weights ? weights[labels[r]] : 1;
    for (let j = 0; j < k; j++) g[r * k + j] = (wr * (p[r * k + j] - (j === labels[r] ? 1 : 0))) / den;
  }
  return g;
}

/** log(1 + eᵛ) without overflow. */
function softplus(v: number): number {
  return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
}

/** PyTorch BCEWithLogitsLoss(pos_weight, reduction='mean'): mean of −[pw·t·log σ(x) + (1−t)·log(1−σ(x))]. */
export function refBceLoss(x: Arr, t: Arr, posWeight = 1): number {
  let s = 0;
  // log σ(x) = −softplus(−x), log(1 − σ(x)) = −softplus(x)
  for (let i = 0; i < x.length; i++) s += posWeight * t[i] * softplus(-x[i]) + (1 - t[i]) * softplus(x[i]);
  return s / x.length;
}

export function refBceGrad(x: Arr, t: Arr, posWeight = 1): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const sg = refSigmoid(x[i]);
    g[i] = (posWeight * t[i] * (sg - 1) + (1 - t[i]) * sg) / x.length;
  }
  return g;
}

/** torch.optim.SGD, one step (dampening 0), in place on float64 copies. */
export function refSgd(
  param: Float64Array, grad: Arr, buf: Float64Array, step: number, p: { lr: number; momentum: number; weightDecay: number; nesterov?: boolean },
): void {
  for (let i = 0; i < param.length; i++) {
    let d = grad[i] + p.weightDecay * param[i];
    if (p.momentum !== 0) {
      buf[i] = step === 1 ? d : p.momentum * buf[i] + d;
      d = p.nesterov ? d + p.momentum * buf[i] : buf[i];
    }
    param[i] -= p.lr * d;
  }
}

/** torch.optim.Adam (or AdamW when decoupled), one step t (t ≥ 1), in place on float64 copies. */
export function refAdam(
  param: Float64Array, grad: Arr, m: Float64Array, v: Float64Array,
  p: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number; decoupled?: boolean },
): void {
  for (let i = 0; i < param.length; i++) {
    let g = grad[i];
    if (p.decoupled) param[i] *= 1 - p.lr * p.weightDecay;
    else g += p.weightDecay * param[i];
    m[i] = p.beta1 * m[i] + (1 - p.beta1) * g;
    v[i] = p.beta2 * v[i] + (1 - p.beta2) * g * g;
    const mHat = m[i] / (1 - p.beta1 ** p.step);
    const vHat = v[i] / (1 - p.beta2 ** p.step);
    param[i] -= (p.lr * mHat) / (Math.sqrt(vHat) + p.eps);
  }
}

/** Per-channel mean and biased variance over (N, H, W), in float64. */
export function channelMoments(x: ArrayLike<number>, [n, c, h, w]: readonly number[]): { mean: Float64Array; variance: Float64Array } {
  const hw = h * w, count = n * hw;
  const mean = new Float64Array(c), variance = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) s += x[(i * c + ch) * hw + p];
    mean[ch] = s / count;
    let v = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) v += (x[(i * c + ch) * hw + p] - mean[ch]) ** 2;
    variance[ch] = v / count;
  }
  return { mean, variance };
}

/**
 * Training-mode batch norm (the batch's mean and biased variance, ε = BATCH_NORM_EPS) in float64, and with
 * `dy` its gradients by the closed form of the backward pass (zeros without `dy`).
 */
export function refBatchNorm(x: ArrayLike<number>, shape: readonly number[], gamma: ArrayLike<number>, beta: ArrayLike<number>, dy?: ArrayLike<number>) {
  const [n, c, h, w] = shape;
  const hw = h * w, count = n * hw;
  const { mean, variance } = channelMoments(x, shape);
  const y = new Float64Array(x.length), dx = new Float64Array(x.length);
  const dGamma = new Float64Array(c), dBeta = new Float64Array(c);
  const at = (i: number, ch: number, p: number) => (i * c + ch) * hw + p;
  for (let ch = 0; ch < c; ch++) {
    const inv = 1 / Math.sqrt(variance[ch] + BATCH_NORM_EPS);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < hw; p++) {
        const k = at(i, ch, p), xhat = (x[k] - mean[ch]) * inv;
        y[k] = gamma[ch] * xhat + beta[ch];
        if (!dy) continue;
        dBeta[ch] += dy[k];
        dGamma[ch] += dy[k] * xhat;
      }
    }
    if (!dy) continue;
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < hw; p++) {
        const k = at(i, ch, p), xhat = (x[k] - mean[ch]) * inv;
        dx[k] = gamma[ch] * inv * (dy![k] - dBeta[ch] / count - xhat * dGamma[ch] / count);
      }
    }
  }
  return { y, dx, dGamma, dBeta, mean, variance };
}

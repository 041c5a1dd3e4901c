/** Losses with their gradient w.r.t. the logits, computed in float64. */
import { sigmoidScalar } from './elementwise.js';

export interface LossValues {
  readonly loss: number;
  readonly dLogits: Float32Array;
}

/** softplus(x) = log(1 + eˣ), stable for large |x|. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/**
 * Mean cross-entropy of logits (n, k) against integer labels, PyTorch semantics: with class weights the
 * mean is Σ w[yᵢ]·ℓᵢ / Σ w[yᵢ].
 */
export function crossEntropy(logits: Float32Array, n: number, k: number, labels: readonly number[], classWeights?: readonly number[]): LossValues {
  const d = new Float32Array(n * k);
  const p = new Float64Array(k);
  let wSum = 0;
  for (let i = 0; i < n; i++) wSum += classWeights ? classWeights[labels[i]] : 1;
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const r = i * k;
    const y = labels[i];
    const wi = classWeights ? classWeights[y] : 1;
    let max = -Infinity;
    for (let j = 0; j < k; j++) if (logits[r + j] > max) max = logits[r + j];
    let sum = 0;
    for (let j = 0; j < k; j++) {
      p[j] = Math.exp(logits[r + j] - max);
      sum += p[j];
    }
    const lse = max + Math.log(sum);
    loss += wi * (lse - logits[r + y]);
    const f = wi / wSum;
    for (let j = 0; j < k; j++) d[r + j] = f * (p[j] / sum - (j === y ? 1 : 0));
  }
  return { loss: loss / wSum, dLogits: d };
}

/**
 * Mean binary cross-entropy with logits, PyTorch semantics:
 * ℓ = −[pw·t·log σ(x) + (1 − t)·log(1 − σ(x))] = pw·t·softplus(−x) + (1 − t)·softplus(x).
 */
export function bceWithLogits(x: Float32Array, t: Float32Array, posWeight = 1): LossValues {
  const count = x.length;
  const d = new Float32Array(count);
  let loss = 0;
  for (let i = 0; i < count; i++) {
    const xi = x[i];
    const ti = t[i];
    loss += posWeight * ti * softplus(-xi) + (1 - ti) * softplus(xi);
    const s = sigmoidScalar(xi);
    d[i] = (posWeight * ti * (s - 1) + (1 - ti) * s) / count;
  }
  return { loss: loss / count, dLogits: d };
}

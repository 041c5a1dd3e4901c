/**
 * Cross-entropy with label smoothing, composed from the Backend's own crossEntropy, scale and add, so
 * that it runs on every backend without a new kernel (and without reading the logits back).
 */
import type { Backend, LossResult } from '../backend.js';
import { LrpsegError } from '../errors.js';
import { scope, type Tensor } from '../tensor.js';

/**
 * PyTorch's `cross_entropy(logits, labels, weight=w, label_smoothing=ε)` with mean reduction:
 *
 *   L = (1 − ε) · Σᵢ w[yᵢ]·(−log pᵢ[yᵢ]) / W  +  (ε / K) · Σᵢ Σₖ w[k]·(−log pᵢ[k]) / W,   W = Σᵢ w[yᵢ]
 *
 * (w ≡ 1 without class weights, so W = N). The smoothing term is built from K unweighted
 * cross-entropies against the constant labels k, each the batch mean of −log pᵢ[k], scaled by
 * N·w[k] / W. ε = 0 is the plain cross-entropy, bit for bit.
 */
export function smoothedCrossEntropy(
  backend: Backend, logits: Tensor, labels: readonly number[], smoothing: number, classWeights?: readonly number[],
): LossResult {
  if (!(smoothing >= 0 && smoothing < 1)) throw new LrpsegError('BAD_INPUT', `label smoothing must be in [0, 1) (got ${smoothing})`);
  if (smoothing === 0) return backend.crossEntropy(logits, labels, classWeights);
  const [n, k] = logits.shape;
  return scope(() => {
    const main = backend.crossEntropy(logits, labels, classWeights);
    const w = (c: number): number => (classWeights ? classWeights[c] : 1);
    let total = 0;
    for (const y of labels) total += w(y);
    let loss = backend.scale(main.loss, 1 - smoothing);
    let dLogits = backend.scale(main.dLogits, 1 - smoothing);
    for (let c = 0; c < k; c++) {
      const f = ((smoothing / k) * n * w(c)) / total;
      if (f === 0) continue;
      const term = backend.crossEntropy(logits, new Array<number>(n).fill(c));
      loss = backend.add(loss, backend.scale(term.loss, f));
      dLogits = backend.add(dLogits, backend.scale(term.dLogits, f));
    }
    return { loss, dLogits };
  });
}

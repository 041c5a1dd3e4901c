/**
 * Losses composed from the Backend's own ops, so that they run on every backend without a new kernel:
 * cross-entropy with label smoothing (crossEntropy, scale, add; no read-back) and the U-Net's soft Dice.
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

/**
 * Soft Dice loss of (N, 1, H, W) logits against 0/1 targets, per image and averaged over the batch:
 * p = σ(z), D_n = (2·Σ p·y + s) / (Σ p + Σ y + s), L = mean_n (1 − D_n), s the smoothing (1 by default:
 * an image without damage then asks for Σ p → 0). Composed from Backend ops (sigmoid, mul, linear for the
 * per-image sums, affineChannels for the per-image gradient coefficients, sigmoidBackward), so every
 * backend has it; the 3N per-image sums are read back, hence async. dL/dp = −2y/(N·S_n) + (2I_n + s)/(N·S_n²)
 * with S_n = P_n + Y_n + s; dL/dz = dL/dp · p(1 − p).
 */
export async function softDiceWithLogits(backend: Backend, logits: Tensor, targets: Tensor, smooth = 1): Promise<LossResult> {
  const [n, c, h, w] = logits.shape;
  if (logits.shape.length !== 4 || c !== 1) throw new LrpsegError('BAD_INPUT', `softDiceWithLogits: logits must be (N, 1, H, W), got (${logits.shape.join(', ')})`);
  if (targets.shape.join() !== logits.shape.join()) throw new LrpsegError('BAD_INPUT', `softDiceWithLogits: targets (${targets.shape.join(', ')}) do not match logits (${logits.shape.join(', ')})`);
  if (!(smooth > 0)) throw new LrpsegError('BAD_INPUT', `softDiceWithLogits: smoothing must be > 0, got ${smooth}`);
  const sums = scope(() => {
    const ones = backend.fromArray(new Float32Array(h * w).fill(1), [1, h * w]);
    const p = backend.reshape(backend.sigmoid(logits), [n, h * w]);
    const y = backend.reshape(targets, [n, h * w]);
    return [backend.linear(p, ones, null), backend.linear(backend.mul(p, y), ones, null), backend.linear(y, ones, null)];
  });
  let P: Float32Array, I: Float32Array, Y: Float32Array;
  try {
    [P, I, Y] = await Promise.all(sums.map((t) => t.read()));
  } finally {
    for (const t of sums) t.dispose();
  }
  const alpha = new Array<number>(n);
  const beta = new Array<number>(n);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const S = P[i] + Y[i] + smooth;
    const num = 2 * I[i] + smooth;
    loss += 1 - num / S;
    alpha[i] = -2 / (n * S);
    beta[i] = num / (n * S * S);
  }
  const dLogits = scope(() => {
    // α_n·y + β_n per image: the images as the channels of one (1, N, H, W) tensor
    const dp = backend.reshape(backend.affineChannels(backend.reshape(targets, [1, n, h, w]), alpha, beta), [n, 1, h, w]);
    return backend.sigmoidBackward(dp, backend.sigmoid(logits));
  });
  return { loss: backend.fromArray(Float32Array.of(loss / n), [1]), dLogits };
}

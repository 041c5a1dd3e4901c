/**
 * Per-channel reductions and broadcasts composed from Backend ops, so that batch normalisation trains on
 * every backend without kernels of its own: the bias gradient of a 1×1 convolution is a sum over
 * (N, H, W) per channel, and a 1×1 convolution of ones spreads a per-channel vector over (N, C, H, W).
 */
import type { Backend } from '../backend.js';
import type { Tensor } from '../tensor.js';

const POINTWISE = { stride: 1, padding: 0 } as const;

function ones(b: Backend, n: number, h: number, w: number): Tensor {
  return b.fromArray(new Float32Array(n * h * w).fill(1), [n, 1, h, w]);
}

/** Σ over n, h, w of t[n, c, h, w]: shape (C). */
export function channelSums(b: Backend, t: Tensor): Tensor {
  const [n, c, h, w] = t.shape;
  return b.conv2dBackward(t, ones(b, n, h, w), b.zeros([c, 1, 1, 1]), POINTWISE, false).db;
}

/** y[n, c, h, w] = v[c] for v of shape (C). */
export function broadcastChannels(b: Backend, v: Tensor, like: readonly number[]): Tensor {
  const [n, c, h, w] = like;
  return b.conv2d(ones(b, n, h, w), b.reshape(v, [c, 1, 1, 1]), null, POINTWISE);
}

/** v[c]·s[c] for v of shape (C) and host numbers s. */
export function scaleChannels(b: Backend, v: Tensor, s: readonly number[]): Tensor {
  const c = v.shape[0];
  return b.reshape(b.affineChannels(b.reshape(v, [1, c, 1, 1]), s, s.map(() => 0)), [c]);
}

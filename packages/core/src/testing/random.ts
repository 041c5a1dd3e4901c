/** Seeded random test data (shared by the conformance suite and other tests). */
import { mulberry32 } from '../random.js';

export { mulberry32 };

/** One standard normal sample from a uniform generator (Box–Muller). */
export function randn(rng: () => number): number {
  let u = 0;
  while (u === 0) u = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

export interface RandomDataOptions {
  /** 'normal' (default): N(mean, std²); 'uniform': U[low, high). */
  readonly kind?: 'normal' | 'uniform';
  readonly std?: number;
  readonly mean?: number;
  readonly low?: number;
  readonly high?: number;
  /** Round every value to a multiple of this step (to provoke ties, e.g. in max pooling). */
  readonly step?: number;
}

/** `size` float32 values from the generator. */
export function randomTensorData(rng: () => number, size: number, opts: RandomDataOptions = {}): Float32Array {
  const out = new Float32Array(size);
  const { kind = 'normal', std = 1, mean = 0, low = 0, high = 1, step } = opts;
  for (let i = 0; i < size; i++) {
    let v = kind === 'uniform' ? low + (high - low) * rng() : mean + std * randn(rng);
    if (step) v = Math.round(v / step) * step;
    out[i] = v;
  }
  return out;
}

/** `n` integers uniform in [0, max). */
export function randomIntegers(rng: () => number, n: number, max: number): number[] {
  return Array.from({ length: n }, () => Math.min(max - 1, Math.floor(rng() * max)));
}

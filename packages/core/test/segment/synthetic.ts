import { mulberry32, normalGenerator } from '../../src/random.js';

export interface Rect {
  readonly y0: number;
  readonly y1: number;
  readonly x0: number;
  readonly x1: number;
}

export const inRect = (r: Rect, y: number, x: number): boolean => y >= r.y0 && y < r.y1 && x >= r.x0 && x < r.x1;

/** Chebyshev distance from (y, x) to the rectangle (0 inside). */
export function distToRect(r: Rect, y: number, x: number): number {
  const dy = y < r.y0 ? r.y0 - y : y >= r.y1 ? y - r.y1 + 1 : 0;
  const dx = x < r.x0 ? r.x0 - x : x >= r.x1 ? x - r.x1 + 1 : 0;
  return Math.max(dy, dx);
}

/** Chebyshev distance from an inside pixel to the rectangle's outside. */
export function depthInRect(r: Rect, y: number, x: number): number {
  return Math.min(y - r.y0, r.y1 - 1 - y, x - r.x0, r.x1 - 1 - x) + 1;
}

/** A map whose value is level(y, x) plus seeded Gaussian noise of the given sd. */
export function levelMap(h: number, w: number, level: (y: number, x: number) => number, sd: number, seed: number): Float32Array {
  const normal = normalGenerator(mulberry32(seed));
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[y * w + x] = level(y, x) + sd * normal();
  return out;
}

export const count = (m: Uint8Array): number => m.reduce((a, b) => a + b, 0);

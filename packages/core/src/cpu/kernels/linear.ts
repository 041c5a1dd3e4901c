/** Fully connected layer kernels: x (n, inF), w (outF, inF), y = x·wᵀ + b. */
import { gemmSerial, type GemmFn } from './gemm.js';

/** y (n, outF) = x·wᵀ + b. */
export function linearForward(
  x: Float32Array, w: Float32Array, b: Float32Array | null, n: number, inF: number, outF: number, gemm: GemmFn = gemmSerial,
): Float32Array {
  const y = new Float32Array(n * outF);
  gemm(false, true, n, outF, inF, x, inF, w, inF, y, outF, false);
  if (b) {
    for (let i = 0; i < n; i++) {
      const r = i * outF;
      for (let j = 0; j < outF; j++) y[r + j] += b[j];
    }
  }
  return y;
}

/** dx (n, inF) = dy·W. */
export function linearBackwardData(dy: Float32Array, w: Float32Array, n: number, inF: number, outF: number, gemm: GemmFn = gemmSerial): Float32Array {
  const dx = new Float32Array(n * inF);
  gemm(false, false, n, inF, outF, dy, outF, w, inF, dx, inF, false);
  return dx;
}

/** dw (outF, inF) = dyᵀ·x and db (outF) = Σ_n dy. */
export function linearBackwardWeight(
  dy: Float32Array, x: Float32Array, n: number, inF: number, outF: number, gemm: GemmFn = gemmSerial,
): { dw: Float32Array; db: Float32Array } {
  const dw = new Float32Array(outF * inF);
  gemm(true, false, outF, inF, n, dy, outF, x, inF, dw, inF, false);
  const db = new Float32Array(outF);
  for (let j = 0; j < outF; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += dy[i * outF + j];
    db[j] = s;
  }
  return { dw, db };
}

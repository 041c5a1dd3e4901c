/**
 * 2×2 stride-2 transposed convolution (PyTorch ConvTranspose2d(kernel 2, stride 2)), weight (Cin, Cout, 2, 2):
 * y[n, co, 2i+di, 2j+dj] = b[co] + Σ_ci x[n, ci, i, j]·w[ci, co, di, dj]. Each output pixel has exactly one
 * contributing input pixel, so the op is a GEMM per image plus a scatter (and a gather for the gradients).
 */
import { gemmSerial, type GemmFn } from './gemm.js';

export interface ConvT2Geometry {
  readonly n: number;
  readonly ci: number;
  readonly co: number;
  readonly h: number;
  readonly w: number;
}

export function convT2Geometry(xShape: readonly number[], wShape: readonly number[]): ConvT2Geometry {
  return { n: xShape[0], ci: xShape[1], co: wShape[1], h: xShape[2], w: xShape[3] };
}

/** t (Cout·4, H·W) of one image → y plane layout (Cout, 2H, 2W), adding b. */
function scatter(t: Float32Array, y: Float32Array, yOff: number, g: ConvT2Geometry, b: Float32Array | null): void {
  const { co, h, w } = g;
  const hw = h * w;
  const w2 = 2 * w;
  for (let o = 0; o < co; o++) {
    const bv = b ? b[o] : 0;
    const yo = yOff + o * 4 * hw;
    for (let d = 0; d < 4; d++) {
      const di = d >> 1;
      const dj = d & 1;
      const tr = (o * 4 + d) * hw;
      for (let i = 0; i < h; i++) {
        const yr = yo + (2 * i + di) * w2 + dj;
        const trr = tr + i * w;
        for (let j = 0; j < w; j++) y[yr + 2 * j] = t[trr + j] + bv;
      }
    }
  }
}

/** dy plane layout (Cout, 2H, 2W) of one image → t (Cout·4, H·W). */
function gather(dy: Float32Array, dyOff: number, t: Float32Array, g: ConvT2Geometry): void {
  const { co, h, w } = g;
  const hw = h * w;
  const w2 = 2 * w;
  for (let o = 0; o < co; o++) {
    const yo = dyOff + o * 4 * hw;
    for (let d = 0; d < 4; d++) {
      const di = d >> 1;
      const dj = d & 1;
      const tr = (o * 4 + d) * hw;
      for (let i = 0; i < h; i++) {
        const yr = yo + (2 * i + di) * w2 + dj;
        const trr = tr + i * w;
        for (let j = 0; j < w; j++) t[trr + j] = dy[yr + 2 * j];
      }
    }
  }
}

export function convTranspose2x2Forward(x: Float32Array, wt: Float32Array, b: Float32Array | null, g: ConvT2Geometry, gemm: GemmFn = gemmSerial): Float32Array {
  const { n, ci, co, h, w } = g;
  const hw = h * w;
  const y = new Float32Array(n * co * 4 * hw);
  const t = new Float32Array(co * 4 * hw);
  for (let img = 0; img < n; img++) {
    // t (Cout·4 × HW) = wᵀ (Cout·4 × Cin) · x_img (Cin × HW)
    gemm(true, false, co * 4, hw, ci, wt, co * 4, x.subarray(img * ci * hw, (img + 1) * ci * hw), hw, t, hw, false);
    scatter(t, y, img * co * 4 * hw, g, b);
  }
  return y;
}

export function convTranspose2x2Backward(
  dy: Float32Array, x: Float32Array, wt: Float32Array, g: ConvT2Geometry, gemm: GemmFn = gemmSerial,
): { dx: Float32Array; dw: Float32Array; db: Float32Array } {
  const { n, ci, co, h, w } = g;
  const hw = h * w;
  const co4 = co * 4;
  const dx = new Float32Array(n * ci * hw);
  const dw = new Float32Array(ci * co4);
  const dbAcc = new Float64Array(co);
  const t = new Float32Array(co4 * hw);
  for (let img = 0; img < n; img++) {
    gather(dy, img * co4 * hw, t, g);
    const xi = x.subarray(img * ci * hw, (img + 1) * ci * hw);
    // dx_img (Cin × HW) = w (Cin × Cout·4) · t
    gemm(false, false, ci, hw, co4, wt, co4, t, hw, dx.subarray(img * ci * hw, (img + 1) * ci * hw), hw, false);
    // dw (Cin × Cout·4) += x_img · tᵀ
    gemm(false, true, ci, co4, hw, xi, hw, t, hw, dw, co4, img > 0);
    for (let o = 0; o < co; o++) {
      let s = 0;
      for (let j = o * 4 * hw; j < (o + 1) * 4 * hw; j++) s += t[j];
      dbAcc[o] += s;
    }
  }
  return { dx, dw, db: Float32Array.from(dbAcc) };
}

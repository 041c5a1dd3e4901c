/**
 * 2-D convolution kernels (square kernel, NCHW, weight (O, C, k, k)) as pure functions on Float32Array:
 * im2col + GEMM, one image at a time so that the column buffer stays bounded (C·k²·OH·OW floats).
 */
import { gemmSerial, type GemmFn } from './gemm.js';

export interface ConvGeometry {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly o: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
  readonly oh: number;
  readonly ow: number;
}

/** Geometry of a convolution from the shapes of x (N, C, H, W) and w (O, C, k, k). Shapes are assumed checked. */
export function convGeometry(xShape: readonly number[], wShape: readonly number[], p: { stride: number; padding: number }): ConvGeometry {
  const [n, c, h, w] = xShape;
  const o = wShape[0];
  const k = wShape[2];
  const oh = Math.floor((h + 2 * p.padding - k) / p.stride) + 1;
  const ow = Math.floor((w + 2 * p.padding - k) / p.stride) + 1;
  return { n, c, h, w, o, k, stride: p.stride, padding: p.padding, oh, ow };
}

/** A 1×1, stride-1, unpadded convolution needs no im2col: the image itself is the column matrix. */
function isPointwise(g: ConvGeometry): boolean {
  return g.k === 1 && g.stride === 1 && g.padding === 0;
}

/** Valid output range [lo, hi) along one axis for kernel offset `kk`: 0 ≤ o·s − p + kk < size. */
function validRange(kk: number, size: number, outSize: number, stride: number, padding: number): [number, number] {
  // o·s ≥ p − kk  →  o ≥ ceil((p − kk) / s);   o·s ≤ size − 1 + p − kk  →  o ≤ floor((size − 1 + p − kk) / s)
  const lo = Math.max(0, Math.ceil((padding - kk) / stride));
  const hi = Math.min(outSize, Math.floor((size - 1 + padding - kk) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** col[(ci·k + kh)·k + kw][oy·OW + ox] = x[ci][oy·s − p + kh][ox·s − p + kw] (0 outside). x is one image (C, H, W). */
export function im2col(x: Float32Array, xOff: number, g: ConvGeometry, col: Float32Array): void {
  const { c, h, w, k, stride, padding, oh, ow } = g;
  const ohw = oh * ow;
  for (let ci = 0; ci < c; ci++) {
    const xc = xOff + ci * h * w;
    for (let kh = 0; kh < k; kh++) {
      const [y0, y1] = validRange(kh, h, oh, stride, padding);
      for (let kw = 0; kw < k; kw++) {
        const row = ((ci * k + kh) * k + kw) * ohw;
        const [x0, x1] = validRange(kw, w, ow, stride, padding);
        col.fill(0, row, row + y0 * ow);
        for (let oy = y0; oy < y1; oy++) {
          const d = row + oy * ow;
          const s = xc + (oy * stride - padding + kh) * w - padding + kw;
          for (let ox = 0; ox < x0; ox++) col[d + ox] = 0; // the padding: a few values, cheaper than a fill call
          if (stride === 1) {
            // long rows as a memcpy (set), short ones by hand (a subarray costs more than a few copies)
            if (x1 - x0 >= 32) col.set(x.subarray(s + x0, s + x1), d + x0);
            else for (let ox = x0; ox < x1; ox++) col[d + ox] = x[s + ox];
          } else {
            for (let ox = x0; ox < x1; ox++) col[d + ox] = x[s + ox * stride];
          }
          for (let ox = x1; ox < ow; ox++) col[d + ox] = 0;
        }
        col.fill(0, row + y1 * ow, row + ohw);
      }
    }
  }
}

/** The adjoint of im2col: dx[ci][iy][ix] += col[...] for every column entry that maps to it. */
export function col2im(col: Float32Array, g: ConvGeometry, dx: Float32Array, dxOff: number): void {
  if (g.stride === 1) col2imStride1(col, g, dx, dxOff);
  else col2imScatter(col, g, dx, dxOff);
}

/** col2im as a scatter: every column row added into dx, row by row (any stride). */
function col2imScatter(col: Float32Array, g: ConvGeometry, dx: Float32Array, dxOff: number): void {
  const { c, h, w, k, stride, padding, oh, ow } = g;
  const ohw = oh * ow;
  for (let ci = 0; ci < c; ci++) {
    const xc = dxOff + ci * h * w;
    for (let kh = 0; kh < k; kh++) {
      const [y0, y1] = validRange(kh, h, oh, stride, padding);
      for (let kw = 0; kw < k; kw++) {
        const row = ((ci * k + kh) * k + kw) * ohw;
        const [x0, x1] = validRange(kw, w, ow, stride, padding);
        for (let oy = y0; oy < y1; oy++) {
          const s = row + oy * ow;
          const d = xc + (oy * stride - padding + kh) * w - padding + kw;
          for (let ox = x0; ox < x1; ox++) dx[d + ox * stride] += col[s + ox];
        }
      }
    }
  }
}

/**
 * col2im at stride 1 as a gather: each dx element adds its terms in the scatter's order (kh, then kw),
 * rounding to float32 after each add as the scatter's `+=` does, so the results are the same bits; 3×3
 * kernels add four neighbouring elements at once (independent chains), 2–2.5× the scatter's speed.
 * dx[iy][ix] takes the term (kh, kw) from output position (iy + p − kh, ix + p − kw) where that exists.
 */
function col2imStride1(col: Float32Array, g: ConvGeometry, dx: Float32Array, dxOff: number): void {
  const { c, h, w, k, padding: p, oh, ow } = g;
  const ohw = oh * ow;
  const kwStep = ohw - 1; // from term (kh, kw) to (kh, kw + 1) of one dx element
  // Columns whose every kw term exists (0 ≤ ix + p − kw < ow for all kw); the others are edges.
  const xLo = Math.min(w, Math.max(0, k - 1 - p));
  const xHi = Math.max(xLo, Math.min(w, ow - p));
  const edge = (d: number, r0: number, ix: number): void => {
    let s = dx[d + ix];
    const kwHi = Math.min(k, ix + p + 1);
    for (let kw = Math.max(0, ix + p - ow + 1); kw < kwHi; kw++) s = Math.fround(s + col[r0 + ix + kw * kwStep]);
    dx[d + ix] = s;
  };
  for (let ci = 0; ci < c; ci++) {
    for (let iy = 0; iy < h; iy++) {
      const d = dxOff + (ci * h + iy) * w;
      const khHi = Math.min(k, iy + p + 1);
      for (let kh = Math.max(0, iy + p - oh + 1); kh < khHi; kh++) {
        // r0 + ix + kw·kwStep is the column entry of term (kh, kw) of dx[iy][ix]
        const r0 = (ci * k + kh) * k * ohw + (iy + p - kh) * ow + p;
        for (let ix = 0; ix < xLo; ix++) edge(d, r0, ix);
        let ix = xLo;
        if (k === 3) {
          const r1 = kwStep;
          const r2 = 2 * kwStep;
          for (; ix + 4 <= xHi; ix += 4) {
            const o = d + ix;
            const r = r0 + ix;
            let s0 = dx[o], s1 = dx[o + 1], s2 = dx[o + 2], s3 = dx[o + 3];
            s0 = Math.fround(s0 + col[r]); s1 = Math.fround(s1 + col[r + 1]); s2 = Math.fround(s2 + col[r + 2]); s3 = Math.fround(s3 + col[r + 3]);
            s0 = Math.fround(s0 + col[r + r1]); s1 = Math.fround(s1 + col[r + r1 + 1]); s2 = Math.fround(s2 + col[r + r1 + 2]); s3 = Math.fround(s3 + col[r + r1 + 3]);
            s0 = Math.fround(s0 + col[r + r2]); s1 = Math.fround(s1 + col[r + r2 + 1]); s2 = Math.fround(s2 + col[r + r2 + 2]); s3 = Math.fround(s3 + col[r + r2 + 3]);
            dx[o] = s0; dx[o + 1] = s1; dx[o + 2] = s2; dx[o + 3] = s3;
          }
        }
        for (; ix < xHi; ix++) {
          let s = dx[d + ix];
          for (let kw = 0, r = r0 + ix; kw < k; kw++, r += kwStep) s = Math.fround(s + col[r]);
          dx[d + ix] = s;
        }
        for (ix = xHi; ix < w; ix++) edge(d, r0, ix);
      }
    }
  }
}

/** y (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C, k, k)) + b. */
export function conv2dForward(x: Float32Array, w: Float32Array, b: Float32Array | null, g: ConvGeometry, gemm: GemmFn = gemmSerial): Float32Array {
  const { n, c, h, o, k, oh, ow } = g;
  const chw = c * h * g.w;
  const ohw = oh * ow;
  const ckk = c * k * k;
  const y = new Float32Array(n * o * ohw);
  const pointwise = isPointwise(g);
  const col = pointwise ? null : new Float32Array(ckk * ohw);
  for (let img = 0; img < n; img++) {
    let src: Float32Array;
    if (col) {
      im2col(x, img * chw, g, col);
      src = col;
    } else {
      src = x.subarray(img * chw, (img + 1) * chw);
    }
    const yi = y.subarray(img * o * ohw, (img + 1) * o * ohw);
    gemm(false, false, o, ohw, ckk, w, ckk, src, ohw, yi, ohw, false);
    if (b) {
      for (let oc = 0; oc < o; oc++) {
        const bv = b[oc];
        if (bv === 0) continue;
        const r = oc * ohw;
        for (let j = 0; j < ohw; j++) yi[r + j] += bv;
      }
    }
  }
  return y;
}

/** dx (N, C, H, W) = Wᵀ(dy): the adjoint of the convolution (a transposed convolution), no bias. */
export function conv2dBackwardData(dy: Float32Array, w: Float32Array, g: ConvGeometry, gemm: GemmFn = gemmSerial): Float32Array {
  const { n, c, h, o, k, oh, ow } = g;
  const chw = c * h * g.w;
  const ohw = oh * ow;
  const ckk = c * k * k;
  const dx = new Float32Array(n * chw);
  const pointwise = isPointwise(g);
  const col = pointwise ? null : new Float32Array(ckk * ohw);
  for (let img = 0; img < n; img++) {
    const dyi = dy.subarray(img * o * ohw, (img + 1) * o * ohw);
    if (col) {
      gemm(true, false, ckk, ohw, o, w, ckk, dyi, ohw, col, ohw, false);
      col2im(col, g, dx, img * chw);
    } else {
      gemm(true, false, ckk, ohw, o, w, ckk, dyi, ohw, dx.subarray(img * chw, (img + 1) * chw), ohw, false);
    }
  }
  return dx;
}

/** dw (O, C, k, k) = Σ_n dy_n · col(x_n)ᵀ and db (O) = Σ_{n,y,x} dy. */
export function conv2dBackwardFilter(dy: Float32Array, x: Float32Array, g: ConvGeometry, gemm: GemmFn = gemmSerial): { dw: Float32Array; db: Float32Array } {
  const { n, c, h, o, k, oh, ow } = g;
  const chw = c * h * g.w;
  const ohw = oh * ow;
  const ckk = c * k * k;
  const dw = new Float32Array(o * ckk);
  const db = new Float32Array(o);
  const dbAcc = new Float64Array(o);
  const pointwise = isPointwise(g);
  const col = pointwise ? null : new Float32Array(ckk * ohw);
  for (let img = 0; img < n; img++) {
    const dyi = dy.subarray(img * o * ohw, (img + 1) * o * ohw);
    let src: Float32Array;
    if (col) {
      im2col(x, img * chw, g, col);
      src = col;
    } else {
      src = x.subarray(img * chw, (img + 1) * chw);
    }
    gemm(false, true, o, ckk, ohw, dyi, ohw, src, ohw, dw, ckk, img > 0);
    for (let oc = 0; oc < o; oc++) {
      let s = 0;
      const r = oc * ohw;
      for (let j = 0; j < ohw; j++) s += dyi[r + j];
      dbAcc[oc] += s;
    }
  }
  db.set(dbAcc);
  return { dw, db };
}

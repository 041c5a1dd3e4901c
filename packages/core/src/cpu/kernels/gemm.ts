/**
 * The one GEMM kernel of the CPU backend, shared by the serial path and the worker threads.
 *
 * `gemmBlock` is deliberately self-contained (no imports, no references to module-level names, no
 * closures over outer variables): the worker pool in src/node/ ships it to worker threads as source text
 * (`gemmBlock.toString()`). Keep it that way when editing it.
 *
 * Algorithm (GotoBLAS style): block over n (NC columns) and k (KC), pack the block of op(B) into
 * micro-panels of 4 columns and the block of op(A) into micro-panels of 4 rows (both as float64, which
 * also absorbs the transpositions), then a 4×4 register-tiled micro-kernel accumulates in float64 locals
 * and adds into C (one float32 rounding per k-block). Float64 accumulation is faster than float32 in
 * V8 (no Math.fround on every step) and more accurate.
 *
 * The micro-kernel sweep also exists in WebAssembly SIMD (gemm-sweep.wat: two float64 lanes, the same
 * order of operations, so bit-identical results), used when the workspace carries one (`GemmWorkspace.simd`,
 * from `instantiateGemmSimd`): 2.5–3.7× the JS sweep on the development machine (docs/cpu-backend.md).
 */
import { GEMM_SWEEP_WASM } from './gemm-sweep-wasm.js';

/** C[m×n] = (accumulate ? C : 0) + op(A)·op(B), row-major, op = transpose if the flag is set. */
export type GemmFn = (
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  accumulate: boolean,
) => void;

/**
 * The WebAssembly sweep of one thread, with float64 views of its packing buffers (byte offsets for the
 * call): gemmBlock packs op(A) into `pa` and op(B) into `pb`, and the sweep writes the block of C into
 * `t` (float32, row stride 4·nPanels): the sums, or with `accumulate` 1 the sums added to what `t` holds.
 */
export interface GemmSimd {
  readonly sweep: (pa: number, pb: number, t: number, mPanels: number, nPanels: number, kc: number, accumulate: number) => void;
  /** Packs `panels` full panels of B into `pb` from the float32 rows of the block in `bRows` (row stride nc). */
  readonly packB: (bRows: number, pb: number, kc: number, nc: number, panels: number) => void;
  readonly pa: Float64Array;
  readonly pb: Float64Array;
  readonly t: Float32Array;
  readonly bRows: Float32Array;
}

/** One thread's scratch for gemmBlock: float64 arrays (filled on first use) and its SIMD sweep, if any. */
export interface GemmWorkspace {
  readonly f64: Float64Array[];
  readonly simd: GemmSimd | null;
}

/** The part of the WebAssembly API used here (core's lib is plain ES2022, without the DOM's types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: Record<string, unknown> };
}

/**
 * The SIMD sweep compiled from `bytes` (GEMM_SWEEP_WASM), or null where WebAssembly or its SIMD is missing
 * (or refused, e.g. by a page's content security policy). Self-contained like gemmBlock: the worker
 * threads get it as source text. The buffer sizes are gemmBlock's largest blocks (MC·KC, KC·NC, MC·NC, and
 * KC·NC for B's rows).
 */
export function instantiateGemmSimd(bytes: Uint8Array): GemmSimd | null {
  const KC = 256;
  const MC = 64;
  const NC = 1024;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm || !wasm.validate(bytes)) return null;
    const instance = new wasm.Instance(new wasm.Module(bytes));
    const memory = instance.exports.memory as { buffer: ArrayBuffer };
    const sweep = instance.exports.sweep as GemmSimd['sweep'];
    const packB = instance.exports.packB as GemmSimd['packB'];
    const pa = new Float64Array(memory.buffer, 0, MC * KC);
    const pb = new Float64Array(memory.buffer, pa.byteOffset + pa.byteLength, KC * NC);
    const t = new Float32Array(memory.buffer, pb.byteOffset + pb.byteLength, MC * NC);
    const bRows = new Float32Array(memory.buffer, t.byteOffset + t.byteLength, KC * NC);
    return { sweep, packB, pa, pb, t, bRows };
  } catch {
    return null;
  }
}

/**
 * Computes the sub-block rows [m0, m1) × columns [n0, n1) of C = (accumulate ? C : 0) + op(A)·op(B).
 * `ws` is the calling thread's workspace (see GemmWorkspace), owned by the caller.
 */
export function gemmBlock(
  transA: boolean,
  transB: boolean,
  m0: number,
  m1: number,
  n0: number,
  n1: number,
  k: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  accumulate: boolean,
  ws: GemmWorkspace,
): void {
  const KC = 256;
  const MC = 64;
  const NC = 1024;
  const mm = m1 - m0;
  const nn = n1 - n0;
  if (mm <= 0 || nn <= 0) return;
  if (k <= 0) {
    if (!accumulate) for (let i = m0; i < m1; i++) c.fill(0, i * ldc + n0, i * ldc + n1);
    return;
  }
  // Strides of op(A)(i, p) and op(B)(p, j) in memory.
  const sAi = transA ? 1 : lda;
  const sAp = transA ? lda : 1;
  const sBp = transB ? 1 : ldb;
  const sBj = transB ? ldb : 1;

  if (mm < 4 || nn < 4) {
    // Thin problems (matrix-vector like): no packing. Make the thin side the rows: C = P·Q with
    // P (rows × k) thin, Q (k × cols). If C is thin in its columns, compute Cᵀ = op(B)ᵀ·op(A)ᵀ.
    const swap = mm >= 4;
    const rows = swap ? nn : mm;
    const cols = swap ? mm : nn;
    const P = swap ? b : a;
    const pBase = swap ? n0 * sBj : m0 * sAi;
    const sPr = swap ? sBj : sAi;
    const sPp = swap ? sBp : sAp;
    const Q = swap ? a : b;
    const qBase = swap ? m0 * sAi : n0 * sBj;
    const sQp = swap ? sAp : sBp;
    const sQc = swap ? sAi : sBj;
    const cBase = m0 * ldc + n0;
    const sCr = swap ? 1 : ldc;
    const sCc = swap ? ldc : 1;
    // Gather the thin operand's rows as float64 (rows·k values).
    const f64 = ws.f64;
    if (!f64[2] || f64[2].length < rows * k) f64[2] = new Float64Array(rows * k);
    const t = f64[2];
    for (let r = 0; r < rows; r++) {
      const src = pBase + r * sPr;
      const dst = r * k;
      for (let p = 0; p < k; p++) t[dst + p] = P[src + p * sPp];
    }
    if (sQp === 1) {
      // Each column of Q is contiguous: dot products, column outer so that it stays in cache.
      for (let j = 0; j < cols; j++) {
        const q = qBase + j * sQc;
        for (let r = 0; r < rows; r++) {
          const tr = r * k;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          let p = 0;
          for (; p + 4 <= k; p += 4) {
            s0 += t[tr + p] * Q[q + p];
            s1 += t[tr + p + 1] * Q[q + p + 1];
            s2 += t[tr + p + 2] * Q[q + p + 2];
            s3 += t[tr + p + 3] * Q[q + p + 3];
          }
          for (; p < k; p++) s0 += t[tr + p] * Q[q + p];
          const ci = cBase + r * sCr + j * sCc;
          const s = s0 + s1 + (s2 + s3);
          c[ci] = accumulate ? c[ci] + s : s;
        }
      }
    } else {
      // Rows of Q are contiguous (sQc === 1): axpy into float64 accumulators, one row of C at a time.
      if (!f64[3] || f64[3].length < cols) f64[3] = new Float64Array(cols);
      const acc = f64[3];
      for (let r = 0; r < rows; r++) {
        acc.fill(0, 0, cols);
        const tr = r * k;
        for (let p = 0; p < k; p++) {
          const v = t[tr + p];
          const q = qBase + p * sQp;
          for (let j = 0; j < cols; j++) acc[j] += v * Q[q + j];
        }
        const cr = cBase + r * sCr;
        if (sCc === 1) {
          if (accumulate) for (let j = 0; j < cols; j++) c[cr + j] += acc[j];
          else for (let j = 0; j < cols; j++) c[cr + j] = acc[j];
        } else {
          if (accumulate) for (let j = 0; j < cols; j++) c[cr + j * sCc] += acc[j];
          else for (let j = 0; j < cols; j++) c[cr + j * sCc] = acc[j];
        }
      }
    }
    return;
  }

  const simd = ws.simd !== null && ws.simd.pa.length >= MC * KC && ws.simd.pb.length >= KC * NC && ws.simd.t.length >= MC * NC && ws.simd.bRows.length >= KC * NC ? ws.simd : null;
  const f64 = ws.f64;
  if (!simd && (!f64[0] || f64[0].length < MC * KC)) f64[0] = new Float64Array(MC * KC);
  if (!simd && (!f64[1] || f64[1].length < KC * NC)) f64[1] = new Float64Array(KC * NC);
  const pa = simd ? simd.pa : f64[0];
  const pb = simd ? simd.pb : f64[1];
  // One micro-panel of A or B: dst[base + p·4 + l] = src[s0 + l·sLane + p·sP] for the `lanes` valid lanes
  // (rows of op(A), columns of op(B)), zeros in the others. A full panel reads its four lanes side by
  // side in one pass (where each lane is contiguous, e.g. the filter gradient's col(x)ᵀ, 1.15–1.5× over
  // four strided passes).
  const packPanel = (dst: Float64Array, base: number, src: Float32Array, s0: number, sLane: number, sP: number, lanes: number, kc: number): void => {
    if (lanes === 4) {
      const s1 = s0 + sLane;
      const s2 = s1 + sLane;
      const s3 = s2 + sLane;
      for (let p = 0, d = base, o = 0; p < kc; p++, d += 4, o += sP) {
        dst[d] = src[s0 + o];
        dst[d + 1] = src[s1 + o];
        dst[d + 2] = src[s2 + o];
        dst[d + 3] = src[s3 + o];
      }
      return;
    }
    for (let l = 0; l < 4; l++) {
      if (l < lanes) for (let p = 0, s = s0 + l * sLane; p < kc; p++, s += sP) dst[base + p * 4 + l] = src[s];
      else for (let p = 0; p < kc; p++) dst[base + p * 4 + l] = 0;
    }
  };

  for (let jc = n0; jc < n1; jc += NC) {
    const nc = Math.min(NC, n1 - jc);
    const nPanels = (nc + 3) >> 2;
    for (let pc = 0; pc < k; pc += KC) {
      const kc = Math.min(KC, k - pc);
      const first = pc === 0 && !accumulate;
      // Pack op(B)[pc:pc+kc, jc:jc+nc] into panels of 4 columns: pb[(jp·kc + p)·4 + jj]. Rows of B in
      // memory (sBj = 1, e.g. im2col's columns): read each row once, front to back, into every full panel
      // (7 % off a widths-÷8 conv1 GEMM, 8 × 50176 × 27; panel by panel read kc rows 4 values at a time).
      const fullPanels = sBj === 1 ? nc >> 2 : 0;
      const panelStride = kc * 4;
      if (simd && fullPanels >= 8) {
        // In wasm: the block's rows copied in (set, a memcpy), then widened and placed with SIMD.
        const rows = simd.bRows;
        for (let p = 0; p < kc; p++) {
          const s = (pc + p) * sBp + jc;
          rows.set(b.subarray(s, s + nc), p * nc);
        }
        simd.packB(rows.byteOffset, pb.byteOffset, kc, nc, fullPanels);
      } else {
        for (let p = 0; p < kc; p++) {
          let s = (pc + p) * sBp + jc;
          for (let jp = 0, d = p * 4; jp < fullPanels; jp++, s += 4, d += panelStride) {
            pb[d] = b[s];
            pb[d + 1] = b[s + 1];
            pb[d + 2] = b[s + 2];
            pb[d + 3] = b[s + 3];
          }
        }
      }
      for (let jp = fullPanels; jp < nPanels; jp++) {
        const j0 = jc + jp * 4;
        packPanel(pb, jp * panelStride, b, j0 * sBj + pc * sBp, sBj, sBp, Math.min(4, n1 - j0), kc);
      }
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = Math.min(MC, m1 - ic);
        const mPanels = (mc + 3) >> 2;
        // Pack op(A)[ic:ic+mc, pc:pc+kc] into panels of 4 rows: pa[(ip·kc + p)·4 + ii].
        for (let ip = 0; ip < mPanels; ip++) {
          const i0 = ic + ip * 4;
          packPanel(pa, ip * kc * 4, a, i0 * sAi + pc * sAp, sAi, sAp, Math.min(4, m1 - i0), kc);
        }
        if (simd) {
          // The same sweep in WebAssembly on a float32 copy T of this block of C (row stride 4·nPanels),
          // rounding as below: T = sum, or T = C + sum. Long rows move with set (a memcpy), short ones by hand.
          const t = simd.t;
          const stride = nPanels * 4;
          const long = nc >= 32;
          if (!first)
            for (let i = 0; i < mc; i++) {
              const o = (ic + i) * ldc + jc;
              if (long) t.set(c.subarray(o, o + nc), i * stride);
              else for (let j = 0, r = i * stride; j < nc; j++) t[r + j] = c[o + j];
            }
          simd.sweep(simd.pa.byteOffset, simd.pb.byteOffset, t.byteOffset, mPanels, nPanels, kc, first ? 0 : 1);
          for (let i = 0; i < mc; i++) {
            const r = i * stride;
            const o = (ic + i) * ldc + jc;
            if (long) c.set(t.subarray(r, r + nc), o);
            else for (let j = 0; j < nc; j++) c[o + j] = t[r + j];
          }
          continue;
        }
        // Micro-kernel sweep: B micro-panel (kc×4) stays in L1 while the A block streams from L2.
        for (let jp = 0; jp < nPanels; jp++) {
          const j0 = jc + jp * 4;
          const w = Math.min(4, n1 - j0);
          const bBase = jp * kc * 4;
          for (let ip = 0; ip < mPanels; ip++) {
            const i0 = ic + ip * 4;
            const h = Math.min(4, m1 - i0);
            let ia = ip * kc * 4;
            let ib = bBase;
            let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
            let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
            let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (let p = 0; p < kc; p++) {
              const a0 = pa[ia];
              const a1 = pa[ia + 1];
              const a2 = pa[ia + 2];
              const a3 = pa[ia + 3];
              let v = pb[ib];
              c00 += a0 * v; c10 += a1 * v; c20 += a2 * v; c30 += a3 * v;
              v = pb[ib + 1];
              c01 += a0 * v; c11 += a1 * v; c21 += a2 * v; c31 += a3 * v;
              v = pb[ib + 2];
              c02 += a0 * v; c12 += a1 * v; c22 += a2 * v; c32 += a3 * v;
              v = pb[ib + 3];
              c03 += a0 * v; c13 += a1 * v; c23 += a2 * v; c33 += a3 * v;
              ia += 4;
              ib += 4;
            }
            let o = i0 * ldc + j0;
            if (h === 4 && w === 4) {
              if (first) {
                c[o] = c00; c[o + 1] = c01; c[o + 2] = c02; c[o + 3] = c03; o += ldc;
                c[o] = c10; c[o + 1] = c11; c[o + 2] = c12; c[o + 3] = c13; o += ldc;
                c[o] = c20; c[o + 1] = c21; c[o + 2] = c22; c[o + 3] = c23; o += ldc;
                c[o] = c30; c[o + 1] = c31; c[o + 2] = c32; c[o + 3] = c33;
              } else {
                c[o] += c00; c[o + 1] += c01; c[o + 2] += c02; c[o + 3] += c03; o += ldc;
                c[o] += c10; c[o + 1] += c11; c[o + 2] += c12; c[o + 3] += c13; o += ldc;
                c[o] += c20; c[o + 1] += c21; c[o + 2] += c22; c[o + 3] += c23; o += ldc;
                c[o] += c30; c[o + 1] += c31; c[o + 2] += c32; c[o + 3] += c33;
              }
            } else {
              // Edge tile: write the valid h×w part only.
              for (let ii = 0; ii < h; ii++) {
                const r0 = ii === 0 ? c00 : ii === 1 ? c10 : ii === 2 ? c20 : c30;
                const r1 = ii === 0 ? c01 : ii === 1 ? c11 : ii === 2 ? c21 : c31;
                const r2 = ii === 0 ? c02 : ii === 1 ? c12 : ii === 2 ? c22 : c32;
                const r3 = ii === 0 ? c03 : ii === 1 ? c13 : ii === 2 ? c23 : c33;
                const ro = o + ii * ldc;
                if (first) {
                  c[ro] = r0;
                  if (w > 1) c[ro + 1] = r1;
                  if (w > 2) c[ro + 2] = r2;
                  if (w > 3) c[ro + 3] = r3;
                } else {
                  c[ro] += r0;
                  if (w > 1) c[ro + 1] += r1;
                  if (w > 2) c[ro + 2] += r2;
                  if (w > 3) c[ro + 3] += r3;
                }
              }
            }
          }
        }
      }
    }
  }
}

/** Checks that the operands of a GEMM call are large enough for their leading dimensions. */
export function checkGemmArgs(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  a: Float32Array, lda: number, b: Float32Array, ldb: number, c: Float32Array, ldc: number,
): void {
  const need = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
  const aRows = transA ? k : m, aCols = transA ? m : k;
  const bRows = transB ? n : k, bCols = transB ? k : n;
  if (lda < aCols || ldb < bCols || ldc < n || a.length < need(aRows, aCols, lda) || b.length < need(bRows, bCols, ldb) || c.length < need(m, n, ldc)) {
    throw new RangeError(`gemm: operands too small for m=${m} n=${n} k=${k} (lda=${lda}, ldb=${ldb}, ldc=${ldc})`);
  }
}

let simdWorkspace: GemmWorkspace | undefined;
const scalarWorkspace: GemmWorkspace = { f64: [], simd: null };

/** The calling thread's workspace: with the SIMD sweep unless `simd` is false or it cannot be had here. */
export function serialGemmWorkspace(simd = true): GemmWorkspace {
  if (!simd) return scalarWorkspace;
  simdWorkspace ??= { f64: [], simd: instantiateGemmSimd(GEMM_SWEEP_WASM) };
  return simdWorkspace;
}

/** Whether this JS engine runs the WebAssembly SIMD sweep (else every GEMM takes the JS one). */
export const gemmSimdAvailable = (): boolean => serialGemmWorkspace().simd !== null;

/** Single-threaded GEMM on the calling thread (the SIMD sweep where available). */
export const gemmSerial: GemmFn = (transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate) => {
  checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
  gemmBlock(transA, transB, 0, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate, serialGemmWorkspace());
};

/** gemmSerial with the JS sweep only (identical results; for comparison, and where SIMD is unwanted). */
export const gemmSerialScalar: GemmFn = (transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate) => {
  checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
  gemmBlock(transA, transB, 0, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate, scalarWorkspace);
};

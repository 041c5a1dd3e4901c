import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gemmSerial, gemmSerialScalar, gemmBlock, gemmSimdAvailable, instantiateGemmSimd, type GemmFn, type GemmWorkspace } from '../../src/cpu/kernels/gemm.js';
import { GEMM_SWEEP_WASM } from '../../src/cpu/kernels/gemm-sweep-wasm.js';
import { createGemmPool, gemmWorkerSource, type GemmPool } from '../../src/node/gemm-pool.js';
import { mulberry32, randomTensorData } from '../../src/testing/random.js';
import { relativeL2Error } from '../../src/testing/conformance.js';

interface Case {
  tA: boolean; tB: boolean; m: number; n: number; k: number; lda: number; ldb: number; ldc: number; acc: boolean;
  a: Float32Array; b: Float32Array; c: Float32Array;
}

function makeCase(rng: () => number, m: number, n: number, k: number, tA: boolean, tB: boolean, acc: boolean, pad: number): Case {
  const lda = (tA ? m : k) + pad;
  const ldb = (tB ? k : n) + 2 * pad;
  const ldc = n + 3 * pad;
  return {
    tA, tB, m, n, k, lda, ldb, ldc, acc,
    a: randomTensorData(rng, (tA ? k : m) * lda),
    b: randomTensorData(rng, (tB ? n : k) * ldb),
    c: randomTensorData(rng, m * ldc),
  };
}

/** C in float64 by the definition; entries outside the m×n block (ldc padding) stay as they were. */
function reference(q: Case): Float64Array {
  const out = Float64Array.from(q.c);
  for (let i = 0; i < q.m; i++)
    for (let j = 0; j < q.n; j++) {
      let s = q.acc ? q.c[i * q.ldc + j] : 0;
      for (let p = 0; p < q.k; p++) s += (q.tA ? q.a[p * q.lda + i] : q.a[i * q.lda + p]) * (q.tB ? q.b[j * q.ldb + p] : q.b[p * q.ldb + j]);
      out[i * q.ldc + j] = s;
    }
  return out;
}

function run(g: GemmFn, q: Case): Float32Array {
  const c = q.c.slice();
  g(q.tA, q.tB, q.m, q.n, q.k, q.a, q.lda, q.b, q.ldb, c, q.ldc, q.acc);
  return c;
}

const SIZES: [number, number, number][] = [
  [1, 1, 1], [1, 7, 5], [3, 1, 9], [2, 3, 0], [4, 4, 4], [5, 9, 3], [17, 13, 300], [64, 27, 50],
  [70, 1030, 9], [3, 700, 260], [130, 2, 513], [9, 9, 1], [33, 65, 257], [100, 100, 100],
];

function* cases(seed: number): Generator<Case> {
  const rng = mulberry32(seed);
  for (const [m, n, k] of SIZES)
    for (const tA of [false, true])
      for (const tB of [false, true]) yield makeCase(rng, m, n, k, tA, tB, rng() < 0.5, rng() < 0.5 ? 0 : 3);
}

describe('gemmSerial', () => {
  it('matches the float64 definition for every transpose, leading dimension, thin and edge shapes', () => {
    for (const q of cases(11)) {
      const got = run(gemmSerial, q);
      const err = relativeL2Error(got, reference(q));
      expect(err, `m=${q.m} n=${q.n} k=${q.k} tA=${q.tA} tB=${q.tB} acc=${q.acc} lda=${q.lda}`).toBeLessThan(1e-6);
    }
  });
  it('leaves the padding between rows of C untouched, and k = 0 gives zeros (or C when accumulating)', () => {
    const rng = mulberry32(3);
    const q = makeCase(rng, 6, 5, 0, false, false, false, 2);
    const got = run(gemmSerial, q);
    for (let i = 0; i < 6; i++) for (let j = 0; j < q.ldc; j++) expect(got[i * q.ldc + j]).toBe(j < 5 ? 0 : q.c[i * q.ldc + j]);
    const qa = { ...q, acc: true };
    expect(Array.from(run(gemmSerial, qa))).toEqual(Array.from(q.c));
  });
  it('rejects operands too small for their leading dimensions', () => {
    const a = new Float32Array(5);
    expect(() => gemmSerial(false, false, 2, 2, 3, a, 3, new Float32Array(6), 2, new Float32Array(4), 2, false)).toThrow(RangeError);
  });
  it.each([['the JS sweep', false], ['the SIMD sweep', true]])('gemmBlock computes only its sub-block (%s)', (_, simd) => {
    const rng = mulberry32(5);
    const q = makeCase(rng, 20, 30, 17, false, true, false, 1);
    const want = reference(q);
    const c = q.c.slice();
    const ws: GemmWorkspace = { f64: [], simd: simd ? instantiateGemmSimd(GEMM_SWEEP_WASM) : null };
    gemmBlock(q.tA, q.tB, 4, 12, 8, 21, q.k, q.a, q.lda, q.b, q.ldb, c, q.ldc, false, ws);
    for (let i = 0; i < 20; i++)
      for (let j = 0; j < q.ldc; j++) {
        const inside = i >= 4 && i < 12 && j >= 8 && j < 21;
        if (inside) expect(Math.abs(c[i * q.ldc + j] - want[i * q.ldc + j])).toBeLessThan(1e-4);
        else expect(c[i * q.ldc + j]).toBe(q.c[i * q.ldc + j]);
      }
  });
});

describe('the WebAssembly SIMD sweep', () => {
  it('runs here (Node 20 has WebAssembly SIMD)', () => {
    expect(gemmSimdAvailable()).toBe(true);
  });
  it('gives results bit for bit those of the JS sweep, across the block sizes (MC 64, KC 256, NC 1024) and edges', () => {
    const rng = mulberry32(13);
    const sizes: [number, number, number][] = [...SIZES, [67, 1100, 300], [130, 40, 520], [5, 2049, 4], [4, 4, 1]];
    let compared = 0;
    for (const [m, n, k] of sizes)
      for (const tA of [false, true])
        for (const tB of [false, true]) {
          const q = makeCase(rng, m, n, k, tA, tB, rng() < 0.5, rng() < 0.5 ? 0 : 3);
          expect(Array.from(run(gemmSerial, q)), `m=${m} n=${n} k=${k} tA=${tA} tB=${tB}`).toEqual(Array.from(run(gemmSerialScalar, q)));
          compared++;
        }
    expect(compared).toBe(4 * (SIZES.length + 4));
  });
  it('is refused quietly (null: the JS sweep) when the bytes are not a valid module', () => {
    expect(instantiateGemmSimd(new Uint8Array([0, 97, 115, 109, 9, 9]))).toBeNull();
    expect(instantiateGemmSimd(GEMM_SWEEP_WASM)).not.toBeNull();
  });
  it('is the assembly of gemm-sweep.wat (rerun scripts/build-wasm.mjs after editing it)', async () => {
    // @ts-expect-error: a plain .mjs helper of the build script, without types
    const { assembleGemmSweep } = (await import('../../scripts/wasm-source.mjs')) as { assembleGemmSweep: (wat: string) => Promise<Uint8Array> };
    const wat = readFileSync(new URL('../../src/cpu/kernels/gemm-sweep.wat', import.meta.url), 'utf8');
    expect(Array.from(await assembleGemmSweep(wat))).toEqual(Array.from(GEMM_SWEEP_WASM));
  });
});

describe('gemm worker pool', () => {
  let pool: GemmPool;
  beforeAll(async () => {
    pool = createGemmPool({ threads: 3, minWork: 1, minWorkPerCopiedFloat: 0 });
    await pool.whenReady();
  });
  afterAll(async () => {
    await pool.close();
  });

  it('runs the SIMD sweep on every thread', () => {
    expect(pool.simdThreads()).toBe(3);
  });
  it('with simd: false runs the JS sweep everywhere, with the same results', async () => {
    const p = createGemmPool({ threads: 2, minWork: 1, minWorkPerCopiedFloat: 0, simd: false });
    try {
      await p.whenReady();
      expect(p.simdThreads()).toBe(0);
      const q = makeCase(mulberry32(21), 70, 90, 300, false, true, true, 2);
      expect(Array.from(run(p.gemm, q))).toEqual(Array.from(run(gemmSerial, q)));
      expect(p.stats.parallelCalls).toBe(1);
    } finally {
      await p.close();
    }
  });
  it('ships a self-contained worker source', () => {
    const src = gemmWorkerSource();
    expect(src).toContain('function gemmBlock');
    expect(() => new Function(src)).not.toThrow();
  });
  it('gives bit-identical results to gemmSerial (split over m and over n, all transposes)', () => {
    const before = pool.stats.parallelCalls;
    for (const q of cases(12)) {
      const want = run(gemmSerial, q);
      const got = run(pool.gemm, q);
      expect(Array.from(got), `m=${q.m} n=${q.n} k=${q.k} tA=${q.tA} tB=${q.tB}`).toEqual(Array.from(want));
    }
    expect(pool.stats.parallelCalls - before).toBeGreaterThan(10);
  });
  it('grows its shared scratch buffer across calls of increasing size', () => {
    const rng = mulberry32(9);
    for (const s of [40, 200, 90, 400]) {
      const q = makeCase(rng, s, s + 3, s - 1, false, false, true, 0);
      expect(Array.from(run(pool.gemm, q))).toEqual(Array.from(run(gemmSerial, q)));
    }
  });
  it('keeps working (single-threaded) after close', async () => {
    const p = createGemmPool({ threads: 2, minWork: 1, minWorkPerCopiedFloat: 0 });
    await p.whenReady();
    await p.close();
    const q = makeCase(mulberry32(2), 50, 60, 70, false, false, false, 0);
    expect(Array.from(run(p.gemm, q))).toEqual(Array.from(run(gemmSerial, q)));
  });
  it('threads = 1 has no workers and is the serial kernel', () => {
    const p = createGemmPool({ threads: 1, minWork: 1 });
    const q = makeCase(mulberry32(4), 50, 60, 70, true, false, false, 0);
    expect(Array.from(run(p.gemm, q))).toEqual(Array.from(run(gemmSerial, q)));
    expect(p.stats.parallelCalls).toBe(0);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { gemmSerial, gemmSerialScalar } from '../../src/cpu/kernels/gemm.js';
import { PooledCpuBackend, cpuGemmSweep, cpuSimd, cpuThreads, createCpuBackend } from '../../src/node/index.js';

describe('createCpuBackend', () => {
  const saved = process.env.LRPSEG_THREADS;
  const savedSimd = process.env.LRPSEG_CPU_SIMD;
  afterEach(() => {
    if (saved === undefined) delete process.env.LRPSEG_THREADS;
    else process.env.LRPSEG_THREADS = saved;
    if (savedSimd === undefined) delete process.env.LRPSEG_CPU_SIMD;
    else process.env.LRPSEG_CPU_SIMD = savedSimd;
  });

  it('threads: 1 gives the plain serial backend', async () => {
    const b = createCpuBackend({ threads: 1 });
    expect(b).toBeInstanceOf(CpuBackend);
    expect(b).not.toBeInstanceOf(PooledCpuBackend);
    expect(b.name).toBe('cpu');
    await b.destroy();
  });
  it('threads: 3 gives a pooled backend; destroy stops the workers', async () => {
    const b = createCpuBackend({ threads: 3 });
    expect(b).toBeInstanceOf(PooledCpuBackend);
    expect((b as PooledCpuBackend).threads).toBe(3);
    await (b as PooledCpuBackend).whenReady();
    const x = b.fromArray(new Float32Array(2 * 16 * 20 * 20).fill(1), [2, 16, 20, 20]);
    const w = b.fromArray(new Float32Array(32 * 16 * 9).fill(0.5), [32, 16, 3, 3]);
    const y = await b.read(b.conv2d(x, w, null, { stride: 1, padding: 0 }));
    expect(y.every((v) => v === 72)).toBe(true);
    expect((b as PooledCpuBackend).gemmStats.parallelCalls).toBeGreaterThan(0);
    await b.destroy();
    // Still usable afterwards, single-threaded.
    expect((await b.read(b.conv2d(x, w, null, { stride: 1, padding: 0 })))[0]).toBe(72);
  });
  it('LRPSEG_THREADS sets the default; an explicit option wins; bad values are refused', () => {
    process.env.LRPSEG_THREADS = '1';
    expect(cpuThreads()).toBe(1);
    expect(createCpuBackend()).not.toBeInstanceOf(PooledCpuBackend);
    expect(cpuThreads(4)).toBe(4);
    process.env.LRPSEG_THREADS = 'many';
    expect(() => cpuThreads()).toThrow(/LRPSEG_THREADS/);
    delete process.env.LRPSEG_THREADS;
    expect(cpuThreads()).toBeGreaterThanOrEqual(1);
    expect(() => cpuThreads(0)).toThrow(/threads/);
  });
  it('uses the SIMD GEMM sweep unless simd: false or LRPSEG_CPU_SIMD=0; bad values are refused', async () => {
    delete process.env.LRPSEG_CPU_SIMD;
    expect(cpuSimd()).toBe(true);
    expect(createCpuBackend({ threads: 1 }).gemm).toBe(gemmSerial);
    expect(createCpuBackend({ threads: 1, simd: false }).gemm).toBe(gemmSerialScalar);
    expect(cpuGemmSweep(createCpuBackend({ threads: 1 }))).toBe('simd');
    expect(cpuGemmSweep(createCpuBackend({ threads: 1, simd: false }))).toBe('js');
    expect(cpuGemmSweep(new CpuBackend({ gemm: (...args) => gemmSerial(...args) }))).toBeUndefined();
    expect(cpuGemmSweep({})).toBeUndefined();
    process.env.LRPSEG_CPU_SIMD = '0';
    expect(cpuSimd()).toBe(false);
    expect(cpuSimd(true)).toBe(true);
    for (const [value, simdThreads, sweep] of [['0', 0, 'js'], ['1', 2, 'simd']] as const) {
      process.env.LRPSEG_CPU_SIMD = value;
      const pooled = createCpuBackend({ threads: 2 }) as PooledCpuBackend;
      await pooled.whenReady();
      expect(pooled.simdThreads).toBe(simdThreads);
      expect(cpuGemmSweep(pooled)).toBe(sweep);
      await pooled.destroy();
    }
    process.env.LRPSEG_CPU_SIMD = 'yes';
    expect(() => cpuSimd()).toThrow(/LRPSEG_CPU_SIMD/);
  });
});

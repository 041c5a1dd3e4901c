/**
 * Node-only entry point (`@lrpseg/core/node`): the CPU backend with a worker-thread GEMM.
 */
import { availableParallelism } from 'node:os';
import { CpuBackend } from '../cpu/backend.js';
import { gemmSerial, gemmSerialScalar, gemmSimdAvailable } from '../cpu/kernels/gemm.js';
import { LrpsegError } from '../errors.js';
import { createGemmPool, type GemmPool } from './gemm-pool.js';

export { createGemmPool, gemmWorkerSource, type GemmPool, type GemmPoolOptions } from './gemm-pool.js';

/** A CpuBackend whose GEMMs run on a worker pool; destroy() also stops the workers. */
export class PooledCpuBackend extends CpuBackend {
  constructor(private readonly pool: GemmPool) {
    super({ gemm: pool.gemm });
  }

  /** Threads used by the GEMM, the calling thread included. */
  get threads(): number {
    return this.pool.threads;
  }

  /** Threads (the calling one included) whose GEMM runs the WebAssembly SIMD sweep. */
  get simdThreads(): number {
    return this.pool.simdThreads();
  }

  /** GEMM calls so far and how many were split across threads. */
  get gemmStats(): { readonly calls: number; readonly parallelCalls: number } {
    return { ...this.pool.stats };
  }

  /** Resolves once all workers run (until then, GEMMs use only the threads that are ready). */
  whenReady(timeoutMs?: number): Promise<void> {
    return this.pool.whenReady(timeoutMs);
  }

  override async destroy(): Promise<void> {
    await this.pool.close();
    await super.destroy();
  }
}

/** Threads to use: the explicit request if given, else LRPSEG_THREADS if set (an integer ≥ 1), else os.availableParallelism(). */
export function cpuThreads(requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1) throw new LrpsegError('BAD_INPUT', `threads must be an integer ≥ 1, got ${requested}`);
    return requested;
  }
  const env = process.env.LRPSEG_THREADS;
  if (env !== undefined && env.trim() !== '') {
    const v = Number(env);
    if (!Number.isInteger(v) || v < 1) throw new LrpsegError('BAD_INPUT', `LRPSEG_THREADS must be an integer ≥ 1, got '${env}'`);
    return v;
  }
  return Math.max(1, availableParallelism());
}

/** Whether to use the WebAssembly SIMD GEMM sweep: the explicit request if given, else not when LRPSEG_CPU_SIMD is 0. */
export function cpuSimd(requested?: boolean): boolean {
  if (requested !== undefined) return requested;
  const env = (process.env.LRPSEG_CPU_SIMD ?? '').trim();
  if (env === '' || env === '1') return true;
  if (env === '0') return false;
  throw new LrpsegError('BAD_INPUT', `LRPSEG_CPU_SIMD must be 0 or 1, got '${process.env.LRPSEG_CPU_SIMD}'`);
}

/**
 * The CPU backend for Node: with threads > 1 its GEMMs (convolutions, linear layers, and the relevance
 * ops built on them) are split across worker threads; with 1 it is the plain serial CpuBackend.
 * Every thread's GEMM runs the WebAssembly SIMD sweep where it can (bit-identical results, 2.5–3.7× the
 * GEMM speed; `simd: false` or LRPSEG_CPU_SIMD=0 for the JS one).
 * Call destroy() when done (the workers are unref'd, so a forgotten destroy does not keep a process alive).
 */
export function createCpuBackend(opts?: { threads?: number; minWork?: number; simd?: boolean }): CpuBackend {
  const threads = cpuThreads(opts?.threads);
  const simd = cpuSimd(opts?.simd);
  if (threads <= 1) return new CpuBackend({ gemm: simd ? gemmSerial : gemmSerialScalar });
  return new PooledCpuBackend(createGemmPool({ threads, minWork: opts?.minWork, simd }));
}
/**
 * Which GEMM sweep a CPU backend runs: 'simd' (WebAssembly), 'js', 'simd on K of N threads' (workers that
 * could not compile it), or undefined for anything else (another backend, a GEMM of the caller's own).
 */
export function cpuGemmSweep(b: unknown): string | undefined {
  if (b instanceof PooledCpuBackend) {
    const k = b.simdThreads;
    return k === b.threads ? 'simd' : k === 0 ? 'js' : `simd on ${k} of ${b.threads} threads`;
  }
  if (!(b instanceof CpuBackend)) return undefined;
  if (b.gemm === gemmSerial) return gemmSimdAvailable() ? 'simd' : 'js';
  return b.gemm === gemmSerialScalar ? 'js' : undefined;
}

export { createSegmentPool, type SegmentPool, type SegmentPoolOptions } from './segment-pool.js';

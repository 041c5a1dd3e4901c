/**
 * Node-only entry point (`@lrpseg/core/node`): the CPU backend with a worker-thread GEMM.
 */
import { availableParallelism } from 'node:os';
import { CpuBackend } from '../cpu/backend.js';
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

/**
 * The CPU backend for Node: with threads > 1 its GEMMs (convolutions, linear layers, and the relevance
 * ops built on them) are split across worker threads; with 1 it is the plain serial CpuBackend.
 * Call destroy() when done (the workers are unref'd, so a forgotten destroy does not keep a process alive).
 */
export function createCpuBackend(opts?: { threads?: number; minWork?: number }): CpuBackend {
  const threads = cpuThreads(opts?.threads);
  if (threads <= 1) return new CpuBackend();
  return new PooledCpuBackend(createGemmPool({ threads, minWork: opts?.minWork }));
}
export { createSegmentPool, type SegmentPool, type SegmentPoolOptions } from './segment-pool.js';

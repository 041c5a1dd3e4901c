/**
 * Backend selection for the CLI: the CPU backend of @lrpseg/core, and the CUDA and WebGPU backends of
 * their own packages (loaded only when asked for, so that a missing driver never breaks the CPU path).
 */
import { LrpsegError, type Backend } from '@lrpseg/core';
import { createCpuBackend } from '@lrpseg/core/node';

export const BACKEND_NAMES = ['cpu', 'cuda', 'webgpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface BackendAvailability {
  readonly name: BackendName;
  readonly available: boolean;
  readonly reason?: string;
}

export interface BackendOptions {
  /** CPU worker threads; undefined lets the backend choose. */
  readonly threads?: number;
  /** GPU index for the cuda backend (--device); 0 when undefined. */
  readonly device?: number;
}

function loadFailure(name: string, pkg: string, e: unknown): LrpsegError {
  const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return new LrpsegError('NO_DEVICE', `${name} backend: cannot load ${pkg} (${why})`, { cause: e });
}

async function cudaModule(): Promise<typeof import('@lrpseg/native-cuda')> {
  try {
    return await import('@lrpseg/native-cuda');
  } catch (e) {
    throw loadFailure('cuda', '@lrpseg/native-cuda', e);
  }
}

async function webgpuModule(): Promise<typeof import('@lrpseg/webgpu/node')> {
  try {
    return await import('@lrpseg/webgpu/node'); // the Node entry: loads Dawn
  } catch (e) {
    throw loadFailure('webgpu', '@lrpseg/webgpu', e);
  }
}

function asNoDevice(name: string, e: unknown): unknown {
  if (e instanceof LrpsegError) return e;
  const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
  return new LrpsegError('NO_DEVICE', `${name} backend: ${why}`, { cause: e });
}

/** Creates a backend; an unavailable device is an LrpsegError NO_DEVICE with the reason. */
export async function createBackend(name: BackendName, opts: BackendOptions = {}): Promise<Backend> {
  try {
    switch (name) {
      case 'cpu':
        return createCpuBackend(opts.threads !== undefined ? { threads: opts.threads } : {});
      case 'cuda':
        return await (await cudaModule()).createCudaBackend(opts.device !== undefined ? { device: opts.device } : {});
      case 'webgpu':
        return await (await webgpuModule()).createWebgpuBackend();
    }
  } catch (e) {
    throw asNoDevice(name, e);
  }
}

/** Whether a backend can be created here, and if not why (without creating it). */
export async function backendAvailability(name: BackendName): Promise<BackendAvailability> {
  try {
    switch (name) {
      case 'cpu':
        return { name, available: true };
      case 'cuda': {
        const a = await (await cudaModule()).cudaAvailability();
        return { name, available: a.available, ...(a.reason !== undefined ? { reason: a.reason } : {}) };
      }
      case 'webgpu': {
        const a = await (await webgpuModule()).webgpuAvailability();
        return { name, available: a.available, ...(a.reason !== undefined ? { reason: a.reason } : {}) };
      }
    }
  } catch (e) {
    return { name, available: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** Threads from --threads, else LRPSEG_THREADS, else undefined (the backend's default). */
export function resolveThreads(option: number | undefined, env: Readonly<Record<string, string | undefined>>): number | undefined {
  if (option !== undefined) return option;
  const v = env.LRPSEG_THREADS;
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    throw new LrpsegError('BAD_INPUT', `LRPSEG_THREADS must be a positive integer, not "${v}"`);
  }
  return n;
}

/** The number of threads a backend reports using, if it says. */
export function backendThreads(b: Backend): number | undefined {
  const t = (b as unknown as { threads?: unknown }).threads;
  return typeof t === 'number' ? t : undefined;
}

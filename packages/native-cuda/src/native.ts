/**
 * Loading the native addon (dist/native/lrpseg_cuda.node, or its host emulation lrpseg_cuda_emu.node)
 * and turning its errors into LrpsegErrors. Nothing here touches a GPU until a Context is created.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LrpsegError, type LrpsegErrorCode } from '@lrpseg/core';

export interface DeviceInfo {
  readonly name: string;
  readonly computeCapability: string;
  readonly multiprocessors: number;
  readonly totalMemory: number;
  readonly driverVersion: number;
  readonly runtimeVersion: number;
  readonly emulated: boolean;
}

/** The native Context: one device, one stream, one precision. Pointers travel as numbers. */
export interface NativeContext {
  info(): DeviceInfo;
  alloc(bytes: number, op?: string): number;
  free(ptr: number): void;
  upload(ptr: number, data: Float32Array | Int32Array): void;
  copy(dst: number, src: number, bytes: number): void;
  copy2D(dst: number, dpitch: number, src: number, spitch: number, width: number, height: number): void;
  zero(ptr: number, bytes: number): void;
  read(ptr: number, out: Float32Array): Promise<void>;
  sync(): Promise<void>;
  op(name: string, params: Float64Array, label?: string): void;
  setSyncEachOp(on: boolean): void;
  destroy(): void;
}

export interface NativeAddon {
  probe(): { devices: number; code: string; reason: string; emulated: boolean };
  Context: new (device: number, fast: boolean) => NativeContext;
}

export type AddonKind = 'cuda' | 'emulation';

const FILE: Record<AddonKind, string> = { cuda: 'lrpseg_cuda.node', emulation: 'lrpseg_cuda_emu.node' };

/**
 * Where the addon may be: LRPSEG_CUDA_ADDON_DIR, then native/ beside this module (dist/native/ in the
 * package, native/ beside an esbuild bundle).
 */
export function addonCandidates(kind: AddonKind, env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const dirs = [env.LRPSEG_CUDA_ADDON_DIR, path.join(here, 'native'), path.join(here, '..', 'dist', 'native')].filter((d): d is string => !!d);
  return dirs.map((d) => path.join(d, FILE[kind]));
}

const cache = new Map<AddonKind, NativeAddon>();

/** Loads the addon or throws NO_DEVICE saying why (not built, or not loadable here). */
export function loadAddon(kind: AddonKind): NativeAddon {
  const hit = cache.get(kind);
  if (hit) return hit;
  const addon = loadAddonFrom(kind, addonCandidates(kind));
  cache.set(kind, addon);
  return addon;
}

/** Loads the first existing candidate (uncached). */
export function loadAddonFrom(kind: AddonKind, candidates: readonly string[]): NativeAddon {
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    const why = kind === 'cuda' ? 'nvcc was not found when @lrpseg/native-cuda was built' : 'cmake was not found when @lrpseg/native-cuda was built';
    throw new LrpsegError('NO_DEVICE', `cuda backend: the native addon ${FILE[kind]} is not built (${why}); looked in ${candidates.map((c) => path.dirname(c)).join(', ')}`);
  }
  try {
    return createRequire(import.meta.url)(file) as NativeAddon;
  } catch (e) {
    throw new LrpsegError('NO_DEVICE', `cuda backend: cannot load ${file} (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`, { cause: e });
  }
}

const KNOWN_CODES: readonly LrpsegErrorCode[] = ['SHAPE_MISMATCH', 'BAD_INPUT', 'NO_DEVICE', 'OUT_OF_DEVICE_MEMORY', 'NOT_IMPLEMENTED', 'DISPOSED', 'WRONG_BACKEND'];

/** A native error (an Error with a `code`) as an LrpsegError; anything else is passed through. */
export function asLrpsegError(e: unknown, op: string): unknown {
  if (e instanceof LrpsegError) return e;
  const err = e as { code?: unknown; message?: unknown };
  if (err && typeof err.code === 'string' && typeof err.message === 'string') {
    const code = (KNOWN_CODES as readonly string[]).includes(err.code) ? (err.code as LrpsegErrorCode) : 'NO_DEVICE';
    const msg = err.message.includes(op) ? err.message : `${op}: ${err.message}`;
    return new LrpsegError(code, msg, { cause: e });
  }
  return e;
}

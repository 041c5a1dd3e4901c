/**
 * Adapter and device acquisition, shared by the browser entry (navigator.gpu) and the Node entry
 * (Dawn). Nothing here imports a Node module.
 */
import { LrpsegError } from '@lrpseg/core';
import type { TileConfig } from './wgsl/gemm.js';

export interface WebgpuOptions {
  /**
   * The WebGPU entry object. Default: `navigator.gpu` (browsers); the Node entry passes Dawn's.
   */
  readonly gpu?: GPU;
  /** GEMM kernels: 'tiled' (default, workgroup-memory tiles) or 'naive' (kept for comparison). */
  readonly kernels?: 'tiled' | 'naive';
  /**
   * Opt in to f16 operand tiles in the matrix products of the forward pass and the gradients where the
   * adapter has `shader-f16` (accumulation stays f32; per-op error grows to about 1e-3). The relevance
   * ops stay f32: their quotients R / stab(z, e) exceed f16's range. Ignored where the adapter lacks it.
   */
  readonly f16?: boolean;
  /**
   * Operand walks in the tiled matrix products (default true): each thread decomposes its fixed index
   * once and advances the other with carries instead of dividing at every element; false keeps the
   * per-element loads (benchmarks and tests: both give the same bits).
   */
  readonly operandWalk?: boolean;
  /**
   * The A tile's XOR swizzle in workgroup memory (opt-in, same bits; gemm.ts swizzleMask): without it a
   * warp's stores into the A tile fall into one bank on a GPU. Unmeasured on a GPU; on SwiftShader, which
   * has no banks, no clear difference (docs/webgpu.md).
   */
  readonly swizzle?: boolean;
  /**
   * The relevance ops compute R / stab(z, e) once per element in a map before the adjoint product
   * (default true) instead of at each of its k² reads; false for comparisons (same bits).
   */
  readonly lrpQuotients?: boolean;
  /** A GEMM tile to use instead of the one chosen from the adapter's limits (benchmarks). */
  readonly tile?: TileConfig;
  /** Dispatches recorded per submit (default 64). */
  readonly dispatchesPerSubmit?: number;
  readonly powerPreference?: GPUPowerPreference;
}

export interface WebgpuAvailability {
  readonly available: boolean;
  readonly reason?: string;
  /** The adapter's description (vendor, architecture, device, driver) when available. */
  readonly adapter?: string;
}

export function defaultGpu(): GPU | undefined {
  return (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
}

/** One line naming the adapter, from whatever its GPUAdapterInfo fills in. */
export function describeAdapter(info: GPUAdapterInfo | undefined): string {
  if (!info) return 'WebGPU adapter';
  const parts = [info.vendor, info.architecture, info.device, info.description].filter((s) => typeof s === 'string' && s.trim() !== '');
  const unique = parts.filter((s, i) => parts.indexOf(s) === i);
  return unique.length > 0 ? unique.join(' ') : 'WebGPU adapter';
}

export async function requestAdapter(gpu: GPU | undefined, opts: WebgpuOptions, noAdapterHint: string): Promise<GPUAdapter> {
  if (!gpu) throw new LrpsegError('NO_DEVICE', `webgpu backend: this environment has no WebGPU (no navigator.gpu)${noAdapterHint}`);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (e) {
    throw new LrpsegError('NO_DEVICE', `webgpu backend: requestAdapter failed (${(e as Error).message})`, { cause: e });
  }
  if (!adapter) throw new LrpsegError('NO_DEVICE', `webgpu backend: no WebGPU adapter found${noAdapterHint}`);
  return adapter;
}

export async function availability(gpu: GPU | undefined, noAdapterHint: string): Promise<WebgpuAvailability> {
  try {
    const adapter = await requestAdapter(gpu, {}, noAdapterHint);
    return { available: true, adapter: describeAdapter(adapter.info) };
  } catch (e) {
    return { available: false, reason: e instanceof Error ? e.message : String(e) };
  }
}

/** Limits worth raising to the adapter's maximum (the defaults are small: 128 MiB bindings, 16 KiB workgroup memory). */
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export interface AcquiredDevice {
  readonly adapter: GPUAdapter;
  readonly device: GPUDevice;
  readonly description: string;
  readonly f16: boolean;
}

export async function acquireDevice(gpu: GPU | undefined, opts: WebgpuOptions, noAdapterHint: string): Promise<AcquiredDevice> {
  const adapter = await requestAdapter(gpu, opts, noAdapterHint);
  const f16 = opts.f16 === true && adapter.features.has('shader-f16');
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) requiredLimits[k] = adapter.limits[k];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures: f16 ? ['shader-f16'] : [], label: 'lrpseg' });
  } catch (e) {
    throw new LrpsegError('NO_DEVICE', `webgpu backend: requestDevice failed (${(e as Error).message})`, { cause: e });
  }
  return { adapter, device, description: describeAdapter(adapter.info), f16 };
}

/**
 * CUDA backend (docs/cuda.md): a Node-API addon with its own kernels behind @lrpseg/core's Backend.
 * cudaAvailability() says why not when there is no addon, driver or device; createCudaBackend() builds
 * the backend on device N with 'accurate' (FP32-exact, 3×TF32) or 'fast' (TF32) matrix products.
 */
import { LrpsegError, type Backend } from '@lrpseg/core';
import { CudaBackend, type CudaPrecision } from './backend.js';
import { asLrpsegError, loadAddon, type AddonKind } from './native.js';

export { CudaBackend, type CudaPrecision } from './backend.js';
export type { DeviceInfo } from './native.js';

export interface BackendAvailability {
  readonly available: boolean;
  readonly reason?: string;
  /** Number of CUDA devices seen (0 when unavailable). */
  readonly devices?: number;
}

export interface CudaBackendOptions {
  /** GPU index (default 0). */
  readonly device?: number;
  /** 'accurate' (default; env LRPSEG_CUDA_PRECISION) matches FP32; 'fast' uses TF32 tensor cores. */
  readonly precision?: CudaPrecision;
  /** Run the ops in the host emulation addon instead of a GPU (tests on machines without one). */
  readonly emulate?: boolean;
}

function addonKind(o: { emulate?: boolean }): AddonKind {
  return o.emulate || process.env.LRPSEG_CUDA_EMULATE === '1' ? 'emulation' : 'cuda';
}

export async function cudaAvailability(opts: { emulate?: boolean } = {}): Promise<BackendAvailability> {
  try {
    const probe = loadAddon(addonKind(opts)).probe();
    if (probe.code) return { available: false, reason: probe.reason, devices: 0 };
    return { available: true, devices: probe.devices };
  } catch (e) {
    return { available: false, reason: e instanceof Error ? e.message : String(e), devices: 0 };
  }
}

function resolvePrecision(p: CudaPrecision | undefined): CudaPrecision {
  const v = p ?? process.env.LRPSEG_CUDA_PRECISION ?? 'accurate';
  if (v !== 'accurate' && v !== 'fast') throw new LrpsegError('BAD_INPUT', `cuda backend: precision must be "accurate" or "fast", not "${v}"`);
  return v;
}

export async function createCudaBackend(opts: CudaBackendOptions = {}): Promise<Backend> {
  const device = opts.device ?? 0;
  if (!Number.isInteger(device) || device < 0) throw new LrpsegError('BAD_INPUT', `cuda backend: device must be a GPU index ≥ 0, not ${device}`);
  const precision = resolvePrecision(opts.precision);
  const addon = loadAddon(addonKind(opts));
  let ctx;
  try {
    ctx = new addon.Context(device, precision === 'fast');
  } catch (e) {
    const err = asLrpsegError(e, 'cuda backend');
    throw err instanceof LrpsegError ? err : new LrpsegError('NO_DEVICE', `cuda backend: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (process.env.LRPSEG_CUDA_SYNC === '1') ctx.setSyncEachOp(true);
  return new CudaBackend(ctx, device, precision);
}

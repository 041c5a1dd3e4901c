/**
 * @lrpseg/webgpu — the WebGPU backend (browser entry: uses `navigator.gpu`, imports no Node module).
 * In Node, import `@lrpseg/webgpu/node`, which loads Dawn and offers the same functions.
 */
import type { Backend } from '@lrpseg/core';
import { WebgpuBackend } from './backend.js';
import { acquireDevice, availability, defaultGpu, type WebgpuAvailability, type WebgpuOptions } from './device.js';

export { WebgpuBackend, type WebgpuStats } from './backend.js';
export { describeAdapter, type WebgpuAvailability, type WebgpuOptions } from './device.js';
export { chooseTile, chooseTiles, pickTile, type TileConfig, type TileSet, type GemmMode } from './wgsl/gemm.js';
export { bucketSize } from './buffer-pool.js';

/** Whether a WebGPU adapter exists here (opts.gpu, else navigator.gpu), and which. */
export async function webgpuAvailability(opts: Pick<WebgpuOptions, 'gpu'> = {}): Promise<WebgpuAvailability> {
  return availability(opts.gpu ?? defaultGpu(), '');
}

/** Creates the backend on a new device of the first adapter (NO_DEVICE LrpsegError when there is none). */
export async function createWebgpuBackend(opts: WebgpuOptions = {}): Promise<WebgpuBackend & Backend> {
  return new WebgpuBackend(await acquireDevice(opts.gpu ?? defaultGpu(), opts, ''), opts);
}

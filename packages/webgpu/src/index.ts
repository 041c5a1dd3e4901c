/**
 * WebGPU backend (issue "WebGPU backend"). Not written yet: this package only reports that it is
 * unavailable, so that the CLI can list it and say why, instead of pretending to work.
 */
import { LrpsegError, type Backend } from '@lrpseg/core';

export interface BackendAvailability {
  readonly available: boolean;
  readonly reason?: string;
}

export async function webgpuAvailability(): Promise<BackendAvailability> {
  return { available: false, reason: 'the WebGPU backend is not implemented yet' };
}

export async function createWebgpuBackend(): Promise<Backend> {
  throw new LrpsegError('NO_DEVICE', 'webgpu backend: not implemented yet');
}

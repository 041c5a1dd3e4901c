/**
 * CUDA backend (issue "CUDA backend"). Not built yet: this package only reports that it is unavailable,
 * so that the CLI can list it and say why, instead of pretending to work.
 */
import { LrpsegError, type Backend } from '@lrpseg/core';

export interface BackendAvailability {
  readonly available: boolean;
  readonly reason?: string;
}

export async function cudaAvailability(): Promise<BackendAvailability> {
  return { available: false, reason: 'the CUDA backend is not implemented yet (native-cuda addon not built)' };
}

export async function createCudaBackend(_opts: { device?: number } = {}): Promise<Backend> {
  throw new LrpsegError('NO_DEVICE', 'cuda backend: not implemented yet (native-cuda addon not built)');
}

/** WebGPU where the browser has it; otherwise core's single-threaded CPU backend, with the reason. */
import { CpuBackend, type Backend } from '@lrpseg/core';
import { createWebgpuBackend, webgpuAvailability } from '@lrpseg/webgpu';

export interface ChosenBackend {
  readonly backend: Backend;
  readonly kind: 'webgpu' | 'cpu';
  /** The adapter's description (webgpu) or why WebGPU is not used (cpu). */
  readonly detail: string;
}

export async function chooseBackend(forceCpu: boolean): Promise<ChosenBackend> {
  if (forceCpu) return { backend: new CpuBackend(), kind: 'cpu', detail: 'CPU backend requested (?backend=cpu)' };
  try {
    const avail = await webgpuAvailability();
    if (avail.available) return { backend: await createWebgpuBackend(), kind: 'webgpu', detail: avail.adapter ?? 'WebGPU adapter' };
    return { backend: new CpuBackend(), kind: 'cpu', detail: avail.reason ?? 'WebGPU is not available' };
  } catch (e) {
    return { backend: new CpuBackend(), kind: 'cpu', detail: `WebGPU failed to start: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * Node entry (`@lrpseg/webgpu/node`): the same backend on Dawn (the `webgpu` package). Dawn reaches
 * the GPU through Vulkan; on a machine without one, SwiftShader (Debian's chromium package ships it)
 * serves as a CPU Vulkan device: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json.
 *
 * Environment (for the CLI, which passes no options): LRPSEG_WEBGPU_KERNELS=naive|tiled,
 * LRPSEG_WEBGPU_F16=1, LRPSEG_WEBGPU_WALK=0, LRPSEG_WEBGPU_SWIZZLE=1 and LRPSEG_WEBGPU_QUOTIENTS=0 set the
 * defaults of `kernels`, `f16`, `operandWalk`, `swizzle` and `lrpQuotients`.
 */
import { LrpsegError, type Backend } from '@lrpseg/core';
import { WebgpuBackend } from './backend.js';
import { acquireDevice, availability, type WebgpuAvailability, type WebgpuOptions } from './device.js';

export * from './index.js';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const HINT = ` (Dawn found no Vulkan device; without a GPU, install Debian's chromium package and set VK_ICD_FILENAMES=${SWIFTSHADER_ICD})`;

let dawn: Promise<GPU> | null = null;

/** Dawn's GPU object, created once per process (the WebGPU globals it needs are installed on first use). */
export function dawnGpu(): Promise<GPU> {
  dawn ??= (async () => {
    let mod: typeof import('webgpu');
    try {
      mod = await import('webgpu');
    } catch (e) {
      throw new LrpsegError('NO_DEVICE', `webgpu backend: cannot load Dawn (the 'webgpu' package): ${(e as Error).message.split('\n')[0]}`, { cause: e });
    }
    Object.assign(globalThis, mod.globals);
    // Every kernel writes its workgroup memory before reading it, so Dawn's zero-initialisation is
    // skipped: on SwiftShader it costs seconds of compilation per tiled kernel (docs/webgpu.md).
    return mod.create(['enable-dawn-features=disable_workgroup_init']);
  })();
  return dawn;
}

function envDefaults(opts: WebgpuOptions): WebgpuOptions {
  const env = typeof process !== 'undefined' ? process.env : {};
  const kernels = opts.kernels ?? (env.LRPSEG_WEBGPU_KERNELS === 'naive' ? 'naive' : undefined);
  const f16 = opts.f16 ?? (env.LRPSEG_WEBGPU_F16 === '1' ? true : undefined);
  const operandWalk = opts.operandWalk ?? (env.LRPSEG_WEBGPU_WALK === '0' ? false : undefined);
  const swizzle = opts.swizzle ?? (env.LRPSEG_WEBGPU_SWIZZLE === '1' ? true : undefined);
  const lrpQuotients = opts.lrpQuotients ?? (env.LRPSEG_WEBGPU_QUOTIENTS === '0' ? false : undefined);
  return {
    ...opts,
    ...(kernels ? { kernels } : {}),
    ...(f16 !== undefined ? { f16 } : {}),
    ...(operandWalk !== undefined ? { operandWalk } : {}),
    ...(swizzle !== undefined ? { swizzle } : {}),
    ...(lrpQuotients !== undefined ? { lrpQuotients } : {}),
  };
}

export async function webgpuAvailability(opts: Pick<WebgpuOptions, 'gpu'> = {}): Promise<WebgpuAvailability> {
  let gpu: GPU;
  try {
    gpu = opts.gpu ?? (await dawnGpu());
  } catch (e) {
    return { available: false, reason: (e as Error).message };
  }
  return availability(gpu, HINT);
}

export async function createWebgpuBackend(opts: WebgpuOptions = {}): Promise<WebgpuBackend & Backend> {
  const o = envDefaults(opts);
  return new WebgpuBackend(await acquireDevice(o.gpu ?? (await dawnGpu()), o, HINT), o);
}

/**
 * The opt-in f16 mode (operand tiles in f16, accumulation in f32) where the adapter has `shader-f16`:
 * the op suite at the per-op tolerance of the CUDA backend's fast mode (1e-2 relative L2), and VGG
 * heatmaps against the CPU reference. SwiftShader has no shader-f16, so on CI this reports itself
 * skipped; a GPU machine runs it (docs/webgpu.md).
 */
import { describe, it } from 'vitest';
import { backendConformance, heatmapConformance } from '@lrpseg/core/testing';
import { createWebgpuBackend, dawnGpu } from '../src/node.js';

async function f16Support(): Promise<string> {
  try {
    const adapter = await (await dawnGpu()).requestAdapter();
    if (!adapter) return 'no WebGPU adapter';
    return adapter.features.has('shader-f16') ? '' : `the adapter (${adapter.info.description || adapter.info.architecture}) has no shader-f16`;
  } catch (e) {
    return (e as Error).message;
  }
}

const why = await f16Support();

if (why !== '') {
  describe('webgpu f16 mode', () => {
    it.skip(`skipped: ${why}`, () => {});
  });
} else {
  const make = async () => {
    const be = await createWebgpuBackend({ f16: true });
    if (!be.f16) throw new Error('f16 requested on an adapter with shader-f16, but the backend did not enable it');
    return be;
  };
  backendConformance('webgpu f16', make, { rtol: 1e-2 });

  // the bound is a first guess (never measured: no adapter here or on the H100 through Dawn has shader-f16)
  heatmapConformance('webgpu f16', make, { heatmapRtol: 0.1, report: (line) => console.log(line) });
}

// Offline conformance runner for the WebGPU backend on Dawn (bundled by scripts/bundle-offline.mjs as
// lrpseg/conformance-webgpu.mjs, 'vitest' aliased to the shim, 'webgpu' left to lrpseg/node_modules):
// the shared suites in f32 (the CI tolerances), then, where the adapter has shader-f16, the op suite in
// f16 at CUDA fast mode's 1e-2 and the f16 heatmap error against the CPU reference (printed; bound 0.1).
// `node conformance-webgpu.mjs`; exit 1 on any failure, 2 when Dawn finds no adapter.
import { backendConformance, batchNormConformance, heatmapConformance, lrpConformance } from '@lrpseg/core/testing';
import { createWebgpuBackend, dawnGpu, webgpuAvailability } from '@lrpseg/webgpu/node';
import { describe, run } from 'vitest';

const a = await webgpuAvailability();
if (!a.available) {
  console.log(`conformance: webgpu unavailable: ${a.reason}`);
  process.exit(2);
}
const adapter = await (await dawnGpu()).requestAdapter();
const name = adapter ? adapter.info.description || `${adapter.info.vendor} ${adapter.info.architecture}` : 'no adapter';
const f16 = Boolean(adapter?.features.has('shader-f16'));
console.log(`conformance: webgpu on ${name}; shader-f16 ${f16 ? 'available' : 'absent'}`);

describe('webgpu f32', () => {
  backendConformance('webgpu f32', () => createWebgpuBackend());
  lrpConformance('webgpu f32', () => createWebgpuBackend());
  batchNormConformance('webgpu f32', () => createWebgpuBackend());
});
if (f16) {
  const make = async () => {
    const be = await createWebgpuBackend({ f16: true });
    if (!be.f16) throw new Error('f16 requested on an adapter with shader-f16, but the backend did not enable it');
    return be;
  };
  describe('webgpu f16', () => {
    backendConformance('webgpu f16', make, { rtol: 1e-2 });
    heatmapConformance('webgpu f16', make, { heatmapRtol: 0.1, report: (line) => console.log(line) });
  });
}
const r = await run();
process.exit(r.failed > 0 ? 1 : 0);

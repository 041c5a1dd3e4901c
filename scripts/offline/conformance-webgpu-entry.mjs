// Offline conformance runner for the WebGPU backend on Dawn (bundled by scripts/bundle-offline.mjs as
// lrpseg/conformance-webgpu.mjs, 'vitest' aliased to the shim, 'webgpu' left to lrpseg/node_modules):
// the shared suites in f32 (the CI tolerances), then, where the adapter has shader-f16, the op suite in
// f16 at CUDA fast mode's 1e-2 and the f16 heatmap error against the CPU reference (printed; bound 0.1).
// `node conformance-webgpu.mjs`; exit 1 on any failure, 2 when Dawn finds no adapter.
import { CpuBackend, buildVgg, explain, loadModel, parseComposite, saveModel, vgg11Meta } from '@lrpseg/core';
import { backendConformance, lrpConformance } from '@lrpseg/core/testing';
import { createWebgpuBackend, dawnGpu, webgpuAvailability } from '@lrpseg/webgpu/node';
import { describe, expect, it, run } from 'vitest';

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
});
if (f16) {
  const make = async () => {
    const be = await createWebgpuBackend({ f16: true });
    if (!be.f16) throw new Error('f16 requested on an adapter with shader-f16, but the backend did not enable it');
    return be;
  };
  describe('webgpu f16', () => {
    backendConformance('webgpu f16', make, { rtol: 1e-2 });
    it('f16 VGG heatmaps against the CPU reference (relative L2 < 0.1)', async () => {
      const be = await make();
      const cpu = new CpuBackend();
      const meta = vgg11Meta('onefc', { inputSize: [64, 64], widthDivisor: 4 });
      const ref = buildVgg(cpu, meta, { seed: 21, biasStd: 0.05 });
      const model = loadModel(be, await saveModel(ref));
      const images = Float32Array.from({ length: 2 * 3 * 64 * 64 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1).map(Math.abs);
      for (const spec of ['montavon', 'ours']) {
        const composite = parseComposite(spec, meta);
        const want = await explain(ref, cpu.fromArray(images, [2, 3, 64, 64]), { composite }).read();
        const got = await explain(model, be.fromArray(images, [2, 3, 64, 64]), { composite }).read();
        let d = 0, n = 0;
        for (let i = 0; i < want.length; i++) { d += (got[i] - want[i]) ** 2; n += want[i] ** 2; }
        const err = Math.sqrt(d / n);
        console.log(`webgpu f16 ${spec}: heatmap relative L2 vs CPU ${err.toExponential(2)}`);
        expect(err).toBeLessThan(0.1);
      }
      await be.destroy();
    });
  });
}
const r = await run();
process.exit(r.failed > 0 ? 1 : 0);

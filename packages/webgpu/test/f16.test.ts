/**
 * The opt-in f16 mode (operand tiles in f16, accumulation in f32) where the adapter has `shader-f16`:
 * the op suite at the per-op tolerance of the CUDA backend's fast mode (1e-2 relative L2), and VGG
 * heatmaps against the CPU reference. SwiftShader has no shader-f16, so on CI this reports itself
 * skipped; a GPU machine runs it (docs/webgpu.md).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend, buildVgg, explain, loadModel, parseComposite, saveModel, vgg11Meta } from '@lrpseg/core';
import { backendConformance } from '@lrpseg/core/testing';
import { createWebgpuBackend, dawnGpu } from '../src/node.js';
import { relL2 } from './helpers.js';

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

  describe('webgpu f16: VGG heatmaps against the CPU reference', () => {
    it('reports the error (not yet measured on a GPU: the bound is a first guess, see docs/webgpu.md)', async () => {
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
        const err = relL2(got, want);
        console.log(`webgpu f16 ${spec}: heatmap relative L2 vs CPU ${err.toExponential(2)}`);
        expect(err).toBeLessThan(0.1);
      }
      await be.destroy();
    });
  });
}

/**
 * The browser page of browser.test.ts: bundled (esbuild, platform browser) from the package's browser
 * entry and @lrpseg/core, so that a Node import anywhere in them fails the bundle. It exposes one
 * function that the test calls through playwright.
 */
import { explain, loadModel, parseComposite, type Model } from '@lrpseg/core';
import { createWebgpuBackend, webgpuAvailability } from '../../src/index.js';

export interface PageResult {
  readonly adapter: string;
  readonly gemm: string;
  readonly heatmaps: Record<string, number[]>;
  readonly ms: number;
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

async function runLrp(modelBase64: string, image: number[], shape: number[], composites: string[]): Promise<PageResult> {
  const t0 = performance.now();
  const avail = await webgpuAvailability();
  if (!avail.available) throw new Error(`no WebGPU in the page: ${avail.reason}`);
  const backend = await createWebgpuBackend();
  let model: Model | undefined;
  try {
    model = loadModel(backend, fromBase64(modelBase64));
    const x = backend.fromArray(Float32Array.from(image), shape);
    const heatmaps: Record<string, number[]> = {};
    for (const c of composites) {
      heatmaps[c] = Array.from(await explain(model, x, { composite: parseComposite(c, model.meta) }).read());
    }
    x.dispose();
    return { adapter: avail.adapter ?? '', gemm: JSON.stringify(backend.gemmMode), heatmaps, ms: performance.now() - t0 };
  } finally {
    model?.dispose();
    await backend.destroy();
  }
}

(globalThis as unknown as { lrpseg: unknown }).lrpseg = { runLrp };

#!/usr/bin/env node
/**
 * Tiled (the defaults: operand walks, relevance quotients before the adjoint), tiled with per-element
 * operand loads, with the swizzled A tile (opt-in), with the quotients divided in the adjoint's loads
 * (inline-q), and naive GEMM kernels on the WebGPU backend (Node/Dawn): conv2d forward and the relevance op
 * of one conv layer (gamma: a modified forward + a transposed conv), on VGG-11-like layer shapes.
 * Build first (pnpm exec turbo run build). Usage:
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node packages/webgpu/test/bench-kernels.mjs [--quick] [--k32] [--no-naive] [--iters N] [--json out.json]
 * (on a GPU leave VK_ICD_FILENAMES unset). Tiled and its variants: median of 3 runs (--iters); naive: 1 run (it is slow on SwiftShader).
 */
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { createWebgpuBackend } from '../dist/node.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonAt = args.indexOf('--json');
// [label, n, c, h, o] for a 3×3 conv, stride 1, padding 1: VGG-11 layers at a quarter of 224² (56²)
const layers = quick
  ? [['conv3_1 at 14²', 1, 128, 14, 256], ['conv1_1 at 56²', 1, 3, 56, 64]]
  : [['conv1_1 at 56²', 1, 3, 56, 64], ['conv2_1 at 28²', 1, 64, 28, 128], ['conv3_2 at 14²', 1, 256, 14, 256], ['conv5_1 at 4²', 1, 512, 4, 512]];
// [name, options, timed runs after one warm-up]
const itersAt = args.indexOf('--iters');
const iters = itersAt >= 0 ? Number(args[itersAt + 1]) : quick ? 2 : 3;
const modes = [['tiled', {}, iters], ['loads', { operandWalk: false }, iters], ['swizzled', { swizzle: true }, iters], ['inline-q', { lrpQuotients: false }, iters]];
if (!args.includes('--no-naive')) modes.push(['naive', { kernels: 'naive' }, 1]);
if (args.includes('--k32')) modes.splice(1, 0, ['tiled k32', { tile: { wx: 16, wy: 16, rm: 4, rn: 4, tk: 32, f16: false } }, quick ? 2 : 3]);

const rnd = (n, seed) => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5);
};

async function time(be, fn, iters) {
  fn().dispose();
  await be.sync(); // compile and warm up
  const runs = [];
  for (let i = 0; i < iters; i++) {
    const t0 = performance.now();
    const y = fn();
    await be.sync();
    runs.push(performance.now() - t0);
    y.dispose();
  }
  runs.sort((a, b) => a - b);
  return runs[runs.length >> 1];
}

const results = [];
let adapter = '';
for (const [label, n, c, h, o] of layers) {
  for (const [mode, opts, iters] of modes) {
    const be = await createWebgpuBackend(opts);
    adapter = be.adapterDescription;
    const x = be.fromArray(rnd(n * c * h * h, 1).map(Math.abs), [n, c, h, h]);
    const w = be.fromArray(rnd(o * c * 9, 2), [o, c, 3, 3]);
    const b = be.fromArray(rnd(o, 3), [o]);
    const p = { stride: 1, padding: 1 };
    const r = be.fromArray(rnd(n * o * h * h, 4), [n, o, h, h]);
    const fwd = await time(be, () => be.conv2d(x, w, b, p), iters);
    const lrp = await time(be, () => be.lrpConv2d(x, r, w, b, p, { kind: 'gamma', gamma: 0.25 }), iters);
    const gflop = (2 * n * o * h * h * c * 9) / 1e9;
    const row = { layer: label, shape: { n, c, h, o }, mode, runs: iters, gemm: JSON.stringify(be.gemmMode), forward_ms: +fwd.toFixed(2), lrp_gamma_ms: +lrp.toFixed(2), forward_gflops: +(gflop / (fwd / 1000)).toFixed(3) };
    results.push(row);
    console.log(`${label.padEnd(18)} ${mode.padEnd(11)} forward ${fwd.toFixed(1).padStart(8)} ms (${row.forward_gflops} GFLOP/s)  lrp gamma ${lrp.toFixed(1).padStart(8)} ms`);
    await be.destroy();
  }
}
const machine = { cpu: os.cpus()[0]?.model.trim(), cores: os.availableParallelism(), loadavg: os.loadavg(), node: process.version, adapter, date: new Date().toISOString() };
console.log(JSON.stringify(machine));
const speedups = [];
for (const base of modes.map(([m]) => m).filter((m) => m !== 'tiled')) {
  for (const [label] of layers) {
    const t = results.find((r) => r.layer === label && r.mode === 'tiled');
    const n = results.find((r) => r.layer === label && r.mode === base);
    const s = { over: base, layer: label, forward: +(n.forward_ms / t.forward_ms).toFixed(2), lrp_gamma: +(n.lrp_gamma_ms / t.lrp_gamma_ms).toFixed(2) };
    speedups.push(s);
    console.log(`speed-up tiled over ${base}, ${label}: forward ×${s.forward}, lrp gamma ×${s.lrp_gamma}`);
  }
}
if (jsonAt >= 0) writeFileSync(args[jsonAt + 1], JSON.stringify({ machine, results, speedups }, null, 2));

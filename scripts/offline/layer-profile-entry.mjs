// Where each GPU backend spends its time, layer by layer (bundled as lrpseg/layer-profile.mjs for the
// device check): VGG-11's eight 3×3 convolutions at 224 × 224 and batch B (default 64), random inputs, on
// CUDA (fast, accurate) and WebGPU (f32): forward, the data gradient (DGRAD) and the γ relevance op
// (a modified forward and a transposed product), each timed as the median of 3 after one warm-up, with
// the rate in TFLOP/s of the products it computes (2 × MACs). Env: PROFILE_BATCH, PROFILE_SCALE (divides
// the image size; a smoke test), PROFILE_BACKENDS (comma list of cuda-fast, cuda-accurate, webgpu).
import { createCudaBackend, cudaAvailability } from '../../packages/native-cuda/dist/index.js';
import { createWebgpuBackend, webgpuAvailability } from '../../packages/webgpu/dist/node.js';

const batch = Number(process.env.PROFILE_BATCH ?? 64);
const scale = Number(process.env.PROFILE_SCALE ?? 1);
const device = Number(process.env.LRPSEG_DEVICE ?? 0);
const wanted = (process.env.PROFILE_BACKENDS ?? 'cuda-fast,cuda-accurate,webgpu').split(',');
const makers = {
  'cuda-fast': async () => ((await cudaAvailability()).available ? createCudaBackend({ device, precision: 'fast' }) : null),
  'cuda-accurate': async () => ((await cudaAvailability()).available ? createCudaBackend({ device, precision: 'accurate' }) : null),
  webgpu: async () => ((await webgpuAvailability()).available ? createWebgpuBackend() : null),
};
// (name, in channels, out channels, size) of VGG-11's convolutions at 224 × 224
const layers = [['conv1', 3, 64, 224], ['conv2', 64, 128, 112], ['conv3', 128, 256, 56], ['conv4', 256, 256, 56], ['conv5', 256, 512, 28], ['conv6', 512, 512, 28], ['conv7', 512, 512, 14], ['conv8', 512, 512, 14]]
  .map(([n, c, o, s]) => [n, c, o, Math.max(2, Math.round(s / scale))]);
const p = { stride: 1, padding: 1 };
let seed = 1;
const rnd = (n, nonNeg) => Float32Array.from({ length: n }, () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  const v = seed / 2 ** 32 - 0.5;
  return nonNeg ? Math.abs(v) : v;
});

async function time(be, fn) {
  const runs = [];
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now();
    const y = fn();
    await be.sync();
    if (i > 0) runs.push(performance.now() - t0);
    y.dispose();
  }
  runs.sort((a, b) => a - b);
  return runs[1];
}

console.log(`layer profile: VGG-11 convolutions, batch ${batch}, ${Math.round(224 / scale)}² input; ms (TFLOP/s of the products)`);
for (const name of wanted) {
  const be = await makers[name]?.();
  if (!be) {
    console.log(`${name}: unavailable`);
    continue;
  }
  const rows = [];
  let total = [0, 0, 0];
  for (const [layer, c, o, s] of layers) {
    const macs = batch * o * s * s * c * 9; // one product of this layer
    const x = be.fromArray(rnd(batch * c * s * s, true), [batch, c, s, s]);
    const w = be.fromArray(rnd(o * c * 9, false), [o, c, 3, 3]);
    const b = be.fromArray(rnd(o, false), [o]);
    const r = be.fromArray(rnd(batch * o * s * s, true), [batch, o, s, s]);
    const tf = await time(be, () => be.conv2d(x, w, b, p));
    const tb = await time(be, () => be.conv2dBackward(r, x, w, p, true).dx);
    const tg = await time(be, () => be.lrpConv2d(x, r, w, b, p, { kind: 'gamma', gamma: 0.25 }));
    const rate = (ms, products) => ((2 * macs * products) / (ms * 1e-3) / 1e12).toPrecision(2);
    rows.push(`${layer.padEnd(6)} forward ${tf.toFixed(2)} ms (${rate(tf, 1)}) | dgrad+wgrad ${tb.toFixed(2)} ms (${rate(tb, 2)}) | lrp gamma ${tg.toFixed(2)} ms (${rate(tg, 2)})`);
    total = [total[0] + tf, total[1] + tb, total[2] + tg];
    for (const t of [x, w, b, r]) t.dispose();
  }
  console.log(`${name} (${be.info?.name ?? be.adapterDescription ?? ''}):`);
  for (const row of rows) console.log(`  ${row}`);
  console.log(`  all    forward ${total[0].toFixed(1)} ms | dgrad+wgrad ${total[1].toFixed(1)} ms | lrp gamma ${total[2].toFixed(1)} ms`);
  await be.destroy();
}

// One sha256 over what the CPU backend computes: logits, LRP heatmaps (ours, montavon × wta, avg) and three
// SGD steps (logits, loss, then the weights) of three small seeded networks. A change to the CPU kernels that
// claims "the same bits" must leave it unchanged; compare builds with
//   node packages/core/scripts/cpu-fingerprint.mjs [DIST] [THREADS]
// (DIST: a built packages/core/dist, default this checkout's; e.g. one from a `git worktree` of the previous
// commit). LRPSEG_CPU_SIMD=0 runs the JS sweep, which must give the same hash too. About 3 s.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../dist'));
const threads = Number(process.argv[3] ?? 1);
const core = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const { createCpuBackend } = await import(pathToFileURL(path.join(dist, 'node/index.js')).href);
const { vgg11Meta, buildVgg, explain, parseComposite, createVggOptimizer, trainClassifierStep, saveModel, mulberry32 } = core;

const backend = createCpuBackend({ threads });
const hash = createHash('sha256');
const add = async (t) => {
  const a = await backend.read(t);
  hash.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
};
for (const [size, divisor, batch, variant] of [[64, 8, 4, 'onefc'], [224, 8, 2, 'onefc'], [64, 4, 2, '128n']]) {
  const model = buildVgg(backend, vgg11Meta(variant, { inputSize: [size, size], widthDivisor: divisor }), { seed: 7 });
  const rnd = mulberry32(99);
  const x = backend.fromArray(Float32Array.from({ length: batch * 3 * size * size }, () => rnd() * 2 - 1), [batch, 3, size, size]);
  await add(model.forward(x));
  for (const rules of ['ours', 'montavon'])
    for (const pool of ['wta', 'avg']) await add(explain(model, x, { composite: parseComposite(rules, model.meta), pool }));
  const optimizer = createVggOptimizer(model, { kind: 'sgd', momentum: 0.9 }, { conv: 1e-2, fc: 1e-2 });
  const labels = Array.from({ length: batch }, (_, i) => i % 2);
  for (let step = 0; step < 3; step++) {
    const s = trainClassifierStep(model, optimizer, x, labels);
    await add(s.logits);
    await add(s.loss);
  }
  hash.update(await saveModel(model));
}
console.log(`${hash.digest('hex')}  ${path.relative(process.cwd(), dist) || '.'}, threads ${threads}${process.env.LRPSEG_CPU_SIMD === '0' ? ', JS sweep' : ''}`);
process.exit(0);

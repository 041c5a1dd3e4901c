// Times Simple, GMM and BMM on the heatmaps of an (N, H, W) .npy, single-threaded, and prints the
// figures with the machine they were taken on. Needs a built core (pnpm exec turbo run build).
//
//   node packages/core/scripts/bench-segment.mjs R.npy [--reps 15] [--scale 1] [--pool N] [--json out.json]
//
// --pool N also times all maps through the worker pool with N workers (throughput, maps per second).
//
// R.npy comes from `lrpseg explain` on real images (see docs/benchmarks.md). --scale multiplies the
// maps first: LRP is linear in the output relevance, so a scaled map is the heatmap of the same model
// with its last layer scaled, i.e. of a model whose logits have a trained model's magnitude.
import { readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { parseNpy, segmentMap, SEGMENT_METHODS } from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const file = args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1].startsWith('--')));
if (!file) {
  console.error('usage: bench-segment.mjs R.npy [--reps 15] [--scale 1] [--json out.json]');
  process.exit(2);
}
const reps = Number(opt('--reps', '15'));
const scale = Number(opt('--scale', '1'));
const a = parseNpy(readFileSync(file));
if (a.shape.length !== 3) throw new Error(`${file}: expected (N, H, W), got (${a.shape.join(', ')})`);
const [n, h, w] = a.shape;
const maps = Array.from({ length: n }, (_, i) => Float32Array.from(a.data.subarray(i * h * w, (i + 1) * h * w), (v) => v * scale));

const median = (xs) => {
  const s = [...xs].sort((p, q) => p - q);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const results = {};
for (const method of SEGMENT_METHODS) {
  // warm-up: every map three times (JIT: a map that takes a branch the others did not can deoptimise a
  // function once, and the re-optimisation runs on a background thread that a busy machine delays)
  for (let k = 0; k < 3; k++) for (const data of maps) segmentMap(method, { data, height: h, width: w });
  const perMap = maps.map((data) => {
    const times = [];
    let r;
    for (let k = 0; k < reps; k++) {
      const t0 = performance.now();
      r = segmentMap(method, { data, height: h, width: w });
      times.push(performance.now() - t0);
    }
    const iters = method === 'gmm' ? r.fit?.rounds ?? 0 : method === 'bmm' ? r.fit?.iterations ?? 0 : r.steps;
    return { median_ms: median(times), min_ms: Math.min(...times), iterations: iters, area: r.mask.reduce((s, v) => s + v, 0) };
  });
  results[method] = {
    per_map: perMap,
    median_ms: median(perMap.map((p) => p.median_ms)),
    worst_median_ms: Math.max(...perMap.map((p) => p.median_ms)),
    // fastest run per map: the figure least disturbed by other processes on a shared machine
    median_min_ms: median(perMap.map((p) => p.min_ms)),
    worst_min_ms: Math.max(...perMap.map((p) => p.min_ms)),
  };
}
const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}`, loadavg: os.loadavg().map((x) => +x.toFixed(2)) };
console.log(`${n} maps of ${h}×${w} from ${file}${scale !== 1 ? ` (×${scale})` : ''}; ${reps} runs each, single thread`);
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, load average ${machine.loadavg.join(' ')}`);
for (const method of SEGMENT_METHODS) {
  const r = results[method];
  const its = r.per_map.map((p) => p.iterations);
  console.log(
    `${method.padEnd(6)} median ${r.median_ms.toFixed(2)} ms per map, worst map ${r.worst_median_ms.toFixed(2)} ms; ` +
      `fastest runs: median ${r.median_min_ms.toFixed(2)} ms, worst map ${r.worst_min_ms.toFixed(2)} ms ` +
      `(${method === 'simple' ? 'steps' : method === 'gmm' ? 'EM rounds' : 'EM iterations'} ${Math.min(...its)}–${Math.max(...its)})`,
  );
}
const poolThreads = opt('--pool');
if (poolThreads !== undefined) {
  const { createSegmentPool } = await import('../dist/node/index.js');
  const all = new Float32Array(n * h * w);
  maps.forEach((m, i) => all.set(m, i * h * w));
  for (const threads of [0, Number(poolThreads)]) {
    const pool = createSegmentPool({ threads });
    await pool.segmentAll('gmm', all, n, h, w); // warm-up (workers start, JIT)
    const t0 = performance.now();
    const rounds = 3;
    for (let k = 0; k < rounds; k++) for (const method of SEGMENT_METHODS) await pool.segmentAll(method, all, n, h, w);
    const ms = (performance.now() - t0) / rounds;
    await pool.close();
    results[`pool_${threads}`] = { ms_all_methods: ms, maps_per_s: (3 * n * 1000) / ms };
    console.log(`pool with ${threads === 0 ? 'no workers (main thread)' : `${threads} worker${threads === 1 ? '' : 's'}`}: all three methods on ${n} maps in ${ms.toFixed(0)} ms (${((3 * n * 1000) / ms).toFixed(0)} segmentations/s)`);
  }
}
const json = opt('--json');
if (json) writeFileSync(json, JSON.stringify({ file, scale, reps, shape: [n, h, w], machine, results, date: new Date().toISOString() }, null, 2));

/**
 * `lrpseg bench`: forward and LRP throughput per backend on a random batch.
 */
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { cpuGemmSweep } from '@lrpseg/core/node';
import {
  NAMED_COMPOSITES,
  buildVgg,
  createVggOptimizer,
  explain,
  mulberry32,
  parseComposite,
  trainClassifierStep,
  type Backend,
  type Model,
  type PoolRule,
  type Tensor,
} from '@lrpseg/core';
import { BACKEND_NAMES, backendAvailability, backendThreads, createBackend, resolveThreads, type BackendName } from '../backends.js';
import { UsageError } from '../errors.js';
import { fmtInt, table, writeFileAtomic, type CliIo } from '../io.js';
import { openModel, variantName, type ArchChoice } from '../model.js';
import { makeMeta } from './make-model.js';

export interface BenchOptions {
  readonly model?: string;
  readonly arch?: ArchChoice;
  readonly size?: readonly [number, number];
  readonly widthDivisor: number;
  readonly seed: number;
  readonly batchSize: number;
  readonly iters: number;
  readonly warmup: number;
  readonly pool: PoolRule;
  readonly backend: BackendName | 'all';
  readonly threads?: number;
  /** GPU index for the cuda backend. */
  readonly device?: number;
  /** Also time a training step (forward, backward, SGD with momentum 0.9, as the PyTorch baseline). */
  readonly train?: boolean;
  readonly json?: string;
  readonly quiet: boolean;
}

export interface Timing {
  readonly task: string;
  readonly ms_per_batch: { readonly median: number; readonly mean: number; readonly min: number; readonly max: number; readonly runs: number[] };
  readonly images_per_s: number;
}

export interface BackendResult {
  readonly backend: BackendName;
  readonly available: boolean;
  readonly reason?: string;
  readonly threads?: number;
  /** The CPU backend's GEMM sweep: 'simd' (WebAssembly) or 'js' (LRPSEG_CPU_SIMD=0, or no WebAssembly SIMD). */
  readonly gemm_sweep?: string;
  /** The GPU (or emulation) a device backend ran on, as it names itself. */
  readonly device?: string;
  readonly results: Timing[];
}

export interface BenchReport {
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly node: string;
    readonly platform: string;
    readonly arch: string;
    readonly memory_gib: number;
  };
  readonly model: {
    readonly source: string;
    readonly variant: string;
    readonly input: [number, number, number];
    readonly parameters: number;
  };
  readonly settings: { readonly batch_size: number; readonly iters: number; readonly warmup: number; readonly pool: PoolRule; readonly seed: number };
  readonly backends: BackendResult[];
  readonly date: string;
}

function stats(runs: number[], batch: number): Omit<Timing, 'task'> {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
  const r3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    ms_per_batch: { median: r3(median), mean: r3(mean), min: r3(sorted[0]), max: r3(sorted[sorted.length - 1]), runs: runs.map(r3) },
    images_per_s: Math.round((batch / (median / 1000)) * 100) / 100,
  };
}

async function timeTask(backend: Backend, warmup: number, iters: number, step: () => Tensor): Promise<number[]> {
  const runs: number[] = [];
  for (let i = 0; i < warmup + iters; i++) {
    await backend.sync();
    const t0 = performance.now();
    const out = step();
    await backend.sync();
    const t1 = performance.now();
    out.dispose();
    if (i >= warmup) runs.push(t1 - t0);
  }
  return runs;
}

function randomBatch(n: number, per: number, seed: number): Float32Array {
  const rnd = mulberry32(seed ^ 0x5eed);
  const out = new Float32Array(n * per);
  for (let i = 0; i < out.length; i++) out[i] = rnd();
  return out;
}

async function benchBackend(name: BackendName, o: BenchOptions, io: CliIo, describe: (m: Model) => void): Promise<BackendResult> {
  const avail = await backendAvailability(name);
  if (!avail.available) return { backend: name, available: false, reason: avail.reason ?? 'unavailable', results: [] };
  let backend: Backend;
  const threads = name === 'cpu' ? resolveThreads(o.threads, io.env) : undefined;
  try {
    backend = await createBackend(name, { ...(threads !== undefined ? { threads } : {}), ...(o.device !== undefined ? { device: o.device } : {}) });
  } catch (e) {
    return { backend: name, available: false, reason: e instanceof Error ? e.message : String(e), results: [] };
  }
  let model: Model | undefined;
  let x: Tensor | undefined;
  try {
    if (o.model !== undefined) model = await openModel(backend, o.model);
    else model = buildVgg(backend, makeMeta(o.arch!, o.size ?? [224, 224], o.widthDivisor), { seed: o.seed });
    describe(model);
    const [h, w] = model.meta.input_size;
    const c = model.meta.arch.in_channels;
    x = backend.fromArray(randomBatch(o.batchSize, c * h * w, o.seed), [o.batchSize, c, h, w]);
    const input = x;
    const m = model;
    const results: Timing[] = [];
    const log = (t: Timing): void => {
      if (!o.quiet) io.stderr(`bench: ${name} ${t.task}: ${t.ms_per_batch.median.toFixed(1)} ms/batch\n`);
    };
    const fwd = { task: 'forward', ...stats(await timeTask(backend, o.warmup, o.iters, () => m.forward(input)), o.batchSize) };
    results.push(fwd);
    log(fwd);
    for (const cname of NAMED_COMPOSITES) {
      const composite = parseComposite(cname, m.meta);
      const runs = await timeTask(backend, o.warmup, o.iters, () => explain(m, input, { composite, pool: o.pool }));
      const t = { task: `lrp ${cname}`, ...stats(runs, o.batchSize) };
      results.push(t);
      log(t);
    }
    if (o.train) {
      // Last: the step changes the weights. Labels alternate 0, 1; no dropout (the baseline has none).
      const optimizer = createVggOptimizer(m, { kind: 'sgd', momentum: 0.9 }, { conv: 1e-3, fc: 1e-3 });
      const labels = Array.from({ length: o.batchSize }, (_, i) => i % 2);
      const runs = await timeTask(backend, o.warmup, o.iters, () => {
        const step = trainClassifierStep(m, optimizer, input, labels);
        step.logits.dispose();
        return step.loss;
      });
      const t = { task: 'train step (sgd)', ...stats(runs, o.batchSize) };
      results.push(t);
      log(t);
    }
    const th = backendThreads(backend) ?? (name === 'cpu' ? 1 : threads);
    const dev = deviceName(backend);
    const sweep = cpuGemmSweep(backend);
    return { backend: name, available: true, ...(th !== undefined ? { threads: th } : {}), ...(sweep !== undefined ? { gemm_sweep: sweep } : {}), ...(typeof dev === 'string' ? { device: dev } : {}), results };
  } finally {
    x?.dispose();
    model?.dispose();
    await backend.destroy();
  }
}

export function formatBench(r: BenchReport): string {
  const m = r.machine;
  const s = r.settings;
  const lines = [
    `machine  ${m.cpu} (${m.cores} cores), ${m.memory_gib} GiB, node ${m.node}, ${m.platform}-${m.arch}`,
    `model    ${r.model.variant} (${r.model.source}), input ${r.model.input.join('×')}, ${fmtInt(r.model.parameters)} parameters`,
    `run      batch ${s.batch_size}, ${s.iters} timed iteration${s.iters === 1 ? '' : 's'} after ${s.warmup} warm-up, pool ${s.pool}; times are medians`,
    '',
  ];
  const rows: string[][] = [];
  for (const b of r.backends) {
    if (!b.available) {
      rows.push([b.backend, 'unavailable', '', '', '', b.reason ?? '']);
      continue;
    }
    for (const t of b.results) {
      rows.push([
        b.backend,
        t.task,
        t.ms_per_batch.median.toFixed(1),
        t.ms_per_batch.min.toFixed(1),
        t.images_per_s.toFixed(t.images_per_s < 10 ? 2 : 1),
        b.threads !== undefined ? `threads ${b.threads}${b.gemm_sweep !== undefined ? `, ${b.gemm_sweep}` : ''}` : (b.device ?? ''),
      ]);
    }
  }
  return lines.join('\n') + table(['backend', 'task', 'ms/batch', 'min ms', 'images/s', 'notes'], rows, [2, 3, 4]);
}

export async function benchCommand(o: BenchOptions, io: CliIo): Promise<number> {
  if ((o.model === undefined) === (o.arch === undefined)) throw new UsageError('bench: give either --model FILE or --arch vgg11-128n|vgg11-onefc');
  if (o.model !== undefined && (o.size !== undefined || o.widthDivisor !== 1)) {
    throw new UsageError('bench: --size and --width-divisor apply to --arch only (a model file has its own)');
  }
  if (o.arch !== undefined) makeMeta(o.arch, o.size ?? [224, 224], o.widthDivisor); // validates the size early
  const names: BackendName[] = o.backend === 'all' ? [...BACKEND_NAMES] : [o.backend];
  let modelInfo: BenchReport['model'] | undefined;
  const describe = (m: Model): void => {
    modelInfo ??= {
      source: o.model ?? `random ${o.arch}, seed ${o.seed}${o.widthDivisor !== 1 ? `, widths ÷${o.widthDivisor}` : ''}`,
      variant: variantName(m.meta),
      input: [m.meta.arch.in_channels, m.meta.input_size[0], m.meta.input_size[1]],
      parameters: m.parameterCount(),
    };
  };
  const backends: BackendResult[] = [];
  for (const n of names) backends.push(await benchBackend(n, o, io, describe));
  const cpus = os.cpus();
  const report: BenchReport = {
    machine: {
      cpu: cpus[0]?.model.trim() ?? 'unknown CPU',
      cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    },
    model: modelInfo ?? { source: o.model ?? `random ${o.arch}`, variant: 'n/a', input: [0, 0, 0], parameters: 0 },
    settings: { batch_size: o.batchSize, iters: o.iters, warmup: o.warmup, pool: o.pool, seed: o.seed },
    backends,
    date: new Date().toISOString(),
  };
  io.stdout(formatBench(report));
  if (o.json !== undefined) await writeFileAtomic(o.json, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`));
  return backends.some((b) => b.available) ? 0 : 1;
}

/** The GPU a device backend runs on, as it names itself (CUDA: the device's name; WebGPU: the adapter, and f16 when on). */
function deviceName(backend: Backend): string | undefined {
  const b = backend as unknown as { info?: { name?: unknown }; adapterDescription?: unknown; f16?: unknown };
  if (typeof b.info?.name === 'string') return b.info.name;
  if (typeof b.adapterDescription === 'string') return `${b.adapterDescription}${b.f16 === true ? ' (f16)' : ''}`;
  return undefined;
}

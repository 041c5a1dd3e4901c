/**
 * Batches for training and evaluation (Node): samples are decoded and augmented in worker threads
 * while earlier batches are used, and come back as NCHW Float32Arrays ready for backend.fromArray.
 *
 * Determinism: every random choice of a sample comes from a seed derived from (seed, epoch, entry),
 * never from which worker ran it or when, so a run is reproducible whatever the number of workers.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LrpsegError, mulberry32 } from '@lrpseg/core';
import { loadSample, type SampleTask } from './load-sample.js';
import type { EvalView, ManifestEntry } from './manifest.js';
import { CLASSIFIER_AUGMENT, type PreparedSample, type SampleMode, type TrainAugment } from './sample.js';
import { EVAL_VIEWS } from './split.js';
// sharp is loaded here, in the main thread, before any worker: on glibc, a native library that a
// worker loads first is unloaded when that worker exits, which crashes the process (sharp's docs).
import './decode-sharp.js';

export interface LoaderOptions {
  /** The data set root that entry paths are relative to. */
  readonly root: string;
  readonly entries: readonly ManifestEntry[];
  readonly mode: SampleMode;
  readonly batchSize: number;
  /** Model input, height × width (default 224 × 224). */
  readonly size?: readonly [number, number];
  /** Model input channels (default 3: grey images are repeated). */
  readonly channels?: number;
  readonly seed?: number;
  /** Training: shuffle every epoch (default true). */
  readonly shuffle?: boolean;
  /** Training augmentation (default: flips only, as for the classifier). */
  readonly augment?: TrainAugment;
  /** Evaluation: the views of each entry (default: identity, hflip, vflip). */
  readonly views?: readonly EvalView[];
  readonly evalCrop?: 'center' | 'defect';
  /** Worker threads; 0 prepares samples on the main thread (default: cores − 1, at most 4). */
  readonly workers?: number;
  /** Batches prepared ahead of the one being used (default 2). */
  readonly prefetch?: number;
  /** Drop a last, incomplete batch (default false). */
  readonly dropLast?: boolean;
}

export interface Batch {
  /** N × C × H × W, values in [0, 1]. */
  readonly x: Float32Array;
  readonly shape: readonly [number, number, number, number];
  /** Label of each sample. */
  readonly labels: Int32Array;
  /** N × H × W bytes, 1 = defect. */
  readonly masks: Uint8Array;
  /** Which entry (index into `entries`) and view each sample is. */
  readonly items: readonly { readonly entry: number; readonly view: EvalView }[];
}

/** A 32-bit hash of a few integers (for per-sample seeds). */
export function hashSeed(...xs: number[]): number {
  let h = 0x811c9dc5;
  for (const x of xs) {
    h = Math.imul(h ^ (x >>> 0), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 12;
  }
  return h >>> 0;
}

function workerUrl(): URL {
  // dist/loader.js finds dist/sample-worker.js; the TypeScript sources (tests) use the built one
  const here = new URL('./sample-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const built = new URL('../dist/sample-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(built))) return built;
  throw new LrpsegError('NOT_IMPLEMENTED', 'loader worker script not found: build @lrpseg/datasets first (pnpm exec turbo run build), or use workers: 0');
}

interface Pending {
  resolve(s: PreparedSample): void;
  reject(e: Error): void;
}

/** A fixed set of worker threads, each with up to `depth` samples in flight. */
class WorkerPool {
  private readonly workers: { w: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly queue: { id: number; task: SampleTask }[] = [];
  private nextId = 0;
  private failed: Error | null = null;

  constructor(n: number, private readonly depth = 2) {
    const url = workerUrl();
    for (let i = 0; i < n; i++) {
      const w = new Worker(url);
      w.unref(); // referenced only while samples are pending (see run/settle)
      w.on('message', (m: { id: number; data?: Float32Array; mask?: Uint8Array; maskHasDefect?: boolean; error?: string; code?: string }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (this.pending.size === 0) for (const x of this.workers) x.w.unref();
        this.workers[i].busy--;
        if (p) {
          if (m.error !== undefined) p.reject(new LrpsegError((m.code as 'BAD_INPUT') ?? 'BAD_INPUT', m.error));
          else p.resolve({ data: m.data!, mask: m.mask!, maskHasDefect: m.maskHasDefect! });
        }
        this.pump();
      });
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`loader worker exited with code ${code}`));
      });
      this.workers.push({ w, busy: 0 });
    }
  }

  private fail(e: Error): void {
    this.failed = e;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(e);
    }
  }

  run(task: SampleTask): Promise<PreparedSample> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    if (this.pending.size === 0) for (const x of this.workers) x.w.ref();
    const p = new Promise<PreparedSample>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.queue.push({ id, task });
    this.pump();
    return p;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let best = -1;
      for (let i = 0; i < this.workers.length; i++) {
        if (this.workers[i].busy < this.depth && (best < 0 || this.workers[i].busy < this.workers[best].busy)) best = i;
      }
      if (best < 0) return;
      const job = this.queue.shift()!;
      this.workers[best].busy++;
      this.workers[best].w.postMessage({ id: job.id, task: job.task });
    }
  }

  async close(): Promise<void> {
    this.queue.length = 0;
    await Promise.all(this.workers.map(({ w }) => w.terminate()));
    this.workers.length = 0;
  }
}

/** The default number of loader workers: the cores left after the main thread, at most 4. */
export function defaultLoaderWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * Iterates batches of a manifest subset. `epoch(e)` yields the batches of epoch e; call close() when
 * done (it ends the worker threads).
 */
export class DataLoader {
  private readonly opts: Required<Omit<LoaderOptions, 'entries' | 'root'>>;
  private pool: WorkerPool | null = null;

  constructor(private readonly loaderOpts: LoaderOptions) {
    const o = loaderOpts;
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new LrpsegError('BAD_INPUT', `batch size must be a positive integer (got ${o.batchSize})`);
    this.opts = {
      mode: o.mode,
      batchSize: o.batchSize,
      size: o.size ?? [224, 224],
      channels: o.channels ?? 3,
      seed: o.seed ?? 0,
      shuffle: o.shuffle ?? o.mode === 'train',
      augment: o.augment ?? CLASSIFIER_AUGMENT,
      views: o.mode === 'eval' ? (o.views ?? EVAL_VIEWS) : ['identity'],
      evalCrop: o.evalCrop ?? 'center',
      workers: o.workers ?? defaultLoaderWorkers(),
      prefetch: Math.max(0, o.prefetch ?? 2),
      dropLast: o.dropLast ?? false,
    };
  }

  /** Samples per epoch (evaluation counts every view). */
  get samples(): number {
    return this.loaderOpts.entries.length * this.opts.views.length;
  }

  get batchesPerEpoch(): number {
    const n = this.samples;
    return this.opts.dropLast ? Math.floor(n / this.opts.batchSize) : Math.ceil(n / this.opts.batchSize);
  }

  /** The (entry, view) order of an epoch. */
  order(epoch: number): { entry: number; view: EvalView }[] {
    const n = this.loaderOpts.entries.length;
    const idx = Array.from({ length: n }, (_, i) => i);
    if (this.opts.shuffle) {
      const rand = mulberry32(hashSeed(this.opts.seed, epoch, 0x5eed));
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
    }
    return idx.flatMap((entry) => this.opts.views.map((view) => ({ entry, view })));
  }

  private task(item: { entry: number; view: EvalView }, epoch: number): SampleTask {
    const e = this.loaderOpts.entries[item.entry];
    const o = this.opts;
    return {
      root: this.loaderOpts.root,
      entry: { image: e.image, mask: e.mask, ...(e.region ? { region: e.region } : {}) },
      spec: {
        mode: o.mode,
        size: o.size,
        channels: o.channels,
        seed: hashSeed(o.seed, epoch, item.entry),
        augment: o.augment,
        view: item.view,
        evalCrop: o.evalCrop,
      },
    };
  }

  private prepare(task: SampleTask): Promise<PreparedSample> {
    if (this.opts.workers === 0) return loadSample(task);
    this.pool ??= new WorkerPool(this.opts.workers);
    return this.pool.run(task);
  }

  /**
   * The batches of one epoch, in order, from batch `fromBatch` on (the earlier ones are not loaded; each
   * sample depends only on the seed, the epoch and its entry, so the rest are the same as in a full
   * pass); a sample that fails to load rejects with its file named.
   */
  async *epoch(epoch = 0, fromBatch = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const { batchSize, prefetch, channels } = this.opts;
    const [H, W] = this.opts.size;
    const nb = this.batchesPerEpoch;
    const inFlight: Promise<PreparedSample>[][] = [];
    let dispatched = fromBatch;
    let inFlightBase = fromBatch;
    const dispatch = (): void => {
      while (dispatched < nb && dispatched <= inFlightBase + prefetch) {
        const items = order.slice(dispatched * batchSize, Math.min(order.length, (dispatched + 1) * batchSize));
        const ps = items.map((it) => this.prepare(this.task(it, epoch)));
        // a rejection is handled when its batch is awaited; until then keep Node from reporting it
        for (const p of ps) p.catch(() => undefined);
        inFlight[dispatched] = ps;
        dispatched++;
      }
    };
    for (let b = fromBatch; b < nb; b++) {
      inFlightBase = b;
      dispatch();
      const samples = await Promise.all(inFlight[b]);
      inFlight[b] = [];
      const items = order.slice(b * batchSize, b * batchSize + samples.length);
      const n = samples.length;
      const x = new Float32Array(n * channels * H * W);
      const masks = new Uint8Array(n * H * W);
      const labels = new Int32Array(n);
      samples.forEach((s, i) => {
        x.set(s.data, i * channels * H * W);
        masks.set(s.mask, i * H * W);
        labels[i] = this.loaderOpts.entries[items[i].entry].label;
      });
      yield { x, shape: [n, channels, H, W], labels, masks, items };
    }
  }

  /**
   * The batches of training epoch `epoch` of `steps` steps, from step `fromStep` on: one pass over the
   * data when that is enough (pass `epoch`), else as many fresh passes as it takes (passes epoch·k …
   * epoch·k + k − 1), so that more steps per epoch than one pass really gives that many steps.
   */
  async *trainingEpoch(epoch: number, steps: number, fromStep = 0): AsyncGenerator<Batch> {
    const per = this.batchesPerEpoch;
    const passes = Math.max(1, Math.ceil(steps / per));
    const firstPass = Math.floor(fromStep / per);
    let given = fromStep;
    for (let p = firstPass; p < passes && given < steps; p++) {
      for await (const b of this.epoch(epoch * passes + p, p === firstPass ? fromStep % per : 0)) {
        yield b;
        if (++given >= steps) return;
      }
    }
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = null;
  }
}

/**
 * Segmentation on worker threads, so that turning heatmaps into masks never holds up the pipeline that
 * computes the heatmaps (a GPU backend, or the CPU backend on the other cores).
 *
 * Each worker imports core's compiled segment module and runs segmentMap on one map at a time; maps
 * go in as copies whose buffers are transferred, masks and scores come back transferred. With
 * threads = 0 the pool runs every job on the calling thread (same results, no workers).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LrpsegError, type LrpsegErrorCode } from '../errors.js';
import { segmentMap, type SegmentMethod, type Segmentation } from '../segment/segment.js';
import type { RelevanceMap } from '../segment/map.js';

export interface SegmentPoolOptions {
  /** Worker threads; 0 runs the jobs on the calling thread. */
  readonly threads: number;
}

export interface SegmentPool {
  readonly threads: number;
  /** Segments one map; rejects with the LrpsegError segmentMap would throw (e.g. BAD_INPUT for NaN). */
  segment(method: SegmentMethod, map: RelevanceMap): Promise<Segmentation>;
  /** Segments n maps stored one after another in `maps` (n × height × width), in order. */
  segmentAll(method: SegmentMethod, maps: ArrayLike<number>, n: number, height: number, width: number): Promise<Segmentation[]>;
  /** Stops the workers once the queued jobs are done; later calls run on the calling thread. */
  close(): Promise<void>;
}

/** URL of the compiled segment module (from sources under a test runner, its dist/ twin). */
function segmentModuleUrl(): string {
  const here = import.meta.url;
  const own = new URL('../segment/index.js', here);
  if (existsSync(fileURLToPath(own))) return own.href;
  const dist = fileURLToPath(own).replace(/([\\/])src([\\/]segment[\\/]index\.js)$/, '$1dist$2');
  if (existsSync(dist)) return pathToFileURL(dist).href;
  throw new LrpsegError('NOT_IMPLEMENTED', `segment pool: cannot find the compiled segment module (${fileURLToPath(own)}); build @lrpseg/core first`);
}

function workerSource(moduleUrl: string): string {
  return `"use strict";
const { parentPort } = require('node:worker_threads');
const ready = import(${JSON.stringify(moduleUrl)});
parentPort.on('message', async (job) => {
  try {
    const { segmentMap } = await ready;
    const data = job.f64 ? new Float64Array(job.buffer) : new Float32Array(job.buffer);
    const result = segmentMap(job.method, { data, height: job.height, width: job.width });
    parentPort.postMessage({ id: job.id, result }, [result.mask.buffer, result.score.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: { code: e && e.code, message: e && e.message ? e.message : String(e) } });
  }
});
`;
}

interface Job {
  readonly id: number;
  readonly method: SegmentMethod;
  readonly map: RelevanceMap;
  readonly resolve: (s: Segmentation) => void;
  readonly reject: (e: unknown) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

const ERROR_CODES: readonly LrpsegErrorCode[] = ['SHAPE_MISMATCH', 'BAD_INPUT', 'NOT_IMPLEMENTED'];

export function createSegmentPool(opts: SegmentPoolOptions): SegmentPool {
  const threads = Math.max(0, Math.floor(opts.threads));
  const source = threads > 0 ? workerSource(segmentModuleUrl()) : '';
  const queue: Job[] = [];
  const slots: Slot[] = [];
  let nextId = 0;
  let closed = false;

  const runInline = (job: Job): void => {
    try {
      job.resolve(segmentMap(job.method, job.map));
    } catch (e) {
      job.reject(e);
    }
  };

  const dispatch = (): void => {
    for (const slot of slots) {
      if (slot.job !== null || queue.length === 0) continue;
      const job = queue.shift()!;
      slot.job = job;
      const { data, height, width } = job.map;
      // float32 maps travel as float32; anything else as float64 (no precision lost on the way)
      const f64 = !(data instanceof Float32Array);
      const copy = f64 ? Float64Array.from(data) : (data as Float32Array).slice();
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, method: job.method, buffer: copy.buffer, f64, height, width }, [copy.buffer]);
    }
  };

  const finish = (slot: Slot): Job => {
    const job = slot.job!;
    slot.job = null;
    slot.worker.unref();
    return job;
  };

  const spawn = (): Slot => {
    const slot: Slot = { worker: new Worker(source, { eval: true }), job: null };
    slot.worker.unref();
    slot.worker.on('message', (msg: { id: number; result?: Segmentation; error?: { code?: string; message: string } }) => {
      const job = finish(slot);
      if (msg.error) {
        const code = ERROR_CODES.find((c) => c === msg.error!.code) ?? 'BAD_INPUT';
        job.reject(new LrpsegError(code, msg.error.message));
      } else job.resolve(msg.result!);
      dispatch();
    });
    slot.worker.on('error', (e) => {
      // A worker that died (out of memory, a bug) fails its job only; a fresh one takes its place.
      if (slot.job) finish(slot).reject(new LrpsegError('BAD_INPUT', `segment worker failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      const i = slots.indexOf(slot);
      if (i >= 0 && !closed) {
        slots[i] = spawn();
        dispatch();
      }
    });
    return slot;
  };
  for (let i = 0; i < threads; i++) slots.push(spawn());

  const segment = (method: SegmentMethod, map: RelevanceMap): Promise<Segmentation> =>
    new Promise<Segmentation>((resolve, reject) => {
      const job: Job = { id: nextId++, method, map, resolve, reject };
      if (slots.length === 0 || closed) {
        runInline(job);
        return;
      }
      queue.push(job);
      dispatch();
    });

  return {
    threads,
    segment,
    segmentAll(method, maps, n, height, width) {
      const hw = height * width;
      if (maps.length !== n * hw) {
        return Promise.reject(new LrpsegError('SHAPE_MISMATCH', `segmentAll: ${maps.length} values for ${n} maps of ${height}×${width}`));
      }
      const jobs: Promise<Segmentation>[] = [];
      for (let i = 0; i < n; i++) {
        const data = 'subarray' in maps ? (maps as Float32Array).subarray(i * hw, (i + 1) * hw) : Array.prototype.slice.call(maps, i * hw, (i + 1) * hw);
        jobs.push(segment(method, { data, height, width }));
      }
      return Promise.all(jobs);
    },
    async close() {
      closed = true;
      // Jobs already queued still run, on this thread.
      while (queue.length > 0) runInline(queue.shift()!);
      await Promise.all(
        slots.map(
          (s) =>
            new Promise<void>((resolve) => {
              const stop = (): void => void s.worker.terminate().then(() => resolve(), () => resolve());
              if (s.job === null) stop();
              else s.worker.once('message', stop);
            }),
        ),
      );
      slots.length = 0;
    },
  };
}

/**
 * A GEMM that splits the columns (or rows) of C across worker threads plus the calling thread, and
 * returns synchronously: inputs are copied into a shared scratch buffer, workers are woken with
 * Atomics.notify, and the caller blocks in Atomics.wait until they are done (allowed in Node, also on
 * the main thread). Workers run the very same kernel as the serial path (`gemmBlock`), shipped to them as
 * source text so that this works from compiled dist/ and from TS sources under vitest alike.
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { GEMM_SWEEP_WASM } from '../cpu/kernels/gemm-sweep-wasm.js';
import { checkGemmArgs, gemmBlock, instantiateGemmSimd, serialGemmWorkspace, type GemmFn, type GemmWorkspace } from '../cpu/kernels/gemm.js';

export interface GemmPoolOptions {
  /** Threads in total, the calling thread included (so threads − 1 workers). */
  readonly threads: number;
  /**
   * Smallest m·n·k worth splitting; below it the calling thread computes alone.
   * Default 2²⁰ (≈ 0.3 ms of single-thread work, well above the cost of waking a worker and copying).
   */
  readonly minWork?: number;
  /**
   * Smallest ratio of m·n·k to the floats copied into the shared scratch (A, B and C) worth splitting
   * (default 16): a matrix-vector product, e.g. a fully connected layer at batch 1, would spend as long
   * copying the weights as computing.
   */
  readonly minWorkPerCopiedFloat?: number;
  /** The WebAssembly SIMD sweep on every thread where it can run (default true; results are the same). */
  readonly simd?: boolean;
}

export interface GemmPool {
  readonly threads: number;
  /** Calls so far, and how many of them were split across threads. */
  readonly stats: { calls: number; parallelCalls: number };
  readonly gemm: GemmFn;
  /** Threads (the calling one included) that run the SIMD sweep; the others run the JS one. */
  simdThreads(): number;
  /** Resolves once every worker runs (calls made before that use the workers that are ready, if any). */
  whenReady(timeoutMs?: number): Promise<void>;
  /** Stops the workers. The pool's gemm keeps working afterwards, single-threaded. */
  close(): Promise<void>;
}

// ---- control block layout (Int32 slots in a SharedArrayBuffer) -------------------------------
// job:    0 transA, 1 transB, 2 m, 3 n, 4 k, 5 aOff, 6 lda, 7 bOff, 8 ldb, 9 cOff, 10 ldc,
//         11 accumulate, 12 split over n (1) or m (0), 13 generation of the data buffer
// worker: base = 16·(index + 1): +0 seq (bumped to wake), +1 done (= seq when finished),
//         +2 start, +3 end, +4 command (0 run, 1 exit), +5 failed (1), +6 ready (1 once the loop runs),
//         +7 simd (1 when the worker runs the WebAssembly sweep)
const SLOTS = 16;
const GEN = 13;
const SEQ = 0, DONE = 1, START = 2, END = 3, CMD = 4, FAILED = 5, READY = 6, SIMD = 7;

/**
 * The worker's main loop. Self-contained (shipped as source): it receives `gemmBlock` and
 * `instantiateGemmSimd` as arguments and everything else (the wasm bytes too) through workerData and
 * the control block.
 */
function workerMain(kernel: typeof gemmBlock, instantiate: typeof instantiateGemmSimd): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wt = require('node:worker_threads') as typeof import('node:worker_threads');
  const wd = wt.workerData as { ctrl: SharedArrayBuffer; port: MessagePort; index: number; wasm: Uint8Array | null };
  const ctrl = new Int32Array(wd.ctrl);
  const base = 16 * (wd.index + 1);
  const ws: GemmWorkspace = { f64: [], simd: wd.wasm ? instantiate(wd.wasm) : null };
  Atomics.store(ctrl, base + 7, ws.simd ? 1 : 0);
  let gen = -1;
  let data: Float32Array = new Float32Array(0);
  let seen = 0;
  Atomics.store(ctrl, base + 6, 1);
  for (;;) {
    Atomics.wait(ctrl, base + 0, seen);
    const seq = Atomics.load(ctrl, base + 0);
    if (seq === seen) continue;
    seen = seq;
    if (ctrl[base + 4] === 1) break;
    try {
      const want = ctrl[13];
      while (gen !== want) {
        const msg = wt.receiveMessageOnPort(wd.port) as { message: { gen: number; buffer: SharedArrayBuffer } } | undefined;
        if (!msg) throw new Error('gemm worker: data buffer message missing');
        gen = msg.message.gen;
        data = new Float32Array(msg.message.buffer);
      }
      const m = ctrl[2], n = ctrl[3], k = ctrl[4];
      const a = data.subarray(ctrl[5]);
      const b = data.subarray(ctrl[7]);
      const c = data.subarray(ctrl[9]);
      const s = ctrl[base + 2], e = ctrl[base + 3];
      const tA = ctrl[0] === 1, tB = ctrl[1] === 1, acc = ctrl[11] === 1;
      if (ctrl[12] === 1) kernel(tA, tB, 0, m, s, e, k, a, ctrl[6], b, ctrl[8], c, ctrl[10], acc, ws);
      else kernel(tA, tB, s, e, 0, n, k, a, ctrl[6], b, ctrl[8], c, ctrl[10], acc, ws);
      ctrl[base + 5] = 0;
    } catch {
      ctrl[base + 5] = 1;
    }
    Atomics.store(ctrl, base + 1, seq);
    Atomics.notify(ctrl, base + 1);
  }
}

/** The worker's source: the kernel and the loop, nothing imported. */
export function gemmWorkerSource(): string {
  return `"use strict";\nconst gemmBlock = ${gemmBlock.toString()};\nconst instantiateGemmSimd = ${instantiateGemmSimd.toString()};\n(${workerMain.toString()})(gemmBlock, instantiateGemmSimd);\n`;
}

const need = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
const align = (x: number): number => (x + 15) & ~15;

export function createGemmPool(opts: GemmPoolOptions): GemmPool {
  const threads = Math.max(1, Math.floor(opts.threads));
  const minWork = opts.minWork ?? 1 << 20;
  const minRatio = opts.minWorkPerCopiedFloat ?? 16;
  const simd = opts.simd ?? true;
  const nWorkers = threads - 1;
  const ctrlBuf = new SharedArrayBuffer(4 * SLOTS * (nWorkers + 1));
  const ctrl = new Int32Array(ctrlBuf);
  const ports: MessagePort[] = [];
  let workers: Worker[] = [];
  const source = nWorkers > 0 ? gemmWorkerSource() : '';
  for (let i = 0; i < nWorkers; i++) {
    const { port1, port2 } = new MessageChannel();
    const w = new Worker(source, { eval: true, workerData: { ctrl: ctrlBuf, port: port2, index: i, wasm: simd ? GEMM_SWEEP_WASM : null }, transferList: [port2] });
    w.unref();
    port1.unref();
    workers.push(w);
    ports.push(port1);
  }
  const mainWs = serialGemmWorkspace(simd);
  let data: Float32Array = new Float32Array(0);
  let gen = 0;
  let seq = 0;
  let busy = false;
  const stats = { calls: 0, parallelCalls: 0 };

  const ensure = (floats: number): Float32Array => {
    if (data.length >= floats) return data;
    const size = Math.max(floats, Math.min(2 * data.length, floats + (64 << 20)));
    const buffer = new SharedArrayBuffer(4 * size);
    data = new Float32Array(buffer);
    gen++;
    for (const p of ports) p.postMessage({ gen, buffer });
    Atomics.store(ctrl, GEN, gen);
    return data;
  };

  const gemm: GemmFn = (transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate) => {
    checkGemmArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc);
    stats.calls++;
    const splitN = n >= m;
    const dim = splitN ? n : m;
    // Workers still starting up (or that failed to start) get no share.
    let ready = 0;
    while (ready < workers.length && Atomics.load(ctrl, SLOTS * (ready + 1) + READY) === 1) ready++;
    // At least 16 columns/rows per part, in multiples of 4 (the micro-tile).
    const parts = Math.min(ready + 1, Math.floor(dim / 16));
    const aLen = need(transA ? k : m, transA ? m : k, lda);
    const bLen = need(transB ? n : k, transB ? k : n, ldb);
    // Worth it only for enough work, and enough work per float copied to the shared scratch.
    const work = m * n * k;
    const copied = aLen + bLen + (accumulate ? 2 : 1) * m * n;
    if (parts < 2 || work < minWork || work < minRatio * copied || busy) {
      gemmBlock(transA, transB, 0, m, 0, n, k, a, lda, b, ldb, c, ldc, accumulate, mainWs);
      return;
    }
    stats.parallelCalls++;
    busy = true;
    try {
      const aOff = 0;
      const bOff = align(aLen);
      const cOff = bOff + align(bLen);
      const buf = ensure(cOff + m * n);
      buf.set(a.subarray(0, aLen), aOff);
      buf.set(b.subarray(0, bLen), bOff);
      // Part boundaries along the split dimension; part 0 is computed here, directly on the caller's arrays.
      const bounds: number[] = [0];
      for (let p = 1; p < parts; p++) bounds.push(Math.min(dim, Math.round((dim * p) / parts / 4) * 4));
      bounds.push(dim);
      const cRows = (i0: number, i1: number, j0: number, j1: number, toShared: boolean): void => {
        for (let i = i0; i < i1; i++) {
          if (toShared) buf.set(c.subarray(i * ldc + j0, i * ldc + j1), cOff + i * n + j0);
          else c.set(buf.subarray(cOff + i * n + j0, cOff + i * n + j1), i * ldc + j0);
        }
      };
      if (accumulate) {
        if (splitN) cRows(0, m, bounds[1], n, true);
        else cRows(bounds[1], m, 0, n, true);
      }
      ctrl[0] = transA ? 1 : 0;
      ctrl[1] = transB ? 1 : 0;
      ctrl[2] = m;
      ctrl[3] = n;
      ctrl[4] = k;
      ctrl[5] = aOff;
      ctrl[6] = lda;
      ctrl[7] = bOff;
      ctrl[8] = ldb;
      ctrl[9] = cOff;
      ctrl[10] = n;
      ctrl[11] = accumulate ? 1 : 0;
      ctrl[12] = splitN ? 1 : 0;
      seq++;
      for (let p = 1; p < parts; p++) {
        const base = SLOTS * p;
        ctrl[base + START] = bounds[p];
        ctrl[base + END] = bounds[p + 1];
        ctrl[base + CMD] = 0;
        Atomics.store(ctrl, base + SEQ, seq);
        Atomics.notify(ctrl, base + SEQ);
      }
      if (splitN) gemmBlock(transA, transB, 0, m, 0, bounds[1], k, a, lda, b, ldb, c, ldc, accumulate, mainWs);
      else gemmBlock(transA, transB, 0, bounds[1], 0, n, k, a, lda, b, ldb, c, ldc, accumulate, mainWs);
      for (let p = 1; p < parts; p++) {
        const base = SLOTS * p;
        for (;;) {
          const d = Atomics.load(ctrl, base + DONE);
          if (d === seq) break;
          Atomics.wait(ctrl, base + DONE, d, 1000);
        }
        const [s, e] = [bounds[p], bounds[p + 1]];
        if (ctrl[base + FAILED] === 1) {
          // The worker could not run the kernel (e.g. code instrumented for coverage references names
          // that do not exist in the worker): compute its part here and stop using it.
          Atomics.store(ctrl, base + READY, 0);
          if (splitN) gemmBlock(transA, transB, 0, m, s, e, k, a, lda, b, ldb, c, ldc, accumulate, mainWs);
          else gemmBlock(transA, transB, s, e, 0, n, k, a, lda, b, ldb, c, ldc, accumulate, mainWs);
        } else if (splitN) {
          cRows(0, m, s, e, false);
        } else {
          cRows(s, e, 0, n, false);
        }
      }
    } finally {
      busy = false;
    }
  };

  const close = async (): Promise<void> => {
    const ws = workers;
    workers = [];
    for (let i = 0; i < ws.length; i++) ctrl[SLOTS * (i + 1) + READY] = 0;
    seq++;
    ws.forEach((_, i) => {
      const base = SLOTS * (i + 1);
      ctrl[base + CMD] = 1;
      Atomics.store(ctrl, base + SEQ, seq);
      Atomics.notify(ctrl, base + SEQ);
    });
    await Promise.all(ws.map((w) => w.terminate()));
    for (const p of ports) p.close();
    ports.length = 0;
  };

  const whenReady = async (timeoutMs = 30000): Promise<void> => {
    const t0 = Date.now();
    for (;;) {
      let ready = 0;
      while (ready < workers.length && Atomics.load(ctrl, SLOTS * (ready + 1) + READY) === 1) ready++;
      if (ready === workers.length) return;
      if (Date.now() - t0 > timeoutMs) throw new Error(`gemm pool: ${workers.length - ready} worker(s) not running after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };

  const simdThreads = (): number => {
    let count = mainWs.simd ? 1 : 0;
    for (let i = 0; i < workers.length; i++) if (Atomics.load(ctrl, SLOTS * (i + 1) + READY) === 1 && ctrl[SLOTS * (i + 1) + SIMD] === 1) count++;
    return count;
  };

  return { threads, stats, gemm, simdThreads, whenReady, close };
}

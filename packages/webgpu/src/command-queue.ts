/**
 * Command batching: dispatches, copies and clears of many ops are recorded into one batch, submitted
 * every `maxDispatches` dispatches, or when a result is read, or on sync. The parameters of every
 * dispatch of a batch live in one uniform buffer (a 256-byte slot each), written just before the
 * submit; uniform buffers are pooled, never created per dispatch.
 *
 * A batch is encoded at flush time, once the pipelines it uses are compiled (compilation is
 * asynchronous); batches are submitted in the order they were flushed. Work that must wait for the
 * GPU (returning a buffer to its pool) is attached to the open batch, or to the last flushed one, and
 * runs once that batch has completed on the GPU.
 */
import { BufferPool } from './buffer-pool.js';
import type { CachedKernel } from './pipeline-cache.js';

export interface QueueStats {
  submits: number;
  dispatches: number;
}

type Command =
  | { readonly kind: 'dispatch'; readonly kernel: CachedKernel; readonly bindGroup: GPUBindGroup; readonly groups: readonly [number, number, number] }
  | { readonly kind: 'copy'; readonly src: GPUBuffer; readonly dst: GPUBuffer; readonly bytes: number }
  | { readonly kind: 'clear'; readonly buf: GPUBuffer };

interface Batch {
  readonly commands: Command[];
  readonly uniforms: GPUBuffer;
  readonly mirror: ArrayBuffer;
  readonly view: DataView;
  readonly after: (() => void)[];
  readonly waits: Set<Promise<void>>;
  dispatches: number;
}

export class CommandQueue {
  private batch: Batch | null = null;
  private readonly uniformPool: BufferPool;
  /** Batches flushed and not yet completed on the GPU. */
  private outstanding = 0;
  /** Resolves when the last flushed batch has completed (and so every earlier one). */
  private lastDone: Promise<void> = Promise.resolve();
  /** Resolves when the last flushed batch has been submitted. */
  private lastSubmitted: Promise<void> = Promise.resolve();
  private waitingSubmits = 0;
  readonly stats: QueueStats = { submits: 0, dispatches: 0 };
  readonly slotBytes: number;
  private readonly uniformBytes: number;

  constructor(
    private readonly device: GPUDevice,
    readonly maxDispatches: number,
    uniformAlignment: number,
    /** Called right after each submit with the promise of its completion (error-scope bookkeeping). */
    private readonly onSubmit: (done: Promise<void>) => void,
    /** Called when a batch could not be submitted (a pipeline failed to compile). */
    private readonly onLost: (e: unknown) => void,
  ) {
    this.slotBytes = Math.max(256, uniformAlignment);
    this.uniformBytes = this.slotBytes * maxDispatches;
    this.uniformPool = new BufferPool(device, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'lrpseg uniforms', 8 * this.uniformBytes);
  }

  private open(): Batch {
    if (!this.batch) {
      const mirror = new ArrayBuffer(this.uniformBytes);
      this.batch = {
        commands: [], uniforms: this.uniformPool.acquire(this.uniformBytes), mirror, view: new DataView(mirror), after: [], waits: new Set(), dispatches: 0,
      };
    }
    return this.batch;
  }

  /** Records one dispatch; `writeParams` fills its uniform slot. */
  dispatch(kernel: CachedKernel, writeParams: (view: DataView, offset: number) => void, buffers: readonly GPUBuffer[], groups: readonly [number, number, number]): void {
    const b = this.open();
    const offset = b.dispatches * this.slotBytes;
    writeParams(b.view, offset);
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: b.uniforms, offset, size: kernel.paramBytes } }];
    buffers.forEach((buf, i) => entries.push({ binding: i + 1, resource: { buffer: buf } }));
    b.commands.push({ kind: 'dispatch', kernel, bindGroup: this.device.createBindGroup({ layout: kernel.layout, entries }), groups });
    if (!kernel.pipeline) b.waits.add(kernel.ready);
    b.dispatches++;
    this.stats.dispatches++;
    if (b.dispatches >= this.maxDispatches) void this.flush().catch(() => undefined);
  }

  copy(src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
    if (bytes > 0) this.open().commands.push({ kind: 'copy', src, dst, bytes });
  }

  clear(buf: GPUBuffer): void {
    this.open().commands.push({ kind: 'clear', buf });
  }

  /** Runs `fn` once all work recorded or submitted so far has completed on the GPU. */
  afterWork(fn: () => void): void {
    if (this.batch) this.batch.after.push(fn);
    else if (this.outstanding > 0) void this.lastDone.then(fn, fn);
    else fn();
  }

  /** Submits what is recorded; resolves when the GPU has finished it and everything before it. */
  flush(): Promise<void> {
    const b = this.batch;
    if (!b) return this.lastDone;
    this.batch = null;
    this.outstanding++;
    let submitted: Promise<void>;
    if (b.waits.size === 0 && this.waitingSubmits === 0) {
      try {
        this.submit(b);
        submitted = Promise.resolve();
      } catch (e) {
        submitted = Promise.reject(e);
      }
    } else {
      // Encode once the pipelines are compiled, after the batches flushed before this one.
      this.waitingSubmits++;
      const waits = [...b.waits];
      submitted = this.lastSubmitted.catch(() => undefined).then(async () => {
        try {
          await Promise.all(waits);
          this.submit(b);
        } finally {
          this.waitingSubmits--;
        }
      });
    }
    this.lastSubmitted = submitted;
    const done = submitted.then(
      () => this.device.queue.onSubmittedWorkDone(),
      (e: unknown) => {
        this.onLost(e);
        throw e;
      },
    );
    const settle = (): void => {
      this.outstanding--;
      this.uniformPool.release(b.uniforms);
      for (const f of b.after) f();
    };
    const completed = done.then(settle, (e: unknown) => {
      settle();
      throw e;
    });
    this.lastDone = completed.catch(() => undefined);
    return completed;
  }

  private submit(b: Batch): void {
    const enc = this.device.createCommandEncoder({ label: 'lrpseg batch' });
    let pass: GPUComputePassEncoder | null = null;
    for (const c of b.commands) {
      if (c.kind === 'dispatch') {
        pass ??= enc.beginComputePass();
        pass.setPipeline(c.kernel.pipeline as GPUComputePipeline);
        pass.setBindGroup(0, c.bindGroup);
        if (c.groups[0] > 0 && c.groups[1] > 0 && c.groups[2] > 0) pass.dispatchWorkgroups(c.groups[0], c.groups[1], c.groups[2]);
        continue;
      }
      if (pass) {
        pass.end();
        pass = null;
      }
      if (c.kind === 'copy') enc.copyBufferToBuffer(c.src, 0, c.dst, 0, c.bytes);
      else enc.clearBuffer(c.buf);
    }
    pass?.end();
    if (b.dispatches > 0) this.device.queue.writeBuffer(b.uniforms, 0, b.mirror, 0, b.dispatches * this.slotBytes);
    this.device.queue.submit([enc.finish()]);
    this.stats.submits++;
    this.onSubmit(this.device.queue.onSubmittedWorkDone());
  }

  /** Whether commands are recorded and not yet flushed. */
  get pending(): boolean {
    return this.batch !== null;
  }

  destroy(): void {
    this.uniformPool.clear();
  }
}

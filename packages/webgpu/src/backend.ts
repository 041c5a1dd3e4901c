/**
 * The WebGPU backend: every Backend op as WGSL kernels (wgsl/), recorded into batched command encoders
 * (command-queue.ts), with pipelines cached per shader variant (pipeline-cache.ts) and tensor storage
 * from size-bucketed pools (buffer-pool.ts). Ops only record work and return at once; `read` and
 * `sync` are the only waits, and both are promises.
 *
 * Device loss and WebGPU errors (caught by error scopes that stay open between submits, and by
 * `uncapturederror`) put the backend into a failed state: every later op throws the LrpsegError that
 * says what happened (NO_DEVICE, or OUT_OF_DEVICE_MEMORY for an allocation the device refused);
 * create a new backend to go on.
 */
import {
  LrpsegError, LRP_DELTA, concatChannelsShape, conv2dShape, convTranspose2x2Shape, fmtShape, labelsCheck, linearShape,
  pool2dShape, requireRank, requireSame, sizeOf,
  type AdamParams, type Backend, type Conv2dParams, type ConvGrads, type LossResult, type Pool2dParams, type PoolRule, type Rule,
  type SgdParams, type Shape, type Tensor,
} from '@lrpseg/core';
import { BufferPool } from './buffer-pool.js';
import {
  checkAdamArgs, checkAffine, checkClassWeights, checkDataLength, checkReshape, checkSelectClass, checkSgdArgs, checkShapeValid,
  checkSlice, conv2dGradShape, convTranspose2x2GradShape, linearGradShape, lrpConv2dShape, lrpLinearShape, lrpMaxPool2dShape,
  maxPool2dGradShape,
} from '@lrpseg/core';
import { CommandQueue } from './command-queue.js';
import type { AcquiredDevice, WebgpuOptions } from './device.js';
import { PipelineCache } from './pipeline-cache.js';
import { lrpProduct, plainForward, type RelevanceContext } from './relevance.js';
import { WebgpuTensor } from './tensor.js';
import {
  convAdjointSpec, convFilterGradSpec, convForwardSpec, convTDataGradSpec, convTFilterGradSpec, convTForwardSpec, type ConvGeometryValues,
} from './wgsl/conv.js';
import { chooseTiles, gemmGrid, gemmKernel, pickTile, type GemmMode, type GemmSpec, type KernelChoices, type TileSet } from './wgsl/gemm.js';
import { packParams, type Kernel } from './wgsl/kernel.js';
import {
  adamKernel, affineChannelsKernel, bceKernel, biasGradKernel, binaryKernel, concatChannelsKernel, crossEntropyKernel, maxPoolKernel,
  poolBackKernel, selectClassKernel, sgdKernel, sliceChannelsKernel, softmaxKernel, sumChannelsKernel, unaryKernel,
  type BinaryOp, type UnaryOp,
} from './wgsl/ops.js';
import { MAP_WORKGROUP, flatGrid } from './wgsl/templates.js';

const GRAD_ADJOINT: GemmSpec = convAdjointSpec({
  name: 'grad', blocks: 1, segments: 1, reads: [{ name: 'dy', access: 'read' }],
  wmap: '  return w;', src: '  return dy[idx];', epilogue: '  out[idx] = v;',
});

export interface WebgpuStats {
  readonly submits: number;
  readonly dispatches: number;
  readonly pipelines: number;
  /** Pipelines whose asynchronous compilation has finished. */
  readonly pipelinesReady: number;
  readonly buffersCreated: number;
  readonly buffersReused: number;
  readonly liveBytes: number;
  readonly pooledBytes: number;
}

export class WebgpuBackend implements Backend {
  readonly name = 'webgpu';
  readonly device: GPUDevice;
  /** The adapter, in words (vendor, architecture, device, driver). */
  readonly adapterDescription: string;
  /** The GEMM kernels in use: the square tile sized from the adapter's limits, or 'naive'. */
  readonly gemmMode: GemmMode;
  /** The tiles of the tiled kernels (square, and wide/tall for products with few rows/columns). */
  readonly tiles: TileSet;
  /** f32 tiles for the relevance products, also in f16 mode (R / stab(z) can exceed f16's range). */
  private readonly exactTiles: TileSet;
  /** Whether the matrix products stage f16 operand tiles (opt-in, needs shader-f16). */
  readonly f16: boolean;
  /** How the tiled matrix products load and stage their operands (WebgpuOptions.operandWalk, swizzle). */
  readonly kernelChoices: KernelChoices;
  /** Whether the relevance ops compute their quotients before the adjoint product (WebgpuOptions.lrpQuotients). */
  readonly lrpQuotients: boolean;
  private readonly queue: CommandQueue;
  private readonly pipelines: PipelineCache;
  private readonly storage: BufferPool;
  private readonly readback: BufferPool;
  private readonly maxBinding: number;
  private readonly maxPerDim: number;
  private failure: LrpsegError | null = null;
  private destroyed = false;
  private errorChecks: Promise<void> = Promise.resolve();
  private batchOps = new Set<string>();

  constructor(acquired: AcquiredDevice, opts: WebgpuOptions = {}) {
    const device = acquired.device;
    this.device = device;
    this.adapterDescription = acquired.description;
    this.f16 = acquired.f16;
    const tilesFor = (f16: boolean): TileSet => {
      const fixed = opts.tile ? { ...opts.tile, f16 } : null;
      return fixed ? { square: fixed, wide: fixed, tall: fixed } : chooseTiles(device.limits, f16);
    };
    this.tiles = tilesFor(this.f16);
    this.exactTiles = this.f16 ? tilesFor(false) : this.tiles;
    this.gemmMode = opts.kernels === 'naive' ? 'naive' : this.tiles.square;
    this.kernelChoices = { walk: opts.operandWalk ?? true, swizzle: opts.swizzle ?? false };
    this.lrpQuotients = opts.lrpQuotients ?? true;
    this.maxBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.maxPerDim = device.limits.maxComputeWorkgroupsPerDimension;
    this.pipelines = new PipelineCache(device);
    // (WebGPU's usage constants are globals that Dawn installs at run time: read them here, not at import)
    const storageUsage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.storage = new BufferPool(device, storageUsage, 'lrpseg tensor', Math.min(2 ** 30, 4 * this.maxBinding), this.maxBinding);
    this.readback = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'lrpseg readback', 2 ** 28, this.maxBinding);
    this.queue = new CommandQueue(device, opts.dispatchesPerSubmit ?? 64, device.limits.minUniformBufferOffsetAlignment,
      (done) => this.cycleErrorScopes(done),
      (e) => this.fail(new LrpsegError('NO_DEVICE', `webgpu backend: ${e instanceof Error ? e.message : String(e)}; create a new backend`, { cause: e })));
    this.openErrorScopes();
    void device.lost.then((info) => {
      if (this.destroyed) return;
      this.fail(new LrpsegError('NO_DEVICE', `webgpu backend: the device was lost (${info.reason}${info.message ? `: ${info.message}` : ''}); create a new backend`));
    });
    device.addEventListener?.('uncapturederror', (ev: Event) => {
      this.fail(this.gpuError((ev as GPUUncapturedErrorEvent).error, ['(outside a batch)']));
    });
  }

  // ---- errors -----------------------------------------------------------------------------------

  private openErrorScopes(): void {
    this.device.pushErrorScope('internal');
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
  }

  /** After each submit: closes the scopes that watched the batch, opens new ones, and checks them when the batch completes. */
  private cycleErrorScopes(done: Promise<void>): void {
    const scopes = [this.device.popErrorScope(), this.device.popErrorScope(), this.device.popErrorScope()];
    this.openErrorScopes();
    const ops = [...this.batchOps];
    this.batchOps = new Set();
    const check = Promise.all([...scopes, done.then(() => null, (e: unknown) => e)]).then(
      ([validation, oom, internal, submitError]) => {
        const err = (validation ?? oom ?? internal) as GPUError | null;
        if (err) this.fail(this.gpuError(err, ops));
        else if (submitError) this.fail(new LrpsegError('NO_DEVICE', `webgpu backend: the GPU work of ${ops.join(', ')} failed (${String(submitError)})`, { cause: submitError }));
      },
      (e: unknown) => this.fail(new LrpsegError('NO_DEVICE', `webgpu backend: error scope failed (${String(e)})`, { cause: e })),
    );
    this.errorChecks = Promise.all([this.errorChecks, check]).then(() => undefined);
  }

  private gpuError(err: GPUError, ops: readonly string[]): LrpsegError {
    const where = ops.length > 0 ? ` in ${ops.join(', ')}` : '';
    if (typeof GPUOutOfMemoryError !== 'undefined' && err instanceof GPUOutOfMemoryError) {
      return new LrpsegError('OUT_OF_DEVICE_MEMORY', `webgpu backend: out of device memory${where} (${err.message}); create a new backend`);
    }
    const kind = typeof GPUValidationError !== 'undefined' && err instanceof GPUValidationError ? 'validation error' : 'internal error';
    return new LrpsegError('NO_DEVICE', `webgpu backend: the device reported a ${kind}${where}: ${err.message.split('\n')[0]}; create a new backend`);
  }

  private fail(e: LrpsegError): void {
    this.failure ??= e;
  }

  /** Throws if the backend cannot take more work; records the op for error messages. */
  private begin(op: string): void {
    if (this.destroyed) throw new LrpsegError('NO_DEVICE', `${op}: the webgpu backend was destroyed`);
    if (this.failure) throw this.failure;
    this.batchOps.add(op);
  }

  // ---- tensors and buffers -----------------------------------------------------------------

  private own(op: string, t: Tensor): WebgpuTensor {
    t.assertLive(op);
    if (t.backend !== this || !(t instanceof WebgpuTensor)) {
      throw new LrpsegError('WRONG_BACKEND', `${op}: tensor #${t.id} ${fmtShape(t.shape)} belongs to backend '${t.backend.name}', not to this '${this.name}' backend`);
    }
    return t;
  }

  private checkBytes(op: string, shape: Shape | null, bytes: number): void {
    if (bytes > this.maxBinding) {
      const what = shape ? `a tensor of shape ${fmtShape(shape)}` : 'a scratch buffer';
      throw new LrpsegError('OUT_OF_DEVICE_MEMORY', `${op}: ${what} needs ${(bytes / 2 ** 20).toFixed(1)} MiB, more than this device's largest storage buffer (${(this.maxBinding / 2 ** 20).toFixed(1)} MiB)`);
    }
  }

  private releaseStorage = (b: GPUBuffer): void => {
    if (this.destroyed) return;
    this.queue.afterWork(() => this.storage.release(b));
  };

  private alloc(op: string, shape: Shape, nonNegative = false): WebgpuTensor {
    const bytes = sizeOf(shape) * 4;
    this.checkBytes(op, shape, bytes);
    return new WebgpuTensor(this, shape, this.storage.acquire(bytes), this.releaseStorage, nonNegative);
  }

  /** Scratch buffers of one op: released (after the GPU work recorded so far) when the op ends. */
  private withScratch<T>(op: string, fn: (scratch: (floats: number) => GPUBuffer, upload: (v: Float32Array | Uint32Array) => GPUBuffer) => T): T {
    const held: GPUBuffer[] = [];
    const scratch = (floats: number): GPUBuffer => {
      this.checkBytes(op, null, floats * 4);
      const b = this.storage.acquire(floats * 4);
      held.push(b);
      return b;
    };
    const upload = (v: Float32Array | Uint32Array): GPUBuffer => {
      const b = scratch(Math.max(1, v.length));
      if (v.length > 0) this.device.queue.writeBuffer(b, 0, v.buffer, v.byteOffset, v.byteLength);
      return b;
    };
    try {
      return fn(scratch, upload);
    } finally {
      for (const b of held) this.queue.afterWork(() => this.storage.release(b));
    }
  }

  // ---- recording ---------------------------------------------------------------------------------

  private run(kernel: Kernel, params: Readonly<Record<string, number>>, buffers: readonly GPUBuffer[], groups: [number, number, number]): void {
    this.queue.dispatch(this.pipelines.get(kernel), (view, offset) => packParams(kernel.params, params, view, offset), buffers, groups);
  }

  private map(kernel: Kernel, count: number, params: Readonly<Record<string, number>>, buffers: readonly GPUBuffer[]): void {
    this.run(kernel, { count, ...params }, buffers, flatGrid(Math.ceil(count / MAP_WORKGROUP), this.maxPerDim));
  }

  private reduce(kernel: Kernel, groups: number, params: Readonly<Record<string, number>>, buffers: readonly GPUBuffer[]): void {
    this.run(kernel, { G: groups, ...params }, buffers, flatGrid(groups, this.maxPerDim));
  }

  private gemm(spec: GemmSpec, m: number, n: number, k: number, params: Readonly<Record<string, number>>, buffers: readonly GPUBuffer[], exact = false): void {
    const mode: GemmMode = this.gemmMode === 'naive' ? 'naive' : pickTile(exact ? this.exactTiles : this.tiles, m, n);
    this.run(gemmKernel(spec, mode, this.kernelChoices), { M: m, N: n, K: k, ...params }, buffers, gemmGrid(m, n, mode, this.maxPerDim));
  }

  private context(scratch: (floats: number) => GPUBuffer, upload: (v: Float32Array) => GPUBuffer): RelevanceContext {
    return {
      gemm: (s, m, n, k, p, b) => this.gemm(s, m, n, k, p, b, true),
      reduce: (kn, g, p, b) => this.reduce(kn, g, p, b),
      map: (kn, c, p, b) => this.map(kn, c, p, b),
      scratch,
      upload,
      quotients: this.lrpQuotients,
    };
  }

  // ---- memory ------------------------------------------------------------------------------------

  fromArray(data: Float32Array | readonly number[], shape: Shape): Tensor {
    this.begin('fromArray');
    checkDataLength('fromArray', data.length, shape);
    const t = this.alloc('fromArray', shape);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    if (values.length > 0) this.device.queue.writeBuffer(t.buffer, 0, values.buffer, values.byteOffset, values.byteLength);
    return t;
  }

  zeros(shape: Shape): Tensor {
    this.begin('zeros');
    checkShapeValid('zeros', shape);
    const t = this.alloc('zeros', shape);
    this.queue.clear(t.buffer);
    return t;
  }

  async read(t: Tensor): Promise<Float32Array> {
    this.begin('read');
    const src = this.own('read', t);
    const bytes = src.size * 4;
    if (bytes === 0) return new Float32Array(0);
    const staging = this.readback.acquire(bytes);
    this.queue.copy(src.buffer, staging, bytes);
    try {
      await this.queue.flush();
      await this.errorChecks;
      if (this.failure) throw this.failure;
      await staging.mapAsync(GPUMapMode.READ, 0, bytes);
      const out = new Float32Array(staging.getMappedRange(0, bytes).slice(0));
      staging.unmap();
      return out;
    } catch (e) {
      if (e instanceof LrpsegError) throw e;
      await this.errorChecks;
      throw this.failure ?? new LrpsegError('NO_DEVICE', `read: reading tensor #${t.id} ${fmtShape(t.shape)} back failed (${(e as Error).message})`, { cause: e });
    } finally {
      if (!this.destroyed) this.readback.release(staging);
    }
  }

  async sync(): Promise<void> {
    this.begin('sync');
    try {
      await this.queue.flush();
    } finally {
      await this.errorChecks;
    }
    if (this.failure) throw this.failure;
  }

  /** Counters of the runtime (for tests and benchmarks). */
  get stats(): WebgpuStats {
    return {
      submits: this.queue.stats.submits,
      dispatches: this.queue.stats.dispatches,
      pipelines: this.pipelines.compiled,
      pipelinesReady: this.pipelines.ready,
      buffersCreated: this.storage.stats.created,
      buffersReused: this.storage.stats.reused,
      liveBytes: this.storage.stats.liveBytes,
      pooledBytes: this.storage.stats.freeBytes,
    };
  }

  // ---- shape and elementwise -----------------------------------------------------------------------

  reshape(x: Tensor, shape: Shape): Tensor {
    this.begin('reshape');
    const t = this.own('reshape', x);
    checkReshape('reshape', x, shape);
    // A copy: the two tensors are disposed independently.
    const out = this.alloc('reshape', shape, t.nonNegative);
    this.queue.copy(t.buffer, out.buffer, x.size * 4);
    return out;
  }

  private unary(op: string, x: Tensor, kind: UnaryOp, params: Record<string, number> = {}): Tensor {
    this.begin(op);
    const t = this.own(op, x);
    const out = this.alloc(op, x.shape, kind === 'relu');
    this.map(unaryKernel(kind), x.size, params, [t.buffer, out.buffer]);
    return out;
  }

  private binary(op: string, a: Tensor, b: Tensor, kind: BinaryOp, names: [string, string] = ['a', 'b']): Tensor {
    this.begin(op);
    const ta = this.own(op, a);
    const tb = this.own(op, b);
    requireSame(op, a, b, ...names);
    const out = this.alloc(op, a.shape);
    this.map(binaryKernel(kind), a.size, {}, [ta.buffer, tb.buffer, out.buffer]);
    return out;
  }

  affineChannels(x: Tensor, scale: readonly number[], shift: readonly number[]): Tensor {
    const op = 'affineChannels';
    this.begin(op);
    const t = this.own(op, x);
    checkAffine(op, x, scale, shift);
    const [, c, h, w] = x.shape;
    const out = this.alloc(op, x.shape);
    this.withScratch(op, (_s, upload) => {
      const sc = upload(Float32Array.from([...scale, ...shift]));
      this.map(affineChannelsKernel(), x.size, { C: c, plane: h * w }, [t.buffer, sc, out.buffer]);
    });
    return out;
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('add', a, b, 'add');
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('mul', a, b, 'mul');
  }

  scale(x: Tensor, s: number): Tensor {
    return this.unary('scale', x, 'scale', { s });
  }

  sumChannels(x: Tensor): Tensor {
    const op = 'sumChannels';
    this.begin(op);
    const t = this.own(op, x);
    requireRank(op, 'x', x, 4);
    const [n, c, h, w] = x.shape;
    const out = this.alloc(op, [n, h, w]);
    this.map(sumChannelsKernel(), n * h * w, { C: c, plane: h * w }, [t.buffer, out.buffer]);
    return out;
  }

  selectClass(x: Tensor, target: readonly number[]): Tensor {
    const op = 'selectClass';
    this.begin(op);
    const t = this.own(op, x);
    checkSelectClass(op, x, target);
    const out = this.alloc(op, x.shape);
    this.withScratch(op, (_s, upload) => {
      this.map(selectClassKernel(), x.size, { K: x.shape[1] }, [t.buffer, upload(Uint32Array.from(target)), out.buffer]);
    });
    return out;
  }

  concatChannels(a: Tensor, b: Tensor): Tensor {
    const op = 'concatChannels';
    this.begin(op);
    const ta = this.own(op, a);
    const tb = this.own(op, b);
    const shape = concatChannelsShape(op, a, b);
    const out = this.alloc(op, shape);
    this.map(concatChannelsKernel(), out.size, { C1: a.shape[1], C2: b.shape[1], plane: a.shape[2] * a.shape[3] }, [ta.buffer, tb.buffer, out.buffer]);
    return out;
  }

  sliceChannels(x: Tensor, start: number, count: number): Tensor {
    const op = 'sliceChannels';
    this.begin(op);
    const t = this.own(op, x);
    checkSlice(op, x, start, count);
    const [n, c, h, w] = x.shape;
    const out = this.alloc(op, [n, count, h, w]);
    this.map(sliceChannelsKernel(), out.size, { C: c, start, count2: count, plane: h * w }, [t.buffer, out.buffer]);
    return out;
  }

  // ---- forward -------------------------------------------------------------------------------------

  private convGeometry(x: Shape, w: Shape, p: Conv2dParams, y: Shape): ConvGeometryValues {
    return { NB: x[0], C: x[1], H: x[2], W: x[3], O: w[0], KS: w[2], S: p.stride, PAD: p.padding, OH: y[2], OW: y[3] };
  }

  /** A linear layer as a 1×1 convolution on 1×1 images. */
  private linearGeometry(x: Shape, w: Shape): ConvGeometryValues {
    return { NB: x[0], C: x[1], H: 1, W: 1, O: w[0], KS: 1, S: 1, PAD: 0, OH: 1, OW: 1 };
  }

  private convForward(g: ConvGeometryValues, x: WebgpuTensor, w: WebgpuTensor, b: WebgpuTensor | null, out: WebgpuTensor): void {
    this.gemm(convForwardSpec(plainForward(b !== null)), g.O, g.NB * g.OH * g.OW, g.C * g.KS * g.KS, { ...g },
      [x.buffer, w.buffer, ...(b ? [b.buffer] : []), out.buffer]);
  }

  conv2d(x: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams): Tensor {
    const op = 'conv2d';
    this.begin(op);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = conv2dShape(op, x, w, b, p);
    const out = this.alloc(op, shape);
    this.convForward(this.convGeometry(x.shape, w.shape, p, shape), tx, tw, tb, out);
    return out;
  }

  linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const op = 'linear';
    this.begin(op);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = linearShape(op, x, w, b);
    const out = this.alloc(op, shape);
    this.convForward(this.linearGeometry(x.shape, w.shape), tx, tw, tb, out);
    return out;
  }

  convTranspose2x2(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const op = 'convTranspose2x2';
    this.begin(op);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = convTranspose2x2Shape(op, x, w, b);
    const out = this.alloc(op, shape);
    const [n, ci, h, wd] = x.shape;
    const co = w.shape[1];
    this.gemm(convTForwardSpec(tb !== null), co * 4, n * h * wd, ci, { NB: n, CI: ci, CO: co, H: h, W: wd },
      [tx.buffer, tw.buffer, ...(tb ? [tb.buffer] : []), out.buffer]);
    return out;
  }

  maxPool2d(x: Tensor, p: Pool2dParams): Tensor {
    const op = 'maxPool2d';
    this.begin(op);
    const t = this.own(op, x);
    const shape = pool2dShape(op, x, p);
    const out = this.alloc(op, shape, t.nonNegative);
    this.map(maxPoolKernel(), out.size, this.poolParams(x.shape, shape, p), [t.buffer, out.buffer]);
    return out;
  }

  private poolParams(x: Shape, y: Shape, p: Pool2dParams): Record<string, number> {
    return { C: x[1], H: x[2], W: x[3], KS: p.kernel, S: p.stride, OH: y[2], OW: y[3], delta: LRP_DELTA };
  }

  relu(x: Tensor): Tensor {
    return this.unary('relu', x, 'relu');
  }

  sigmoid(x: Tensor): Tensor {
    return this.unary('sigmoid', x, 'sigmoid');
  }

  softmax(x: Tensor): Tensor {
    const op = 'softmax';
    this.begin(op);
    const t = this.own(op, x);
    requireRank(op, 'x', x, 2);
    const out = this.alloc(op, x.shape);
    this.map(softmaxKernel(), x.shape[0], { K: x.shape[1] }, [t.buffer, out.buffer]);
    return out;
  }

  // ---- losses ------------------------------------------------------------------------------------------

  crossEntropy(logits: Tensor, labels: readonly number[], classWeights?: readonly number[]): LossResult {
    const op = 'crossEntropy';
    this.begin(op);
    const t = this.own(op, logits);
    labelsCheck(op, logits, labels);
    checkClassWeights(op, logits, classWeights);
    const [n, k] = logits.shape;
    let wsum = 0;
    for (const l of labels) wsum += classWeights ? classWeights[l] : 1;
    const loss = this.alloc(op, [1]);
    const d = this.alloc(op, logits.shape);
    this.withScratch(op, (_s, upload) => {
      const cw = upload(classWeights ? Float32Array.from(classWeights) : new Float32Array(k).fill(1));
      this.reduce(crossEntropyKernel(), 1, { L: n, K: k, wsum }, [t.buffer, upload(Uint32Array.from(labels)), cw, d.buffer, loss.buffer]);
    });
    return { loss, dLogits: d };
  }

  bceWithLogits(logits: Tensor, targets: Tensor, posWeight?: number): LossResult {
    const op = 'bceWithLogits';
    this.begin(op);
    const tl = this.own(op, logits);
    const tt = this.own(op, targets);
    requireSame(op, logits, targets, 'logits', 'targets');
    const loss = this.alloc(op, [1]);
    const d = this.alloc(op, logits.shape);
    this.reduce(bceKernel(), 1, { L: logits.size, pw: posWeight ?? 1, count: logits.size }, [tl.buffer, tt.buffer, d.buffer, loss.buffer]);
    return { loss, dLogits: d };
  }

  // ---- gradients ------------------------------------------------------------------------------------------

  /** dx (optional), dW and db of a convolution (or of a linear layer, as a 1×1 one). */
  private convGrads(op: string, g: ConvGeometryValues, dy: WebgpuTensor, x: WebgpuTensor, w: WebgpuTensor, xShape: Shape, wShape: Shape, needDx: boolean): ConvGrads {
    const kk = g.KS * g.KS;
    let dx: Tensor | null = null;
    if (needDx) {
      const t = this.alloc(op, xShape);
      this.gemm(GRAD_ADJOINT, g.C, g.NB * g.H * g.W, g.O * kk, { ...g }, [w.buffer, dy.buffer, t.buffer]);
      dx = t;
    }
    const dw = this.alloc(op, wShape);
    this.gemm(convFilterGradSpec(), g.O, g.C * kk, g.NB * g.OH * g.OW, { ...g }, [dy.buffer, x.buffer, dw.buffer]);
    const db = this.alloc(op, [g.O]);
    this.reduce(biasGradKernel(), g.O, { L: g.NB * g.OH * g.OW, plane: g.OH * g.OW }, [dy.buffer, db.buffer]);
    return { dx, dw, db };
  }

  conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, p: Conv2dParams, needDx: boolean): ConvGrads {
    const op = 'conv2dBackward';
    this.begin(op);
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const yShape = conv2dGradShape(op, dy, x, w, p);
    return this.convGrads(op, this.convGeometry(x.shape, w.shape, p, yShape), tdy, tx, tw, x.shape, w.shape, needDx);
  }

  linearBackward(dy: Tensor, x: Tensor, w: Tensor, needDx: boolean): ConvGrads {
    const op = 'linearBackward';
    this.begin(op);
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    linearGradShape(op, dy, x, w);
    return this.convGrads(op, this.linearGeometry(x.shape, w.shape), tdy, tx, tw, x.shape, w.shape, needDx);
  }

  convTranspose2x2Backward(dy: Tensor, x: Tensor, w: Tensor): ConvGrads {
    const op = 'convTranspose2x2Backward';
    this.begin(op);
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    convTranspose2x2GradShape(op, dy, x, w);
    const [n, ci, h, wd] = x.shape;
    const co = w.shape[1];
    const params = { NB: n, CI: ci, CO: co, H: h, W: wd };
    const dx = this.alloc(op, x.shape);
    this.gemm(convTDataGradSpec(), ci, n * h * wd, co * 4, params, [tdy.buffer, tw.buffer, dx.buffer]);
    const dw = this.alloc(op, w.shape);
    this.gemm(convTFilterGradSpec(), ci, co * 4, n * h * wd, params, [tdy.buffer, tx.buffer, dw.buffer]);
    const db = this.alloc(op, [co]);
    this.reduce(biasGradKernel(), co, { L: n * 4 * h * wd, plane: 4 * h * wd }, [tdy.buffer, db.buffer]);
    return { dx, dw, db };
  }

  maxPool2dBackward(dy: Tensor, x: Tensor, p: Pool2dParams): Tensor {
    const op = 'maxPool2dBackward';
    this.begin(op);
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const yShape = maxPool2dGradShape(op, dy, x, p);
    const out = this.alloc(op, x.shape);
    this.map(poolBackKernel('wta'), x.size, this.poolParams(x.shape, yShape, p), [tx.buffer, tdy.buffer, out.buffer]);
    return out;
  }

  reluBackward(dy: Tensor, y: Tensor): Tensor {
    return this.binary('reluBackward', dy, y, 'reluBackward', ['dy', 'y']);
  }

  sigmoidBackward(dy: Tensor, y: Tensor): Tensor {
    return this.binary('sigmoidBackward', dy, y, 'sigmoidBackward', ['dy', 'y']);
  }

  // ---- optimiser ---------------------------------------------------------------------------------------------

  sgdStep(param: Tensor, grad: Tensor, momentum: Tensor, p: SgdParams): void {
    const op = 'sgdStep';
    this.begin(op);
    const tp = this.own(op, param);
    const tg = this.own(op, grad);
    const tm = this.own(op, momentum);
    checkSgdArgs(op, param, grad, momentum);
    this.map(sgdKernel(p.momentum !== 0, p.nesterov === true), param.size, { lr: p.lr, mu: p.momentum, wd: p.weightDecay }, [tp.buffer, tg.buffer, tm.buffer]);
  }

  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamParams): void {
    const op = 'adamStep';
    this.begin(op);
    const tp = this.own(op, param);
    const tg = this.own(op, grad);
    const tm = this.own(op, m);
    const tv = this.own(op, v);
    checkAdamArgs(op, param, grad, m, v, p.step);
    const bc1 = 1 - Math.pow(p.beta1, p.step);
    const bc2sqrt = Math.sqrt(1 - Math.pow(p.beta2, p.step));
    this.map(adamKernel(p.decoupled === true), param.size,
      { lr: p.lr, b1: p.beta1, b2: p.beta2, omb1: 1 - p.beta1, omb2: 1 - p.beta2, eps: p.eps, wd: p.weightDecay, stepSize: p.lr / bc1, bc2sqrt },
      [tp.buffer, tg.buffer, tm.buffer, tv.buffer]);
  }

  // ---- relevance ---------------------------------------------------------------------------------------------

  private relevance(op: string, g: ConvGeometryValues, a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, rule: Rule, z: Tensor | undefined): Tensor {
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const tz = z ? this.own(op, z) : null;
    const out = this.alloc(op, a.shape);
    try {
      this.withScratch(op, (scratch, upload) => {
        lrpProduct(this.context(scratch, upload), op, { g, a: ta.buffer, r: tr.buffer, w: tw.buffer, b: tb ? tb.buffer : null, z: tz ? tz.buffer : null, out: out.buffer, rule, aNonNegative: ta.nonNegative });
      });
    } catch (e) {
      out.dispose();
      throw e;
    }
    return out;
  }

  lrpConv2d(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams, rule: Rule, z?: Tensor): Tensor {
    const op = 'lrpConv2d';
    this.begin(op);
    for (const t of [a, r, w, ...(b ? [b] : []), ...(z ? [z] : [])]) this.own(op, t);
    const yShape = lrpConv2dShape(op, a, r, w, b, p, z);
    return this.relevance(op, this.convGeometry(a.shape, w.shape, p, yShape), a, r, w, b, rule, z);
  }

  lrpLinear(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, rule: Rule, z?: Tensor): Tensor {
    const op = 'lrpLinear';
    this.begin(op);
    for (const t of [a, r, w, ...(b ? [b] : []), ...(z ? [z] : [])]) this.own(op, t);
    lrpLinearShape(op, a, r, w, b, z);
    return this.relevance(op, this.linearGeometry(a.shape, w.shape), a, r, w, b, rule, z);
  }

  lrpMaxPool2d(a: Tensor, r: Tensor, p: Pool2dParams, rule: PoolRule): Tensor {
    const op = 'lrpMaxPool2d';
    this.begin(op);
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    const yShape = lrpMaxPool2dShape(op, a, r, p);
    const out = this.alloc(op, a.shape);
    this.map(poolBackKernel(rule), a.size, this.poolParams(a.shape, yShape, p), [ta.buffer, tr.buffer, out.buffer]);
    return out;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    try {
      if (!this.failure) {
        await this.queue.flush();
        await this.errorChecks;
      }
    } catch {
      // the device is going away either way
    }
    this.destroyed = true;
    this.queue.destroy();
    this.storage.clear();
    this.readback.clear();
    this.device.destroy();
  }
}

/**
 * The CUDA backend: every Backend op checks its arguments here (same rules and messages as the
 * reference backend), allocates its output from the device pool and queues one or a few native ops on
 * the context's stream. Nothing waits for the GPU except read() and sync(), which return promises.
 */
import {
  LrpsegError, concatChannelsShape, conv2dShape, convTranspose2x2Shape, fmtShape, labelsCheck, linearShape, pool2dShape, requireRank,
  requireSame, sizeOf,
  type AdamParams, type Backend, type Conv2dParams, type ConvGrads, type LossResult, type Pool2dParams, type PoolRule, type Rule,
  type SgdParams, type Shape, type Tensor,
} from '@lrpseg/core';
import {
  checkAdamArgs, checkAffine, checkClassWeights, checkDataLength, checkReshape, checkSelectClass, checkSgdArgs, checkShapeValid,
  checkSlice, conv2dGradShape, convTranspose2x2GradShape, linearGradShape, lrpConv2dShape, lrpLinearShape, lrpMaxPool2dShape,
  maxPool2dGradShape,
} from '@lrpseg/core';
import { convProblem, convT2Problem, linearProblem, packGemm, type ConvProblem, type GemmSpec } from './gemm.js';
import { asLrpsegError, type DeviceInfo, type NativeContext } from './native.js';
import { relevance, type RelevanceDevice } from './relevance.js';
import { CudaTensor, DeviceStorage } from './tensor.js';

export type CudaPrecision = 'accurate' | 'fast';

const UNARY = { scale: 0, relu: 1, sigmoid: 2 } as const;
const BINARY = { add: 0, mul: 1, reluBackward: 2, sigmoidBackward: 3 } as const;

export class CudaBackend implements Backend, RelevanceDevice {
  readonly name = 'cuda';
  readonly precision: CudaPrecision;
  readonly device: number;
  readonly info: DeviceInfo;
  /** Experiment (LRPSEG_CUDA_LRP_QUOTIENT=1, read at creation): relevance quotients computed before the product. */
  readonly lrpQuotients = process.env.LRPSEG_CUDA_LRP_QUOTIENT === '1';
  private readonly ctx: NativeContext;
  private readonly live = new Set<DeviceStorage>();
  private destroyed = false;

  constructor(ctx: NativeContext, device: number, precision: CudaPrecision) {
    this.ctx = ctx;
    this.device = device;
    this.precision = precision;
    this.info = ctx.info();
  }

  // ---- plumbing ------------------------------------------------------------------------------

  private own(op: string, t: Tensor): CudaTensor {
    t.assertLive(op);
    if (t.backend !== this || !(t instanceof CudaTensor)) {
      throw new LrpsegError('WRONG_BACKEND', `${op}: tensor #${t.id} ${fmtShape(t.shape)} belongs to backend '${t.backend.name}', not to this '${this.name}' backend`);
    }
    return t;
  }

  private native<T>(op: string, f: () => T): T {
    if (this.destroyed) throw new LrpsegError('NO_DEVICE', `${op}: the cuda backend was destroyed`);
    try {
      return f();
    } catch (e) {
      throw asLrpsegError(e, op);
    }
  }

  private storage(bytes: number, op: string): DeviceStorage {
    const ptr = this.native(op, () => this.ctx.alloc(bytes, op));
    const s = new DeviceStorage(ptr, bytes, (st) => {
      this.live.delete(st);
      if (!this.destroyed) this.ctx.free(st.ptr);
    });
    this.live.add(s);
    return s;
  }

  private out(shape: Shape, op: string, nonNegative = false): CudaTensor {
    return new CudaTensor(this, shape, this.storage(sizeOf(shape) * 4, op), nonNegative);
  }

  /** Runs `fill` on a fresh output; the output is freed again if queueing fails. */
  private produce(shape: Shape, op: string, fill: (y: CudaTensor) => void, nonNegative = false): CudaTensor {
    const y = this.out(shape, op, nonNegative);
    try {
      this.native(op, () => fill(y));
    } catch (e) {
      y.dispose();
      throw e;
    }
    return y;
  }

  private call(name: string, params: readonly number[], label: string): void {
    this.ctx.op(name, Float64Array.from(params), label);
  }

  private gemm(s: GemmSpec, label: string): void {
    this.ctx.op('gemm', packGemm(s), label);
  }

  /** A temporary device copy of small host data (freed in stream order right after its use). */
  private withUpload<T>(data: Float32Array | Int32Array, op: string, f: (ptr: number) => T): T {
    const ptr = this.native(op, () => this.ctx.alloc(data.byteLength, op));
    try {
      this.native(op, () => this.ctx.upload(ptr, data));
      return f(ptr);
    } finally {
      this.ctx.free(ptr);
    }
  }

  // RelevanceDevice
  alloc(floats: number, op: string): number {
    return this.ctx.alloc(floats * 4, op);
  }
  free(ptr: number): void {
    this.ctx.free(ptr);
  }
  upload(values: readonly number[], op: string): number {
    const ptr = this.ctx.alloc(values.length * 4, op);
    try {
      this.ctx.upload(ptr, Float32Array.from(values));
    } catch (e) {
      this.ctx.free(ptr);
      throw e;
    }
    return ptr;
  }
  op(name: string, params: Float64Array, label: string): void {
    this.ctx.op(name, params, label);
  }

  // ---- memory --------------------------------------------------------------------------------

  fromArray(data: Float32Array | readonly number[], shape: Shape): Tensor {
    checkDataLength('fromArray', data.length, shape);
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    let nonNegative = true;
    for (let i = 0; i < values.length; i++) {
      if (!(values[i] >= 0)) {
        nonNegative = false;
        break;
      }
    }
    return this.produce(shape, 'fromArray', (y) => this.ctx.upload(y.ptr, values), nonNegative);
  }

  zeros(shape: Shape): Tensor {
    checkShapeValid('zeros', shape);
    return this.produce(shape, 'zeros', (y) => this.ctx.zero(y.ptr, y.size * 4), true);
  }

  read(t: Tensor): Promise<Float32Array> {
    try {
      const x = this.own('read', t);
      const out = new Float32Array(x.size);
      if (x.size === 0) return Promise.resolve(out);
      const done = this.native('read', () => this.ctx.read(x.ptr, out));
      return done.then(
        () => out,
        (e: unknown) => Promise.reject(asLrpsegError(e, 'read')),
      );
    } catch (e) {
      return Promise.reject(e);
    }
  }

  sync(): Promise<void> {
    if (this.destroyed) return Promise.resolve();
    return this.ctx.sync().catch((e: unknown) => Promise.reject(asLrpsegError(e, 'sync')));
  }

  // ---- shape and elementwise -----------------------------------------------------------------

  reshape(x: Tensor, shape: Shape): Tensor {
    const t = this.own('reshape', x);
    checkReshape('reshape', x, shape);
    // A view: same storage, released when both are disposed.
    return new CudaTensor(this, shape, t.storage.retain(), t.nonNegative);
  }

  affineChannels(x: Tensor, scale: readonly number[], shift: readonly number[]): Tensor {
    const op = 'affineChannels';
    const t = this.own(op, x);
    checkAffine(op, x, scale, shift);
    const [n, c, h, w] = x.shape;
    return this.produce(x.shape, op, (y) =>
      this.withUpload(Float32Array.from([...scale, ...shift]), op, (ss) => this.call('affine', [t.ptr, y.ptr, n, c, h * w, ss, ss + 4 * c], op)));
  }

  private binary(op: keyof typeof BINARY, a: Tensor, b: Tensor, an = 'a', bn = 'b'): Tensor {
    const ta = this.own(op, a);
    const tb = this.own(op, b);
    requireSame(op, a, b, an, bn);
    return this.produce(a.shape, op, (y) => this.call('binary', [BINARY[op], ta.ptr, tb.ptr, y.ptr, a.size], op));
  }

  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('add', a, b);
  }

  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('mul', a, b);
  }

  scale(x: Tensor, s: number): Tensor {
    const t = this.own('scale', x);
    return this.produce(x.shape, 'scale', (y) => this.call('unary', [UNARY.scale, t.ptr, y.ptr, x.size, s], 'scale'), t.nonNegative && s >= 0);
  }

  sumChannels(x: Tensor): Tensor {
    const t = this.own('sumChannels', x);
    requireRank('sumChannels', 'x', x, 4);
    const [n, c, h, w] = x.shape;
    return this.produce([n, h, w], 'sumChannels', (y) => this.call('sumChannels', [t.ptr, y.ptr, n, c, h * w], 'sumChannels'));
  }

  selectClass(x: Tensor, target: readonly number[]): Tensor {
    const op = 'selectClass';
    const t = this.own(op, x);
    checkSelectClass(op, x, target);
    const [n, k] = x.shape;
    return this.produce(x.shape, op, (y) => this.withUpload(Int32Array.from(target), op, (tg) => this.call('selectClass', [t.ptr, tg, y.ptr, n, k], op)));
  }

  concatChannels(a: Tensor, b: Tensor): Tensor {
    const op = 'concatChannels';
    const ta = this.own(op, a);
    const tb = this.own(op, b);
    const shape = concatChannelsShape(op, a, b);
    const [n, c1, h, w] = a.shape;
    const c2 = b.shape[1];
    const plane = h * w * 4;
    return this.produce(shape, op, (y) => {
      this.ctx.copy2D(y.ptr, (c1 + c2) * plane, ta.ptr, c1 * plane, c1 * plane, n);
      this.ctx.copy2D(y.ptr + c1 * plane, (c1 + c2) * plane, tb.ptr, c2 * plane, c2 * plane, n);
    }, ta.nonNegative && tb.nonNegative);
  }

  sliceChannels(x: Tensor, start: number, count: number): Tensor {
    const op = 'sliceChannels';
    const t = this.own(op, x);
    checkSlice(op, x, start, count);
    const [n, c, h, w] = x.shape;
    const plane = h * w * 4;
    return this.produce([n, count, h, w], op, (y) => this.ctx.copy2D(y.ptr, count * plane, t.ptr + start * plane, c * plane, count * plane, n), t.nonNegative);
  }

  // ---- forward -------------------------------------------------------------------------------

  conv2d(x: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams): Tensor {
    const op = 'conv2d';
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = conv2dShape(op, x, w, b, p);
    const prob = convProblem(x.shape, w.shape, p.stride, p.padding);
    return this.produce(shape, op, (y) => this.gemm({ kind: 'fwd', p: prob, wt: tw.ptr, x: tx.ptr, bias: tb?.ptr, out: y.ptr }, op));
  }

  convTranspose2x2(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const op = 'convTranspose2x2';
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = convTranspose2x2Shape(op, x, w, b);
    const [n, ci, h, wd] = x.shape;
    const prob = convT2Problem(n, ci, w.shape[1], h, wd);
    return this.produce(shape, op, (y) => this.gemm({ kind: 'dgrad', p: prob, wt: tw.ptr, x: tx.ptr, bias: tb?.ptr, mulmode: [1], out: y.ptr }, op));
  }

  maxPool2d(x: Tensor, p: Pool2dParams): Tensor {
    const op = 'maxPool2d';
    const tx = this.own(op, x);
    const shape = pool2dShape(op, x, p);
    return this.produce(shape, op, (y) => this.call('maxPool', [tx.ptr, y.ptr, ...this.poolGeom(x.shape, shape, p)], op), tx.nonNegative);
  }

  private poolGeom(xs: Shape, ys: Shape, p: Pool2dParams): number[] {
    return [xs[0], xs[1], xs[2], xs[3], p.kernel, p.stride, ys[2], ys[3]];
  }

  linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const op = 'linear';
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = linearShape(op, x, w, b);
    const prob = linearProblem(x.shape[0], x.shape[1], w.shape[0]);
    return this.produce(shape, op, (y) => this.gemm({ kind: 'fwd', p: prob, wt: tw.ptr, x: tx.ptr, bias: tb?.ptr, out: y.ptr }, op));
  }

  relu(x: Tensor): Tensor {
    const t = this.own('relu', x);
    return this.produce(x.shape, 'relu', (y) => this.call('unary', [UNARY.relu, t.ptr, y.ptr, x.size, 0], 'relu'), true);
  }

  sigmoid(x: Tensor): Tensor {
    const t = this.own('sigmoid', x);
    return this.produce(x.shape, 'sigmoid', (y) => this.call('unary', [UNARY.sigmoid, t.ptr, y.ptr, x.size, 0], 'sigmoid'), true);
  }

  softmax(x: Tensor): Tensor {
    const t = this.own('softmax', x);
    requireRank('softmax', 'x', x, 2);
    const [n, k] = x.shape;
    return this.produce(x.shape, 'softmax', (y) => this.call('softmax', [t.ptr, y.ptr, n, k], 'softmax'), true);
  }

  // ---- losses --------------------------------------------------------------------------------

  crossEntropy(logits: Tensor, labels: readonly number[], classWeights?: readonly number[]): LossResult {
    const op = 'crossEntropy';
    const t = this.own(op, logits);
    labelsCheck(op, logits, labels);
    checkClassWeights(op, logits, classWeights);
    const [n, k] = logits.shape;
    const loss = this.out([1], op);
    try {
      const d = this.produce(logits.shape, op, (dl) =>
        this.withUpload(Int32Array.from(labels), op, (lp) => {
          if (classWeights) this.withUpload(Float32Array.from(classWeights), op, (wp) => this.call('crossEntropy', [t.ptr, lp, wp, loss.ptr, dl.ptr, n, k], op));
          else this.call('crossEntropy', [t.ptr, lp, 0, loss.ptr, dl.ptr, n, k], op);
        }));
      return { loss, dLogits: d };
    } catch (e) {
      loss.dispose();
      throw e;
    }
  }

  bceWithLogits(logits: Tensor, targets: Tensor, posWeight?: number): LossResult {
    const op = 'bceWithLogits';
    const tl = this.own(op, logits);
    const tt = this.own(op, targets);
    requireSame(op, logits, targets, 'logits', 'targets');
    const loss = this.out([1], op);
    try {
      const d = this.produce(logits.shape, op, (dl) => this.call('bce', [tl.ptr, tt.ptr, posWeight ?? 1, loss.ptr, dl.ptr, logits.size], op));
      return { loss, dLogits: d };
    } catch (e) {
      loss.dispose();
      throw e;
    }
  }

  // ---- gradients -----------------------------------------------------------------------------

  /** dw (o, c, ks, ks) and db (o) of a conv problem whose output gradient is dy. */
  private weightGrads(op: string, prob: ConvProblem, dy: number, x: number, wShape: Shape, dbChannels: number, dbPlane: number, dbPtr: number, dyImages: number): { dw: CudaTensor; db: CudaTensor } {
    const dw = this.produce(wShape, op, (t) => this.gemm({ kind: 'wgrad', p: prob, wt: 0, x: dy, x2: x, out: t.ptr }, op));
    try {
      const db = this.produce([dbChannels], op, (t) => this.call('channelSum', [dbPtr, t.ptr, dyImages, dbChannels, dbPlane], op));
      return { dw, db };
    } catch (e) {
      dw.dispose();
      throw e;
    }
  }

  conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, p: Conv2dParams, needDx: boolean): ConvGrads {
    const op = 'conv2dBackward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    conv2dGradShape(op, dy, x, w, p);
    const prob = convProblem(x.shape, w.shape, p.stride, p.padding);
    const dx = needDx ? this.produce(x.shape, op, (t) => this.gemm({ kind: 'dgrad', p: prob, wt: tw.ptr, x: tdy.ptr, mulmode: [1], out: t.ptr }, op)) : null;
    try {
      const { dw, db } = this.weightGrads(op, prob, tdy.ptr, tx.ptr, w.shape, prob.o, prob.oh * prob.ow, tdy.ptr, prob.n);
      return { dx, dw, db };
    } catch (e) {
      dx?.dispose();
      throw e;
    }
  }

  convTranspose2x2Backward(dy: Tensor, x: Tensor, w: Tensor): ConvGrads {
    const op = 'convTranspose2x2Backward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    convTranspose2x2GradShape(op, dy, x, w);
    const [n, ci, h, wd] = x.shape;
    const co = w.shape[1];
    const prob = convT2Problem(n, ci, co, h, wd);
    // The transposed conv is the DGRAD of `prob`: its dx is prob's forward of dy, its dw prob's WGRAD.
    const dx = this.produce(x.shape, op, (t) => this.gemm({ kind: 'fwd', p: prob, wt: tw.ptr, x: tdy.ptr, out: t.ptr }, op));
    try {
      const dwT = this.produce(w.shape, op, (t) => this.gemm({ kind: 'wgrad', p: prob, wt: 0, x: tx.ptr, x2: tdy.ptr, out: t.ptr }, op));
      try {
        const db = this.produce([co], op, (t) => this.call('channelSum', [tdy.ptr, t.ptr, n, co, 4 * h * wd], op));
        return { dx, dw: dwT, db };
      } catch (e) {
        dwT.dispose();
        throw e;
      }
    } catch (e) {
      dx.dispose();
      throw e;
    }
  }

  maxPool2dBackward(dy: Tensor, x: Tensor, p: Pool2dParams): Tensor {
    const op = 'maxPool2dBackward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const yShape = maxPool2dGradShape(op, dy, x, p);
    return this.produce(x.shape, op, (t) => this.call('maxPoolBackward', [tdy.ptr, tx.ptr, t.ptr, ...this.poolGeom(x.shape, yShape, p)], op));
  }

  linearBackward(dy: Tensor, x: Tensor, w: Tensor, needDx: boolean): ConvGrads {
    const op = 'linearBackward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    linearGradShape(op, dy, x, w);
    const [n, inF] = x.shape;
    const outF = w.shape[0];
    const prob = linearProblem(n, inF, outF);
    const dx = needDx ? this.produce(x.shape, op, (t) => this.gemm({ kind: 'dgrad', p: prob, wt: tw.ptr, x: tdy.ptr, mulmode: [1], out: t.ptr }, op)) : null;
    try {
      const dw = this.produce(w.shape, op, (t) => this.gemm({ kind: 'wgrad', p: prob, wt: 0, x: tdy.ptr, x2: tx.ptr, out: t.ptr }, op));
      try {
        const db = this.produce([outF], op, (t) => this.call('channelSum', [tdy.ptr, t.ptr, n, outF, 1], op));
        return { dx, dw, db };
      } catch (e) {
        dw.dispose();
        throw e;
      }
    } catch (e) {
      dx?.dispose();
      throw e;
    }
  }

  reluBackward(dy: Tensor, y: Tensor): Tensor {
    return this.binary('reluBackward', dy, y, 'dy', 'y');
  }

  sigmoidBackward(dy: Tensor, y: Tensor): Tensor {
    return this.binary('sigmoidBackward', dy, y, 'dy', 'y');
  }

  // ---- optimiser -----------------------------------------------------------------------------

  sgdStep(param: Tensor, grad: Tensor, momentum: Tensor, p: SgdParams): void {
    const op = 'sgdStep';
    const tp = this.own(op, param);
    const tg = this.own(op, grad);
    const tm = this.own(op, momentum);
    checkSgdArgs(op, param, grad, momentum);
    this.native(op, () => this.call('sgd', [tp.ptr, tg.ptr, tm.ptr, param.size, p.lr, p.momentum, p.weightDecay, p.nesterov ? 1 : 0], op));
  }

  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamParams): void {
    const op = 'adamStep';
    const tp = this.own(op, param);
    const tg = this.own(op, grad);
    const tm = this.own(op, m);
    const tv = this.own(op, v);
    checkAdamArgs(op, param, grad, m, v, p.step);
    this.native(op, () =>
      this.call('adam', [tp.ptr, tg.ptr, tm.ptr, tv.ptr, param.size, p.lr, p.beta1, p.beta2, p.eps, p.weightDecay, p.step, p.decoupled ? 1 : 0], op));
  }

  // ---- relevance -----------------------------------------------------------------------------

  lrpConv2d(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams, rule: Rule, z?: Tensor): Tensor {
    const op = 'lrpConv2d';
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const tz = z ? this.own(op, z) : undefined;
    lrpConv2dShape(op, a, r, w, b, p, z);
    const prob = convProblem(a.shape, w.shape, p.stride, p.padding);
    return this.produce(a.shape, op, (out) =>
      relevance(this, rule, { p: prob, a: ta.ptr, aNonNegative: ta.nonNegative, r: tr.ptr, wt: tw.ptr, bias: tb?.ptr ?? null, z: tz?.ptr, out: out.ptr }, op));
  }

  lrpLinear(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, rule: Rule, z?: Tensor): Tensor {
    const op = 'lrpLinear';
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const tz = z ? this.own(op, z) : undefined;
    lrpLinearShape(op, a, r, w, b, z);
    const prob = linearProblem(a.shape[0], a.shape[1], w.shape[0]);
    return this.produce(a.shape, op, (out) =>
      relevance(this, rule, { p: prob, a: ta.ptr, aNonNegative: ta.nonNegative, r: tr.ptr, wt: tw.ptr, bias: tb?.ptr ?? null, z: tz?.ptr, out: out.ptr }, op));
  }

  lrpMaxPool2d(a: Tensor, r: Tensor, p: Pool2dParams, rule: PoolRule): Tensor {
    const op = 'lrpMaxPool2d';
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    const yShape = lrpMaxPool2dShape(op, a, r, p);
    return this.produce(a.shape, op, (out) => this.call('lrpMaxPool', [ta.ptr, tr.ptr, out.ptr, rule === 'avg' ? 1 : 0, ...this.poolGeom(a.shape, yShape, p)], op));
  }

  // ---- lifetime ------------------------------------------------------------------------------

  /** Device memory held by live tensors, in bytes. */
  liveBytes(): number {
    let s = 0;
    for (const st of this.live) s += st.bytes;
    return s;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    await this.sync().catch(() => undefined);
    for (const st of this.live) this.ctx.free(st.ptr);
    this.live.clear();
    this.destroyed = true;
    this.ctx.destroy();
  }
}

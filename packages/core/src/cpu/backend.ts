/**
 * The reference CPU backend: plain TypeScript kernels on Float32Array (kernels/), synchronous, the oracle
 * the other backends are tested against. Browser-safe (no node: imports); the Node entry point
 * (src/node/) adds a worker-thread GEMM through the `gemm` option.
 */
import type {
  AdamParams, Backend, Conv2dParams, ConvGrads, LossResult, Pool2dParams, SgdParams,
} from '../backend.js';
import { LrpsegError, fmtShape } from '../errors.js';
import type { PoolRule, Rule } from '../lrp/rule.js';
import {
  concatChannelsShape, conv2dShape, convTranspose2x2Shape, labelsCheck, linearShape, pool2dShape, requireRank, requireSame,
} from '../shapes.js';
import { sizeOf, type Shape, type Tensor } from '../tensor.js';
import {
  checkAdamArgs, checkAffine, checkClassWeights, checkDataLength, checkReshape, checkSelectClass, checkSgdArgs, checkShapeValid,
  checkSlice, conv2dGradShape, convTranspose2x2GradShape, linearGradShape, lrpConv2dShape, lrpLinearShape, lrpMaxPool2dShape,
  maxPool2dGradShape,
} from '../checks.js';
import { conv2dBackwardData, conv2dBackwardFilter, conv2dForward, convGeometry } from './kernels/conv.js';
import { convT2Geometry, convTranspose2x2Backward, convTranspose2x2Forward } from './kernels/convtranspose.js';
import * as ew from './kernels/elementwise.js';
import { gemmSerial, type GemmFn } from './kernels/gemm.js';
import { linearBackwardData, linearBackwardWeight, linearForward } from './kernels/linear.js';
import { bceWithLogits, crossEntropy } from './kernels/loss.js';
import { adamStep, sgdStep } from './kernels/optim.js';
import { maxPool2dBackward, maxPool2dForward, poolGeometry } from './kernels/pool.js';
import { lrpConv2dCpu, lrpLinearCpu, lrpMaxPool2dCpu } from './relevance.js';
import { CpuTensor } from './tensor.js';

export interface CpuBackendOptions {
  /** The GEMM used by convolutions and linear layers (default: single-threaded `gemmSerial`). */
  readonly gemm?: GemmFn;
}

export class CpuBackend implements Backend {
  readonly name: string = 'cpu';
  /** The GEMM this backend's kernels use (also handed to the relevance ops). */
  readonly gemm: GemmFn;

  constructor(opts?: CpuBackendOptions) {
    this.gemm = opts?.gemm ?? gemmSerial;
  }

  // ---- helpers ---------------------------------------------------------------

  /** Checks that t is live and belongs to this backend; returns its storage. */
  private own(op: string, t: Tensor): CpuTensor {
    t.assertLive(op);
    if (t.backend !== this || !(t instanceof CpuTensor)) {
      throw new LrpsegError('WRONG_BACKEND', `${op}: tensor #${t.id} ${fmtShape(t.shape)} belongs to backend '${t.backend.name}', not to this '${this.name}' backend`);
    }
    return t;
  }

  private out(shape: Shape, data: Float32Array): CpuTensor {
    return new CpuTensor(this, shape, data);
  }

  // ---- memory ----------------------------------------------------------------

  fromArray(data: Float32Array | readonly number[], shape: Shape): Tensor {
    checkDataLength('fromArray', data.length, shape);
    return this.out(shape, Float32Array.from(data));
  }

  zeros(shape: Shape): Tensor {
    checkShapeValid('zeros', shape);
    return this.out(shape, new Float32Array(sizeOf(shape)));
  }

  read(t: Tensor): Promise<Float32Array> {
    try {
      return Promise.resolve(this.own('read', t).data.slice());
    } catch (e) {
      return Promise.reject(e);
    }
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  // ---- shape and elementwise -------------------------------------------------

  reshape(x: Tensor, shape: Shape): Tensor {
    const t = this.own('reshape', x);
    checkReshape('reshape', x, shape);
    // A copy: the two tensors are disposed independently.
    return this.out(shape, t.data.slice());
  }

  affineChannels(x: Tensor, scale: readonly number[], shift: readonly number[]): Tensor {
    const t = this.own('affineChannels', x);
    checkAffine('affineChannels', x, scale, shift);
    const [n, c, h, w] = x.shape;
    return this.out(x.shape, ew.affineChannels(t.data, n, c, h * w, scale, shift));
  }

  add(a: Tensor, b: Tensor): Tensor {
    const ta = this.own('add', a);
    const tb = this.own('add', b);
    requireSame('add', a, b);
    return this.out(a.shape, ew.add(ta.data, tb.data));
  }

  mul(a: Tensor, b: Tensor): Tensor {
    const ta = this.own('mul', a);
    const tb = this.own('mul', b);
    requireSame('mul', a, b);
    return this.out(a.shape, ew.mul(ta.data, tb.data));
  }

  scale(x: Tensor, s: number): Tensor {
    const t = this.own('scale', x);
    return this.out(x.shape, ew.scale(t.data, s));
  }

  sumChannels(x: Tensor): Tensor {
    const t = this.own('sumChannels', x);
    requireRank('sumChannels', 'x', x, 4);
    const [n, c, h, w] = x.shape;
    return this.out([n, h, w], ew.sumChannels(t.data, n, c, h * w));
  }

  selectClass(x: Tensor, target: readonly number[]): Tensor {
    const t = this.own('selectClass', x);
    checkSelectClass('selectClass', x, target);
    const [n, k] = x.shape;
    return this.out(x.shape, ew.selectClass(t.data, n, k, target));
  }

  concatChannels(a: Tensor, b: Tensor): Tensor {
    const ta = this.own('concatChannels', a);
    const tb = this.own('concatChannels', b);
    const shape = concatChannelsShape('concatChannels', a, b);
    const [n, c1, h, w] = a.shape;
    return this.out(shape, ew.concatChannels(ta.data, tb.data, n, c1, b.shape[1], h * w));
  }

  sliceChannels(x: Tensor, start: number, count: number): Tensor {
    const t = this.own('sliceChannels', x);
    checkSlice('sliceChannels', x, start, count);
    const [n, c, h, w] = x.shape;
    return this.out([n, count, h, w], ew.sliceChannels(t.data, n, c, h * w, start, count));
  }

  // ---- forward ---------------------------------------------------------------

  conv2d(x: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams): Tensor {
    const op = 'conv2d';
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = conv2dShape(op, x, w, b, p);
    const g = convGeometry(x.shape, w.shape, p);
    return this.out(shape, conv2dForward(tx.data, tw.data, tb ? tb.data : null, g, this.gemm));
  }

  convTranspose2x2(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const op = 'convTranspose2x2';
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = convTranspose2x2Shape(op, x, w, b);
    return this.out(shape, convTranspose2x2Forward(tx.data, tw.data, tb ? tb.data : null, convT2Geometry(x.shape, w.shape), this.gemm));
  }

  maxPool2d(x: Tensor, p: Pool2dParams): Tensor {
    const tx = this.own('maxPool2d', x);
    const shape = pool2dShape('maxPool2d', x, p);
    return this.out(shape, maxPool2dForward(tx.data, poolGeometry(x.shape, p)));
  }

  linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const op = 'linear';
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const shape = linearShape(op, x, w, b);
    const [n, inF] = x.shape;
    const outF = w.shape[0];
    return this.out(shape, linearForward(tx.data, tw.data, tb ? tb.data : null, n, inF, outF, this.gemm));
  }

  relu(x: Tensor): Tensor {
    return this.out(x.shape, ew.relu(this.own('relu', x).data));
  }

  sigmoid(x: Tensor): Tensor {
    return this.out(x.shape, ew.sigmoid(this.own('sigmoid', x).data));
  }

  softmax(x: Tensor): Tensor {
    const t = this.own('softmax', x);
    requireRank('softmax', 'x', x, 2);
    const [n, k] = x.shape;
    return this.out(x.shape, ew.softmax(t.data, n, k));
  }

  // ---- losses ------------------------------------------------------------------

  crossEntropy(logits: Tensor, labels: readonly number[], classWeights?: readonly number[]): LossResult {
    const op = 'crossEntropy';
    const t = this.own(op, logits);
    labelsCheck(op, logits, labels);
    checkClassWeights(op, logits, classWeights);
    const [n, k] = logits.shape;
    const r = crossEntropy(t.data, n, k, labels, classWeights);
    return { loss: this.out([1], Float32Array.of(r.loss)), dLogits: this.out(logits.shape, r.dLogits) };
  }

  bceWithLogits(logits: Tensor, targets: Tensor, posWeight?: number): LossResult {
    const op = 'bceWithLogits';
    const tl = this.own(op, logits);
    const tt = this.own(op, targets);
    requireSame(op, logits, targets, 'logits', 'targets');
    const r = bceWithLogits(tl.data, tt.data, posWeight ?? 1);
    return { loss: this.out([1], Float32Array.of(r.loss)), dLogits: this.out(logits.shape, r.dLogits) };
  }

  // ---- gradients -----------------------------------------------------------------

  conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, p: Conv2dParams, needDx: boolean): ConvGrads {
    const op = 'conv2dBackward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    conv2dGradShape(op, dy, x, w, p);
    const g = convGeometry(x.shape, w.shape, p);
    const dx = needDx ? this.out(x.shape, conv2dBackwardData(tdy.data, tw.data, g, this.gemm)) : null;
    const { dw, db } = conv2dBackwardFilter(tdy.data, tx.data, g, this.gemm);
    return { dx, dw: this.out(w.shape, dw), db: this.out([w.shape[0]], db) };
  }

  convTranspose2x2Backward(dy: Tensor, x: Tensor, w: Tensor): ConvGrads {
    const op = 'convTranspose2x2Backward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    convTranspose2x2GradShape(op, dy, x, w);
    const r = convTranspose2x2Backward(tdy.data, tx.data, tw.data, convT2Geometry(x.shape, w.shape), this.gemm);
    return { dx: this.out(x.shape, r.dx), dw: this.out(w.shape, r.dw), db: this.out([w.shape[1]], r.db) };
  }

  maxPool2dBackward(dy: Tensor, x: Tensor, p: Pool2dParams): Tensor {
    const op = 'maxPool2dBackward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    maxPool2dGradShape(op, dy, x, p);
    return this.out(x.shape, maxPool2dBackward(tdy.data, tx.data, poolGeometry(x.shape, p)));
  }

  linearBackward(dy: Tensor, x: Tensor, w: Tensor, needDx: boolean): ConvGrads {
    const op = 'linearBackward';
    const tdy = this.own(op, dy);
    const tx = this.own(op, x);
    const tw = this.own(op, w);
    linearGradShape(op, dy, x, w);
    const [n, inF] = x.shape;
    const outF = w.shape[0];
    const dx = needDx ? this.out(x.shape, linearBackwardData(tdy.data, tw.data, n, inF, outF, this.gemm)) : null;
    const { dw, db } = linearBackwardWeight(tdy.data, tx.data, n, inF, outF, this.gemm);
    return { dx, dw: this.out(w.shape, dw), db: this.out([outF], db) };
  }

  reluBackward(dy: Tensor, y: Tensor): Tensor {
    const tdy = this.own('reluBackward', dy);
    const ty = this.own('reluBackward', y);
    requireSame('reluBackward', dy, y, 'dy', 'y');
    return this.out(dy.shape, ew.reluBackward(tdy.data, ty.data));
  }

  sigmoidBackward(dy: Tensor, y: Tensor): Tensor {
    const tdy = this.own('sigmoidBackward', dy);
    const ty = this.own('sigmoidBackward', y);
    requireSame('sigmoidBackward', dy, y, 'dy', 'y');
    return this.out(dy.shape, ew.sigmoidBackward(tdy.data, ty.data));
  }

  // ---- optimiser -------------------------------------------------------------------

  sgdStep(param: Tensor, grad: Tensor, momentum: Tensor, p: SgdParams): void {
    const op = 'sgdStep';
    const tp = this.own(op, param);
    const tg = this.own(op, grad);
    const tm = this.own(op, momentum);
    checkSgdArgs(op, param, grad, momentum);
    sgdStep(tp.data, tg.data, tm.data, p);
  }

  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamParams): void {
    const op = 'adamStep';
    const tp = this.own(op, param);
    const tg = this.own(op, grad);
    const tm = this.own(op, m);
    const tv = this.own(op, v);
    checkAdamArgs(op, param, grad, m, v, p.step);
    adamStep(tp.data, tg.data, tm.data, tv.data, p);
  }

  // ---- relevance ---------------------------------------------------------------------

  lrpConv2d(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams, rule: Rule, z?: Tensor): Tensor {
    const op = 'lrpConv2d';
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const tz = z ? this.own(op, z) : undefined;
    lrpConv2dShape(op, a, r, w, b, p, z);
    return this.out(a.shape, lrpConv2dCpu(ta, tr, tw, tb, p, rule, tz, this.gemm));
  }

  lrpLinear(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, rule: Rule, z?: Tensor): Tensor {
    const op = 'lrpLinear';
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    const tw = this.own(op, w);
    const tb = b ? this.own(op, b) : null;
    const tz = z ? this.own(op, z) : undefined;
    lrpLinearShape(op, a, r, w, b, z);
    return this.out(a.shape, lrpLinearCpu(ta, tr, tw, tb, rule, tz, this.gemm));
  }

  lrpMaxPool2d(a: Tensor, r: Tensor, p: Pool2dParams, rule: PoolRule): Tensor {
    const op = 'lrpMaxPool2d';
    const ta = this.own(op, a);
    const tr = this.own(op, r);
    lrpMaxPool2dShape(op, a, r, p);
    return this.out(a.shape, lrpMaxPool2dCpu(ta, tr, p, rule));
  }

  async destroy(): Promise<void> {
    // Nothing to release: storage is garbage-collected. Subclasses (node/) stop their workers.
  }
}

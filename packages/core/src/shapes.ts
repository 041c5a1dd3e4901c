/**
 * Shape rules of every Backend op, shared by all backends so that they accept and refuse exactly the
 * same inputs with the same messages. Each returns the output shape or throws SHAPE_MISMATCH.
 */
import { shapeError, fmtShape } from './errors.js';
import { sameShape, type Shape, type Tensor } from './tensor.js';
import type { Conv2dParams, Pool2dParams } from './backend.js';

const f = fmtShape;

export function requireRank(op: string, name: string, t: Tensor, rank: number): void {
  if (t.shape.length !== rank) throw shapeError(op, `${name} must have rank ${rank}, got ${f(t.shape)}`);
}

export function requireSame(op: string, a: Tensor, b: Tensor, an = 'a', bn = 'b'): void {
  if (!sameShape(a.shape, b.shape)) throw shapeError(op, `${an} ${f(a.shape)} and ${bn} ${f(b.shape)} must have the same shape`);
}

export function convOutSize(op: string, inSize: number, k: number, stride: number, padding: number): number {
  const out = Math.floor((inSize + 2 * padding - k) / stride) + 1;
  if (out < 1) throw shapeError(op, `input size ${inSize} too small for kernel ${k}, stride ${stride}, padding ${padding}`);
  return out;
}

export function checkConvParams(op: string, p: Conv2dParams): void {
  if (!Number.isInteger(p.stride) || p.stride < 1 || !Number.isInteger(p.padding) || p.padding < 0) {
    throw shapeError(op, `invalid stride ${p.stride} / padding ${p.padding}`);
  }
}

/** x (N, C, H, W), w (O, C, k, k), b (O) or null → (N, O, H', W'). */
export function conv2dShape(op: string, x: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams): Shape {
  checkConvParams(op, p);
  requireRank(op, 'x', x, 4);
  requireRank(op, 'w', w, 4);
  const [n, c, h, wd] = x.shape;
  const [o, ci, kh, kw] = w.shape;
  if (ci !== c) throw shapeError(op, `x ${f(x.shape)} has ${c} channels but w ${f(w.shape)} expects ${ci}`);
  if (kh !== kw) throw shapeError(op, `only square kernels are supported, w is ${f(w.shape)}`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== o)) throw shapeError(op, `bias ${f(b.shape)} must be [${o}] for w ${f(w.shape)}`);
  return [n, o, convOutSize(op, h, kh, p.stride, p.padding), convOutSize(op, wd, kw, p.stride, p.padding)];
}

/** x (N, Cin, H, W), w (Cin, Cout, 2, 2), b (Cout) → (N, Cout, 2H, 2W). */
export function convTranspose2x2Shape(op: string, x: Tensor, w: Tensor, b: Tensor | null): Shape {
  requireRank(op, 'x', x, 4);
  requireRank(op, 'w', w, 4);
  const [n, c, h, wd] = x.shape;
  const [ci, co, kh, kw] = w.shape;
  if (ci !== c) throw shapeError(op, `x ${f(x.shape)} has ${c} channels but w ${f(w.shape)} expects ${ci}`);
  if (kh !== 2 || kw !== 2) throw shapeError(op, `w must be (in, out, 2, 2), got ${f(w.shape)}`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== co)) throw shapeError(op, `bias ${f(b.shape)} must be [${co}]`);
  return [n, co, 2 * h, 2 * wd];
}

export function pool2dShape(op: string, x: Tensor, p: Pool2dParams): Shape {
  requireRank(op, 'x', x, 4);
  if (!Number.isInteger(p.kernel) || p.kernel < 1 || !Number.isInteger(p.stride) || p.stride < 1) {
    throw shapeError(op, `invalid kernel ${p.kernel} / stride ${p.stride}`);
  }
  const [n, c, h, w] = x.shape;
  return [n, c, convOutSize(op, h, p.kernel, p.stride, 0), convOutSize(op, w, p.kernel, p.stride, 0)];
}

/** x (N, in), w (out, in), b (out) → (N, out). */
export function linearShape(op: string, x: Tensor, w: Tensor, b: Tensor | null): Shape {
  requireRank(op, 'x', x, 2);
  requireRank(op, 'w', w, 2);
  const [n, i] = x.shape;
  const [o, wi] = w.shape;
  if (wi !== i) throw shapeError(op, `x ${f(x.shape)} has ${i} features but w ${f(w.shape)} expects ${wi}`);
  if (b && (b.shape.length !== 1 || b.shape[0] !== o)) throw shapeError(op, `bias ${f(b.shape)} must be [${o}] for w ${f(w.shape)}`);
  return [n, o];
}

export function concatChannelsShape(op: string, a: Tensor, b: Tensor): Shape {
  requireRank(op, 'a', a, 4);
  requireRank(op, 'b', b, 4);
  if (a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[2] || a.shape[3] !== b.shape[3]) {
    throw shapeError(op, `a ${f(a.shape)} and b ${f(b.shape)} differ outside the channel axis`);
  }
  return [a.shape[0], a.shape[1] + b.shape[1], a.shape[2], a.shape[3]];
}

export function labelsCheck(op: string, logits: Tensor, labels: readonly number[]): void {
  requireRank(op, 'logits', logits, 2);
  const [n, k] = logits.shape;
  if (labels.length !== n) throw shapeError(op, `${labels.length} labels for logits ${f(logits.shape)}`);
  for (const l of labels) {
    if (!Number.isInteger(l) || l < 0 || l >= k) throw shapeError(op, `label ${l} outside [0, ${k}) for logits ${f(logits.shape)}`);
  }
}

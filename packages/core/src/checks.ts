/**
 * Argument checks of Backend ops not covered by shapes.ts, shared by every backend (exported by core) so
 * that all refuse the same inputs with the same words: a backend makes one call per op (besides checking
 * that the tensors are its own), so which checks an op gets is decided here, once.
 * Each throws SHAPE_MISMATCH (or BAD_INPUT for non-shape arguments) naming the op and the shapes.
 */
import { LrpsegError, fmtShape as f, shapeError } from './errors.js';
import { sameShape, sizeOf, type Shape, type Tensor } from './tensor.js';
import type { Conv2dParams, Pool2dParams } from './backend.js';
import { conv2dShape, convTranspose2x2Shape, linearShape, pool2dShape, requireRank } from './shapes.js';

export function checkShapeValid(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw shapeError(op, `invalid shape ${f(shape)}`);
  }
}

export function checkDataLength(op: string, length: number, shape: Shape): void {
  checkShapeValid(op, shape);
  if (length !== sizeOf(shape)) throw shapeError(op, `${length} values do not fit shape ${f(shape)} (size ${sizeOf(shape)})`);
}

export function checkReshape(op: string, x: Tensor, shape: Shape): void {
  checkShapeValid(op, shape);
  if (sizeOf(shape) !== x.size) throw shapeError(op, `cannot reshape ${f(x.shape)} (size ${x.size}) to ${f(shape)} (size ${sizeOf(shape)})`);
}

/** `dy` must have the shape the forward op produced (`expected`), given the forward inputs named in `from`. */
export function checkGradShape(op: string, dy: Tensor, expected: Shape, from: string): void {
  if (!sameShape(dy.shape, expected)) throw shapeError(op, `dy ${f(dy.shape)} does not match the output shape ${f(expected)} of ${from}`);
}

export function checkAffine(op: string, x: Tensor, scale: readonly number[], shift: readonly number[]): void {
  requireRank(op, 'x', x, 4);
  const c = x.shape[1];
  if (scale.length !== c || shift.length !== c) {
    throw shapeError(op, `x ${f(x.shape)} has ${c} channels but got ${scale.length} scales and ${shift.length} shifts`);
  }
}

export function checkSelectClass(op: string, x: Tensor, target: readonly number[]): void {
  requireRank(op, 'x', x, 2);
  const [n, k] = x.shape;
  if (target.length !== n) throw shapeError(op, `${target.length} targets for x ${f(x.shape)}`);
  for (const t of target) {
    if (!Number.isInteger(t) || t < 0 || t >= k) throw shapeError(op, `target ${t} outside [0, ${k}) for x ${f(x.shape)}`);
  }
}

export function checkSlice(op: string, x: Tensor, start: number, count: number): void {
  requireRank(op, 'x', x, 4);
  const c = x.shape[1];
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > c) {
    throw shapeError(op, `channels [${start}, ${start + count}) outside x ${f(x.shape)}`);
  }
}

export function checkClassWeights(op: string, logits: Tensor, classWeights: readonly number[] | undefined): void {
  if (classWeights && classWeights.length !== logits.shape[1]) {
    throw shapeError(op, `${classWeights.length} class weights for logits ${f(logits.shape)}`);
  }
}

export function checkSameAll(op: string, named: readonly [string, Tensor][]): void {
  const [n0, t0] = named[0];
  for (const [n, t] of named.slice(1)) {
    if (!sameShape(t.shape, t0.shape)) throw shapeError(op, `${n0} ${f(t0.shape)} and ${n} ${f(t.shape)} must have the same shape`);
  }
}

export function checkAdamStep(op: string, step: number): void {
  if (!Number.isInteger(step) || step < 1) throw new LrpsegError('BAD_INPUT', `${op}: step must be an integer ≥ 1, got ${step}`);
}

export function checkSgdArgs(op: string, param: Tensor, grad: Tensor, momentum: Tensor): void {
  checkSameAll(op, [['param', param], ['grad', grad], ['momentum', momentum]]);
}

export function checkAdamArgs(op: string, param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: number): void {
  checkSameAll(op, [['param', param], ['grad', grad], ['m', m], ['v', v]]);
  checkAdamStep(op, step);
}

/** The relevance `r` (and the forward pre-activation `z`, if given) must have the layer's output shape. */
export function checkRelevance(op: string, r: Tensor, z: Tensor | undefined, yShape: Shape, from: string): void {
  if (!sameShape(r.shape, yShape)) throw new LrpsegError('SHAPE_MISMATCH', `${op}: r ${f(r.shape)} does not match the output shape ${f(yShape)} of ${from}`);
  if (z && !sameShape(z.shape, yShape)) throw new LrpsegError('SHAPE_MISMATCH', `${op}: z ${f(z.shape)} does not match the output shape ${f(yShape)} of ${from}`);
}

// ---- whole-op checks of the gradient and relevance ops: the forward op's shape rules, then dy or r
// (and z) against its output; each returns that output shape.

const fromXW = (x: Tensor, w: Tensor, xName = 'x'): string => `${xName} ${f(x.shape)} and w ${f(w.shape)}`;

export function conv2dGradShape(op: string, dy: Tensor, x: Tensor, w: Tensor, p: Conv2dParams): Shape {
  const y = conv2dShape(op, x, w, null, p);
  checkGradShape(op, dy, y, fromXW(x, w));
  return y;
}

export function linearGradShape(op: string, dy: Tensor, x: Tensor, w: Tensor): Shape {
  const y = linearShape(op, x, w, null);
  checkGradShape(op, dy, y, fromXW(x, w));
  return y;
}

export function convTranspose2x2GradShape(op: string, dy: Tensor, x: Tensor, w: Tensor): Shape {
  const y = convTranspose2x2Shape(op, x, w, null);
  checkGradShape(op, dy, y, fromXW(x, w));
  return y;
}

export function maxPool2dGradShape(op: string, dy: Tensor, x: Tensor, p: Pool2dParams): Shape {
  const y = pool2dShape(op, x, p);
  checkGradShape(op, dy, y, `x ${f(x.shape)}`);
  return y;
}

export function lrpConv2dShape(op: string, a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams, z: Tensor | undefined): Shape {
  const y = conv2dShape(op, a, w, b, p);
  checkRelevance(op, r, z, y, fromXW(a, w, 'a'));
  return y;
}

export function lrpLinearShape(op: string, a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, z: Tensor | undefined): Shape {
  const y = linearShape(op, a, w, b);
  checkRelevance(op, r, z, y, fromXW(a, w, 'a'));
  return y;
}

export function lrpMaxPool2dShape(op: string, a: Tensor, r: Tensor, p: Pool2dParams): Shape {
  const y = pool2dShape(op, a, p);
  checkRelevance(op, r, undefined, y, `a ${f(a.shape)}`);
  return y;
}

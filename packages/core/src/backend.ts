import type { Tensor, Shape } from './tensor.js';
import type { Rule, PoolRule } from './lrp/rule.js';

/** Square-kernel 2-D convolution; the kernel size comes from the weight (out, in, k, k). */
export interface Conv2dParams {
  readonly stride: number;
  readonly padding: number;
}

export interface Pool2dParams {
  readonly kernel: number;
  readonly stride: number;
}

export interface SgdParams {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov?: boolean;
}

export interface AdamParams {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Step number after this update, starting at 1 (for bias correction). */
  readonly step: number;
  /** Decoupled weight decay (AdamW) instead of L2 added to the gradient. */
  readonly decoupled?: boolean;
}

export interface ConvGrads {
  /** null when not requested (the first layer's input needs no gradient). */
  readonly dx: Tensor | null;
  readonly dw: Tensor;
  readonly db: Tensor;
}

export interface LossResult {
  /** Scalar (shape [1]): the mean loss over the batch. */
  readonly loss: Tensor;
  /** Gradient of the mean loss w.r.t. the logits, same shape as the logits. */
  readonly dLogits: Tensor;
}

/**
 * What every backend executes. The core owns the graph and the order of passes; a backend only runs ops.
 *
 * Contract:
 * - Ops return at once with a new tensor; a GPU backend only queues the work. `read` is the only way to
 *   get values back to the host and is a promise.
 * - Every op checks shapes and throws a SHAPE_MISMATCH LrpsegError naming the op and the shapes.
 * - Tensors: float32; 4-D ones are NCHW. Inputs are never modified, except by the optimiser steps,
 *   which update their parameter/state tensors in place.
 * - Ops are batched: the N images of a batch never influence one another's results.
 */
export interface Backend {
  readonly name: string;

  // ---- memory ------------------------------------------------------------
  fromArray(data: Float32Array | readonly number[], shape: Shape): Tensor;
  zeros(shape: Shape): Tensor;
  read(t: Tensor): Promise<Float32Array>;
  /** Waits until all queued work has finished. */
  sync(): Promise<void>;

  // ---- shape and elementwise -------------------------------------------
  /** Same data, new shape of equal size (flatten is reshape to [N, C·H·W]). */
  reshape(x: Tensor, shape: Shape): Tensor;
  /** y[n,c,h,w] = x[n,c,h,w]·scale[c] + shift[c] (input normalisation). */
  affineChannels(x: Tensor, scale: readonly number[], shift: readonly number[]): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  scale(x: Tensor, s: number): Tensor;
  /** Sum over the channel axis: (N, C, H, W) → (N, H, W). */
  sumChannels(x: Tensor): Tensor;
  /** R = x ⊙ onehot(target[n]) for x of shape (N, K). */
  selectClass(x: Tensor, target: readonly number[]): Tensor;
  /** Concatenate along channels: (N, C1, H, W) and (N, C2, H, W) → (N, C1+C2, H, W). */
  concatChannels(a: Tensor, b: Tensor): Tensor;
  /** Channels [start, start+count) of x. The gradient of concatChannels. */
  sliceChannels(x: Tensor, start: number, count: number): Tensor;

  // ---- forward -----------------------------------------------------------
  conv2d(x: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams): Tensor;
  /** 2×2 stride-2 transposed convolution; w is (in, out, 2, 2) as in PyTorch's ConvTranspose2d. */
  convTranspose2x2(x: Tensor, w: Tensor, b: Tensor | null): Tensor;
  maxPool2d(x: Tensor, p: Pool2dParams): Tensor;
  /** y = x·wᵀ + b for x (N, in), w (out, in). */
  linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor;
  relu(x: Tensor): Tensor;
  sigmoid(x: Tensor): Tensor;
  /** Softmax over the last axis of a (N, K) tensor. */
  softmax(x: Tensor): Tensor;

  // ---- losses ------------------------------------------------------------
  /** Mean cross-entropy of logits (N, K) against integer labels; optional per-class weights (PyTorch's weighted mean). */
  crossEntropy(logits: Tensor, labels: readonly number[], classWeights?: readonly number[]): LossResult;
  /** Mean binary cross-entropy with logits against targets in [0, 1] of the same shape. */
  bceWithLogits(logits: Tensor, targets: Tensor, posWeight?: number): LossResult;

  // ---- gradients ---------------------------------------------------------
  conv2dBackward(dy: Tensor, x: Tensor, w: Tensor, p: Conv2dParams, needDx: boolean): ConvGrads;
  convTranspose2x2Backward(dy: Tensor, x: Tensor, w: Tensor): ConvGrads;
  maxPool2dBackward(dy: Tensor, x: Tensor, p: Pool2dParams): Tensor;
  linearBackward(dy: Tensor, x: Tensor, w: Tensor, needDx: boolean): ConvGrads;
  /** dx = dy where y > 0 (y is the ReLU output). */
  reluBackward(dy: Tensor, y: Tensor): Tensor;
  /** dx = dy·y·(1−y) (y is the sigmoid output). */
  sigmoidBackward(dy: Tensor, y: Tensor): Tensor;

  // ---- optimiser (in place on param and state) ----------------------------
  sgdStep(param: Tensor, grad: Tensor, momentum: Tensor, p: SgdParams): void;
  adamStep(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamParams): void;

  // ---- relevance (LRP.md) -----------------------------------------------
  /**
   * Relevance of a conv layer's input. `a` is the layer input (N, C, H, W), `r` the relevance of its
   * output (pre-activation), `z` optionally the forward pass's own pre-activation (W·a + b), which
   * zero and epsilon reuse instead of recomputing.
   */
  lrpConv2d(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams, rule: Rule, z?: Tensor): Tensor;
  lrpLinear(a: Tensor, r: Tensor, w: Tensor, b: Tensor | null, rule: Rule, z?: Tensor): Tensor;
  lrpMaxPool2d(a: Tensor, r: Tensor, p: Pool2dParams, rule: PoolRule): Tensor;

  /** Releases every resource the backend holds (worker threads, device memory). */
  destroy(): Promise<void>;
}

export type BackendName = 'cpu' | 'cuda' | 'webgpu';

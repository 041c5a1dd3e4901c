/**
 * Reverse-mode differentiation over Backend ops: a forward pass through a Tape records, for each op, how
 * to send its output gradient back to its inputs. One mechanism serves every network (VGG, U-Net with
 * skip connections: a tensor used twice gets its gradients summed).
 */
import type { Backend, Conv2dParams, Pool2dParams } from '../backend.js';
import { LrpsegError } from '../errors.js';
import { scope, type Tensor } from '../tensor.js';
import { broadcastChannels, channelSums, scaleChannels } from './channels.js';

/** A batch's per-channel statistics and the affine map of a training-mode batch norm, as host numbers. */
export interface BatchNormStatistics {
  readonly mean: readonly number[];
  /** 1 / sqrt(biased variance + eps). */
  readonly invStd: readonly number[];
  /** Current values of the gamma and beta tensors. */
  readonly gamma: readonly number[];
  readonly beta: readonly number[];
}

type BackwardStep = () => void;

export class Tape {
  readonly backend: Backend;
  private readonly needsGrad = new Set<Tensor>();
  private readonly grads = new Map<Tensor, Tensor>();
  private readonly steps: BackwardStep[] = [];
  private used = false;

  constructor(backend: Backend, params: Iterable<Tensor>) {
    this.backend = backend;
    for (const p of params) this.needsGrad.add(p);
  }

  private requires(...xs: (Tensor | null)[]): boolean {
    return xs.some((x) => x !== null && this.needsGrad.has(x));
  }

  /** Adds g to the gradient of t (summing when t feeds several ops). */
  private accumulate(t: Tensor, g: Tensor): void {
    if (!this.needsGrad.has(t)) return;
    const prev = this.grads.get(t);
    this.grads.set(t, prev ? this.backend.add(prev, g) : g);
  }

  private record(out: Tensor, inputs: (Tensor | null)[], step: (dy: Tensor) => void): Tensor {
    if (this.requires(...inputs)) {
      this.needsGrad.add(out);
      this.steps.push(() => {
        const dy = this.grads.get(out);
        if (dy) step(dy);
      });
    }
    return out;
  }

  conv2d(x: Tensor, w: Tensor, b: Tensor | null, p: Conv2dParams): Tensor {
    const y = this.backend.conv2d(x, w, b, p);
    return this.record(y, [x, w, b], (dy) => {
      const g = this.backend.conv2dBackward(dy, x, w, p, this.needsGrad.has(x));
      if (g.dx) this.accumulate(x, g.dx);
      this.accumulate(w, g.dw);
      if (b) this.accumulate(b, g.db);
    });
  }

  convTranspose2x2(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const y = this.backend.convTranspose2x2(x, w, b);
    return this.record(y, [x, w, b], (dy) => {
      const g = this.backend.convTranspose2x2Backward(dy, x, w);
      if (g.dx) this.accumulate(x, g.dx);
      this.accumulate(w, g.dw);
      if (b) this.accumulate(b, g.db);
    });
  }

  linear(x: Tensor, w: Tensor, b: Tensor | null): Tensor {
    const y = this.backend.linear(x, w, b);
    return this.record(y, [x, w, b], (dy) => {
      const g = this.backend.linearBackward(dy, x, w, this.needsGrad.has(x));
      if (g.dx) this.accumulate(x, g.dx);
      this.accumulate(w, g.dw);
      if (b) this.accumulate(b, g.db);
    });
  }

  relu(x: Tensor): Tensor {
    const y = this.backend.relu(x);
    return this.record(y, [x], (dy) => this.accumulate(x, this.backend.reluBackward(dy, y)));
  }

  maxPool2d(x: Tensor, p: Pool2dParams): Tensor {
    const y = this.backend.maxPool2d(x, p);
    return this.record(y, [x], (dy) => this.accumulate(x, this.backend.maxPool2dBackward(dy, x, p)));
  }

  reshape(x: Tensor, shape: readonly number[]): Tensor {
    const y = this.backend.reshape(x, shape);
    return this.record(y, [x], (dy) => this.accumulate(x, this.backend.reshape(dy, x.shape)));
  }

  concatChannels(a: Tensor, b: Tensor): Tensor {
    const y = this.backend.concatChannels(a, b);
    return this.record(y, [a, b], (dy) => {
      this.accumulate(a, this.backend.sliceChannels(dy, 0, a.shape[1]));
      this.accumulate(b, this.backend.sliceChannels(dy, a.shape[1], b.shape[1]));
    });
  }

  /** Element-wise product with a constant tensor (a dropout mask, say): no gradient flows to `mask`. */
  mulConstant(x: Tensor, mask: Tensor): Tensor {
    const y = this.backend.mul(x, mask);
    return this.record(y, [x], (dy) => this.accumulate(x, this.backend.mul(dy, mask)));
  }

  affineChannels(x: Tensor, scale: readonly number[], shift: readonly number[]): Tensor {
    const y = this.backend.affineChannels(x, scale, shift);
    return this.record(y, [x], (dy) => this.accumulate(x, this.backend.affineChannels(dy, scale, scale.map(() => 0))));
  }

  /**
   * Training-mode batch norm: y = gamma·x̂ + beta per channel with x̂ = (x − mean)·invStd, the batch's own
   * statistics (read back by the caller). The backward pass includes the statistics' dependence on x:
   * dx = g·(dy − mean(dy) − x̂·mean(dy·x̂)) with g = gamma·invStd, the means over (N, H, W).
   */
  batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, s: BatchNormStatistics): Tensor {
    const b = this.backend;
    const xhat = b.affineChannels(x, s.invStd, s.mean.map((m, c) => -m * s.invStd[c]));
    const y = b.affineChannels(xhat, s.gamma, s.beta);
    return this.record(y, [x, gamma, beta], (dy) => {
      const needDx = this.needsGrad.has(x);
      const g = scope(() => {
        const [n, , h, w] = x.shape;
        const count = n * h * w;
        const dBeta = channelSums(b, dy);
        const dGamma = channelSums(b, b.mul(dy, xhat));
        if (!needDx) return { dBeta, dGamma, dx: null };
        const k = s.gamma.map((gm, c) => gm * s.invStd[c]);
        const minusKOverCount = k.map((v) => -v / count);
        const centred = b.add(b.affineChannels(dy, k, k.map(() => 0)), broadcastChannels(b, scaleChannels(b, dBeta, minusKOverCount), x.shape));
        const dx = b.add(centred, b.mul(xhat, broadcastChannels(b, scaleChannels(b, dGamma, minusKOverCount), x.shape)));
        return { dBeta, dGamma, dx };
      });
      if (g.dx) this.accumulate(x, g.dx);
      this.accumulate(gamma, g.dGamma);
      this.accumulate(beta, g.dBeta);
    });
  }

  /**
   * Runs the recorded steps backwards from `output` with gradient `dOutput`. Returns the gradient of each
   * requested tensor (zeros for a tensor that did not influence the output). A tape runs backward once.
   */
  backward(output: Tensor, dOutput: Tensor, wrt: readonly Tensor[]): Map<Tensor, Tensor> {
    if (this.used) throw new LrpsegError('BAD_INPUT', 'Tape.backward: a tape can run backward only once');
    this.used = true;
    this.grads.set(output, dOutput);
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]();
    const out = new Map<Tensor, Tensor>();
    for (const t of wrt) out.set(t, this.grads.get(t) ?? this.backend.zeros(t.shape));
    return out;
  }
}

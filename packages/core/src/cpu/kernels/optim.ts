/** Optimiser steps in place, PyTorch semantics (torch.optim.SGD, Adam, AdamW), computed in float64 per element. */

export interface SgdOptions {
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov?: boolean;
}

/**
 * g = grad + wd·θ;  buf = μ·buf + g (buf starts at 0, so the first step gives buf = g as in PyTorch);
 * g = nesterov ? g + μ·buf : buf;  θ -= lr·g. With μ = 0 the buffer is left untouched.
 */
export function sgdStep(param: Float32Array, grad: Float32Array, buf: Float32Array, p: SgdOptions): void {
  const { lr, momentum: mu, weightDecay: wd } = p;
  const nesterov = p.nesterov === true;
  for (let i = 0; i < param.length; i++) {
    let g = grad[i] + wd * param[i];
    if (mu !== 0) {
      const b = mu * buf[i] + g;
      buf[i] = b;
      g = nesterov ? g + mu * b : b;
    }
    param[i] = param[i] - lr * g;
  }
}

export interface AdamOptions {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly step: number;
  readonly decoupled?: boolean;
}

/**
 * Adam: g = grad (+ wd·θ unless decoupled);  AdamW: θ ← θ·(1 − lr·wd) first.
 * m = β1·m + (1 − β1)·g;  v = β2·v + (1 − β2)·g²;
 * θ -= (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + eps).
 */
export function adamStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, p: AdamOptions): void {
  const { lr, beta1, beta2, eps, weightDecay: wd, step } = p;
  const decoupled = p.decoupled === true;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2Sqrt = Math.sqrt(1 - Math.pow(beta2, step));
  const stepSize = lr / bc1;
  for (let i = 0; i < param.length; i++) {
    let theta = param[i];
    let g = grad[i];
    if (wd !== 0) {
      if (decoupled) theta = theta * (1 - lr * wd);
      else g = g + wd * theta;
    }
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = theta - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
  }
}

/**
 * SGD (momentum, Nesterov) and Adam/AdamW over parameter groups with their own learning rates (the paper
 * trains the FC layers at 1e-3 and the convolutions at 1e-4). State lives on the backend, next to the
 * parameters, and is named so that a checkpoint can hold it.
 */
import type { Backend } from '../backend.js';
import { LrpsegError } from '../errors.js';
import type { Tensor } from '../tensor.js';

export type OptimizerKind = 'sgd' | 'adam' | 'adamw';

export interface OptimizerConfig {
  readonly kind: OptimizerKind;
  readonly momentum?: number;
  readonly nesterov?: boolean;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
  readonly weightDecay?: number;
}

export interface NamedParam {
  readonly name: string;
  readonly tensor: Tensor;
}

export interface ParamGroup {
  readonly name: string;
  readonly lr: number;
  readonly params: readonly NamedParam[];
}

export class Optimizer {
  readonly config: Required<OptimizerConfig>;
  readonly groups: readonly ParamGroup[];
  private readonly backend: Backend;
  /** State tensors by `${param name}.${slot}`: momentum_buffer, exp_avg, exp_avg_sq (PyTorch's names). */
  private readonly slots = new Map<string, Tensor>();
  step = 0;

  constructor(backend: Backend, groups: readonly ParamGroup[], config: OptimizerConfig) {
    this.backend = backend;
    this.groups = groups;
    this.config = {
      kind: config.kind,
      momentum: config.momentum ?? 0.9,
      nesterov: config.nesterov ?? false,
      beta1: config.beta1 ?? 0.9,
      beta2: config.beta2 ?? 0.999,
      eps: config.eps ?? 1e-8,
      weightDecay: config.weightDecay ?? 0,
    };
    for (const slot of this.slotNames()) {
      for (const g of groups) for (const p of g.params) this.slots.set(`${p.name}.${slot}`, backend.zeros(p.tensor.shape).keep());
    }
  }

  private slotNames(): string[] {
    return this.config.kind === 'sgd' ? ['momentum_buffer'] : ['exp_avg', 'exp_avg_sq'];
  }

  /** One update of every parameter; `lrScale` multiplies each group's rate (warm-up, cosine decay). */
  apply(grads: Map<Tensor, Tensor>, lrScale = 1): void {
    this.step++;
    const c = this.config;
    for (const g of this.groups) {
      const lr = g.lr * lrScale;
      for (const p of g.params) {
        const grad = grads.get(p.tensor);
        if (!grad) throw new LrpsegError('BAD_INPUT', `optimizer: no gradient for ${p.name}`);
        if (c.kind === 'sgd') {
          this.backend.sgdStep(p.tensor, grad, this.slots.get(`${p.name}.momentum_buffer`)!, { lr, momentum: c.momentum, weightDecay: c.weightDecay, nesterov: c.nesterov });
        } else {
          this.backend.adamStep(p.tensor, grad, this.slots.get(`${p.name}.exp_avg`)!, this.slots.get(`${p.name}.exp_avg_sq`)!, {
            lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay, step: this.step, decoupled: c.kind === 'adamw',
          });
        }
      }
    }
  }

  /** The state tensors under checkpoint names `optimizer.<param>.<slot>`. */
  stateTensors(): Map<string, Tensor> {
    return new Map([...this.slots].map(([k, v]) => [`optimizer.${k}`, v]));
  }

  /** Restores state saved by stateTensors (values copied from host arrays). */
  loadState(values: ReadonlyMap<string, { shape: readonly number[]; data: Float32Array }>, step: number): void {
    for (const [key, t] of this.slots) {
      const v = values.get(`optimizer.${key}`);
      if (!v) throw new LrpsegError('BAD_MODEL_FILE', `checkpoint has no optimizer state "optimizer.${key}"`);
      if (v.data.length !== t.size) throw new LrpsegError('BAD_MODEL_FILE', `optimizer state "optimizer.${key}" has ${v.data.length} values, expected ${t.size}`);
      const fresh = this.backend.fromArray(v.data, t.shape).keep();
      t.dispose();
      this.slots.set(key, fresh);
    }
    this.step = step;
  }

  dispose(): void {
    for (const t of this.slots.values()) t.dispose();
  }
}

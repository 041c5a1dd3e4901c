/**
 * An exponential moving average of the weights during training (Polyak averaging, as timm's ModelEma):
 * after optimiser step t, avg ← d_t·avg + (1 − d_t)·w with d_t = min(decay, (1 + t) / (10 + t)), so the
 * first steps are not averaged with the random initial weights for long. A lever against noisy weights at
 * the end of training from scratch: the averaged network is what is validated, kept as best and saved.
 * The training itself (weights, optimiser, random draws) is unchanged by it.
 */
import { LrpsegError } from '../errors.js';
import { scope, type Tensor } from '../tensor.js';
import { modelFromParameters, type Model } from '../nn/model.js';

/** Names in checkpoints of the weights being trained, when the model's own tensors hold the average. */
export const trainedName = (param: string) => `trained.${param}`;

type StoredTensor = { readonly shape: readonly number[]; readonly data: Float32Array };

/** The averaging weight of step t (1-based: the number of optimiser steps taken). */
export function emaDecayAt(decay: number, step: number): number {
  return Math.min(decay, (1 + step) / (10 + step));
}

export function checkEmaDecay(decay: number): void {
  if (!(decay > 0 && decay < 1)) throw new LrpsegError('BAD_INPUT', `the weights' moving average needs a decay in (0, 1), got ${decay}`);
}

export class WeightAverage {
  private constructor(readonly decay: number, private readonly values: Map<string, Tensor>) {}

  /** Starts at the model's current weights. */
  static of(model: Model, decay: number): WeightAverage {
    checkEmaDecay(decay);
    const b = model.backend;
    const values = new Map<string, Tensor>();
    for (const [name, t] of model.parameters()) values.set(name, scope(() => b.scale(t, 1)).keep());
    return new WeightAverage(decay, values);
  }

  /** The average stored in a checkpoint (its model tensors), for the parameters of `model`. */
  static fromTensors(model: Model, decay: number, tensors: ReadonlyMap<string, StoredTensor>): WeightAverage {
    checkEmaDecay(decay);
    const values = new Map<string, Tensor>();
    for (const [name, t] of model.parameters()) {
      const v = tensors.get(name);
      if (!v || v.data.length !== t.size) throw new LrpsegError('BAD_MODEL_FILE', `checkpoint has no averaged tensor "${name}" of the model's shape`);
      values.set(name, model.backend.fromArray(v.data, t.shape).keep());
    }
    return new WeightAverage(decay, values);
  }

  /** Folds in the model's weights after optimiser step `step`. */
  update(model: Model, step: number): void {
    const b = model.backend;
    const d = emaDecayAt(this.decay, step);
    for (const [name, w] of model.parameters()) {
      const old = this.values.get(name);
      if (!old) throw new LrpsegError('BAD_INPUT', `WeightAverage: no average for ${name}`);
      const next = scope(() => b.add(b.scale(old, d), b.scale(w, 1 - d))).keep();
      old.dispose();
      this.values.set(name, next);
    }
  }

  /** The average's values on the host, under the model's parameter names (as a checkpoint stores them). */
  async entries(): Promise<[string, StoredTensor][]> {
    const out: [string, StoredTensor][] = [];
    for (const [name, t] of this.values) out.push([name, { shape: t.shape, data: await t.read() }]);
    return out;
  }

  /** The averaged network as a model of its own (the caller disposes it). */
  async model(like: Model): Promise<Model> {
    const host = new Map(await this.entries());
    return modelFromParameters(like.backend, like.meta, (name) => {
      const v = host.get(name);
      if (!v) throw new LrpsegError('BAD_INPUT', `WeightAverage: no average for ${name}`);
      return v.data;
    });
  }

  dispose(): void {
    for (const t of this.values.values()) t.dispose();
  }
}

import { LrpsegError, fmtShape } from '../errors.js';
import { scope, type Tensor } from '../tensor.js';
import type { Model } from '../nn/model.js';
import { applyLayer } from '../nn/model.js';
import type { ParamLayer } from '../nn/layers.js';
import type { Composite } from './composite.js';
import type { PoolRule, Rule, RuleSpec } from './rule.js';

export interface ExplainOptions {
  readonly composite: Composite;
  /** Class to explain: one for all images or one per image. Default 1 ("defect"). */
  readonly target?: number | readonly number[];
  readonly pool?: PoolRule;
}

/** The zbox bounds of LRP.md: the model's normalisation applied to 0 and 1, per input channel. */
export function zboxBounds(model: Model): { low: number[]; high: number[] } {
  const { mean, std } = model.meta.normalize;
  return { low: mean.map((m, c) => (0 - m) / std[c]), high: mean.map((m, c) => (1 - m) / std[c]) };
}

function resolveRule(spec: RuleSpec, model: Model): Rule {
  return spec.kind === 'zbox' ? { kind: 'zbox', ...zboxBounds(model) } : spec;
}

function resolveTargets(model: Model, n: number, target: ExplainOptions['target']): number[] {
  const k = model.meta.arch.num_classes;
  const targets = typeof target === 'number' || target === undefined ? new Array<number>(n).fill(target ?? 1) : [...target];
  if (targets.length !== n) throw new LrpsegError('BAD_INPUT', `explain: ${targets.length} targets for a batch of ${n}`);
  for (const t of targets) {
    if (!Number.isInteger(t) || t < 0 || t >= k) throw new LrpsegError('BAD_INPUT', `explain: target class ${t} outside [0, ${k}) for a model with classes ${model.meta.classes.join(', ')}`);
  }
  return targets;
}

function rulesByLayer(model: Model, composite: Composite): Map<ParamLayer, Rule> {
  const layers = model.paramLayers();
  if (composite.assignments.length !== layers.length) {
    throw new LrpsegError('BAD_RULE_SPEC', `composite "${composite.name}" has ${composite.assignments.length} rules but the model has ${layers.length} parameter layers`);
  }
  const out = new Map<ParamLayer, Rule>();
  layers.forEach((l, i) => {
    const a = composite.assignments[i];
    if (a.layer !== l.name) throw new LrpsegError('BAD_RULE_SPEC', `composite "${composite.name}" assigns rule ${i} to ${a.layer} but the model's layer ${i} is ${l.name}`);
    out.set(l, resolveRule(a.rule, model));
  });
  return out;
}

/**
 * LRP heatmaps (N, H, W) of raw inputs x (N, C, H, W) in [0, 1]: a forward pass that keeps every
 * layer's input and pre-activation, then one relevance op per layer from the logits back to the
 * normalised input, summed over channels. Every intermediate is disposed.
 */
export function explain(model: Model, x: Tensor, opts: ExplainOptions): Tensor {
  return scope(() => classifyAndExplain(model, x, opts).heatmaps);
}

/**
 * Logits and heatmaps from one shared forward pass, for the classifier gate of section 3.1 (segment
 * only the images the classifier calls defective).
 */
export function classifyAndExplain(model: Model, x: Tensor, opts: ExplainOptions): { logits: Tensor; heatmaps: Tensor } {
  model.checkInput('explain', x);
  const rules = rulesByLayer(model, opts.composite);
  const targets = resolveTargets(model, x.shape[0], opts.target);
  const pool = opts.pool ?? 'wta';
  const b = model.backend;
  return scope(() => {
    const { scale, shift } = model.normalization();
    const inputs: Tensor[] = [];
    const outputs: Tensor[] = [];
    let cur = b.affineChannels(x, scale, shift);
    for (const layer of model.layers) {
      inputs.push(cur);
      cur = applyLayer(b, layer, cur);
      outputs.push(cur);
    }
    let r = b.selectClass(cur, targets);
    const last = model.layers.length - 1;
    for (let i = last; i >= 0; i--) {
      const layer = model.layers[i];
      const a = inputs[i];
      const rOut = r;
      switch (layer.kind) {
        case 'relu':
        case 'dropout':
          break;
        case 'flatten':
          r = b.reshape(r, a.shape);
          break;
        case 'maxpool':
          r = b.lrpMaxPool2d(a, r, { kernel: layer.kernel, stride: layer.stride }, pool);
          break;
        case 'conv2d':
          r = b.lrpConv2d(a, r, layer.weight, layer.bias, { stride: layer.stride, padding: layer.padding }, rules.get(layer)!, outputs[i]);
          break;
        case 'linear':
          r = b.lrpLinear(a, r, layer.weight, layer.bias, rules.get(layer)!, outputs[i]);
          break;
      }
      // Free what the rest of the pass no longer reads (layer i's output; the logits are returned).
      if (r !== rOut) rOut.dispose();
      if (i < last && outputs[i] !== inputs[i]) outputs[i].dispose();
    }
    if (r.shape.length !== 4) throw new LrpsegError('SHAPE_MISMATCH', `explain: input relevance has shape ${fmtShape(r.shape)}`);
    return { logits: cur, heatmaps: b.sumChannels(r) };
  });
}

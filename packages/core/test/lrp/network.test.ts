import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { mulberry32 } from '../../src/random.js';
import { vgg11Meta, type ModelMeta } from '../../src/nn/arch.js';
import { buildVgg, type Model } from '../../src/nn/model.js';
import { explain, classifyAndExplain } from '../../src/lrp/explain.js';
import { parseComposite } from '../../src/lrp/composite.js';
import { formatRule } from '../../src/lrp/rule.js';
import { scope, type Tensor } from '../../src/tensor.js';
import type { Backend } from '../../src/backend.js';
import { relL2 } from './dense.js';

const backend = new CpuBackend();
const small = (variant: '128n' | 'onefc'): ModelMeta => vgg11Meta(variant, { inputSize: [32, 32], widthDivisor: 16 });

function randomImages(n: number, meta: ModelMeta, seed: number): Tensor {
  const rnd = mulberry32(seed);
  const [h, w] = meta.input_size;
  return backend.fromArray(Float32Array.from({ length: n * 3 * h * w }, () => rnd()), [n, 3, h, w]);
}

function sum(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i];
  return s;
}

/** Gradient of the target logit w.r.t. the normalised input, through the backend's backward ops. */
function inputGradient(b: Backend, model: Model, x: Tensor, target: number): Tensor {
  return scope(() => {
    const { scale, shift } = model.normalization();
    const inputs: Tensor[] = [];
    const outputs: Tensor[] = [];
    let cur = b.affineChannels(x, scale, shift);
    for (const layer of model.layers) {
      inputs.push(cur);
      switch (layer.kind) {
        case 'conv2d': cur = b.conv2d(cur, layer.weight, layer.bias, { stride: layer.stride, padding: layer.padding }); break;
        case 'linear': cur = b.linear(cur, layer.weight, layer.bias); break;
        case 'relu': cur = b.relu(cur); break;
        case 'maxpool': cur = b.maxPool2d(cur, { kernel: layer.kernel, stride: layer.stride }); break;
        case 'flatten': cur = b.reshape(cur, [cur.shape[0], cur.size / cur.shape[0]]); break;
        case 'dropout': break;
      }
      outputs.push(cur);
    }
    const n = x.shape[0];
    const k = cur.shape[1];
    let g = b.fromArray(Float32Array.from({ length: n * k }, (_, i) => (i % k === target ? 1 : 0)), [n, k]);
    for (let i = model.layers.length - 1; i >= 0; i--) {
      const layer = model.layers[i];
      switch (layer.kind) {
        case 'conv2d': g = b.conv2dBackward(g, inputs[i], layer.weight, { stride: layer.stride, padding: layer.padding }, true).dx!; break;
        case 'linear': g = b.linearBackward(g, inputs[i], layer.weight, true).dx!; break;
        case 'relu': g = b.reluBackward(g, outputs[i]); break;
        case 'maxpool': g = b.maxPool2dBackward(g, inputs[i], { kernel: layer.kernel, stride: layer.stride }); break;
        case 'flatten': g = b.reshape(g, inputs[i].shape); break;
        case 'dropout': break;
      }
    }
    return b.mul(g, inputs[0]);
  });
}

describe('LRP on small random VGGs', () => {
  for (const variant of ['128n', 'onefc'] as const) {
    it(`${variant}: zbox + zero + wta with zero biases conserves the target logit`, async () => {
      const meta = small(variant);
      const model = buildVgg(backend, meta, { seed: 5 });
      const composite = parseComposite(['zbox', ...Array(model.paramLayers().length - 1).fill('zero')].join(','), meta);
      const x = randomImages(3, meta, 6);
      for (const target of [0, 1]) {
        const { logits, heatmaps } = classifyAndExplain(model, x, { composite, target, pool: 'wta' });
        const l = await logits.read();
        const h = await heatmaps.read();
        expect(heatmaps.shape).toEqual([3, 32, 32]);
        for (let s = 0; s < 3; s++) {
          const total = sum(h, s * 1024, (s + 1) * 1024);
          expect(Math.abs(total - l[s * 2 + target])).toBeLessThan(1e-4 * Math.max(1, Math.abs(l[s * 2 + target])));
        }
      }
    });

    it(`${variant}: LRP-0 on every layer equals gradient × input (with biases)`, async () => {
      const meta = small(variant);
      const model = buildVgg(backend, meta, { seed: 7, biasStd: 0.05 });
      const composite = parseComposite(Array(model.paramLayers().length).fill('zero').join(','), meta);
      const x = randomImages(2, meta, 8);
      const heat = await explain(model, x, { composite, target: 1 }).read();
      const gi = await backend.sumChannels(inputGradient(backend, model, x, 1)).read();
      expect(relL2(heat, gi)).toBeLessThan(1e-4);
    });

    for (const spec of ['montavon', 'ours']) {
      it(`${variant}: ${spec} heatmaps do not depend on the batch`, async () => {
        const meta = small(variant);
        const model = buildVgg(backend, meta, { seed: 9, biasStd: 0.05 });
        const composite = parseComposite(spec, meta);
        const x = randomImages(3, meta, 10);
        const all = await explain(model, x, { composite }).read();
        const xs = await x.read();
        for (let s = 0; s < 3; s++) {
          const one = backend.fromArray(xs.slice(s * 3072, (s + 1) * 3072), [1, 3, 32, 32]);
          const alone = await explain(model, one, { composite }).read();
          expect(relL2(all.subarray(s * 1024, (s + 1) * 1024), alone)).toBeLessThan(1e-6);
        }
        // and not on the batch size: a batch of 2 gives the first two maps again
        const two = await explain(model, backend.fromArray(xs.slice(0, 2 * 3072), [2, 3, 32, 32]), { composite }).read();
        expect(relL2(two, all.subarray(0, 2048))).toBeLessThan(1e-6);
      });
    }
  }

  it('per-image targets explain each image for its own class', async () => {
    const meta = small('onefc');
    const model = buildVgg(backend, meta, { seed: 3 });
    const composite = parseComposite('montavon', meta);
    const x = randomImages(2, meta, 4);
    const mixed = await explain(model, x, { composite, target: [0, 1] }).read();
    const t0 = await explain(model, x, { composite, target: 0 }).read();
    const t1 = await explain(model, x, { composite, target: 1 }).read();
    expect(Array.from(mixed.subarray(0, 1024))).toEqual(Array.from(t0.subarray(0, 1024)));
    expect(Array.from(mixed.subarray(1024))).toEqual(Array.from(t1.subarray(1024)));
    expect(() => explain(model, x, { composite, target: 2 })).toThrow(/target class 2/);
  });

  it('refuses inputs that do not fit the model', () => {
    const meta = small('onefc');
    const model = buildVgg(backend, meta, { seed: 3 });
    const x = backend.zeros([1, 3, 30, 32]);
    expect(() => explain(model, x, { composite: parseComposite('ours', meta) })).toThrow(/does not fit the model/);
  });
});

describe('composites on VGG-11 (Table 1 of the paper)', () => {
  const table = (spec: string, variant: '128n' | 'onefc') =>
    Object.fromEntries(parseComposite(spec, vgg11Meta(variant)).assignments.map((a) => [a.label, formatRule(a.rule)]));

  it('montavon, both variants', () => {
    const convs = { conv1_1: 'zbox', conv2_1: 'gamma:0.25', conv3_1: 'gamma:0.25', conv3_2: 'gamma:0.25', conv4_1: 'epsilon:0.25', conv4_2: 'epsilon:0.25', conv5_1: 'epsilon:0.25', conv5_2: 'epsilon:0.25' };
    expect(table('montavon', '128n')).toEqual({ ...convs, fc1: 'zero', fc2: 'zero', fc3: 'zero' });
    expect(table('montavon', 'onefc')).toEqual({ ...convs, fc1: 'zero' });
  });

  it('ours, both variants', () => {
    const convs = { conv1_1: 'zbox', conv2_1: 'alphabeta:2:1', conv3_1: 'alphabeta:2:1', conv3_2: 'gamma:0.25', conv4_1: 'gamma:0.25', conv4_2: 'gamma:0.25', conv5_1: 'gamma:0.25', conv5_2: 'gamma:0.25' };
    expect(table('ours', '128n')).toEqual({ ...convs, fc1: 'epsilon:0.25', fc2: 'epsilon:0.25', fc3: 'epsilon:0.25' });
    expect(table('ours', 'onefc')).toEqual({ ...convs, fc1: 'epsilon:0.25' });
  });

  it('torchvision names of the parameter layers', () => {
    expect(parseComposite('ours', vgg11Meta('128n')).assignments.map((a) => a.layer)).toEqual([
      'features.0', 'features.3', 'features.6', 'features.8', 'features.11', 'features.13', 'features.16', 'features.18', 'classifier.0', 'classifier.3', 'classifier.6',
    ]);
  });

  it('custom lists: right length, known rules, zbox only first', () => {
    const meta = vgg11Meta('onefc');
    const c = parseComposite('zbox,gamma:0.5,alphabeta:1:0,epsilon,zero,zero,zero,zero,epsilon:0.1', meta);
    expect(c.assignments.map((a) => formatRule(a.rule))).toEqual(['zbox', 'gamma:0.5', 'alphabeta:1:0', 'epsilon:0.25', 'zero', 'zero', 'zero', 'zero', 'epsilon:0.1']);
    expect(() => parseComposite('zbox,zero', meta)).toThrow(/2 rules but the model has 9 parameter layers/);
    expect(() => parseComposite('zbox,zero,zero,zero,zero,zero,zero,zero,bogus', meta)).toThrow(/unknown rule/);
    expect(() => parseComposite('zero,zbox,zero,zero,zero,zero,zero,zero,zero', meta)).toThrow(/first layer only/);
    expect(() => parseComposite('gamma:abc,zero,zero,zero,zero,zero,zero,zero,zero', meta)).toThrow(/not a number/);
    expect(() => parseComposite('bach', meta)).toThrow(/unknown composite/);
  });
});

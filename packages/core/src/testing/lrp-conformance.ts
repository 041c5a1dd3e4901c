/**
 * The shared relevance conformance suite: a backend's three relevance ops against the dense-matrix form
 * of every rule (LRP.md, "Properties"), and whole-network properties (conservation, LRP-0 = gradient ×
 * input, batch independence) plus agreement of VGG heatmaps with the reference CPU backend.
 *
 *   lrpConformance('cpu', async () => new CpuBackend());
 *
 * Registers vitest describe/it blocks; call it at the top level of a test file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../backend.js';
import { CpuBackend } from '../cpu/backend.js';
import { mulberry32, normalGenerator } from '../random.js';
import type { Rule } from '../lrp/rule.js';
import { vgg11Meta, type ModelMeta } from '../nn/arch.js';
import { applyLayer, buildVgg, loadModel, saveModel, type Model } from '../nn/model.js';
import { explain, classifyAndExplain } from '../lrp/explain.js';
import { parseComposite } from '../lrp/composite.js';
import { scope, type Tensor } from '../tensor.js';
import { denseRule, directConv, matrixOf, relL2 } from './dense-lrp.js';

export interface LrpConformanceOptions {
  /** Added to the float32-rounding tolerance of the dense-form checks (0 for an exact-FP32 backend). */
  readonly extraRtol?: number;
  /** Tolerance on VGG heatmaps against the CPU reference (relative L2; default 1e-4). */
  readonly heatmapRtol?: number;
}

function randomArray(n: number, seed: number, kind: 'mixed' | 'positive'): Float32Array {
  const normal = normalGenerator(mulberry32(seed));
  return Float32Array.from({ length: n }, () => {
    const v = normal();
    return kind === 'positive' ? Math.max(v, 0) : v;
  });
}

const small = (variant: '128n' | 'onefc'): ModelMeta => vgg11Meta(variant, { inputSize: [32, 32], widthDivisor: 16 });

function sum(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i];
  return s;
}

export function lrpConformance(label: string, make: () => Promise<Backend>, opts: LrpConformanceOptions = {}): void {
  let backend: Backend;
  beforeAll(async () => {
    backend = await make();
  });
  afterAll(async () => {
    if (backend) await backend.destroy();
  });
  const extra = opts.extraRtol ?? 0;
  const heatmapRtol = opts.heatmapRtol ?? 1e-4;

  const RULES: Rule[] = [
    { kind: 'zero' },
    { kind: 'epsilon', epsilon: 0.25 },
    { kind: 'gamma', gamma: 0.25 },
    { kind: 'alphabeta', alpha: 2, beta: 1 },
    { kind: 'alphabeta', alpha: 1, beta: 0 },
    { kind: 'zbox', low: [-2.1, -1.9, -1.5], high: [2.2, 2.4, 2.6] },
  ];

  const ruleName = (r: Rule) => (r.kind === 'zbox' ? 'zbox' : JSON.stringify(r));

  /**
   * Agreement to float32 rounding: 1e-5 relative L2, plus twice what rounding the denominators alone can
   * cause at this data (a random z near zero amplifies rounding; dense-lrp.ts perturbTowardZero).
   */
  function expectDenseMatch(got: ArrayLike<number>, dense: (perturb: boolean) => Float64Array): void {
    const want = dense(false);
    const tol = 1e-5 + 2 * relL2(dense(true), want) + extra;
    expect(relL2(got, want)).toBeLessThan(tol);
  }

  describe(`${label}: conv relevance equals its dense-matrix form`, () => {
    const configs = [
      { n: 2, c: 3, h: 5, w: 6, o: 4, k: 3, stride: 1, padding: 1 },
      { n: 1, c: 3, h: 7, w: 5, o: 5, k: 3, stride: 2, padding: 0 },
      { n: 3, c: 3, h: 4, w: 4, o: 2, k: 1, stride: 1, padding: 0 },
    ];
    for (const cfg of configs) {
      for (const withBias of [true, false]) {
        for (const inputs of ['positive', 'mixed'] as const) {
          for (const rule of RULES) {
            it(`${ruleName(rule)} ${JSON.stringify(cfg)} bias=${withBias} inputs=${inputs}`, async () => {
              const { n, c, h, w, o, k, stride, padding } = cfg;
              const seed = n * 1000 + h * 10 + w;
              const aData = randomArray(n * c * h * w, seed, inputs);
              const wData = randomArray(o * c * k * k, seed + 1, 'mixed');
              const bData = withBias ? randomArray(o, seed + 2, 'mixed').map((v) => v * 0.5) : new Float32Array(o);
              const d = c * h * w;
              const W = matrixOf(d, (x) => directConv(x, wData, c, h, w, o, k, stride, padding).out);
              const per = W.rows / o;
              const biasVec = Float64Array.from({ length: W.rows }, (_, i) => bData[Math.floor(i / per)]);
              const rData = randomArray(n * W.rows, seed + 3, 'mixed');
              const { oh, ow } = directConv(new Float64Array(d), wData, c, h, w, o, k, stride, padding);

              const a = backend.fromArray(aData, [n, c, h, w]);
              const r = backend.fromArray(rData, [n, o, oh, ow]);
              const wt = backend.fromArray(wData, [o, c, k, k]);
              const bt = withBias ? backend.fromArray(bData, [o]) : null;
              const got = await backend.lrpConv2d(a, r, wt, bt, { stride, padding }, rule).read();

              for (let s = 0; s < n; s++) {
                const low = rule.kind === 'zbox' ? Float64Array.from({ length: d }, (_, i) => rule.low[Math.floor(i / (h * w))]) : undefined;
                const high = rule.kind === 'zbox' ? Float64Array.from({ length: d }, (_, i) => rule.high[Math.floor(i / (h * w))]) : undefined;
                // zbox ignores the bias (LRP.md).
                const bias = rule.kind === 'zbox' ? new Float64Array(W.rows) : biasVec;
                expectDenseMatch(got.subarray(s * d, (s + 1) * d), (perturb) =>
                  denseRule(rule, W, bias, aData.subarray(s * d, (s + 1) * d), rData.subarray(s * W.rows, (s + 1) * W.rows), low, high, perturb));
              }
            });
          }
        }
      }
    }
  });

  describe(`${label}: linear relevance equals its dense-matrix form`, () => {
    for (const withBias of [true, false]) {
      for (const inputs of ['positive', 'mixed'] as const) {
        for (const rule of RULES) {
          it(`${ruleName(rule)} bias=${withBias} inputs=${inputs}`, async () => {
            const n = 3, inF = 7, outF = 5;
            const aData = randomArray(n * inF, 11, inputs);
            const wData = randomArray(outF * inF, 12, 'mixed');
            const bData = withBias ? randomArray(outF, 13, 'mixed') : new Float32Array(outF);
            const rData = randomArray(n * outF, 14, 'mixed');
            const W = { rows: outF, cols: inF, v: Float64Array.from(wData) };
            const linRule: Rule = rule.kind === 'zbox' ? { kind: 'zbox', low: [-1.5], high: [2] } : rule;
            const got = await backend
              .lrpLinear(backend.fromArray(aData, [n, inF]), backend.fromArray(rData, [n, outF]), backend.fromArray(wData, [outF, inF]), withBias ? backend.fromArray(bData, [outF]) : null, linRule)
              .read();
            for (let s = 0; s < n; s++) {
              const low = new Float64Array(inF).fill(-1.5), high = new Float64Array(inF).fill(2);
              const bias = linRule.kind === 'zbox' ? new Float64Array(outF) : Float64Array.from(bData);
              expectDenseMatch(got.subarray(s * inF, (s + 1) * inF), (perturb) =>
                denseRule(linRule, W, bias, aData.subarray(s * inF, (s + 1) * inF), rData.subarray(s * outF, (s + 1) * outF), low, high, perturb));
            }
          });
        }
      }
    }
  });

  describe(`${label}: rule relations (LRP.md properties)`, () => {
    it('alphabeta:1:0 on post-ReLU inputs equals the z+ rule, and gamma with a large G approaches it', async () => {
      const n = 2, inF = 9, outF = 6;
      // post-ReLU-like inputs that are all non-zero: where W⁺a = 0 the z⁺ rule drops relevance that
      // gamma passes on, so the limit only holds where every z⁺ > 0
      const aData = randomArray(n * inF, 21, 'mixed').map(Math.abs);
      const wData = randomArray(outF * inF, 22, 'mixed');
      const rData = randomArray(n * outF, 23, 'positive');
      const t = (d: Float32Array, s: number[]) => backend.fromArray(d, s);
      const ab = await backend.lrpLinear(t(aData, [n, inF]), t(rData, [n, outF]), t(wData, [outF, inF]), null, { kind: 'alphabeta', alpha: 1, beta: 0 }).read();
      // z+ rule written out: R_in = a ⊙ W⁺ᵀ(R / W⁺a)
      const zplus = new Float64Array(n * inF);
      for (let s = 0; s < n; s++)
        for (let j = 0; j < outF; j++) {
          let z = 0;
          for (let i = 0; i < inF; i++) z += Math.max(wData[j * inF + i], 0) * aData[s * inF + i];
          for (let i = 0; i < inF; i++) zplus[s * inF + i] += (aData[s * inF + i] * Math.max(wData[j * inF + i], 0) * rData[s * outF + j]) / (z + 1e-9);
        }
      expect(relL2(ab, zplus)).toBeLessThan(1e-5);
      const gamma = await backend.lrpLinear(t(aData, [n, inF]), t(rData, [n, outF]), t(wData, [outF, inF]), null, { kind: 'gamma', gamma: 1e4 }).read();
      expect(relL2(gamma, zplus)).toBeLessThan(1e-3);
    });

    it('epsilon on an all-zero input gives zero relevance, not NaN', async () => {
      const got = await backend.lrpLinear(backend.zeros([1, 4]), backend.fromArray([1, 2], [1, 2]), backend.fromArray(randomArray(8, 41, 'mixed'), [2, 4]), null, { kind: 'epsilon', epsilon: 0.25 }).read();
      expect(Array.from(got)).toEqual([0, 0, 0, 0]);
    });

    it('epsilon uses one rms(z) per sample, so a sample does not depend on its batch', async () => {
      const inF = 6, outF = 4;
      const a1 = randomArray(inF, 31, 'positive'), a2 = randomArray(inF, 32, 'positive').map((v) => v * 100);
      const w = randomArray(outF * inF, 33, 'mixed'), r = randomArray(2 * outF, 34, 'mixed');
      const rule: Rule = { kind: 'epsilon', epsilon: 0.25 };
      const both = await backend.lrpLinear(backend.fromArray(Float32Array.of(...a1, ...a2), [2, inF]), backend.fromArray(r, [2, outF]), backend.fromArray(w, [outF, inF]), null, rule).read();
      const alone = await backend.lrpLinear(backend.fromArray(a1, [1, inF]), backend.fromArray(r.subarray(0, outF), [1, outF]), backend.fromArray(w, [outF, inF]), null, rule).read();
      expect(Array.from(both.subarray(0, inF))).toEqual(Array.from(alone));
    });
  });

  describe(`${label}: max-pool relevance`, () => {
    it('wta gives ties to the first position in row-major window order', async () => {
      // one 4×4 plane, 2×2 windows: every window has ties at its maximum
      const a = Float32Array.of(1, 1, 0, 2, 0, 0, 2, 2, 3, 0, 5, 4, 3, 3, 5, 5);
      const r = Float32Array.of(10, 20, 30, 40);
      const got = await backend.lrpMaxPool2d(backend.fromArray(a, [1, 1, 4, 4]), backend.fromArray(r, [1, 1, 2, 2]), { kernel: 2, stride: 2 }, 'wta').read();
      expect(Array.from(got)).toEqual([10, 0, 0, 20, 0, 0, 0, 0, 30, 0, 40, 0, 0, 0, 0, 0]);
    });

    it('avg distributes proportionally to the inputs and conserves', async () => {
      const a = Float32Array.of(1, 3, 0, 0, 2, 2, 0, 4);
      const r = Float32Array.of(8, 6);
      const got = await backend.lrpMaxPool2d(backend.fromArray(a, [1, 2, 2, 2]), backend.fromArray(r, [1, 2, 1, 1]), { kernel: 2, stride: 2 }, 'avg').read();
      expect(Array.from(got)).toEqual([2, 6, 0, 0, 1.5, 1.5, 0, 3]);
    });
  });
  function randomImages(backend: Backend, n: number, meta: ModelMeta, seed: number): Tensor {
    const rnd = mulberry32(seed);
    const [h, w] = meta.input_size;
    return backend.fromArray(Float32Array.from({ length: n * 3 * h * w }, () => rnd()), [n, 3, h, w]);
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
        cur = applyLayer(b, layer, cur);
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

  describe(`${label}: LRP on small random VGGs`, () => {
    for (const variant of ['128n', 'onefc'] as const) {
      it(`${variant}: zbox + zero + wta with zero biases conserves the target logit`, async () => {
        const meta = small(variant);
        const model = buildVgg(backend, meta, { seed: 5 });
        const composite = parseComposite(['zbox', ...Array(model.paramLayers().length - 1).fill('zero')].join(','), meta);
        const x = randomImages(backend, 3, meta, 6);
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
        const x = randomImages(backend, 2, meta, 8);
        const heat = await explain(model, x, { composite, target: 1 }).read();
        const gi = await backend.sumChannels(inputGradient(backend, model, x, 1)).read();
        expect(relL2(heat, gi)).toBeLessThan(1e-4);
      });

      for (const spec of ['montavon', 'ours']) {
        it(`${variant}: ${spec} heatmaps do not depend on the batch`, async () => {
          const meta = small(variant);
          const model = buildVgg(backend, meta, { seed: 9, biasStd: 0.05 });
          const composite = parseComposite(spec, meta);
          const x = randomImages(backend, 3, meta, 10);
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
      const x = randomImages(backend, 2, meta, 4);
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


  vggHeatmapAgreement(label, () => backend, heatmapRtol);
}

/**
 * VGG-A 128N and one FC heatmaps (`montavon`, `ours`; 32 × 32 input, widths / 16, three images) of a
 * backend against the reference CPU backend, within `heatmapRtol` relative L2. `report` receives each
 * measured error (e.g. console.log, where a bound is still a first guess).
 */
export function vggHeatmapAgreement(label: string, backendOf: () => Backend, heatmapRtol: number, report?: (line: string) => void): void {
  describe(`${label}: VGG heatmaps agree with the reference CPU backend`, () => {
    for (const variant of ['128n', 'onefc'] as const) {
      for (const spec of ['montavon', 'ours']) {
        it(`${variant}, ${spec}`, async () => {
          const backend = backendOf();
          const ref = new CpuBackend();
          const meta = small(variant);
          const refModel = buildVgg(ref, meta, { seed: 21, biasStd: 0.05 });
          const model = backend === ref ? refModel : loadModel(backend, await saveModel(refModel));
          const images = randomArray(3 * 3 * 32 * 32, 22, 'mixed').map((v) => Math.min(1, Math.abs(v) / 2));
          const composite = parseComposite(spec, meta);
          const want = await explain(refModel, ref.fromArray(images, [3, 3, 32, 32]), { composite }).read();
          const got = await explain(model, backend.fromArray(images, [3, 3, 32, 32]), { composite }).read();
          const err = relL2(got, want);
          report?.(`${label}: VGG ${variant} ${spec} heatmap relative L2 against the CPU ${err.toExponential(2)}`);
          expect(err).toBeLessThan(heatmapRtol);
          model.dispose();
        });
      }
    }
  });
}

/** vggHeatmapAgreement on a backend of its own (made before, destroyed after). */
export function heatmapConformance(label: string, make: () => Promise<Backend>, opts: { readonly heatmapRtol: number; readonly report?: (line: string) => void }): void {
  let backend: Backend;
  beforeAll(async () => {
    backend = await make();
  });
  afterAll(async () => {
    if (backend) await backend.destroy();
  });
  vggHeatmapAgreement(label, () => backend, opts.heatmapRtol, opts.report);
}

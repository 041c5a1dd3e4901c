import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { mulberry32, normalGenerator } from '../../src/random.js';
import type { Rule } from '../../src/lrp/rule.js';
import { denseRule, directConv, matrixOf, relL2 } from './dense.js';

const backend = new CpuBackend();

function randomArray(n: number, seed: number, kind: 'mixed' | 'positive'): Float32Array {
  const normal = normalGenerator(mulberry32(seed));
  return Float32Array.from({ length: n }, () => {
    const v = normal();
    return kind === 'positive' ? Math.max(v, 0) : v;
  });
}

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
 * cause at this data (a random z near zero amplifies rounding; dense.ts perturbTowardZero).
 */
function expectDenseMatch(got: ArrayLike<number>, dense: (perturb: boolean) => Float64Array): void {
  const want = dense(false);
  const tol = 1e-5 + 2 * relL2(dense(true), want);
  expect(relL2(got, want)).toBeLessThan(tol);
}

describe('conv relevance equals its dense-matrix form', () => {
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

describe('linear relevance equals its dense-matrix form', () => {
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

describe('rule relations (LRP.md properties)', () => {
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

describe('max-pool relevance', () => {
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

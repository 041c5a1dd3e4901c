/**
 * The shared backend conformance suite (ARCHITECTURE.md, principle 3): every Backend op except the
 * relevance ops, checked against the direct float64 definitions in ./reference.ts on seeded random inputs
 * of awkward sizes, plus the contract (shape errors, disposed inputs, foreign tensors, batch independence).
 *
 *   backendConformance('cpu', async () => new CpuBackend());
 *
 * Registers vitest describe/it blocks; call it at the top level of a test file.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AdamParams, Backend, SgdParams } from '../backend.js';
import { fmtShape } from '../errors.js';
import { Tensor, sizeOf, type Shape } from '../tensor.js';
import { mulberry32, randomIntegers, randomTensorData, type RandomDataOptions } from './random.js';
import {
  refAdam, refBceGrad, refBceLoss, refConv2d, refConv2dBackward, refConvTranspose2x2, refConvTranspose2x2Backward,
  refCrossEntropyGrad, refCrossEntropyLoss, refLinear, refLinearBackward, refMaxPool2d, refMaxPool2dBackward,
  refSgd, refSigmoid, refSoftmax, type Arr,
} from './reference.js';

export interface ConformanceOptions {
  /** Tolerance on the relative L2 error ‖got − want‖ / ‖want‖ (default 1e-5). */
  readonly rtol?: number;
}

/** ‖got − want‖₂ / ‖want‖₂ (absolute error when want is all zeros). */
export function relativeL2Error(got: Arr, want: Arr): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

interface ErrorLike {
  name?: string;
  code?: string;
  message?: string;
}

/** Calls fn and expects an LrpsegError with the code whose message contains every string in `mentions`. */
export function expectLrpsegError(fn: () => unknown, code: string, mentions: readonly string[] = []): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error(`expected an LrpsegError ${code}, but nothing was thrown`);
  const e = thrown as ErrorLike;
  // By name and code rather than instanceof: the backend may load another copy of the core (src vs dist).
  expect(e.name, String(thrown)).toBe('LrpsegError');
  expect(e.code, e.message).toBe(code);
  for (const m of mentions) expect(e.message).toContain(m);
}

// ---- fixed configurations: awkward on purpose -------------------------------------------------
/** [n, c, h, w, o, k, stride, padding, bias] */
const CONV_CASES: readonly (readonly [number, number, number, number, number, number, number, number, boolean])[] = [
  [1, 3, 7, 9, 5, 3, 1, 1, true],
  [3, 5, 8, 11, 7, 3, 2, 0, true],
  [1, 1, 5, 5, 1, 1, 1, 0, false],
  [3, 10, 9, 7, 13, 5, 1, 2, true],
  [1, 9, 6, 13, 6, 5, 2, 2, false],
  [3, 12, 4, 4, 8, 1, 2, 0, true],
  [3, 6, 5, 5, 3, 1, 1, 1, true],
  [2, 7, 3, 3, 5, 3, 1, 0, true],
  [3, 4, 13, 10, 9, 3, 2, 1, false],
  [1, 2, 10, 10, 3, 5, 1, 0, true],
  [1, 64, 24, 23, 48, 3, 1, 1, true],
  [3, 33, 17, 15, 20, 3, 1, 1, true],
];
/** [n, c, h, w, kernel, stride] */
const POOL_CASES: readonly (readonly [number, number, number, number, number, number])[] = [
  [1, 3, 8, 8, 2, 2],
  [3, 5, 7, 9, 2, 2],
  [3, 4, 9, 9, 3, 2],
  [1, 6, 6, 7, 3, 1],
  [3, 2, 5, 5, 1, 1],
  [1, 16, 31, 33, 2, 2],
  [3, 3, 5, 8, 5, 3],
];
/** [n, in, out, bias] */
const LINEAR_CASES: readonly (readonly [number, number, number, boolean])[] = [
  [1, 7, 3, true],
  [3, 37, 11, true],
  [3, 5, 1, false],
  [1, 600, 70, true],
  [5, 300, 900, true],
  [3, 1, 6, true],
  [17, 130, 45, false],
];
/** [n, cin, cout, h, w, bias] */
const CONVT_CASES: readonly (readonly [number, number, number, number, number, boolean])[] = [
  [1, 3, 5, 4, 7, true],
  [3, 6, 2, 5, 3, false],
  [1, 16, 9, 8, 11, true],
  [3, 1, 1, 1, 1, true],
  [1, 40, 24, 12, 13, true],
];

const convName = (c: (typeof CONV_CASES)[number]): string =>
  `x [${c[0]}, ${c[1]}, ${c[2]}, ${c[3]}], w [${c[4]}, ${c[1]}, ${c[5]}, ${c[5]}], stride ${c[6]}, padding ${c[7]}${c[8] ? ', bias' : ''}`;

/** FNV-1a hash of a string (a stable seed). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Sub-array of image `i` of a batch (any rank ≥ 1). */
function imageOf(data: Float32Array, shape: Shape, i: number): Float32Array {
  const per = sizeOf(shape) / shape[0];
  return data.slice(i * per, (i + 1) * per);
}

export function backendConformance(label: string, make: () => Promise<Backend>, opts?: ConformanceOptions): void {
  const rtol = opts?.rtol ?? 1e-5;

  describe(`backend conformance: ${label}`, () => {
    let be: Backend;
    const live: Tensor[] = [];
    // Seeds derive from the test's name and a counter reset before each test, so that a test sees the same
    // data whether it runs alone (vitest -t) or with the others.
    let testSeed = 1;
    let draws = 0;

    beforeAll(async () => {
      be = await make();
    });
    afterAll(async () => {
      if (be) await be.destroy();
    });
    beforeEach(() => {
      testSeed = hashString(expect.getState().currentTestName ?? '');
      draws = 0;
    });
    afterEach(() => {
      for (const t of live) t.dispose();
      live.length = 0;
    });

    // ---- helpers (closures over the backend) ----------------------------------------------
    const track = <T extends Tensor>(t: T): T => {
      live.push(t);
      return t;
    };
    const rng = (): (() => number) => mulberry32((testSeed + 7919 * ++draws) >>> 0);
    /** Random host data and its tensor. */
    const input = (shape: Shape, o?: RandomDataOptions, r: () => number = rng()): { t: Tensor; d: Float32Array } => {
      const d = randomTensorData(r, sizeOf(shape), o);
      return { t: track(be.fromArray(d, shape)), d };
    };
    const tensor = (d: Float32Array | readonly number[], shape: Shape): Tensor => track(be.fromArray(d, shape));
    const read = async (t: Tensor): Promise<Float32Array> => be.read(track(t));
    /** Reads t and compares with the reference (and the expected shape). */
    const check = async (t: Tensor, want: Arr, shape: Shape | null, what: string, tol = rtol): Promise<void> => {
      if (shape) expect(fmtShape(t.shape), what).toBe(fmtShape(shape));
      const got = await read(t);
      expect(got.length, what).toBe(want.length);
      for (let i = 0; i < got.length; i++) {
        if (!Number.isFinite(got[i]) && Number.isFinite(want[i])) throw new Error(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
      }
      const err = relativeL2Error(got, want);
      expect(err, `${what}: relative L2 error ${err.toExponential(2)} > ${tol}`).toBeLessThanOrEqual(tol);
    };

    // ---- memory ------------------------------------------------------------------------------
    describe('memory', () => {
      it('fromArray / read round-trip float32 values exactly (Float32Array and number[])', async () => {
        const { t, d } = input([3, 5, 7]);
        expect(Array.from(await be.read(t))).toEqual(Array.from(d));
        const t2 = tensor([1.5, -2, 3.25, 0.1], [2, 2]);
        expect(Array.from(await be.read(t2))).toEqual(Array.from(Float32Array.of(1.5, -2, 3.25, 0.1)));
        expect(fmtShape(t2.shape)).toBe('[2, 2]');
      });
      it('fromArray copies its input and read returns a copy', async () => {
        const d = Float32Array.of(1, 2, 3);
        const t = tensor(d, [3]);
        d[0] = 100;
        const r1 = await be.read(t);
        expect(Array.from(r1)).toEqual([1, 2, 3]);
        r1[1] = 200;
        expect(Array.from(await be.read(t))).toEqual([1, 2, 3]);
      });
      it('zeros', async () => {
        const t = track(be.zeros([2, 3, 1, 5]));
        expect(t.size).toBe(30);
        expect(Array.from(await be.read(t))).toEqual(new Array(30).fill(0));
      });
      it('sync resolves', async () => {
        input([4]);
        await be.sync();
      });
      it('fromArray with a length that does not fit the shape throws SHAPE_MISMATCH', () => {
        expectLrpsegError(() => be.fromArray(new Float32Array(5), [2, 3]), 'SHAPE_MISMATCH', ['fromArray', '[2, 3]']);
      });
      it('invalid shapes throw SHAPE_MISMATCH', () => {
        expectLrpsegError(() => be.zeros([2, -1]), 'SHAPE_MISMATCH', ['[2, -1]']);
        expectLrpsegError(() => be.zeros([1.5]), 'SHAPE_MISMATCH', ['[1.5]']);
        expectLrpsegError(() => be.fromArray([], [0, -2]), 'SHAPE_MISMATCH', ['[0, -2]']);
      });
      it('reshape keeps the values; result and source are disposed independently', async () => {
        const { t, d } = input([2, 3, 4, 5]);
        const r = track(be.reshape(t, [2, 60]));
        expect(fmtShape(r.shape)).toBe('[2, 60]');
        expect(Array.from(await be.read(r))).toEqual(Array.from(d));
        r.dispose();
        expect(Array.from(await be.read(t))).toEqual(Array.from(d));
        const r2 = track(be.reshape(t, [120]));
        t.dispose();
        expect(Array.from(await be.read(r2))).toEqual(Array.from(d));
      });
    });

    // ---- elementwise and channel ops ------------------------------------------------------------
    describe('elementwise and channel ops', () => {
      it('affineChannels', async () => {
        const shape = [3, 5, 4, 7];
        const { t, d } = input(shape);
        const sc = [0.5, -2, 3, 1e-3, 7];
        const sh = [1, 0, -0.25, 4, -3];
        const want = Array.from(d, (v, i) => v * sc[Math.floor(i / 28) % 5] + sh[Math.floor(i / 28) % 5]);
        await check(be.affineChannels(t, sc, sh), want, shape, 'affineChannels');
      });
      it('add, mul, scale', async () => {
        const shape = [3, 2, 5, 3];
        const a = input(shape);
        const b = input(shape);
        await check(be.add(a.t, b.t), Array.from(a.d, (v, i) => v + b.d[i]), shape, 'add');
        await check(be.mul(a.t, b.t), Array.from(a.d, (v, i) => v * b.d[i]), shape, 'mul');
        await check(be.scale(a.t, -0.37), Array.from(a.d, (v) => v * -0.37), shape, 'scale');
        const v = input([7]);
        await check(be.add(v.t, v.t), Array.from(v.d, (x) => 2 * x), [7], 'add (rank 1)');
      });
      it('sumChannels', async () => {
        const [n, c, h, w] = [3, 13, 5, 6];
        const { t, d } = input([n, c, h, w]);
        const want = new Float64Array(n * h * w);
        for (let i = 0; i < n; i++) for (let ch = 0; ch < c; ch++) for (let j = 0; j < h * w; j++) want[i * h * w + j] += d[(i * c + ch) * h * w + j];
        await check(be.sumChannels(t), want, [n, h, w], 'sumChannels');
      });
      it('selectClass', async () => {
        const { t, d } = input([3, 5]);
        const target = [4, 0, 2];
        const want = Array.from(d, (v, i) => (i % 5 === target[Math.floor(i / 5)] ? v : 0));
        await check(be.selectClass(t, target), want, [3, 5], 'selectClass');
      });
      it('concatChannels, and sliceChannels as its gradient', async () => {
        const a = input([3, 3, 4, 5]);
        const b = input([3, 7, 4, 5]);
        const cat = track(be.concatChannels(a.t, b.t));
        const want = new Float64Array(3 * 10 * 20);
        for (let i = 0; i < 3; i++) {
          want.set(a.d.subarray(i * 60, (i + 1) * 60), i * 200);
          want.set(b.d.subarray(i * 140, (i + 1) * 140), i * 200 + 60);
        }
        await check(cat, want, [3, 10, 4, 5], 'concatChannels');
        // The gradient of concat w.r.t. a and b: the matching channel ranges of dy.
        await check(be.sliceChannels(cat, 0, 3), a.d, [3, 3, 4, 5], 'sliceChannels(cat, 0, 3) = a');
        await check(be.sliceChannels(cat, 3, 7), b.d, [3, 7, 4, 5], 'sliceChannels(cat, 3, 7) = b');
        const mid = new Float64Array(3 * 4 * 20);
        for (let i = 0; i < 3; i++) mid.set(want.subarray(i * 200 + 2 * 20, i * 200 + 6 * 20), i * 80);
        await check(be.sliceChannels(cat, 2, 4), mid, [3, 4, 4, 5], 'sliceChannels(cat, 2, 4)');
      });
      it('relu and reluBackward (dx = dy where y > 0)', async () => {
        const shape = [3, 4, 5, 3];
        const x = input(shape, { step: 0.5 }); // exact zeros occur
        const y = track(be.relu(x.t));
        await check(y, Array.from(x.d, (v) => Math.max(v, 0)), shape, 'relu');
        const dy = input(shape);
        await check(be.reluBackward(dy.t, y), Array.from(dy.d, (g, i) => (x.d[i] > 0 ? g : 0)), shape, 'reluBackward');
      });
      it('sigmoid (stable at large |x|) and sigmoidBackward', async () => {
        const x = input([3, 41], { std: 4 });
        const xd = x.d;
        xd.set([100, -100, 30, -30, 0], 0);
        const xt = tensor(xd, [3, 41]);
        const y = track(be.sigmoid(xt));
        await check(y, Array.from(xd, refSigmoid), [3, 41], 'sigmoid');
        const yd = await be.read(y);
        const dy = input([3, 41]);
        await check(be.sigmoidBackward(dy.t, y), Array.from(dy.d, (g, i) => g * yd[i] * (1 - yd[i])), [3, 41], 'sigmoidBackward');
      });
      it('softmax over the last axis, stable for large logits', async () => {
        const x = input([3, 11], { std: 3 });
        await check(be.softmax(x.t), refSoftmax(x.d, 3, 11), [3, 11], 'softmax');
        const big = Float32Array.of(1000, 999, -1000, 0, 1000, 1000);
        await check(be.softmax(tensor(big, [2, 3])), refSoftmax(big, 2, 3), [2, 3], 'softmax of large logits');
        const one = input([1, 1]);
        await check(be.softmax(one.t), [1], [1, 1], 'softmax of one class');
      });
    });

    // ---- convolution ---------------------------------------------------------------------------
    describe('conv2d', () => {
      for (const cs of CONV_CASES) {
        const [n, c, h, w, o, k, stride, padding, bias] = cs;
        it(`forward and backward: ${convName(cs)}`, async () => {
          const p = { stride, padding };
          const x = input([n, c, h, w]);
          const wt = input([o, c, k, k], { std: 1 / Math.sqrt(c * k * k) });
          const b = bias ? input([o]) : null;
          const ref = refConv2d(x.d, x.t.shape, wt.d, wt.t.shape, b ? b.d : null, stride, padding);
          const y = track(be.conv2d(x.t, wt.t, b ? b.t : null, p));
          await check(y, ref.y, ref.shape, 'conv2d');
          const dy = input(ref.shape);
          const g = refConv2dBackward(dy.d, x.d, x.t.shape, wt.d, wt.t.shape, stride, padding);
          const grads = be.conv2dBackward(dy.t, x.t, wt.t, p, true);
          expect(grads.dx).not.toBeNull();
          await check(grads.dx as Tensor, g.dx, [n, c, h, w], 'conv2dBackward dx');
          await check(grads.dw, g.dw, [o, c, k, k], 'conv2dBackward dw');
          await check(grads.db, g.db, [o], 'conv2dBackward db');
          const noDx = be.conv2dBackward(dy.t, x.t, wt.t, p, false);
          expect(noDx.dx).toBeNull();
          await check(noDx.dw, g.dw, [o, c, k, k], 'conv2dBackward dw (needDx false)');
          await check(noDx.db, g.db, [o], 'conv2dBackward db (needDx false)');
        });
      }
    });

    describe('convTranspose2x2', () => {
      for (const [n, ci, co, h, w, bias] of CONVT_CASES) {
        it(`forward and backward: x [${n}, ${ci}, ${h}, ${w}], w [${ci}, ${co}, 2, 2]${bias ? ', bias' : ''}`, async () => {
          const x = input([n, ci, h, w]);
          const wt = input([ci, co, 2, 2], { std: 1 / Math.sqrt(ci) });
          const b = bias ? input([co]) : null;
          const y = track(be.convTranspose2x2(x.t, wt.t, b ? b.t : null));
          await check(y, refConvTranspose2x2(x.d, x.t.shape, wt.d, co, b ? b.d : null), [n, co, 2 * h, 2 * w], 'convTranspose2x2');
          const dy = input([n, co, 2 * h, 2 * w]);
          const g = refConvTranspose2x2Backward(dy.d, x.d, x.t.shape, wt.d, co);
          const grads = be.convTranspose2x2Backward(dy.t, x.t, wt.t);
          await check(grads.dx as Tensor, g.dx, [n, ci, h, w], 'convTranspose2x2Backward dx');
          await check(grads.dw, g.dw, [ci, co, 2, 2], 'convTranspose2x2Backward dw');
          await check(grads.db, g.db, [co], 'convTranspose2x2Backward db');
        });
      }
    });

    // ---- pooling -------------------------------------------------------------------------------
    describe('maxPool2d', () => {
      for (const [n, c, h, w, kernel, stride] of POOL_CASES) {
        it(`forward and backward: x [${n}, ${c}, ${h}, ${w}], kernel ${kernel}, stride ${stride}`, async () => {
          const x = input([n, c, h, w]);
          const ref = refMaxPool2d(x.d, x.t.shape, kernel, stride);
          await check(be.maxPool2d(x.t, { kernel, stride }), ref.y, ref.shape, 'maxPool2d');
          const dy = input(ref.shape);
          await check(be.maxPool2dBackward(dy.t, x.t, { kernel, stride }), refMaxPool2dBackward(dy.d, x.d, x.t.shape, kernel, stride), [n, c, h, w], 'maxPool2dBackward');
        });
      }
      it('ties go to the first maximum in row-major window order (forward and backward)', async () => {
        for (const [kernel, stride] of [[2, 2], [3, 2], [3, 1]]) {
          const shape = [3, 4, 9, 11];
          const x = input(shape, { kind: 'uniform', low: 0, high: 2, step: 1 }); // values in {0, 1, 2}: many ties
          const ref = refMaxPool2d(x.d, shape, kernel, stride);
          await check(be.maxPool2d(x.t, { kernel, stride }), ref.y, ref.shape, `maxPool2d with ties, kernel ${kernel}`);
          const dy = input(ref.shape, { kind: 'uniform', low: 1, high: 2 });
          const got = await read(be.maxPool2dBackward(dy.t, x.t, { kernel, stride }));
          const want = refMaxPool2dBackward(dy.d, x.d, shape, kernel, stride);
          // Routing must match exactly: the gradient lands on the same elements.
          for (let i = 0; i < want.length; i++) expect(got[i] !== 0, `element ${i}`).toBe(want[i] !== 0);
          expect(relativeL2Error(got, want)).toBeLessThanOrEqual(rtol);
        }
      });
      it('an all-equal window routes the whole gradient to its first element', async () => {
        const x = tensor(new Float32Array(16).fill(3), [1, 1, 4, 4]);
        const dy = tensor([1, 2, 3, 4], [1, 1, 2, 2]);
        const dx = await read(be.maxPool2dBackward(dy, x, { kernel: 2, stride: 2 }));
        expect(Array.from(dx)).toEqual([1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0]);
      });
    });

    // ---- linear --------------------------------------------------------------------------------
    describe('linear', () => {
      for (const [n, inF, outF, bias] of LINEAR_CASES) {
        it(`forward and backward: x [${n}, ${inF}], w [${outF}, ${inF}]${bias ? ', bias' : ''}`, async () => {
          const x = input([n, inF]);
          const wt = input([outF, inF], { std: 1 / Math.sqrt(inF) });
          const b = bias ? input([outF]) : null;
          await check(be.linear(x.t, wt.t, b ? b.t : null), refLinear(x.d, n, inF, wt.d, outF, b ? b.d : null), [n, outF], 'linear');
          const dy = input([n, outF]);
          const g = refLinearBackward(dy.d, x.d, n, inF, wt.d, outF);
          const grads = be.linearBackward(dy.t, x.t, wt.t, true);
          await check(grads.dx as Tensor, g.dx, [n, inF], 'linearBackward dx');
          await check(grads.dw, g.dw, [outF, inF], 'linearBackward dw');
          await check(grads.db, g.db, [outF], 'linearBackward db');
          const noDx = be.linearBackward(dy.t, x.t, wt.t, false);
          expect(noDx.dx).toBeNull();
          await check(noDx.dw, g.dw, [outF, inF], 'linearBackward dw (needDx false)');
        });
      }
    });

    // ---- losses --------------------------------------------------------------------------------
    /** Central differences of a float64 function, step h. */
    const numericGrad = (f: (x: Float64Array) => number, x0: Arr, h = 1e-5): Float64Array => {
      const x = Float64Array.from(x0);
      const g = new Float64Array(x.length);
      for (let i = 0; i < x.length; i++) {
        const v = x[i];
        x[i] = v + h;
        const fp = f(x);
        x[i] = v - h;
        const fm = f(x);
        x[i] = v;
        g[i] = (fp - fm) / (2 * h);
      }
      return g;
    };
    const fdTol = Math.max(rtol, 1e-6);

    describe('losses', () => {
      for (const weights of [undefined, [0.5, 2, 1, 0.25, 3]]) {
        it(`crossEntropy${weights ? ' with class weights' : ''}: loss, dLogits, finite differences`, async () => {
          const [n, k] = [3, 5];
          const x = input([n, k], { std: 2 });
          const labels = [1, 4, 1];
          const r = be.crossEntropy(x.t, labels, weights);
          await check(r.loss, [refCrossEntropyLoss(x.d, n, k, labels, weights)], [1], 'crossEntropy loss');
          await check(r.dLogits, refCrossEntropyGrad(x.d, n, k, labels, weights), [n, k], 'crossEntropy dLogits');
          const fd = numericGrad((v) => refCrossEntropyLoss(v, n, k, labels, weights), x.d);
          await check(r.dLogits, fd, [n, k], 'crossEntropy dLogits vs finite differences', fdTol);
        });
      }
      it('crossEntropy: batch of one, large logits', async () => {
        const d = Float32Array.of(500, -300, 499);
        const r = be.crossEntropy(tensor(d, [1, 3]), [2]);
        await check(r.loss, [refCrossEntropyLoss(d, 1, 3, [2])], [1], 'crossEntropy loss, large logits');
        await check(r.dLogits, refCrossEntropyGrad(d, 1, 3, [2]), [1, 3], 'crossEntropy dLogits, large logits');
      });
      for (const posWeight of [undefined, 3.5]) {
        it(`bceWithLogits${posWeight ? ' with posWeight' : ''}: loss, dLogits, finite differences`, async () => {
          const shape = [3, 1, 4, 5];
          const x = input(shape, { std: 3 });
          const t = input(shape, { kind: 'uniform' });
          t.d.set([0, 1, 1, 0], 0);
          const tt = tensor(t.d, shape);
          const r = be.bceWithLogits(x.t, tt, posWeight);
          await check(r.loss, [refBceLoss(x.d, t.d, posWeight)], [1], 'bceWithLogits loss');
          await check(r.dLogits, refBceGrad(x.d, t.d, posWeight), shape, 'bceWithLogits dLogits');
          const fd = numericGrad((v) => refBceLoss(v, t.d, posWeight), x.d);
          await check(r.dLogits, fd, shape, 'bceWithLogits dLogits vs finite differences', fdTol);
        });
      }
      it('bceWithLogits is finite for extreme logits', async () => {
        const x = Float32Array.of(200, -200, 80, -80, 1e4, -1e4);
        const t = Float32Array.of(0, 1, 0.3, 0.7, 1, 0);
        const r = be.bceWithLogits(tensor(x, [6]), tensor(t, [6]), 2);
        await check(r.loss, [refBceLoss(x, t, 2)], [1], 'bceWithLogits loss, extreme logits');
        await check(r.dLogits, refBceGrad(x, t, 2), [6], 'bceWithLogits dLogits, extreme logits');
      });
    });

    // ---- optimisers ----------------------------------------------------------------------------
    describe('optimisers', () => {
      const sgdCases: SgdParams[] = [
        { lr: 0.1, momentum: 0, weightDecay: 0 },
        { lr: 0.05, momentum: 0.9, weightDecay: 1e-2 },
        { lr: 0.01, momentum: 0.8, weightDecay: 5e-3, nesterov: true },
      ];
      for (const p of sgdCases) {
        it(`sgdStep ${JSON.stringify(p)}: three steps against torch.optim.SGD`, async () => {
          const shape = [7, 3, 3];
          const r = rng();
          const param0 = randomTensorData(r, 63);
          const param = tensor(param0, shape);
          const mom = track(be.zeros(shape));
          const refP = Float64Array.from(param0);
          const refB = new Float64Array(63);
          for (let step = 1; step <= 3; step++) {
            const g = randomTensorData(r, 63);
            be.sgdStep(param, tensor(g, shape), mom, p);
            // Reference on float32 values, as the backend stores them between steps.
            refSgd(refP, g, refB, step, p);
            await check(param, refP, shape, `param after step ${step}`);
            if (p.momentum !== 0) await check(mom, refB, shape, `momentum after step ${step}`);
            refP.set(await be.read(param));
            if (p.momentum !== 0) refB.set(await be.read(mom));
          }
        });
      }
      const adamCases: Omit<AdamParams, 'step'>[] = [
        { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
        { lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
        { lr: 3e-3, beta1: 0.85, beta2: 0.995, eps: 1e-7, weightDecay: 0.05, decoupled: true },
      ];
      for (const p of adamCases) {
        it(`adamStep ${JSON.stringify(p)}: three steps against torch.optim.${p.decoupled ? 'AdamW' : 'Adam'}`, async () => {
          const shape = [5, 13];
          const r = rng();
          const param0 = randomTensorData(r, 65);
          const param = tensor(param0, shape);
          const m = track(be.zeros(shape));
          const v = track(be.zeros(shape));
          const refP = Float64Array.from(param0);
          const refM = new Float64Array(65);
          const refV = new Float64Array(65);
          for (let step = 1; step <= 3; step++) {
            const g = randomTensorData(r, 65);
            be.adamStep(param, tensor(g, shape), m, v, { ...p, step });
            refAdam(refP, g, refM, refV, { ...p, step });
            await check(param, refP, shape, `param after step ${step}`);
            await check(m, refM, shape, `m after step ${step}`);
            await check(v, refV, shape, `v after step ${step}`);
            refP.set(await be.read(param));
            refM.set(await be.read(m));
            refV.set(await be.read(v));
          }
        });
      }
    });

    // ---- shape errors --------------------------------------------------------------------------
    describe('shape errors name the op and the shapes', () => {
      const cases: [string, (z: (s: Shape) => Tensor) => unknown, Shape[]][] = [
        ['reshape', (z) => be.reshape(z([2, 3]), [4, 2]), [[2, 3], [4, 2]]],
        ['affineChannels', (z) => be.affineChannels(z([1, 3, 2, 2]), [1, 1], [0, 0]), [[1, 3, 2, 2]]],
        ['add', (z) => be.add(z([2, 3]), z([3, 2])), [[2, 3], [3, 2]]],
        ['mul', (z) => be.mul(z([2, 3, 1, 1]), z([2, 3])), [[2, 3, 1, 1], [2, 3]]],
        ['sumChannels', (z) => be.sumChannels(z([2, 3])), [[2, 3]]],
        ['selectClass', (z) => be.selectClass(z([2, 3]), [0]), [[2, 3]]],
        ['selectClass', (z) => be.selectClass(z([2, 3]), [0, 3]), [[2, 3]]],
        ['concatChannels', (z) => be.concatChannels(z([1, 2, 4, 4]), z([1, 3, 4, 5])), [[1, 2, 4, 4], [1, 3, 4, 5]]],
        ['sliceChannels', (z) => be.sliceChannels(z([1, 4, 2, 2]), 2, 3), [[1, 4, 2, 2]]],
        ['conv2d', (z) => be.conv2d(z([1, 3, 8, 8]), z([4, 2, 3, 3]), null, { stride: 1, padding: 1 }), [[1, 3, 8, 8], [4, 2, 3, 3]]],
        ['conv2d', (z) => be.conv2d(z([1, 3, 8, 8]), z([4, 3, 3, 3]), z([5]), { stride: 1, padding: 1 }), [[5], [4, 3, 3, 3]]],
        ['conv2d', (z) => be.conv2d(z([1, 3, 2, 2]), z([4, 3, 5, 5]), null, { stride: 1, padding: 0 }), []],
        ['convTranspose2x2', (z) => be.convTranspose2x2(z([1, 3, 4, 4]), z([2, 5, 2, 2]), null), [[1, 3, 4, 4], [2, 5, 2, 2]]],
        ['maxPool2d', (z) => be.maxPool2d(z([1, 3, 8]), { kernel: 2, stride: 2 }), [[1, 3, 8]]],
        ['linear', (z) => be.linear(z([2, 5]), z([3, 4]), null), [[2, 5], [3, 4]]],
        ['linear', (z) => be.linear(z([2, 4]), z([3, 4]), z([4])), [[4], [3, 4]]],
        ['softmax', (z) => be.softmax(z([2, 3, 4])), [[2, 3, 4]]],
        ['crossEntropy', (z) => be.crossEntropy(z([2, 3]), [0]), [[2, 3]]],
        ['crossEntropy', (z) => be.crossEntropy(z([2, 3]), [0, 3]), [[2, 3]]],
        ['crossEntropy', (z) => be.crossEntropy(z([2, 3]), [0, 1], [1, 1]), [[2, 3]]],
        ['bceWithLogits', (z) => be.bceWithLogits(z([2, 3]), z([3, 2])), [[2, 3], [3, 2]]],
        ['conv2dBackward', (z) => be.conv2dBackward(z([1, 4, 7, 8]), z([1, 3, 8, 8]), z([4, 3, 3, 3]), { stride: 1, padding: 1 }, true), [[1, 4, 7, 8], [1, 3, 8, 8]]],
        ['conv2dBackward', (z) => be.conv2dBackward(z([1, 4, 8, 8]), z([1, 2, 8, 8]), z([4, 3, 3, 3]), { stride: 1, padding: 1 }, true), [[1, 2, 8, 8], [4, 3, 3, 3]]],
        ['convTranspose2x2Backward', (z) => be.convTranspose2x2Backward(z([1, 5, 8, 9]), z([1, 3, 4, 4]), z([3, 5, 2, 2])), [[1, 5, 8, 9], [1, 3, 4, 4]]],
        ['maxPool2dBackward', (z) => be.maxPool2dBackward(z([1, 3, 3, 4]), z([1, 3, 8, 8]), { kernel: 2, stride: 2 }), [[1, 3, 3, 4], [1, 3, 8, 8]]],
        ['linearBackward', (z) => be.linearBackward(z([2, 4]), z([2, 5]), z([3, 5]), true), [[2, 4], [2, 5]]],
        ['linearBackward', (z) => be.linearBackward(z([2, 3]), z([2, 5]), z([3, 4]), true), [[2, 5], [3, 4]]],
        ['reluBackward', (z) => be.reluBackward(z([2, 3]), z([2, 4])), [[2, 3], [2, 4]]],
        ['sigmoidBackward', (z) => be.sigmoidBackward(z([2, 3]), z([6])), [[2, 3], [6]]],
        ['sgdStep', (z) => be.sgdStep(z([2, 3]), z([2, 3]), z([3, 2]), { lr: 0.1, momentum: 0.9, weightDecay: 0 }), [[2, 3], [3, 2]]],
        ['sgdStep', (z) => be.sgdStep(z([2, 3]), z([3]), z([2, 3]), { lr: 0.1, momentum: 0.9, weightDecay: 0 }), [[2, 3], [3]]],
        ['adamStep', (z) => be.adamStep(z([4]), z([4]), z([4]), z([5]), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 }), [[4], [5]]],
        ['lrpConv2d', (z) => be.lrpConv2d(z([1, 3, 8, 8]), z([1, 4, 7, 8]), z([4, 3, 3, 3]), null, { stride: 1, padding: 1 }, { kind: 'epsilon', epsilon: 0.25 }), [[1, 4, 7, 8], [1, 3, 8, 8], [4, 3, 3, 3]]],
        ['lrpConv2d', (z) => be.lrpConv2d(z([1, 3, 8, 8]), z([1, 4, 8, 8]), z([4, 3, 3, 3]), null, { stride: 1, padding: 1 }, { kind: 'gamma', gamma: 0.25 }, z([1, 4, 8, 7])), [[1, 4, 8, 7], [1, 4, 8, 8]]],
        ['lrpConv2d', (z) => be.lrpConv2d(z([1, 2, 8, 8]), z([1, 4, 8, 8]), z([4, 3, 3, 3]), null, { stride: 1, padding: 1 }, { kind: 'epsilon', epsilon: 0.25 }), [[1, 2, 8, 8], [4, 3, 3, 3]]],
        ['lrpLinear', (z) => be.lrpLinear(z([2, 5]), z([2, 4]), z([3, 5]), null, { kind: 'epsilon', epsilon: 0.25 }), [[2, 4], [2, 5], [3, 5]]],
        ['lrpLinear', (z) => be.lrpLinear(z([2, 5]), z([2, 3]), z([3, 5]), z([3]), { kind: 'alphabeta', alpha: 2, beta: 1 }, z([3, 3])), [[3, 3], [2, 3]]],
        ['lrpMaxPool2d', (z) => be.lrpMaxPool2d(z([1, 3, 8, 8]), z([1, 3, 4, 3]), { kernel: 2, stride: 2 }, 'wta'), [[1, 3, 4, 3], [1, 3, 8, 8]]],
      ];
      cases.forEach(([op, call, shapes], i) => {
        it(`${op} #${i}: ${shapes.map(fmtShape).join(' vs ') || 'too small'}`, () => {
          const z = (s: Shape): Tensor => track(be.zeros(s));
          expectLrpsegError(() => call(z), 'SHAPE_MISMATCH', [`${op}:`, ...shapes.map(fmtShape)]);
        });
      });
      it('adamStep refuses step < 1 (bias correction needs t ≥ 1)', () => {
        const z = (s: Shape): Tensor => track(be.zeros(s));
        expectLrpsegError(() => be.adamStep(z([2]), z([2]), z([2]), z([2]), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 0 }), 'BAD_INPUT', ['adamStep']);
      });
    });

    // ---- disposed and foreign tensors ----------------------------------------------------------------
    /** Every op with its tensor inputs (valid shapes), so that each input can be disposed in turn. */
    const opTable = (): [string, Shape[], (ts: Tensor[]) => unknown][] => {
      const cp = { stride: 1, padding: 1 };
      const pp = { kernel: 2, stride: 2 };
      return [
        ['read', [[2, 2]], ([a]) => be.read(a)],
        ['reshape', [[2, 2]], ([a]) => be.reshape(a, [4])],
        ['affineChannels', [[1, 2, 2, 2]], ([a]) => be.affineChannels(a, [1, 1], [0, 0])],
        ['add', [[3], [3]], ([a, b]) => be.add(a, b)],
        ['mul', [[3], [3]], ([a, b]) => be.mul(a, b)],
        ['scale', [[3]], ([a]) => be.scale(a, 2)],
        ['sumChannels', [[1, 2, 2, 2]], ([a]) => be.sumChannels(a)],
        ['selectClass', [[2, 3]], ([a]) => be.selectClass(a, [0, 1])],
        ['concatChannels', [[1, 1, 2, 2], [1, 2, 2, 2]], ([a, b]) => be.concatChannels(a, b)],
        ['sliceChannels', [[1, 3, 2, 2]], ([a]) => be.sliceChannels(a, 1, 1)],
        ['conv2d', [[1, 2, 4, 4], [3, 2, 3, 3], [3]], ([x, w, b]) => be.conv2d(x, w, b, cp)],
        ['convTranspose2x2', [[1, 2, 2, 2], [2, 3, 2, 2], [3]], ([x, w, b]) => be.convTranspose2x2(x, w, b)],
        ['maxPool2d', [[1, 1, 4, 4]], ([x]) => be.maxPool2d(x, pp)],
        ['linear', [[2, 3], [4, 3], [4]], ([x, w, b]) => be.linear(x, w, b)],
        ['relu', [[3]], ([x]) => be.relu(x)],
        ['sigmoid', [[3]], ([x]) => be.sigmoid(x)],
        ['softmax', [[2, 3]], ([x]) => be.softmax(x)],
        ['crossEntropy', [[2, 3]], ([x]) => be.crossEntropy(x, [0, 2])],
        ['bceWithLogits', [[2, 3], [2, 3]], ([x, t]) => be.bceWithLogits(x, t)],
        ['conv2dBackward', [[1, 3, 4, 4], [1, 2, 4, 4], [3, 2, 3, 3]], ([dy, x, w]) => be.conv2dBackward(dy, x, w, cp, true)],
        ['convTranspose2x2Backward', [[1, 3, 4, 4], [1, 2, 2, 2], [2, 3, 2, 2]], ([dy, x, w]) => be.convTranspose2x2Backward(dy, x, w)],
        ['maxPool2dBackward', [[1, 1, 2, 2], [1, 1, 4, 4]], ([dy, x]) => be.maxPool2dBackward(dy, x, pp)],
        ['linearBackward', [[2, 4], [2, 3], [4, 3]], ([dy, x, w]) => be.linearBackward(dy, x, w, true)],
        ['reluBackward', [[3], [3]], ([dy, y]) => be.reluBackward(dy, y)],
        ['sigmoidBackward', [[3], [3]], ([dy, y]) => be.sigmoidBackward(dy, y)],
        ['sgdStep', [[3], [3], [3]], ([p, g, m]) => be.sgdStep(p, g, m, { lr: 0.1, momentum: 0.9, weightDecay: 0 })],
        ['adamStep', [[3], [3], [3], [3]], ([p, g, m, v]) => be.adamStep(p, g, m, v, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 })],
      ];
    };

    describe('use after dispose throws DISPOSED', () => {
      for (const [op, shapes, call] of opTable()) {
        it(op, async () => {
          for (let which = 0; which < shapes.length; which++) {
            const ts = shapes.map((s) => track(be.zeros(s)));
            ts[which].dispose();
            if (op === 'read') {
              let code: string | undefined;
              try {
                await call(ts);
              } catch (e) {
                code = (e as ErrorLike).code;
              }
              expect(code).toBe('DISPOSED');
            } else {
              expectLrpsegError(() => call(ts), 'DISPOSED', [op]);
            }
          }
        });
      }
      it('dispose is idempotent and tensor.disposed reports it', () => {
        const t = track(be.zeros([2]));
        expect(t.disposed).toBe(false);
        t.dispose();
        t.dispose();
        expect(t.disposed).toBe(true);
      });
    });

    describe('tensors of another backend throw WRONG_BACKEND', () => {
      const foreignBackend = { name: 'foreign' } as Backend;
      class ForeignTensor extends Tensor {
        readonly backend = foreignBackend;
        constructor(shape: Shape) {
          super(shape);
        }
        protected release(): void {}
      }
      for (const [op, shapes, call] of opTable()) {
        if (op === 'read') continue;
        it(op, () => {
          for (let which = 0; which < shapes.length; which++) {
            const ts = shapes.map((s, i) => (i === which ? new ForeignTensor(s) : track(be.zeros(s))));
            expectLrpsegError(() => call(ts), 'WRONG_BACKEND', [op]);
          }
        });
      }
    });

    // ---- batch independence ------------------------------------------------------------------------
    describe('batch independence: an op on a batch of 3 equals the op on each image alone', () => {
      /** Runs f on the whole batch and on each image; compares image i of the batch result with the lone result. */
      const perImage = async (shapes: Shape[], f: (ts: Tensor[]) => Tensor, what: string, shared: Tensor[] = []): Promise<void> => {
        const datas = shapes.map((s) => input(s));
        const whole = await read(f([...datas.map((d) => d.t), ...shared]));
        const outShape = (live[live.length - 1] as Tensor).shape;
        for (let i = 0; i < 3; i++) {
          const lone = datas.map((d, j) => tensor(imageOf(d.d, shapes[j], i), [1, ...shapes[j].slice(1)]));
          const got = await read(f([...lone, ...shared]));
          const want = imageOf(whole, outShape, i);
          const err = relativeL2Error(got, want);
          expect(err, `${what}, image ${i}`).toBeLessThanOrEqual(rtol);
        }
      };
      it('conv2d, conv2dBackward dx, maxPool2d, maxPool2dBackward, convTranspose2x2, linear, linearBackward dx, softmax, sumChannels', async () => {
        const w = input([6, 5, 3, 3]).t;
        const b = input([6]).t;
        const cp = { stride: 2, padding: 1 };
        await perImage([[3, 5, 11, 9]], ([x]) => be.conv2d(x, w, b, cp), 'conv2d');
        await perImage([[3, 6, 6, 5], [3, 5, 11, 9]], ([dy, x]) => be.conv2dBackward(dy, x, w, cp, true).dx as Tensor, 'conv2dBackward dx');
        await perImage([[3, 4, 9, 7]], ([x]) => be.maxPool2d(x, { kernel: 3, stride: 2 }), 'maxPool2d');
        await perImage([[3, 4, 4, 3], [3, 4, 9, 7]], ([dy, x]) => be.maxPool2dBackward(dy, x, { kernel: 3, stride: 2 }), 'maxPool2dBackward');
        const wt = input([5, 4, 2, 2]).t;
        await perImage([[3, 5, 3, 4]], ([x]) => be.convTranspose2x2(x, wt, null), 'convTranspose2x2');
        await perImage([[3, 4, 6, 8], [3, 5, 3, 4]], ([dy, x]) => be.convTranspose2x2Backward(dy, x, wt).dx as Tensor, 'convTranspose2x2Backward dx');
        const wl = input([9, 23]).t;
        const bl = input([9]).t;
        await perImage([[3, 23]], ([x]) => be.linear(x, wl, bl), 'linear');
        await perImage([[3, 9], [3, 23]], ([dy, x]) => be.linearBackward(dy, x, wl, true).dx as Tensor, 'linearBackward dx');
        await perImage([[3, 7]], ([x]) => be.softmax(x), 'softmax');
        await perImage([[3, 4, 5, 2]], ([x]) => be.sumChannels(x), 'sumChannels');
        await perImage([[3, 2, 3, 3]], ([x]) => be.affineChannels(x, [2, -1], [0.5, 3]), 'affineChannels');
      });
    });
  });
}

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { col2im, conv2dBackwardData, conv2dBackwardFilter, conv2dForward, convGeometry, im2col } from '../../src/cpu/kernels/conv.js';
import { gemmSerial, type GemmFn } from '../../src/cpu/kernels/gemm.js';
import { linearBackwardData, linearBackwardWeight, linearForward } from '../../src/cpu/kernels/linear.js';
import { maxPool2dArgmax, poolGeometry } from '../../src/cpu/kernels/pool.js';
import { mulberry32, randomTensorData } from '../../src/testing/random.js';
import { relativeL2Error } from '../../src/testing/conformance.js';
import { refConv2d, refConv2dBackward, refLinear, refLinearBackward } from '../../src/testing/reference.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

describe('conv kernels', () => {
  it('convGeometry', () => {
    expect(convGeometry([2, 3, 224, 224], [64, 3, 3, 3], { stride: 1, padding: 1 })).toEqual({ n: 2, c: 3, h: 224, w: 224, o: 64, k: 3, stride: 1, padding: 1, oh: 224, ow: 224 });
    const g = convGeometry([1, 4, 9, 8], [5, 4, 5, 5], { stride: 2, padding: 2 });
    expect([g.oh, g.ow]).toEqual([5, 4]);
  });
  it('col2im is the adjoint of im2col: <col2im(c), x> = <c, im2col(x)>', () => {
    const rng = mulberry32(1);
    for (const [c, h, w, k, s, p] of [[3, 7, 9, 3, 1, 1], [2, 8, 5, 5, 2, 2], [4, 6, 6, 1, 2, 0], [1, 5, 7, 3, 3, 0]]) {
      const g = convGeometry([1, c, h, w], [1, c, k, k], { stride: s, padding: p });
      const x = randomTensorData(rng, c * h * w);
      const cc = randomTensorData(rng, c * k * k * g.oh * g.ow);
      const col = new Float32Array(cc.length);
      im2col(x, 0, g, col);
      const back = new Float32Array(x.length);
      col2im(cc, g, back, 0);
      expect(Math.abs(dot(back, x) - dot(cc, col))).toBeLessThan(1e-3 * (1 + Math.abs(dot(cc, col))));
    }
  });
  it('forward, backward data (the adjoint) and backward filter against the definition, with a counting gemm', () => {
    const rng = mulberry32(2);
    let calls = 0;
    const counting: GemmFn = (...args) => {
      calls++;
      gemmSerial(...args);
    };
    const xs = [3, 5, 9, 8];
    const ws = [7, 5, 3, 3];
    const g = convGeometry(xs, ws, { stride: 2, padding: 1 });
    const x = randomTensorData(rng, 3 * 5 * 9 * 8);
    const w = randomTensorData(rng, 7 * 5 * 9);
    const b = randomTensorData(rng, 7);
    const y = conv2dForward(x, w, b, g, counting);
    expect(calls).toBe(3); // one GEMM per image
    expect(relativeL2Error(y, refConv2d(x, xs, w, ws, b, 2, 1).y)).toBeLessThan(1e-6);
    const dy = randomTensorData(rng, y.length);
    const ref = refConv2dBackward(dy, x, xs, w, ws, 2, 1);
    expect(relativeL2Error(conv2dBackwardData(dy, w, g, counting), ref.dx)).toBeLessThan(1e-6);
    const f = conv2dBackwardFilter(dy, x, g, counting);
    expect(relativeL2Error(f.dw, ref.dw)).toBeLessThan(1e-6);
    expect(relativeL2Error(f.db, ref.db)).toBeLessThan(1e-6);
    // adjoint: <conv(x), dy> = <x, Wᵀ dy> without bias
    const y0 = conv2dForward(x, w, null, g);
    expect(Math.abs(dot(y0, dy) - dot(x, conv2dBackwardData(dy, w, g)))).toBeLessThan(1e-3);
  });
  it('pointwise (1×1, stride 1, no padding) convolutions skip im2col and agree', () => {
    const rng = mulberry32(3);
    const xs = [2, 6, 5, 7];
    const ws = [4, 6, 1, 1];
    const g = convGeometry(xs, ws, { stride: 1, padding: 0 });
    const x = randomTensorData(rng, 2 * 6 * 35);
    const w = randomTensorData(rng, 24);
    const y = conv2dForward(x, w, null, g);
    expect(relativeL2Error(y, refConv2d(x, xs, w, ws, null, 1, 0).y)).toBeLessThan(1e-6);
    const dy = randomTensorData(rng, y.length);
    const ref = refConv2dBackward(dy, x, xs, w, ws, 1, 0);
    expect(relativeL2Error(conv2dBackwardData(dy, w, g), ref.dx)).toBeLessThan(1e-6);
    expect(relativeL2Error(conv2dBackwardFilter(dy, x, g).dw, ref.dw)).toBeLessThan(1e-6);
  });
});

describe('linear kernels', () => {
  it('forward, backward data, backward weight', () => {
    const rng = mulberry32(4);
    for (const [n, inF, outF] of [[1, 9, 4], [3, 50, 7], [6, 17, 33]]) {
      const x = randomTensorData(rng, n * inF);
      const w = randomTensorData(rng, outF * inF);
      const b = randomTensorData(rng, outF);
      expect(relativeL2Error(linearForward(x, w, b, n, inF, outF), refLinear(x, n, inF, w, outF, b))).toBeLessThan(1e-6);
      const dy = randomTensorData(rng, n * outF);
      const ref = refLinearBackward(dy, x, n, inF, w, outF);
      expect(relativeL2Error(linearBackwardData(dy, w, n, inF, outF), ref.dx)).toBeLessThan(1e-6);
      const r = linearBackwardWeight(dy, x, n, inF, outF);
      expect(relativeL2Error(r.dw, ref.dw)).toBeLessThan(1e-6);
      expect(relativeL2Error(r.db, ref.db)).toBeLessThan(1e-6);
    }
  });
});

describe('max pool argmax', () => {
  it('takes the first maximum in row-major window order', () => {
    const x = Float32Array.of(1, 5, 5, 0, /**/ 5, 2, 0, 5, /**/ 0, 0, 7, 7, /**/ 0, 0, 7, 7);
    expect(Array.from(maxPool2dArgmax(x, poolGeometry([1, 1, 4, 4], { kernel: 2, stride: 2 })))).toEqual([1, 2, 8, 10]);
  });
});

describe('browser safety', () => {
  it('nothing under src/cpu imports node: modules or Node globals', () => {
    const root = join(__dirname, '../../src/cpu');
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) files.push(p);
      }
    };
    walk(root);
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      expect(src, f).not.toMatch(/from\s+['"](node:|fs|os|path|worker_threads)/);
      expect(src, f).not.toMatch(/\bprocess\.|\brequire\(|\bBuffer\./);
    }
  });
});

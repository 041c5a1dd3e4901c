import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { col2im, conv2dBackwardData, conv2dBackwardFilter, conv2dForward, convGeometry, im2col } from '../../src/cpu/kernels/conv.js';
import { gemmSerial, type GemmFn } from '../../src/cpu/kernels/gemm.js';
import { linearBackwardData, linearBackwardWeight, linearForward } from '../../src/cpu/kernels/linear.js';
import { maxPool2dArgmax, poolGeometry } from '../../src/cpu/kernels/pool.js';
import { relu, reluBackward } from '../../src/cpu/kernels/elementwise.js';
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
  it('col2im gives the bits of the plain scatter (terms in (kh, kw) order, float32 after each add)', () => {
    const rng = mulberry32(4);
    const scatter = (col: Float32Array, g: ReturnType<typeof convGeometry>, dx: Float32Array, off: number): void => {
      for (let ci = 0; ci < g.c; ci++)
        for (let kh = 0; kh < g.k; kh++)
          for (let kw = 0; kw < g.k; kw++)
            for (let oy = 0; oy < g.oh; oy++)
              for (let ox = 0; ox < g.ow; ox++) {
                const iy = oy * g.stride - g.padding + kh;
                const ix = ox * g.stride - g.padding + kw;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                const i = off + (ci * g.h + iy) * g.w + ix;
                dx[i] = Math.fround(dx[i] + col[((ci * g.k + kh) * g.k + kw) * g.oh * g.ow + oy * g.ow + ox]);
              }
    };
    // 3×3 with every padding, wide and narrow images (the unrolled interior, edges only), other kernels, strides
    const cases = [
      [2, 9, 13, 3, 1, 1], [1, 8, 8, 3, 1, 0], [2, 5, 11, 3, 1, 2], [1, 4, 3, 3, 1, 3], [1, 2, 2, 3, 1, 1], [3, 7, 6, 1, 1, 0],
      [2, 6, 9, 5, 1, 2], [1, 5, 5, 2, 1, 1], [2, 8, 5, 5, 2, 2], [1, 9, 7, 3, 2, 1], [2, 17, 23, 3, 1, 1],
    ];
    for (const [c, h, w, k, st, pd] of cases) {
      const g = convGeometry([1, c, h, w], [1, c, k, k], { stride: st, padding: pd });
      const col = randomTensorData(rng, c * k * k * g.oh * g.ow);
      const init = randomTensorData(rng, 3 + c * h * w).map((v, i) => (i % 5 === 0 ? -0 : v));
      const want = init.slice();
      const got = init.slice();
      scatter(col, g, want, 3);
      col2im(col, g, got, 3);
      expect(Array.from(got, (v) => Object.is(v, -0) ? '-0' : v), `c ${c} ${h}×${w} k ${k} s ${st} p ${pd}`).toEqual(Array.from(want, (v) => Object.is(v, -0) ? '-0' : v));
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

describe('relu on the float32 bits', () => {
  // Every class of float32 the bit masks must tell apart, as bit patterns: ±0, ±subnormals, ±normals,
  // ±∞, quiet and signalling NaNs of both signs, and the int32 extremes.
  const patterns = [
    0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00800000, 0x3f800000, 0xbf800000, 0x7f7fffff, 0xff7fffff,
    0x7f800000, 0xff800000, 0x7f800001, 0x7fc00000, 0x7fffffff, 0xffc00000, 0xff800001, 0xffffffff,
  ];
  const specials = new Float32Array(new Int32Array(patterns.map((p) => p | 0)).buffer);
  const rng = mulberry32(3);
  const x = new Float32Array(1 + specials.length + 1000);
  x.set(specials, 1);
  x.set(randomTensorData(rng, 1000), 1 + specials.length);
  const view = x.subarray(1); // a non-zero byte offset
  const sameBits = (a: Float32Array, b: number[]): void => {
    expect(Array.from(new Int32Array(a.buffer, a.byteOffset, a.length))).toEqual(Array.from(new Int32Array(Float32Array.from(b).buffer)));
  };
  it('relu is x > 0 ? x : 0 bit for bit (NaN and −0 to +0)', () => {
    sameBits(relu(view), Array.from(view, (v) => (v > 0 ? v : 0)));
  });
  it('reluBackward passes dy exactly where y > 0', () => {
    const dy = randomTensorData(rng, view.length + 3).subarray(3);
    dy[0] = -0;
    sameBits(reluBackward(dy, view), Array.from(dy, (g, i) => (view[i] > 0 ? g : 0)));
    // a NaN gradient passes where y > 0, as the definition passes it
    const nanDy = Float32Array.from(view, () => NaN);
    const out = reluBackward(nanDy, view);
    view.forEach((v, i) => expect(Number.isNaN(out[i])).toBe(v > 0));
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

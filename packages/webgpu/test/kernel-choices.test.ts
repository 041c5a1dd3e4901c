/**
 * The kernel choices that must not change a bit: operand walks (gemm.ts, walk.ts; the default), the A
 * tile's swizzle (opt-in) and the relevance quotients computed before the adjoint (the default). The
 * tiled products with each must give exactly the bits of the same tiles with per-element loads, the
 * plain layout and the quotients divided in the adjoint's loads, on every product shape that uses them (forward, data and
 * filter gradients, the relevance ops' modified forwards and adjoints, linear layers), over geometries
 * that exercise every carry: strides, padding, 1×1 and 2×2 kernels, channel counts off the tile,
 * several samples, several segments and blocks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rule, Tensor } from '@lrpseg/core';
import { createWebgpuBackend, webgpuAvailability, type WebgpuBackend, type WebgpuOptions } from '../src/node.js';
import { gemmKernel, swizzleMask, walkUse, type TileConfig } from '../src/wgsl/gemm.js';
import { convAdjointSpec, convFilterGradSpec, convForwardSpec } from '../src/wgsl/conv.js';
import { plainForward } from '../src/relevance.js';

const availability = await webgpuAvailability();

const rnd = (n: number, seed: number): Float32Array => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
};

const tile = (wx: number, wy: number, rm: number, rn: number, tk: number): TileConfig => ({ wx, wy, rm, rn, tk, f16: false });

describe('which tiles allow operand walks', () => {
  it('the adapter-sized tiles walk both operands; a k-step shallower than the stride walks neither', () => {
    expect(walkUse(tile(16, 16, 4, 4, 64))).toEqual({ a: true, b: true }); // SwiftShader's square
    expect(walkUse(tile(64, 4, 4, 4, 16))).toEqual({ a: true, b: true }); // wide
    expect(walkUse(tile(4, 64, 4, 4, 16))).toEqual({ a: true, b: true }); // tall
    expect(walkUse(tile(4, 64, 4, 4, 8))).toEqual({ a: true, b: false }); // tall at 16 KiB: k-step 8 < stride 16
    expect(walkUse(tile(16, 16, 1, 1, 4))).toEqual({ a: false, b: false }); // the last-resort tile
  });

  it('the A tile is swizzled over up to 32 banks where its height is a power of two', () => {
    expect(swizzleMask(tile(16, 16, 4, 4, 64))).toBe(31);
    expect(swizzleMask(tile(64, 4, 4, 4, 16))).toBe(15);
    expect(swizzleMask(tile(16, 4, 2, 2, 8))).toBe(7);
    expect(swizzleMask(tile(16, 3, 4, 4, 8))).toBe(0); // 12 rows
  });

  it('the kernel key and source say whether it walks and swizzles', () => {
    const spec = convForwardSpec(plainForward(true));
    const walked = gemmKernel(spec, tile(16, 16, 4, 4, 64), { walk: true, swizzle: true });
    expect(walked.key).toMatch(/:wa:wb:sw$/);
    expect(gemmKernel(spec, tile(16, 16, 4, 4, 64)).key).toMatch(/:wa:wb$/); // the default: walks, plain A tile
    expect(walked.wgsl()).toContain('walkBLoad(wb)');
    expect(walked.wgsl()).toContain('As[kk * TM + ((mm) ^ (kk & 31u))]');
    expect(walked.wgsl()).not.toMatch(/v = loadB\(k, n\)/);
    const loaded = gemmKernel(spec, tile(16, 16, 4, 4, 64), { walk: false, swizzle: false });
    expect(loaded.key).not.toMatch(/:w[ab]|:sw/);
    expect(loaded.wgsl()).not.toContain('walkB');
    expect(loaded.wgsl()).toContain('As[kk * TM + mm]');
    expect(gemmKernel(spec, tile(16, 16, 4, 4, 64), { walk: false, swizzle: true }).key).toMatch(/:t[^:]*:sw$/);
    expect(gemmKernel(spec, 'naive').key).not.toMatch(/:w[ab]/);
    for (const s of [convAdjointSpec({ name: 't', blocks: 1, segments: 1, reads: [], wmap: 'return w;', src: 'return 0.0;', epilogue: '' }), convFilterGradSpec()]) {
      expect(gemmKernel(s, tile(16, 16, 4, 4, 64)).key).toMatch(/:wa:wb$/);
    }
  });
});

interface Geometry {
  readonly name: string;
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly o: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
}

const GEOMETRIES: readonly Geometry[] = [
  { name: '3×3, stride 2, padding 1, odd sizes', n: 2, c: 3, h: 13, w: 11, o: 70, k: 3, stride: 2, padding: 1 },
  { name: '3×3, stride 1, padding 1, channels off the tile', n: 2, c: 37, h: 9, w: 7, o: 5, k: 3, stride: 1, padding: 1 },
  { name: '1×1, stride 1, no padding', n: 3, c: 66, h: 5, w: 6, o: 2, k: 1, stride: 1, padding: 0 },
  { name: '2×2, stride 2, no padding', n: 1, c: 5, h: 8, w: 10, o: 9, k: 2, stride: 2, padding: 0 },
];

const RULES: readonly Rule[] = [
  { kind: 'epsilon', epsilon: 0.25 },
  { kind: 'gamma', gamma: 0.25 },
  { kind: 'alphabeta', alpha: 2, beta: 1 },
  { kind: 'alphabeta', alpha: 1, beta: 0 },
];

/** Every product-shaped op of one geometry (and a linear layer on its flattened input), read back. */
async function products(be: WebgpuBackend, g: Geometry): Promise<Float32Array[]> {
  const x = be.fromArray(rnd(g.n * g.c * g.h * g.w, 1), [g.n, g.c, g.h, g.w]);
  const a = be.relu(x);
  const w = be.fromArray(rnd(g.o * g.c * g.k * g.k, 2), [g.o, g.c, g.k, g.k]);
  const b = be.fromArray(rnd(g.o, 3), [g.o]);
  const p = { stride: g.stride, padding: g.padding };
  const y = be.conv2d(x, w, b, p);
  const r = be.fromArray(rnd(y.size, 4), y.shape);
  const grads = be.conv2dBackward(r, x, w, p, true);
  const outs: Tensor[] = [y, grads.dx as Tensor, grads.dw, grads.db];
  for (const rule of RULES) outs.push(be.lrpConv2d(x, r, w, b, p, rule), be.lrpConv2d(a, r, w, b, p, rule));
  outs.push(be.lrpConv2d(x, r, w, null, p, { kind: 'zbox', low: [-2], high: [3] }));
  // with the forward pass's own z (y, read back last: the quotients must not overwrite it)
  outs.push(be.lrpConv2d(x, r, w, b, p, { kind: 'epsilon', epsilon: 0.25 }, y), be.lrpConv2d(x, r, w, b, p, { kind: 'zero' }, y));
  const features = g.c * g.h * g.w;
  const flat = be.reshape(x, [g.n, features]);
  const lw = be.fromArray(rnd(g.o * features, 5), [g.o, features]);
  const lz = be.linear(flat, lw, b);
  const lr = be.fromArray(rnd(lz.size, 6), lz.shape);
  const lg = be.linearBackward(lr, flat, lw, true);
  outs.push(lz, lg.dx as Tensor, lg.dw, be.lrpLinear(flat, lr, lw, b, { kind: 'epsilon', epsilon: 0.25 }), be.lrpLinear(flat, lr, lw, b, { kind: 'gamma', gamma: 0.25 }));
  outs.push(y);
  return Promise.all(outs.map((t) => be.read(t)));
}

describe.skipIf(!availability.available)('walks, swizzle and precomputed quotients give the plain kernels\' bits', () => {
  // the adapter's tiles (square, wide, tall by shape), and two hand-made ones: 8×8 threads, and 16×4 threads with 2×2 outputs
  const configs: readonly [string, TileConfig | undefined][] = [
    ['adapter tiles', undefined],
    ['8×8 threads, k-step 16', tile(8, 8, 4, 4, 16)],
    ['16×4 threads, 2×2 outputs, k-step 8', tile(16, 4, 2, 2, 8)],
  ];
  // each against the plain kernels (no walks, no swizzle, quotients in the loads); one choice at a time on the adapter's tiles
  const variants = (adapter: boolean): [string, WebgpuOptions][] => [
    ['the defaults (walks, precomputed quotients)', {}],
    ['walks and swizzle', { swizzle: true }],
    ...(adapter ? ([['walks alone', { lrpQuotients: false }], ['precomputed quotients alone', { operandWalk: false }]] as [string, WebgpuOptions][]) : []),
  ];
  const plainOptions: WebgpuOptions = { operandWalk: false, swizzle: false, lrpQuotients: false };
  const backends = new Map<string, { plain: WebgpuBackend; others: [string, WebgpuBackend][] }>();
  beforeAll(async () => {
    for (const [name, t] of configs) {
      const others: [string, WebgpuBackend][] = [];
      for (const [label, o] of variants(t === undefined)) others.push([label, await createWebgpuBackend({ tile: t, ...o })]);
      backends.set(name, { plain: await createWebgpuBackend({ tile: t, ...plainOptions }), others });
    }
  });
  afterAll(async () => {
    for (const { plain, others } of backends.values()) for (const be of [plain, ...others.map(([, b]) => b)]) await be.destroy();
  });

  it('the backends say what they use', () => {
    const { plain, others } = backends.get('adapter tiles')!;
    expect(plain.kernelChoices).toEqual({ walk: false, swizzle: false });
    expect(plain.lrpQuotients).toBe(false);
    const [defaults] = others[0];
    expect(defaults).toMatch(/defaults/);
    expect(others[0][1].kernelChoices).toEqual({ walk: true, swizzle: false });
    expect(others[0][1].lrpQuotients).toBe(true);
  });

  for (const [name] of configs) {
    for (const g of GEOMETRIES) {
      it(`${name}: ${g.name}`, async () => {
        const { plain, others } = backends.get(name)!;
        const want = await products(plain, g);
        for (const [label, be] of others) {
          const got = await products(be, g);
          expect(got.length).toBe(want.length);
          got.forEach((v, i) => {
            expect(v.length, `${label}, output ${i}`).toBe(want[i].length);
            const firstDiff = v.findIndex((e, j) => !Object.is(e, want[i][j]));
            expect(firstDiff, `${label}, output ${i}: first differing element`).toBe(-1);
          });
        }
      });
    }
  }
});

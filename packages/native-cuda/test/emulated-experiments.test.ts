/**
 * The CUDA backend's opt-in kernel experiments (read from the environment when a backend is created) must
 * give the same bits as the verified kernels: they change how operands are found, not which values are
 * summed or in which order. The host emulation replays the kernel's per-thread operand walks, so a wrong
 * index shows here; what it cannot show is the device's speed or a device-only fault (docs/cuda.md).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildVgg, explain, mulberry32, parseComposite, vgg11Meta, type Backend, type Tensor } from '@lrpseg/core';
import { createCudaBackend, cudaAvailability } from '../src/index.js';

const emu = await cudaAvailability({ emulate: true });
const initialEnv = { walk: process.env.LRPSEG_CUDA_WGRAD_WALK, quotient: process.env.LRPSEG_CUDA_LRP_QUOTIENT };

/** Uniform values in [lo, hi) from core's seeded generator. */
function randomValues(count: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rnd = mulberry32(seed);
  return Float32Array.from({ length: count }, () => lo + (hi - lo) * rnd());
}

/** Runs `f` on a backend created with the environment variable set (or unset), and returns its result. */
async function withBackend<T>(env: Record<string, string | undefined>, precision: 'accurate' | 'fast', f: (be: Backend) => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  let be: Backend;
  try {
    be = await createCudaBackend({ emulate: true, precision });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  try {
    return await f(be);
  } finally {
    await be.destroy();
  }
}

async function readAll(...ts: Tensor[]): Promise<Float32Array[]> {
  return Promise.all(ts.map((t) => t.read()));
}

/** Conv geometries that reach the walk's corners: rows narrower than 16 (carries into oy and img), stride 2,
 * padding, 1×1 and 2×2 kernels, fewer than 16 columns (c·ks² < 16), more than one 128-column tile, M above
 * and below 32 (the 32-row kernel), and K long enough to be split (WGRAD splits K). */
const convCases = [
  { n: 2, c: 3, h: 9, w: 7, o: 5, ks: 3, stride: 1, padding: 1 },
  { n: 3, c: 20, h: 12, w: 18, o: 40, ks: 3, stride: 1, padding: 1 },
  { n: 2, c: 6, h: 11, w: 13, o: 33, ks: 3, stride: 2, padding: 1 },
  { n: 4, c: 17, h: 5, w: 3, o: 9, ks: 1, stride: 1, padding: 0 },
  { n: 2, c: 1, h: 8, w: 8, o: 4, ks: 3, stride: 1, padding: 0 },
  { n: 3, c: 8, h: 10, w: 6, o: 130, ks: 2, stride: 2, padding: 0 },
  { n: 2, c: 36, h: 17, w: 17, o: 7, ks: 3, stride: 1, padding: 1 },
] as const;

describe.runIf(emu.available)('cuda emulation: LRPSEG_CUDA_WGRAD_WALK=1 (weight gradients walked by carries)', () => {
  afterEach(() => {
    expect(process.env.LRPSEG_CUDA_WGRAD_WALK).toBe(initialEnv.walk); // withBackend restored it
  });

  for (const precision of ['accurate', 'fast'] as const) {
    it(`conv2dBackward's dw is bit-identical with and without the walk (${precision})`, async () => {
      const grads = async (walk: boolean): Promise<Float32Array[]> =>
        withBackend({ LRPSEG_CUDA_WGRAD_WALK: walk ? '1' : undefined }, precision, async (be) => {
          const out: Float32Array[] = [];
          for (const [i, g] of convCases.entries()) {
            const oh = Math.floor((g.h + 2 * g.padding - g.ks) / g.stride) + 1;
            const ow = Math.floor((g.w + 2 * g.padding - g.ks) / g.stride) + 1;
            const x = be.fromArray(randomValues(g.n * g.c * g.h * g.w, 10 + i), [g.n, g.c, g.h, g.w]);
            const w = be.fromArray(randomValues(g.o * g.c * g.ks * g.ks, 20 + i), [g.o, g.c, g.ks, g.ks]);
            const dy = be.fromArray(randomValues(g.n * g.o * oh * ow, 30 + i), [g.n, g.o, oh, ow]);
            const r = be.conv2dBackward(dy, x, w, { stride: g.stride, padding: g.padding }, false);
            out.push(...(await readAll(r.dw, r.db)));
            for (const t of [x, w, dy, r.dw, r.db]) t.dispose();
          }
          return out;
        });
      const plain = await grads(false);
      const walked = await grads(true);
      expect(walked.length).toBe(plain.length);
      for (let i = 0; i < plain.length; i++) {
        expect(plain[i].some((v) => v !== 0)).toBe(true);
        expect(Buffer.from(walked[i].buffer).equals(Buffer.from(plain[i].buffer)), `case ${Math.floor(i / 2)}`).toBe(true);
      }
    });
  }

  it('linear and 2×2 transposed-conv weight gradients are bit-identical too', async () => {
    const grads = async (walk: boolean): Promise<Float32Array[]> =>
      withBackend({ LRPSEG_CUDA_WGRAD_WALK: walk ? '1' : undefined }, 'accurate', async (be) => {
        const x = be.fromArray(randomValues(37 * 300, 1), [37, 300]);
        const w = be.fromArray(randomValues(45 * 300, 2), [45, 300]);
        const dy = be.fromArray(randomValues(37 * 45, 3), [37, 45]);
        const lin = be.linearBackward(dy, x, w, false);
        const xt = be.fromArray(randomValues(3 * 12 * 5 * 7, 4), [3, 12, 5, 7]);
        const wt = be.fromArray(randomValues(12 * 10 * 2 * 2, 5), [12, 10, 2, 2]);
        const dyt = be.fromArray(randomValues(3 * 10 * 10 * 14, 6), [3, 10, 10, 14]);
        const tr = be.convTranspose2x2Backward(dyt, xt, wt);
        const out = await readAll(lin.dw, tr.dw, tr.dx!);
        for (const t of [x, w, dy, lin.dw, lin.db, xt, wt, dyt, tr.dw, tr.db, tr.dx!]) t.dispose();
        return out;
      });
    const plain = await grads(false);
    const walked = await grads(true);
    for (let i = 0; i < plain.length; i++) expect(Buffer.from(walked[i].buffer).equals(Buffer.from(plain[i].buffer))).toBe(true);
  });
});

describe.runIf(emu.available)('cuda emulation: LRPSEG_CUDA_LRP_QUOTIENT=1 (relevance quotients computed before the product)', () => {
  afterEach(() => {
    expect(process.env.LRPSEG_CUDA_LRP_QUOTIENT).toBe(initialEnv.quotient);
  });

  // ours (αβ 2:1 with two K blocks, γ, ε, zB), montavon, and lists that reach the other paths: ε with its
  // per-sample stabiliser, zero, αβ 1:0 (one K block), αβ 2:1 on an input with negatives (two row blocks:
  // stays fused) and on non-negative inputs
  const composites = [
    'ours',
    'montavon',
    'epsilon:0.25,zero,gamma:0.5,alphabeta:1:0,epsilon:0.1,zero,gamma:0.25,epsilon:0.25,zero',
    'alphabeta:2:1,alphabeta:2:1,alphabeta:1:0,zero,gamma:0.25,epsilon:0.25,alphabeta:3:2,gamma:0.1,epsilon:0.25',
  ];
  const heatmaps = async (on: boolean, precision: 'accurate' | 'fast'): Promise<Float32Array[]> =>
    withBackend({ LRPSEG_CUDA_LRP_QUOTIENT: on ? '1' : undefined }, precision, async (be) => {
      const meta = vgg11Meta('onefc', { inputSize: [32, 32], widthDivisor: 16 });
      const model = buildVgg(be, meta, { seed: 3 });
      const out: Float32Array[] = [];
      for (const input of [randomValues(2 * 3 * 32 * 32, 7, 0, 1), randomValues(2 * 3 * 32 * 32, 8, -1, 1)]) {
        const x = be.fromArray(input, [2, 3, 32, 32]);
        for (const name of composites) {
          const h = explain(model, x, { composite: parseComposite(name, meta) });
          out.push(await h.read());
          h.dispose();
        }
        x.dispose();
      }
      return out;
    });

  for (const precision of ['accurate', 'fast'] as const) {
    it(`heatmaps of every rule are bit-identical with and without the precomputed quotients (${precision})`, async () => {
      const plain = await heatmaps(false, precision);
      const quotients = await heatmaps(true, precision);
      expect(quotients.length).toBe(2 * composites.length);
      for (let i = 0; i < plain.length; i++) {
        expect(plain[i].some((v) => v !== 0)).toBe(true);
        expect(Buffer.from(quotients[i].buffer).equals(Buffer.from(plain[i].buffer)), `${composites[i % composites.length]}, input ${Math.floor(i / composites.length)}`).toBe(true);
      }
    });
  }
});

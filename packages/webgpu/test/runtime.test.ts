/**
 * The runtime around the kernels: command batching, the pipeline cache, the buffer pool, uniform
 * buffers, asynchronous compilation and reading, typed errors, device loss and re-creation, and the
 * naive kernels (kept for speed comparisons) agreeing with the tiled ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend, type Rule, type Tensor } from '@lrpseg/core';
import { createWebgpuBackend, webgpuAvailability, type WebgpuBackend } from '../src/node.js';
import { relL2 } from './helpers.js';

/** Whether Dawn finds an adapter here (on a machine without a GPU: SwiftShader via VK_ICD_FILENAMES). */
const availability = await webgpuAvailability();
const skipReason = `skipped: ${availability.reason ?? 'no WebGPU adapter'}`;

const rnd = (n: number, seed: number): Float32Array => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
};

async function expectCode(p: Promise<unknown> | (() => unknown), code: string, pattern?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an LrpsegError').toBeDefined();
  const e = err as { name?: string; code?: string; message?: string };
  expect(e.name).toBe('LrpsegError');
  expect(e.code, e.message).toBe(code);
  if (pattern) expect(e.message).toMatch(pattern);
}

describe.skipIf(!availability.available)('webgpu runtime', () => {
  let be: WebgpuBackend;
  beforeAll(async () => {
    be = await createWebgpuBackend({ dispatchesPerSubmit: 16 });
  });
  afterAll(async () => {
    await be?.destroy();
  });

  it('names the adapter', () => {
    expect(availability.adapter).toBeTruthy();
    expect(be.adapterDescription).toBe(availability.adapter);
  });

  it('batches many dispatches per submit, and reuses one pipeline for every shape', async () => {
    await be.sync();
    const s0 = be.stats;
    let x: Tensor = be.fromArray(rnd(1000, 1), [1000]);
    const first = x;
    for (let i = 0; i < 100; i++) {
      const y = be.relu(x);
      if (x !== first) x.dispose();
      x = y;
    }
    const other = be.relu(be.fromArray(rnd(37, 2), [37]));
    const got = await be.read(x);
    await be.read(other);
    const s1 = be.stats;
    expect(s1.dispatches - s0.dispatches).toBe(101);
    // 16 dispatches per submit: 7 submits for 101 dispatches (at most one more for the reads)
    expect(s1.submits - s0.submits).toBeLessThanOrEqual(8);
    expect(s1.submits - s0.submits).toBeGreaterThanOrEqual(7);
    expect(s1.pipelines - s0.pipelines).toBeLessThanOrEqual(1); // relu: one pipeline for both shapes
    const want = Array.from(rnd(1000, 1), (v) => Math.max(v, 0));
    expect(Array.from(got)).toEqual(want);
  });

  it('returns released buffers to the pool only after the GPU is done, and hands them out again', async () => {
    await be.sync();
    const s0 = be.stats;
    for (let round = 0; round < 20; round++) {
      const a = be.fromArray(rnd(4096, round), [64, 64]);
      const b = be.scale(a, 2);
      a.dispose(); // still read by the recorded scale: must not be reused before it ran
      const c = be.fromArray(new Float32Array(4096).fill(7), [64, 64]);
      const sum = be.add(b, c);
      const v = await be.read(sum);
      expect(v[5]).toBeCloseTo(2 * rnd(4096, round)[5] + 7, 5);
      b.dispose();
      c.dispose();
      sum.dispose();
    }
    const s1 = be.stats;
    expect(s1.buffersReused - s0.buffersReused).toBeGreaterThan(40);
    expect(s1.buffersCreated - s0.buffersCreated).toBeLessThanOrEqual(8);
    expect(s1.liveBytes).toBe(s0.liveBytes);
  });

  it('recording never waits for a compilation: ops return before their pipelines exist', async () => {
    const fresh = await createWebgpuBackend();
    try {
      const x = fresh.fromArray(rnd(3 * 4 * 9 * 9, 3), [3, 4, 9, 9]);
      const w = fresh.fromArray(rnd(6 * 4 * 9, 4), [6, 4, 3, 3]);
      const y = fresh.conv2d(x, w, null, { stride: 1, padding: 1 });
      const p = fresh.maxPool2d(fresh.relu(y), { kernel: 2, stride: 2 });
      // Nothing could have compiled yet: compilation resolves on the event loop, which has not turned.
      expect(fresh.stats.pipelinesReady).toBe(0);
      expect(fresh.stats.pipelines).toBe(3);
      const cpu = new CpuBackend();
      const want = await cpu.maxPool2d(cpu.relu(cpu.conv2d(cpu.fromArray(rnd(3 * 4 * 81, 3), [3, 4, 9, 9]), cpu.fromArray(rnd(216, 4), [6, 4, 3, 3]), null, { stride: 1, padding: 1 })), { kernel: 2, stride: 2 }).read();
      expect(relL2(await p.read(), want)).toBeLessThan(1e-6);
    } finally {
      await fresh.destroy();
    }
  });

  it('a tensor too large for the device is OUT_OF_DEVICE_MEMORY, and the backend goes on', async () => {
    await expectCode(() => be.zeros([2 ** 31]), 'OUT_OF_DEVICE_MEMORY', /zeros: a tensor of shape \[2147483648\] needs 8192\.0 MiB/);
    expect(Array.from(await be.read(be.fromArray([1, 2], [2])))).toEqual([1, 2]);
  });

  it('a WebGPU validation error becomes a typed LrpsegError, and a new backend works', async () => {
    const victim = await createWebgpuBackend();
    victim.fromArray([1], [1]);
    // An invalid call on the backend's device, as a driver bug or a kernel exceeding a limit would make.
    victim.device.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    victim.relu(victim.fromArray([1], [1]));
    await expectCode(victim.sync(), 'NO_DEVICE', /validation error.*create a new backend/);
    await expectCode(() => victim.relu(victim.zeros([2])), 'NO_DEVICE', /validation error/);
    await victim.destroy();
    const again = await createWebgpuBackend();
    expect(Array.from(await again.read(again.scale(again.fromArray([1, -2], [2]), 3)))).toEqual([3, -6]);
    await again.destroy();
  });

  it('device loss becomes NO_DEVICE for every later op and read; the backend can be re-created', async () => {
    const victim = await createWebgpuBackend();
    const t = victim.fromArray([1, 2, 3], [3]);
    expect(Array.from(await victim.read(t))).toEqual([1, 2, 3]);
    victim.device.destroy(); // what a driver reset or a lost GPU looks like to the backend
    await new Promise((r) => setTimeout(r, 50));
    await expectCode(() => victim.relu(t), 'NO_DEVICE', /device was lost/);
    await expectCode(victim.read(t), 'NO_DEVICE', /device was lost/);
    await victim.destroy();
    const again = await createWebgpuBackend();
    expect(Array.from(await again.read(again.relu(again.fromArray([-1, 5], [2]))))).toEqual([0, 5]);
    await again.destroy();
  });

  it('after destroy, ops say so', async () => {
    const gone = await createWebgpuBackend();
    await gone.destroy();
    await expectCode(() => gone.zeros([1]), 'NO_DEVICE', /destroyed/);
  });
});

describe.skipIf(!availability.available)('alphabeta on a ReLU output skips the negative half', () => {
  it('and gives what the general path gives on the same values', async () => {
    const be = await createWebgpuBackend();
    try {
      const x = be.fromArray(rnd(2 * 5 * 7 * 6, 21), [2, 5, 7, 6]);
      const a = be.relu(x); // known non-negative
      const aPlain = be.fromArray(await be.read(a), a.shape); // the same values, origin unknown
      const w = be.fromArray(rnd(4 * 5 * 9, 22), [4, 5, 3, 3]);
      const b = be.fromArray(rnd(4, 23), [4]);
      const p = { stride: 1, padding: 1 };
      const r = be.fromArray(rnd(2 * 4 * 42, 24), [2, 4, 7, 6]);
      for (const rule of [{ kind: 'alphabeta', alpha: 2, beta: 1 }, { kind: 'alphabeta', alpha: 1, beta: 0 }] as const) {
        const d0 = be.stats.dispatches;
        const fast = await be.read(be.lrpConv2d(a, r, w, b, p, rule));
        const fastDispatches = be.stats.dispatches - d0;
        const d1 = be.stats.dispatches;
        const general = await be.read(be.lrpConv2d(aPlain, r, w, b, p, rule));
        expect(fastDispatches).toBe(3); // modified forward + quotients + adjoint
        expect(be.stats.dispatches - d1).toBe(4); // + the map adding a⁻'s block
        expect(relL2(fast, general)).toBeLessThan(1e-6);
      }
    } finally {
      await be.destroy();
    }
  });
});

describe.skipIf(!availability.available)('naive kernels (kept for comparison) agree with the tiled ones', () => {
  let tiled: WebgpuBackend;
  let naive: WebgpuBackend;
  beforeAll(async () => {
    tiled = await createWebgpuBackend();
    naive = await createWebgpuBackend({ kernels: 'naive' });
  });
  afterAll(async () => {
    await tiled?.destroy();
    await naive?.destroy();
  });

  const rules: Rule[] = [
    { kind: 'epsilon', epsilon: 0.25 },
    { kind: 'gamma', gamma: 0.25 },
    { kind: 'alphabeta', alpha: 2, beta: 1 },
    { kind: 'zbox', low: [-2, -1.5, -1], high: [2, 2.5, 3] },
  ];
  it('conv2d, its gradients and the relevance ops give the same numbers', async () => {
    expect(naive.gemmMode).toBe('naive');
    expect(tiled.gemmMode).not.toBe('naive');
    const run = async (be: WebgpuBackend): Promise<Float32Array[]> => {
      const x = be.fromArray(rnd(2 * 3 * 13 * 11, 7), [2, 3, 13, 11]);
      const w = be.fromArray(rnd(70 * 3 * 9, 8), [70, 3, 3, 3]);
      const b = be.fromArray(rnd(70, 9), [70]);
      const p = { stride: 2, padding: 1 };
      const y = be.conv2d(x, w, b, p);
      const r = be.fromArray(rnd(y.size, 10), y.shape);
      const g = be.conv2dBackward(r, x, w, p, true);
      const outs = [y, g.dx as Tensor, g.dw, g.db, ...rules.map((rule) => be.lrpConv2d(x, r, w, b, p, rule))];
      return Promise.all(outs.map((t) => be.read(t)));
    };
    const [a, b] = [await run(tiled), await run(naive)];
    a.forEach((v, i) => expect(relL2(v, b[i]), `output ${i}`).toBeLessThan(1e-6));
  });
});

if (!availability.available) {
  describe('webgpu runtime', () => {
    it.skip(skipReason, () => {});
  });
}

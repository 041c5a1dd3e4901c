/** Memory, errors and parameter packing through the real binding (host emulation). */
import { describe, expect, it } from 'vitest';
import { LrpsegError, buildVgg, explain, parseComposite, vgg11Meta } from '@lrpseg/core';
import { CudaBackend, createCudaBackend, cudaAvailability } from '../src/index.js';
import { GEMM_PARAM_COUNT, T, linearProblem, packGemm } from '../src/gemm.js';

const emu = await cudaAvailability({ emulate: true });

describe.runIf(emu.available)('cuda backend (host emulation): memory and errors', () => {
  it('device memory is released when tensors are disposed, and by destroy', async () => {
    const be = (await createCudaBackend({ emulate: true })) as CudaBackend;
    const meta = vgg11Meta('128n', { inputSize: [32, 32], widthDivisor: 16 });
    const model = buildVgg(be, meta, { seed: 1 });
    const params = be.liveBytes();
    expect(params).toBe(model.parameterCount() * 4);
    const x = be.fromArray(new Float32Array(2 * 3 * 32 * 32).fill(0.5), [2, 3, 32, 32]);
    const h = explain(model, x, { composite: parseComposite('ours', meta) });
    expect(be.liveBytes()).toBe(params + (x.size + h.size) * 4); // every intermediate was freed
    const v = be.reshape(h, [2, 1024]);
    h.dispose();
    expect(be.liveBytes()).toBe(params + (x.size + v.size) * 4); // the view keeps the storage
    v.dispose();
    x.dispose();
    expect(be.liveBytes()).toBe(params);
    await be.destroy();
    expect(be.liveBytes()).toBe(0);
    expect(() => be.zeros([2])).toThrow(/destroyed/);
  });

  it('an allocation that cannot be satisfied is OUT_OF_DEVICE_MEMORY naming the op; the backend stays usable', async () => {
    const be = await createCudaBackend({ emulate: true });
    let err: unknown;
    try {
      be.zeros([1 << 20, 1 << 20, 1 << 10]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LrpsegError);
    expect((err as LrpsegError).code).toBe('OUT_OF_DEVICE_MEMORY');
    expect((err as LrpsegError).message).toContain('zeros');
    const t = be.fromArray([1, -2, 3], [3]);
    expect(Array.from(await be.read(be.relu(t)))).toEqual([1, 0, 3]);
    await be.destroy();
  });

  it('reads settle after their tensor is disposed (the read was queued first)', async () => {
    const be = await createCudaBackend({ emulate: true });
    const t = be.fromArray([4, 5, 6], [3]);
    const p = be.read(t);
    t.dispose();
    expect(Array.from(await p)).toEqual([4, 5, 6]);
    await be.destroy();
  });
});

describe('gemm parameter block', () => {
  it('has the length and order addon.cpp reads', () => {
    const v = packGemm({ kind: 'dgrad', p: linearProblem(3, 7, 5), rb: 2, kb: 2, wmode: [[T.POS, T.NEG], [T.NEG, T.POS]], mulmode: [T.POS, T.NEG], wt: 11, x: 12, mul: 13, out: 14, lrp: { z: 15, zC: 10, eConst: 1e-9, coef: [2, -1] } });
    expect(v.length).toBe(GEMM_PARAM_COUNT);
    expect(Array.from(v.subarray(0, 13))).toEqual([1, 3, 7, 1, 1, 5, 1, 1, 0, 1, 1, 2, 2]);
    expect(Array.from(v.subarray(13, 22))).toEqual([2, 3, 1, 3, 2, 1, 1, 1, 1]);
    expect(Array.from(v.subarray(28, 31))).toEqual([2, 3, 1]); // mulmode
    expect(v[33]).toBe(12); // x
    expect(Array.from(v.subarray(36, 43))).toEqual([15, 10, 0, 1e-9, 2, -1, 0]);
    expect(v[43]).toBe(1); // lrp
    expect(v[47]).toBe(14); // out
  });
  it('refuses block counts outside 1–3', () => {
    expect(() => packGemm({ kind: 'fwd', p: linearProblem(1, 1, 1), rb: 4, wt: 0, x: 0, out: 0 })).toThrow(/block counts/);
  });
});

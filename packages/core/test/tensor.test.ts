import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.js';
import { LrpsegError } from '../src/errors.js';
import { keep, scope, scopeAsync } from '../src/tensor.js';

const b = new CpuBackend();

describe('tensor ownership', () => {
  it('scope disposes what it created and did not return, including on throw', () => {
    let inner: ReturnType<typeof b.zeros> | undefined;
    const out = scope(() => {
      inner = b.zeros([2, 2]);
      const kept = keep(b.zeros([1]));
      return { result: b.add(inner, inner), kept };
    });
    expect(inner!.disposed).toBe(true);
    expect(out.result.disposed).toBe(false);
    expect(out.kept.disposed).toBe(false);
    let leaked: ReturnType<typeof b.zeros> | undefined;
    expect(() =>
      scope(() => {
        leaked = b.zeros([3]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(leaked!.disposed).toBe(true);
  });

  it('nested scopes hand returned tensors to the enclosing scope', () => {
    let mid: ReturnType<typeof b.zeros> | undefined;
    scope(() => {
      mid = scope(() => b.zeros([1]));
      expect(mid.disposed).toBe(false);
      return null;
    });
    expect(mid!.disposed).toBe(true);
  });

  it('scopeAsync disposes tracked tensors that are not returned', async () => {
    let tmp: ReturnType<typeof b.zeros> | undefined;
    const out = await scopeAsync(async (track) => {
      tmp = track(b.zeros([2]));
      await Promise.resolve();
      return track(b.scale(tmp, 2));
    });
    expect(tmp!.disposed).toBe(true);
    expect(out.disposed).toBe(false);
  });

  it('a disposed tensor cannot be used or read, and dispose is idempotent', async () => {
    const t = b.fromArray([1, 2, 3], [3]);
    t.dispose();
    t.dispose();
    expect(() => b.relu(t)).toThrow(LrpsegError);
    await expect(t.read()).rejects.toThrow(/disposed/);
  });

  it('shapes are checked with the op and the shapes named', () => {
    const x = b.zeros([1, 3, 8, 8]);
    const w = b.zeros([4, 2, 3, 3]);
    expect(() => b.conv2d(x, w, null, { stride: 1, padding: 1 })).toThrow(/conv2d.*\[1, 3, 8, 8\].*\[4, 2, 3, 3\]/);
  });
});

/**
 * Loading the CUDA backend where there is no GPU (this project's CI machines): a typed NO_DEVICE error
 * and a reason, never a crash. On a machine with a GPU the same tests check that it is found instead.
 */
import { describe, expect, it } from 'vitest';
import { LrpsegError } from '@lrpseg/core';
import { createCudaBackend, cudaAvailability } from '../src/index.js';
import { fileURLToPath } from 'node:url';
import { addonCandidates, asLrpsegError, loadAddonFrom } from '../src/native.js';

const availability = await cudaAvailability();

describe('cuda availability', () => {
  it('reports a reason whenever it is unavailable', () => {
    if (!availability.available) expect(availability.reason).toMatch(/\S/);
    else expect(availability.devices).toBeGreaterThan(0);
  });

  it.runIf(!availability.available)('createCudaBackend rejects with LrpsegError NO_DEVICE (no crash)', async () => {
    const err = await createCudaBackend().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LrpsegError);
    expect((err as LrpsegError).code).toBe('NO_DEVICE');
    // the process goes on: a second try fails the same way
    const again = await createCudaBackend({ device: 0 }).catch((e: unknown) => e);
    expect((again as LrpsegError).code).toBe('NO_DEVICE');
  });

  it.runIf(availability.available)('createCudaBackend finds the device and names it', async () => {
    const be = await createCudaBackend();
    expect((be as unknown as { info: { name: string } }).info.name).toMatch(/\S/);
    await be.destroy();
  });

  it('a device index that does not exist is NO_DEVICE', async () => {
    const err = await createCudaBackend({ device: 64 }).catch((e: unknown) => e);
    expect((err as LrpsegError).code).toBe('NO_DEVICE');
  });

  it('a bad device index or precision is BAD_INPUT', async () => {
    expect(((await createCudaBackend({ device: -1 }).catch((e: unknown) => e)) as LrpsegError).code).toBe('BAD_INPUT');
    expect(((await createCudaBackend({ precision: 'half' as 'fast' }).catch((e: unknown) => e)) as LrpsegError).code).toBe('BAD_INPUT');
  });

  it('a missing or broken addon is NO_DEVICE saying why', () => {
    expect(addonCandidates('cuda', { LRPSEG_CUDA_ADDON_DIR: '/nonexistent' })[0]).toBe('/nonexistent/lrpseg_cuda.node');
    const missing = (() => { try { loadAddonFrom('cuda', ['/nonexistent/lrpseg_cuda.node']); } catch (e) { return e; } })() as LrpsegError;
    expect(missing.code).toBe('NO_DEVICE');
    expect(missing.message).toMatch(/not built .*nvcc/);
    const broken = (() => { try { loadAddonFrom('cuda', [fileURLToPath(import.meta.url)]); } catch (e) { return e; } })() as LrpsegError;
    expect(broken.code).toBe('NO_DEVICE');
    expect(broken.message).toContain('cannot load');
  });

  it('native errors with a code become LrpsegErrors that name the op', () => {
    const e = asLrpsegError(Object.assign(new Error('allocating 64 bytes'), { code: 'OUT_OF_DEVICE_MEMORY' }), 'conv2d');
    expect(e).toBeInstanceOf(LrpsegError);
    expect((e as LrpsegError).code).toBe('OUT_OF_DEVICE_MEMORY');
    expect((e as LrpsegError).message).toContain('conv2d');
    const unknown = asLrpsegError(Object.assign(new Error('x'), { code: 'WHATEVER' }), 'relu');
    expect((unknown as LrpsegError).code).toBe('NO_DEVICE');
  });
});

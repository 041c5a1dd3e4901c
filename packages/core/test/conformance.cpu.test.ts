import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.js';
import { PooledCpuBackend, createCpuBackend } from '../src/node/index.js';
import { backendConformance } from '../src/testing/conformance.js';

backendConformance('cpu (serial)', async () => new CpuBackend());

let pooled: PooledCpuBackend | null = null;
backendConformance('cpu (2 threads)', async () => {
  const b = createCpuBackend({ threads: 2 });
  if (!(b instanceof PooledCpuBackend)) throw new Error('createCpuBackend({ threads: 2 }) did not build a pooled backend');
  await b.whenReady();
  pooled = b;
  return b;
});

describe('cpu (2 threads) conformance run', () => {
  it('split some GEMMs across the worker', () => {
    expect(pooled).not.toBeNull();
    expect(pooled!.gemmStats.parallelCalls).toBeGreaterThan(0);
  });
  afterAll(() => {
    pooled = null;
  });
});

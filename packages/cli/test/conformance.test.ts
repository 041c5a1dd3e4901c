/**
 * The shared conformance suites (ops, and relevance) for every backend this machine has. Backends that
 * are not available are listed as skipped tests, with the reason, so that a run says what it did not check.
 */
import { describe, it } from 'vitest';
import { backendConformance, batchNormConformance, lrpConformance } from '@lrpseg/core/testing';
import { BACKEND_NAMES, backendAvailability, createBackend } from '../src/backends.js';

const availability = await Promise.all(BACKEND_NAMES.map((name) => backendAvailability(name)));

for (const a of availability) {
  if (!a.available) {
    describe(`conformance: ${a.name}`, () => {
      it.skip(`skipped: ${a.reason ?? 'not available'}`, () => {});
    });
    console.log(`conformance: skipped backend ${a.name}: ${a.reason ?? 'not available'}`);
    continue;
  }
  backendConformance(a.name, () => createBackend(a.name));
  lrpConformance(a.name, () => createBackend(a.name));
  batchNormConformance(a.name, () => createBackend(a.name));
  // CUDA's second mode: TF32 tensor cores, held to 1e-2 per op (the default mode above is FP32-exact).
  if (a.name === 'cuda') {
    const fast = async () => (await import('@lrpseg/native-cuda')).createCudaBackend({ precision: 'fast' });
    backendConformance('cuda fast (TF32)', fast, { rtol: 1e-2 });
    batchNormConformance('cuda fast (TF32)', fast, { rtol: 1e-2 });
  }
}

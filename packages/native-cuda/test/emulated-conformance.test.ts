/**
 * The shared conformance suites against the CUDA backend's host emulation: the real binding, parameter
 * packing, operand loaders, epilogues, LRP rule plans and reductions, with matrix products rounded as the
 * tensor cores round them (3×TF32 in accurate mode, TF32 in fast mode). What it cannot check is the
 * device code itself (WMMA tiles, launches); scripts/device-check.sh runs the same suites on a GPU.
 */
import { describe, it } from 'vitest';
import { backendConformance, batchNormConformance, lrpConformance } from '@lrpseg/core/testing';
import { createCudaBackend, cudaAvailability } from '../src/index.js';

const emu = await cudaAvailability({ emulate: true });
if (!emu.available) {
  describe('cuda emulation', () => {
    it.skip(`skipped: ${emu.reason}`, () => {});
  });
} else {
  backendConformance('cuda emulation, accurate', () => createCudaBackend({ emulate: true, precision: 'accurate' }));
  lrpConformance('cuda emulation, accurate', () => createCudaBackend({ emulate: true, precision: 'accurate' }));
  batchNormConformance('cuda emulation, accurate', () => createCudaBackend({ emulate: true, precision: 'accurate' }));
  backendConformance('cuda emulation, fast (TF32)', () => createCudaBackend({ emulate: true, precision: 'fast' }), { rtol: 1e-2 });
  batchNormConformance('cuda emulation, fast (TF32)', () => createCudaBackend({ emulate: true, precision: 'fast' }), { rtol: 1e-2 });
}

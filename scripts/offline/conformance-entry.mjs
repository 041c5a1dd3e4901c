// Offline conformance runner (bundled by scripts/bundle-offline.mjs with 'vitest' aliased to the shim):
// the shared suites against the CUDA backend, accurate mode (1e-5 per op, 1e-4 on heatmaps) and fast mode
// (1e-2 per op), and batch-norm training in both (its ops composed from the backend's).
// `node conformance.mjs [--emulate]`; exit 1 on any failure, 2 when no device is usable.
import { backendConformance, batchNormConformance, lrpConformance } from '@lrpseg/core/testing';
import { createCudaBackend, cudaAvailability } from '@lrpseg/native-cuda';
import { describe, run } from 'vitest';

const emulate = process.argv.includes('--emulate');
const device = Number(process.env.LRPSEG_DEVICE ?? 0);
const a = await cudaAvailability({ emulate });
if (!a.available) {
  console.log(`conformance: cuda unavailable: ${a.reason}`);
  process.exit(2);
}
const label = emulate ? 'cuda emulation' : `cuda device ${device}`;
describe(`${label}, accurate`, () => {
  backendConformance(`${label}, accurate`, () => createCudaBackend({ device, emulate, precision: 'accurate' }));
  lrpConformance(`${label}, accurate`, () => createCudaBackend({ device, emulate, precision: 'accurate' }));
  batchNormConformance(`${label}, accurate`, () => createCudaBackend({ device, emulate, precision: 'accurate' }));
});
describe(`${label}, fast (TF32)`, () => {
  backendConformance(`${label}, fast (TF32)`, () => createCudaBackend({ device, emulate, precision: 'fast' }), { rtol: 1e-2 });
  batchNormConformance(`${label}, fast (TF32)`, () => createCudaBackend({ device, emulate, precision: 'fast' }), { rtol: 1e-2 });
});
const r = await run();
process.exit(r.failed > 0 ? 1 : 0);

import { CpuBackend } from '../../src/cpu/backend.js';
import { createCpuBackend } from '../../src/node/index.js';
import { lrpConformance } from '../../src/testing/lrp-conformance.js';

lrpConformance('cpu (serial)', async () => new CpuBackend());
lrpConformance('cpu (2 threads)', async () => createCpuBackend({ threads: 2, minWork: 1 }));

/**
 * Test helpers for backends (`@lrpseg/core/testing`): the shared conformance suite, the float64 reference
 * ops it checks against, and seeded random data. Imports vitest: for test code only.
 */
export { backendConformance, expectLrpsegError, relativeL2Error, type ConformanceOptions } from './conformance.js';
export * from './random.js';
export * from './reference.js';
export { heatmapConformance, lrpConformance, vggHeatmapAgreement, type LrpConformanceOptions } from './lrp-conformance.js';
export { denseRule, directConv, matrixOf, relL2 } from './dense-lrp.js';
export { batchNormConformance, type BatchNormConformanceOptions } from './batch-norm-conformance.js';

export * from './errors.js';
export * from './tensor.js';
export * from './backend.js';
export * from './shapes.js';
export * from './lrp/rule.js';
export * from './nn/arch.js';
export * from './nn/layers.js';

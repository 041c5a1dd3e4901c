export * from './pixels.js';
export * from './pr-curve.js';
export * from './classification.js';
export * from './bootstrap.js';

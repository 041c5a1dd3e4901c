/**
 * The parts of @lrpseg/datasets without file-system access (`@lrpseg/datasets/browser`): decoding,
 * geometry, augmentation, sample preparation, .seg parsing, grouping, splits and manifests, PNG
 * encoding and colour maps. Decoding here is the pure-JS path (jpeg-js; pngjs needs Node's `Buffer`
 * and `zlib`, which a bundler's Node polyfills provide); sharp is Node-only and not imported.
 */
export * from './image.js';
export * from './resize.js';
export * from './png.js';
export * from './augment.js';
export * from './sample.js';
export * from './seg.js';
export * from './grouping.js';
export * from './manifest.js';
export * from './split.js';

/**
 * The parts of @lrpseg/datasets without file-system access (`@lrpseg/datasets/browser`): decoding,
 * geometry, PNG encoding and colour maps. JPEG decoding and all geometry are plain JS; PNG reading and
 * writing go through pngjs, which needs Node's `Buffer` and `zlib` (a bundler's Node polyfills provide them).
 */
export * from './image.js';
export * from './resize.js';
export * from './png.js';

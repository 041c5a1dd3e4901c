export * from './image.js';
export * from './resize.js';
export * from './png.js';
export * from './fs.js';

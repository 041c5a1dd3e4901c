export * from './map.js';
export * from './filters.js';
export * from './simple.js';
export * from './kmeans1d.js';
export * from './gmm.js';
export * from './special.js';
export * from './bmm.js';
export * from './segment.js';

/**
 * Stands in for pngjs in the browser bundle (vite.config.ts aliases it): @lrpseg/datasets/browser
 * imports pngjs for its PNG codec, which needs Node's zlib and streams. The page decodes images with
 * createImageBitmap and encodes PNGs with canvas, so no pngjs function is ever called; if one were,
 * this says so instead of failing inside a missing Node module.
 */
const unavailable = (): never => {
  throw new Error('pngjs is not bundled in the web page (decode with createImageBitmap, encode with canvas)');
};
export const PNG = new Proxy(function () {}, { get: unavailable, apply: unavailable, construct: unavailable });
export default { PNG };

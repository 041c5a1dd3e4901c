/**
 * PNG encoding of masks and heatmaps, and the diverging colour map of LRP heatmaps.
 */
import pngjs from 'pngjs';
import { LrpsegError } from '@lrpseg/core';

function encode(data: Uint8Array, width: number, height: number, colorType: 0 | 2, bpp: number, op: string): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new LrpsegError('BAD_INPUT', `${op}: invalid size ${width}×${height}`);
  }
  if (data.length !== width * height * bpp) {
    throw new LrpsegError('SHAPE_MISMATCH', `${op}: ${data.length} bytes for a ${width}×${height} image (expected ${width * height * bpp})`);
  }
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = pngjs.PNG.sync.write({ width, height, data: buf } as unknown as pngjs.PNG, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha: false,
    bitDepth: 8,
    deflateLevel: 6,
  });
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** 8-bit grey PNG from `width × height` bytes (row-major). */
export function encodePngGrey(data: Uint8Array, width: number, height: number): Uint8Array {
  return encode(data, width, height, 0, 1, 'encodePngGrey');
}

/** 8-bit RGB PNG from interleaved `width × height × 3` bytes (row-major, RGBRGB…). */
export function encodePngRgb(data: Uint8Array, width: number, height: number): Uint8Array {
  return encode(data, width, height, 2, 3, 'encodePngRgb');
}

/**
 * Colour of one value v in [-1, 1] on matplotlib's 'bwr' map: −1 blue, 0 white, +1 red.
 * Writes r, g, b bytes into out at offset o.
 */
function bwr(v: number, out: Uint8Array, o: number): void {
  if (!(v === v)) v = 0; // NaN → white
  if (v > 1) v = 1;
  else if (v < -1) v = -1;
  if (v >= 0) {
    const g = Math.round(255 * (1 - v));
    out[o] = 255;
    out[o + 1] = g;
    out[o + 2] = g;
  } else {
    const g = Math.round(255 * (1 + v));
    out[o] = g;
    out[o + 1] = g;
    out[o + 2] = 255;
  }
}

/**
 * A heatmap as interleaved RGB bytes with the LRP convention: 0 white, positive relevance red,
 * negative blue, on a symmetric scale set by the largest |value| (matplotlib's 'bwr' with
 * vmin = −max|R|, vmax = max|R|). A map of zeros (or of non-finite values only) is all white;
 * non-finite values are drawn white.
 */
export function heatmapToRgb(map: Float32Array | Float64Array, width: number, height: number): Uint8Array {
  const n = width * height;
  if (map.length !== n) {
    throw new LrpsegError('SHAPE_MISMATCH', `heatmapToRgb: ${map.length} values for a ${width}×${height} map`);
  }
  let max = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(map[i]);
    if (a > max && a !== Infinity) max = a;
  }
  const out = new Uint8Array(3 * n);
  const inv = max > 0 ? 1 / max : 0;
  for (let i = 0; i < n; i++) {
    const v = map[i];
    bwr(Number.isFinite(v) ? v * inv : 0, out, 3 * i);
  }
  return out;
}

/** A heatmap as an RGB PNG (heatmapToRgb, then encodePngRgb). */
export function heatmapToPng(map: Float32Array | Float64Array, width: number, height: number): Uint8Array {
  return encodePngRgb(heatmapToRgb(map, width, height), width, height);
}

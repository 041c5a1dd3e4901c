/**
 * Image decoding: JPEG (jpeg-js) and PNG (pngjs) into planar float images with values in [0, 1].
 *
 * jpeg-js is pure JS and runs in browsers; pngjs needs Node's `zlib` and `Buffer` (a bundler's Node
 * polyfills cover it). Every failure of either decoder, whatever it throws, becomes one
 * LrpsegError('BAD_INPUT', `${name}: ...`).
 */
import jpegjs from 'jpeg-js';
import pngjs from 'pngjs';
import { LrpsegError } from '@lrpseg/core';

/** A planar (CHW) image; values in [0, 1]. Grey images keep one channel. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  /** channels × height × width values, channel-major (CHW). */
  readonly data: Float32Array;
}

export type ImageFormat = 'jpeg' | 'png';

/** Limits on what a single image may cost to decode (a guard against hostile or broken files). */
export const IMAGE_LIMITS = {
  /** Largest accepted image, in megapixels. */
  maxMegapixels: 64,
  /** Largest memory jpeg-js may allocate for one image, in MiB. */
  maxJpegMemoryMB: 1024,
} as const;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The format of an encoded image, from its first bytes; null when neither JPEG nor PNG. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && PNG_MAGIC.every((b, i) => bytes[i] === b)) return 'png';
  return null;
}

/** Decodes a JPEG or PNG file's bytes; `name` (usually the path) prefixes every error message. */
export function decodeImage(bytes: Uint8Array, name: string): RgbImage {
  const format = sniffImageFormat(bytes);
  if (format === null) {
    const what = bytes.length === 0 ? 'empty file' : 'not a JPEG or PNG image (unknown signature)';
    throw new LrpsegError('BAD_INPUT', `${name}: ${what}`);
  }
  let img: RgbImage;
  try {
    img = format === 'jpeg' ? decodeJpeg(bytes) : decodePng(bytes);
  } catch (e) {
    if (e instanceof LrpsegError) throw new LrpsegError(e.code, `${name}: ${e.message}`, { cause: e });
    const msg = e instanceof Error ? e.message : String(e);
    throw new LrpsegError('BAD_INPUT', `${name}: corrupt or truncated ${format.toUpperCase()} (${msg.trim() || 'decoder error'})`, { cause: e });
  }
  return img;
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new LrpsegError('BAD_INPUT', `invalid image size ${width}×${height}`);
  }
  if (width * height > IMAGE_LIMITS.maxMegapixels * 1e6) {
    throw new LrpsegError('BAD_INPUT', `image of ${width}×${height} pixels exceeds the ${IMAGE_LIMITS.maxMegapixels} MP limit`);
  }
}

/**
 * Reads the frame header (SOFn) of a JPEG: size and number of components, or null if none is found
 * before the first scan. jpeg-js always returns RGB(A), so this is how grey JPEGs are recognised.
 */
export function jpegFrameInfo(bytes: Uint8Array): { width: number; height: number; components: number } | null {
  let i = 2;
  const n = bytes.length;
  while (i + 3 < n) {
    if (bytes[i] !== 0xff) return null;
    let m = bytes[i + 1];
    // fill bytes
    while (m === 0xff && i + 2 < n) {
      i++;
      m = bytes[i + 1];
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2;
      continue;
    }
    if (m === 0xd9 || m === 0xda) return null; // end of image or start of scan before any frame
    if (i + 3 >= n) return null;
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    if (len < 2) return null;
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (i + 9 >= n) return null;
      const height = (bytes[i + 5] << 8) | bytes[i + 6];
      const width = (bytes[i + 7] << 8) | bytes[i + 8];
      return { width, height, components: bytes[i + 9] };
    }
    i += 2 + len;
  }
  return null;
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  const frame = jpegFrameInfo(bytes);
  if (frame === null) throw new LrpsegError('BAD_INPUT', 'corrupt or truncated JPEG (no frame header)');
  checkSize(frame.width, frame.height);
  const raw = jpegjs.decode(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxResolutionInMP: IMAGE_LIMITS.maxMegapixels,
    maxMemoryUsageInMB: IMAGE_LIMITS.maxJpegMemoryMB,
  });
  const { width, height } = raw;
  checkSize(width, height);
  const hw = width * height;
  if (raw.data.length < hw * 3) throw new LrpsegError('BAD_INPUT', 'corrupt JPEG (short pixel data)');
  const src = raw.data;
  if (frame.components === 1) {
    const data = new Float32Array(hw);
    for (let p = 0; p < hw; p++) data[p] = src[3 * p] / 255;
    return { width, height, channels: 1, data };
  }
  const data = new Float32Array(3 * hw);
  for (let p = 0; p < hw; p++) {
    data[p] = src[3 * p] / 255;
    data[hw + p] = src[3 * p + 1] / 255;
    data[2 * hw + p] = src[3 * p + 2] / 255;
  }
  return { width, height, channels: 3, data };
}

function decodePng(bytes: Uint8Array): RgbImage {
  // Read the IHDR size first, so that a huge declared size is refused before any allocation.
  if (bytes.length >= 24) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkSize(dv.getUint32(16), dv.getUint32(20));
  }
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const png = pngjs.PNG.sync.read(buf, { skipRescale: true });
  const { width, height } = png;
  checkSize(width, height);
  const hw = width * height;
  // With skipRescale the samples keep their bit depth; palettes expand to 8-bit colours.
  const src = png.data as unknown as ArrayLike<number>;
  if (src.length < hw * 4) throw new LrpsegError('BAD_INPUT', 'corrupt PNG (short pixel data)');
  const maxVal = png.palette ? 255 : 2 ** png.depth - 1;
  const inv = 1 / maxVal;
  if (!png.color) {
    const data = new Float32Array(hw);
    for (let p = 0; p < hw; p++) data[p] = src[4 * p] * inv;
    return { width, height, channels: 1, data };
  }
  const data = new Float32Array(3 * hw);
  for (let p = 0; p < hw; p++) {
    data[p] = src[4 * p] * inv;
    data[hw + p] = src[4 * p + 1] * inv;
    data[2 * hw + p] = src[4 * p + 2] * inv;
  }
  return { width, height, channels: 3, data };
}

/**
 * Image decoding in Node through sharp (libvips): JPEG and PNG into the same planar RgbImage that the
 * pure-JS decodeImage returns (values in [0, 1]; grey stays one channel; alpha is dropped).
 *
 * sharp runs its work on libuv's thread pool, so decoding here never blocks the event loop, and
 * libjpeg-turbo decodes about 2.5× faster than jpeg-js (docs/datasets.md). EXIF orientation is NOT
 * applied, as in decodeImage: masks carry no EXIF, and image and mask must keep the same geometry.
 */
import sharp from 'sharp';
import { LrpsegError } from '@lrpseg/core';
import { IMAGE_LIMITS, sniffImageFormat, type RgbImage } from './image.js';

// libvips' own cache only helps when the same file is decoded repeatedly with the same operations;
// data loading decodes each file once per epoch, so the cache would only hold memory.
sharp.cache(false);

/** The greyscale or RGB bytes of an image and its size, from sharp, with bit depth 8 or 16. */
interface RawPixels {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly max: number;
  readonly data: Uint8Array | Uint16Array;
}

async function rawPixels(bytes: Uint8Array): Promise<RawPixels> {
  const input = { limitInputPixels: IMAGE_LIMITS.maxMegapixels * 1e6, failOn: 'warning' as const };
  const meta = await sharp(bytes, input).metadata();
  const colourChannels = (meta.channels ?? 3) - (meta.hasAlpha ? 1 : 0);
  const grey = colourChannels === 1;
  const sixteen = meta.depth === 'ushort';
  let pipe = sharp(bytes, input).removeAlpha();
  pipe = grey ? pipe.toColourspace(sixteen ? 'grey16' : 'b-w') : pipe.toColourspace(sixteen ? 'rgb16' : 'srgb');
  const { data, info } = await pipe.raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  if (channels !== 1 && channels !== 3) throw new Error(`unexpected ${channels} channels after conversion`);
  const pixels = sixteen
    ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength >> 1)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { width: info.width, height: info.height, channels, max: sixteen ? 65535 : 255, data: pixels };
}

/**
 * Decodes a JPEG or PNG file's bytes with sharp; `name` (usually the path) prefixes every error, which
 * is always an LrpsegError('BAD_INPUT'). A truncated or corrupt file is refused, not padded grey.
 */
export async function decodeImageAsync(bytes: Uint8Array, name: string): Promise<RgbImage> {
  const format = sniffImageFormat(bytes);
  if (format === null) {
    const what = bytes.length === 0 ? 'empty file' : 'not a JPEG or PNG image (unknown signature)';
    throw new LrpsegError('BAD_INPUT', `${name}: ${what}`);
  }
  let px: RawPixels;
  try {
    px = await rawPixels(bytes);
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/^Vips\w+:\s*/, '').trim();
    throw new LrpsegError('BAD_INPUT', `${name}: corrupt or truncated ${format.toUpperCase()} (${msg || 'decoder error'})`, { cause: e });
  }
  const { width, height, channels, max, data: src } = px;
  const hw = width * height;
  const inv = 1 / max;
  const data = new Float32Array(channels * hw);
  if (channels === 1) {
    for (let p = 0; p < hw; p++) data[p] = src[p] * inv;
  } else {
    for (let p = 0; p < hw; p++) {
      data[p] = src[3 * p] * inv;
      data[hw + p] = src[3 * p + 1] * inv;
      data[2 * hw + p] = src[3 * p + 2] * inv;
    }
  }
  return { width, height, channels, data };
}

/**
 * A grey (one-channel) 8-bit image straight from sharp, without conversion to floats: what masks and
 * the grouping features need. Colour images are converted to luma by libvips.
 */
export async function decodeGreyBytes(bytes: Uint8Array, name: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const format = sniffImageFormat(bytes);
  if (format === null) {
    const what = bytes.length === 0 ? 'empty file' : 'not a JPEG or PNG image (unknown signature)';
    throw new LrpsegError('BAD_INPUT', `${name}: ${what}`);
  }
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: IMAGE_LIMITS.maxMegapixels * 1e6, failOn: 'warning' })
      .removeAlpha()
      .toColourspace('b-w')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/^Vips\w+:\s*/, '').trim();
    throw new LrpsegError('BAD_INPUT', `${name}: corrupt or truncated ${format.toUpperCase()} (${msg || 'decoder error'})`, { cause: e });
  }
}

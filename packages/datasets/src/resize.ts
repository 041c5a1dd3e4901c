/**
 * Geometry on planar images: bilinear resize, channel conversion, center crop, and the test-time
 * preparation of the paper (section 3.4): scale up images smaller than the input size, then center-crop.
 */
import { LrpsegError } from '@lrpseg/core';
import type { RgbImage } from './image.js';

/** A planar image with any channel count (the result of toChannels for models of odd input widths). */
export interface PlanarImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Float32Array;
}

function checkImage(img: PlanarImage, op: string): void {
  if (img.data.length !== img.channels * img.height * img.width) {
    throw new LrpsegError(
      'SHAPE_MISMATCH',
      `${op}: image data has ${img.data.length} values, expected ${img.channels}×${img.height}×${img.width}`,
    );
  }
}

function checkDims(h: number, w: number, op: string): void {
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new LrpsegError('BAD_INPUT', `${op}: invalid size ${h}×${w}`);
  }
}

/** Source sample positions of a bilinear resize along one axis (align_corners = false). */
function axisWeights(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; t: Float32Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const t = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    // PyTorch's area_pixel_compute_source_index: negative positions clamp to 0.
    let src = (o + 0.5) * scale - 0.5;
    if (src < 0) src = 0;
    let lo = Math.floor(src);
    if (lo > inSize - 1) lo = inSize - 1;
    const hi = Math.min(lo + 1, inSize - 1);
    i0[o] = lo;
    i1[o] = hi;
    t[o] = src - lo;
  }
  return { i0, i1, t };
}

/**
 * Bilinear resize with align_corners = false and no antialiasing: the same sampling as PyTorch's
 * `F.interpolate(x, size, mode='bilinear', align_corners=False)`. Exact for upscaling; downscaling by
 * large factors aliases (as PyTorch's does without antialias).
 */
export function resizeBilinear<T extends PlanarImage>(img: T, height: number, width: number): T {
  checkImage(img, 'resizeBilinear');
  checkDims(height, width, 'resizeBilinear');
  const { width: W, height: H, channels: C, data: src } = img;
  if (H === height && W === width) return { ...img, data: new Float32Array(src) };
  const ys = axisWeights(H, height);
  const xs = axisWeights(W, width);
  const out = new Float32Array(C * height * width);
  for (let c = 0; c < C; c++) {
    const sBase = c * H * W;
    const oBase = c * height * width;
    for (let y = 0; y < height; y++) {
      const r0 = sBase + ys.i0[y] * W;
      const r1 = sBase + ys.i1[y] * W;
      const ty = ys.t[y];
      const oRow = oBase + y * width;
      for (let x = 0; x < width; x++) {
        const x0 = xs.i0[x];
        const x1 = xs.i1[x];
        const tx = xs.t[x];
        const top = src[r0 + x0] + (src[r0 + x1] - src[r0 + x0]) * tx;
        const bot = src[r1 + x0] + (src[r1 + x1] - src[r1 + x0]) * tx;
        out[oRow + x] = top + (bot - top) * ty;
      }
    }
  }
  return { ...img, width, height, data: out };
}

/**
 * Converts to `c` channels: unchanged when equal; one channel is repeated to `c`; three channels
 * become one by ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B). Anything else is a BAD_INPUT.
 */
export function toChannels(img: PlanarImage, c: number): PlanarImage {
  checkImage(img, 'toChannels');
  if (!Number.isInteger(c) || c <= 0) throw new LrpsegError('BAD_INPUT', `toChannels: invalid channel count ${c}`);
  if (img.channels === c) return img;
  const hw = img.width * img.height;
  if (img.channels === 1) {
    const out = new Float32Array(c * hw);
    for (let k = 0; k < c; k++) out.set(img.data, k * hw);
    return { width: img.width, height: img.height, channels: c, data: out };
  }
  if (img.channels === 3 && c === 1) {
    const d = img.data;
    const out = new Float32Array(hw);
    for (let p = 0; p < hw; p++) out[p] = 0.299 * d[p] + 0.587 * d[hw + p] + 0.114 * d[2 * hw + p];
    return { width: img.width, height: img.height, channels: 1, data: out };
  }
  throw new LrpsegError('BAD_INPUT', `cannot convert an image of ${img.channels} channels to ${c} channels`);
}

/** Top-left corner of a centered crop: floor((size − crop) / 2). */
export function centerCropOffset(size: number, crop: number): number {
  return Math.floor((size - crop) / 2);
}

/** The center `height × width` region; the image must be at least that large. */
export function centerCrop<T extends PlanarImage>(img: T, height: number, width: number): T {
  checkImage(img, 'centerCrop');
  checkDims(height, width, 'centerCrop');
  if (img.height < height || img.width < width) {
    throw new LrpsegError('BAD_INPUT', `centerCrop: image of ${img.height}×${img.width} is smaller than the crop ${height}×${width}`);
  }
  const top = centerCropOffset(img.height, height);
  const left = centerCropOffset(img.width, width);
  return cropRegion(img, top, left, height, width);
}

/** The region [top, top+height) × [left, left+width), which must lie inside the image. */
export function cropRegion<T extends PlanarImage>(img: T, top: number, left: number, height: number, width: number): T {
  checkImage(img, 'cropRegion');
  checkDims(height, width, 'cropRegion');
  if (top < 0 || left < 0 || top + height > img.height || left + width > img.width) {
    throw new LrpsegError('BAD_INPUT', `cropRegion: region ${height}×${width} at (${top}, ${left}) is outside the ${img.height}×${img.width} image`);
  }
  const { channels: C, width: W, height: H } = img;
  const out = new Float32Array(C * height * width);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < height; y++) {
      const s = c * H * W + (top + y) * W + left;
      out.set(img.data.subarray(s, s + width), (c * height + y) * width);
    }
  }
  return { ...img, width, height, data: out };
}

/** How an original image maps onto the model input (to carry masks back to the original). */
export interface CropGeometry {
  /** Size of the decoded image. */
  readonly original: readonly [number, number];
  /** Scale factor applied before cropping (1 when the image was large enough). */
  readonly scale: number;
  /** Size after scaling, before cropping. */
  readonly resized: readonly [number, number];
  /** The crop, in the scaled image's pixels. */
  readonly crop: { readonly top: number; readonly left: number; readonly height: number; readonly width: number };
}

export interface PreparedImage {
  /** channels × inputH × inputW, CHW, values in [0, 1]. */
  readonly data: Float32Array;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly geometry: CropGeometry;
}

/**
 * The paper's test-time preparation (section 3.4): if the image is smaller than the input size in
 * either dimension, scale it up bilinearly, keeping its aspect ratio, until both sides reach the input
 * size (the relatively smaller side then equals it); then take the center crop of the input size.
 * Channels are converted with toChannels (grey repeated to RGB).
 */
export function prepareForModel(img: PlanarImage, inputSize: readonly [number, number], channels: number): PreparedImage {
  checkImage(img, 'prepareForModel');
  const [inH, inW] = inputSize;
  checkDims(inH, inW, 'prepareForModel');
  let im = toChannels(img, channels);
  let scale = 1;
  if (im.height < inH || im.width < inW) {
    scale = Math.max(inH / im.height, inW / im.width);
    const h = Math.max(inH, Math.round(im.height * scale));
    const w = Math.max(inW, Math.round(im.width * scale));
    im = resizeBilinear(im, h, w);
  }
  const top = centerCropOffset(im.height, inH);
  const left = centerCropOffset(im.width, inW);
  const resized: [number, number] = [im.height, im.width];
  const cropped = im.height === inH && im.width === inW ? im : cropRegion(im, top, left, inH, inW);
  const data = cropped.data === img.data ? new Float32Array(cropped.data) : cropped.data;
  return {
    data,
    channels,
    height: inH,
    width: inW,
    geometry: {
      original: [img.height, img.width],
      scale,
      resized,
      crop: { top, left, height: inH, width: inW },
    },
  };
}

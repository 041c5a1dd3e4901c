/**
 * The decode-sharp API on the pure-JS decoders (jpeg-js, pngjs): what the offline bundle for the GPU
 * machine uses (scripts/bundle-offline.mjs swaps it in), since sharp's libvips binaries are not carried
 * there. PNGs decode to the same values as through sharp; JPEGs can differ by a grey level or two (another
 * IDCT; docs/datasets.md). Decoding runs on the calling thread.
 */
import { decodeImage, type RgbImage } from './image.js';

export async function decodeImageAsync(bytes: Uint8Array, name: string): Promise<RgbImage> {
  return decodeImage(bytes, name);
}

const toLinear = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
const toSrgb = (y: number): number => (y <= 0.0031308 ? y * 12.92 : 1.055 * y ** (1 / 2.4) - 0.055);

/** A grey 8-bit image; colour becomes what libvips' b-w gives: Rec. 709 luminance in linear light, as sRGB. */
export async function decodeGreyBytes(bytes: Uint8Array, name: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const img = decodeImage(bytes, name);
  const hw = img.width * img.height;
  const data = new Uint8Array(hw);
  const d = img.data;
  if (img.channels === 1) {
    for (let p = 0; p < hw; p++) data[p] = Math.round(d[p] * 255);
  } else {
    for (let p = 0; p < hw; p++) {
      const y = 0.2126 * toLinear(d[p]) + 0.7152 * toLinear(d[hw + p]) + 0.0722 * toLinear(d[2 * hw + p]);
      data[p] = Math.round(toSrgb(y) * 255);
    }
  }
  return { width: img.width, height: img.height, data };
}

/**
 * Image decoding with the platform (createImageBitmap + canvas) into the planar [0, 1] image the
 * model's preparation expects. Colour-space conversion is off so that a grey PNG gives its own bytes,
 * as the CLI's decoder does.
 */
import type { PlanarImage } from '@lrpseg/datasets/browser';

export async function decodeImageFile(blob: Blob): Promise<PlanarImage> {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  try {
    const { width, height } = bitmap;
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new Error('no 2D canvas context');
    ctx.drawImage(bitmap, 0, 0);
    const rgba = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
    const hw = width * height;
    const data = new Float32Array(3 * hw);
    for (let i = 0; i < hw; i++) {
      data[i] = rgba[4 * i] / 255;
      data[hw + i] = rgba[4 * i + 1] / 255;
      data[2 * hw + i] = rgba[4 * i + 2] / 255;
    }
    return { width, height, channels: 3, data };
  } finally {
    bitmap.close();
  }
}

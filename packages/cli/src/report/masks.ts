/**
 * Pictures of a segmentation: mask PNGs, overlays, and masks carried back to the original image.
 */
import type { CropGeometry } from '@lrpseg/datasets';
import { encodePngGrey, encodePngRgb } from '@lrpseg/datasets';

/** A 0/1 mask as an 8-bit grey PNG of 0 and 255 (damage white). */
export function maskToPng(mask: Uint8Array, width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) bytes[i] = mask[i] ? 255 : 0;
  return encodePngGrey(bytes, width, height);
}

/**
 * The mask in the original image's pixels: each original pixel takes the value of the model-input
 * pixel it landed on (nearest, through the scale-up and the center crop of prepareForModel); pixels the
 * crop cut away are 0.
 */
export function maskToOriginal(mask: Uint8Array, g: CropGeometry): { data: Uint8Array; width: number; height: number } {
  const [oh, ow] = g.original;
  const { top, left, height: ch, width: cw } = g.crop;
  const out = new Uint8Array(oh * ow);
  const sy = g.resized[0] / oh;
  const sx = g.resized[1] / ow;
  for (let y = 0; y < oh; y++) {
    const my = Math.floor((y + 0.5) * sy) - top;
    if (my < 0 || my >= ch) continue;
    for (let x = 0; x < ow; x++) {
      const mx = Math.floor((x + 0.5) * sx) - left;
      if (mx >= 0 && mx < cw) out[y * ow + x] = mask[my * cw + mx];
    }
  }
  return { data: out, width: ow, height: oh };
}

/** Interleaved RGB bytes of a planar image in [0, 1] (one channel is shown grey). */
export function planarToRgb(data: Float32Array, channels: number, width: number, height: number): Uint8Array {
  const hw = width * height;
  const out = new Uint8Array(3 * hw);
  for (let p = 0; p < hw; p++) {
    for (let c = 0; c < 3; c++) {
      const v = data[(channels >= 3 ? c : 0) * hw + p];
      out[3 * p + c] = Math.max(0, Math.min(255, Math.round(v * 255)));
    }
  }
  return out;
}

/** The input with the mask's pixels tinted red (half the input, half pure red) and its outline in full red. */
export function overlayRgb(rgb: Uint8Array, mask: Uint8Array, width: number, height: number): Uint8Array {
  const out = rgb.slice();
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!mask[i]) continue;
      const edge = x === 0 || y === 0 || x === width - 1 || y === height - 1 || !mask[i - 1] || !mask[i + 1] || !mask[i - width] || !mask[i + width];
      const o = 3 * i;
      if (edge) {
        out[o] = 255;
        out[o + 1] = 0;
        out[o + 2] = 0;
      } else {
        out[o] = (rgb[o] + 255) >> 1;
        out[o + 1] = rgb[o + 1] >> 1;
        out[o + 2] = rgb[o + 2] >> 1;
      }
    }
  }
  return out;
}

export function overlayPng(rgb: Uint8Array, mask: Uint8Array, width: number, height: number): Uint8Array {
  return encodePngRgb(overlayRgb(rgb, mask, width, height), width, height);
}

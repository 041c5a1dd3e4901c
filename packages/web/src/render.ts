/** Canvases of a result: the input, the heatmap (the CLI's colour map) and the mask overlay. */
import { heatmapToRgb } from '@lrpseg/datasets/browser';

function canvasFromRgba(rgba: Uint8ClampedArray<ArrayBuffer>, width: number, height: number): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  canvas.getContext('2d')!.putImageData(new ImageData(rgba, width, height), 0, 0);
  return canvas;
}

/** Interleaved RGB of a planar (C, H, W) [0, 1] image; grey is repeated. */
function planarToRgba(data: Float32Array, channels: number, width: number, height: number): Uint8ClampedArray<ArrayBuffer> {
  const hw = width * height;
  const out = new Uint8ClampedArray(4 * hw);
  for (let i = 0; i < hw; i++) {
    for (let k = 0; k < 3; k++) out[4 * i + k] = Math.round(255 * data[Math.min(k, channels - 1) * hw + i]);
    out[4 * i + 3] = 255;
  }
  return out;
}

export function inputCanvas(data: Float32Array, channels: number, width: number, height: number): HTMLCanvasElement {
  return canvasFromRgba(planarToRgba(data, channels, width, height), width, height);
}

export function heatmapCanvas(map: Float32Array, width: number, height: number): HTMLCanvasElement {
  const rgb = heatmapToRgb(map, width, height);
  const out = new Uint8ClampedArray(4 * width * height);
  for (let i = 0; i < width * height; i++) {
    out[4 * i] = rgb[3 * i];
    out[4 * i + 1] = rgb[3 * i + 1];
    out[4 * i + 2] = rgb[3 * i + 2];
    out[4 * i + 3] = 255;
  }
  return canvasFromRgba(out, width, height);
}

/** The mask as a black/white image (0 / 255), what the CLI writes. */
export function maskCanvas(mask: Uint8Array, width: number, height: number): HTMLCanvasElement {
  const out = new Uint8ClampedArray(4 * width * height);
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i] ? 255 : 0;
    out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = v;
    out[4 * i + 3] = 255;
  }
  return canvasFromRgba(out, width, height);
}

/** The input with the mask in translucent red. */
export function overlayCanvas(data: Float32Array, channels: number, mask: Uint8Array, width: number, height: number): HTMLCanvasElement {
  const rgba = planarToRgba(data, channels, width, height);
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    rgba[4 * i] = Math.round(0.5 * rgba[4 * i] + 127.5);
    rgba[4 * i + 1] = Math.round(0.5 * rgba[4 * i + 1]);
    rgba[4 * i + 2] = Math.round(0.5 * rgba[4 * i + 2]);
  }
  return canvasFromRgba(rgba, width, height);
}

/** A link that downloads the canvas as a PNG. */
export function pngDownloadLink(canvas: HTMLCanvasElement, fileName: string, label: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.textContent = label;
  a.download = fileName;
  a.className = 'download';
  a.href = canvas.toDataURL('image/png');
  return a;
}

import { describe, expect, it } from 'vitest';
import { decodeImage, encodePngGrey, encodePngRgb, heatmapToPng, heatmapToRgb } from '../src/index.js';

const px = (rgb: Uint8Array, i: number): number[] => Array.from(rgb.subarray(3 * i, 3 * i + 3));

describe('heatmapToRgb (bwr, symmetric)', () => {
  it('maps 0 to white, +max to red, −max to blue, on a symmetric scale', () => {
    const rgb = heatmapToRgb(Float32Array.from([0, 2, -2, 1, -1, 4]), 6, 1);
    expect(px(rgb, 0)).toEqual([255, 255, 255]);
    expect(px(rgb, 1)).toEqual([255, 128, 128]); // 2/4 = 0.5
    expect(px(rgb, 2)).toEqual([128, 128, 255]);
    expect(px(rgb, 3)).toEqual([255, 191, 191]); // 0.25
    expect(px(rgb, 4)).toEqual([191, 191, 255]);
    expect(px(rgb, 5)).toEqual([255, 0, 0]);
    const neg = heatmapToRgb(Float32Array.from([-3, 1]), 2, 1);
    expect(px(neg, 0)).toEqual([0, 0, 255]);
  });

  it('draws a map of zeros (or non-finite values) white', () => {
    expect(Array.from(heatmapToRgb(new Float32Array(4), 2, 2)).every((v) => v === 255)).toBe(true);
    const odd = heatmapToRgb(Float32Array.from([NaN, Infinity, 1]), 3, 1);
    expect(px(odd, 0)).toEqual([255, 255, 255]);
    expect(px(odd, 1)).toEqual([255, 255, 255]);
    expect(px(odd, 2)).toEqual([255, 0, 0]);
  });

  it('checks the size', () => {
    expect(() => heatmapToRgb(new Float32Array(3), 2, 2)).toThrow(/2×2/);
  });
});

describe('PNG encoding', () => {
  it('round-trips grey and RGB', () => {
    const grey = Uint8Array.from([0, 1, 128, 255, 7, 9]);
    const g = decodeImage(encodePngGrey(grey, 3, 2), 'g.png');
    expect(g.channels).toBe(1);
    expect(Array.from(g.data).map((v) => Math.round(v * 255))).toEqual(Array.from(grey));
    const rgb = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    const c = decodeImage(encodePngRgb(rgb, 1, 2), 'c.png');
    expect(c.channels).toBe(3);
    // planar: R of both pixels, then G, then B
    expect(Array.from(c.data).map((v) => Math.round(v * 255))).toEqual([1, 4, 2, 5, 3, 6]);
    const h = decodeImage(heatmapToPng(Float32Array.from([1, -1]), 2, 1), 'h.png');
    expect(Array.from(h.data)).toEqual([1, 0, 0, 0, 0, 1]);
  });

  it('refuses data of the wrong length', () => {
    expect(() => encodePngGrey(new Uint8Array(5), 3, 2)).toThrow(/expected 6/);
    expect(() => encodePngRgb(new Uint8Array(6), 3, 2)).toThrow(/expected 18/);
  });
});

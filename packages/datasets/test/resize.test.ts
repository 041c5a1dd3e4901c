import { describe, expect, it } from 'vitest';
import { centerCrop, prepareForModel, resizeBilinear, toChannels, type PlanarImage } from '../src/index.js';

const img = (channels: number, height: number, width: number, values: number[]): PlanarImage => ({
  channels,
  height,
  width,
  data: Float32Array.from(values),
});

describe('resizeBilinear (align_corners = false)', () => {
  it('upsamples a row like PyTorch', () => {
    // F.interpolate(tensor([[[[0., 1.]]]]), size=(1, 4), mode='bilinear', align_corners=False)
    const out = resizeBilinear(img(1, 1, 2, [0, 1]), 1, 4);
    expect(Array.from(out.data)).toEqual([0, 0.25, 0.75, 1]);
  });

  it('upsamples 2×2 to 4×4 like PyTorch', () => {
    const out = resizeBilinear(img(1, 2, 2, [0, 1, 2, 3]), 4, 4);
    expect(Array.from(out.data)).toEqual([
      0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3,
    ]);
  });

  it('halves by averaging pairs (downsampling by 2 samples between pixels)', () => {
    const out = resizeBilinear(img(1, 1, 4, [0, 2, 4, 6]), 1, 2);
    expect(Array.from(out.data)).toEqual([1, 5]);
  });

  it('resizes each channel independently and keeps the size when unchanged', () => {
    const out = resizeBilinear(img(2, 1, 2, [0, 1, 10, 20]), 1, 4);
    expect(Array.from(out.data)).toEqual([0, 0.25, 0.75, 1, 10, 12.5, 17.5, 20]);
    const same = resizeBilinear(img(1, 1, 2, [3, 4]), 1, 2);
    expect(Array.from(same.data)).toEqual([3, 4]);
  });
});

describe('toChannels and centerCrop', () => {
  it('repeats grey to three channels and makes luma of RGB', () => {
    expect(Array.from(toChannels(img(1, 1, 2, [0.5, 1]), 3).data)).toEqual([0.5, 1, 0.5, 1, 0.5, 1]);
    const luma = toChannels(img(3, 1, 1, [1, 1, 1]), 1);
    expect(luma.channels).toBe(1);
    expect(luma.data[0]).toBeCloseTo(1, 6);
  });

  it('crops the center, rounding the offset down', () => {
    const values = Array.from({ length: 25 }, (_, i) => i);
    expect(Array.from(centerCrop(img(1, 5, 5, values), 3, 3).data)).toEqual([6, 7, 8, 11, 12, 13, 16, 17, 18]);
    // 5 → 4: offset floor(0.5) = 0; 5 → 2: offset 1
    expect(Array.from(centerCrop(img(1, 5, 5, values), 4, 2).data)).toEqual([1, 2, 6, 7, 11, 12, 16, 17]);
    expect(() => centerCrop(img(1, 2, 2, [0, 0, 0, 0]), 3, 3)).toThrow(/smaller/);
  });
});

describe('prepareForModel (paper section 3.4)', () => {
  it('only crops an image that is large enough', () => {
    const values = Array.from({ length: 36 }, (_, i) => i / 36);
    const p = prepareForModel(img(1, 6, 6, values), [4, 2], 1);
    expect(p.geometry.scale).toBe(1);
    expect(p.geometry.crop).toEqual({ top: 1, left: 2, height: 4, width: 2 });
    expect(p.data.length).toBe(8);
    expect(p.data[0]).toBeCloseTo(8 / 36, 6);
  });

  it('scales a too-small image up, keeping its aspect ratio, then crops', () => {
    // 2 × 4 (h × w) to a 4 × 4 input: the height is short by a factor 2 → 4 × 8, crop columns 2..5
    const values = [0, 1, 2, 3, 4, 5, 6, 7];
    const p = prepareForModel(img(1, 2, 4, values), [4, 4], 1);
    expect(p.geometry.scale).toBe(2);
    expect(p.geometry.resized).toEqual([4, 8]);
    expect(p.geometry.crop).toEqual({ top: 0, left: 2, height: 4, width: 4 });
    const full = resizeBilinear(img(1, 2, 4, values), 4, 8);
    const expected = [0, 1, 2, 3].flatMap((y) => Array.from(full.data.subarray(y * 8 + 2, y * 8 + 6)));
    expect(Array.from(p.data)).toEqual(expected);
  });

  it('scales up by the larger of the two factors when both sides are short', () => {
    const p = prepareForModel(img(1, 3, 2, [0, 0, 0, 0, 0, 0]), [6, 6], 3);
    // factors 2 (height) and 3 (width): scale 3 → 9 × 6
    expect(p.geometry.scale).toBe(3);
    expect(p.geometry.resized).toEqual([9, 6]);
    expect(p.geometry.crop).toEqual({ top: 1, left: 0, height: 6, width: 6 });
    expect(p.channels).toBe(3);
    expect(p.data.length).toBe(3 * 36);
  });

  it('repeats grey into the model channels and never aliases the input', () => {
    const src = img(1, 2, 2, [0.1, 0.2, 0.3, 0.4]);
    const p = prepareForModel(src, [2, 2], 1);
    p.data[0] = 9;
    expect(src.data[0]).toBeCloseTo(0.1, 6);
    const rgb = prepareForModel(src, [2, 2], 3);
    expect(Array.from(rgb.data.subarray(4, 8))).toEqual(Array.from(src.data));
  });
});

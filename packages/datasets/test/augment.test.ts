import { describe, expect, it } from 'vitest';
import { mulberry32 } from '@lrpseg/core';
import {
  CLASSIFIER_AUGMENT,
  adjustBrightness,
  adjustContrast,
  hidePatches,
  randomPhotometric,
  randomScaledSize,
  rotate90,
  DEFAULT_WARP,
  UNET_AUGMENT,
  cropOffsetRange,
  flipHorizontal,
  flipVertical,
  maskBox,
  prepareSample,
  randomCropContaining,
  randomWarpMap,
  thresholdMask,
  warpBilinear,
  type PlanarImage,
  type SampleSpec,
} from '../src/index.js';

/** A smooth random grey image: a few Gaussian blobs on a dark ground, values in [0, 1]. */
function blobs(seed: number, h: number, w: number, n = 4): PlanarImage {
  const rand = mulberry32(seed);
  const spots = Array.from({ length: n }, () => ({ y: rand() * h, x: rand() * w, r: 4 + rand() * Math.min(h, w) * 0.08 }));
  const data = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 0.1;
      for (const s of spots) v += Math.exp(-((y - s.y) ** 2 + (x - s.x) ** 2) / (2 * s.r * s.r));
      data[y * w + x] = Math.min(1, v);
    }
  }
  return { width: w, height: h, channels: 1, data };
}

/** The image's own thresholded content as a binary (0/1) soft mask. */
function ownMask(img: PlanarImage): PlanarImage {
  return { ...img, data: Float32Array.from(img.data, (v) => (v >= 0.5 ? 1 : 0)) };
}

function spec(over: Partial<SampleSpec>): SampleSpec {
  return { mode: 'train', size: [64, 64], channels: 1, seed: 1, augment: CLASSIFIER_AUGMENT, view: 'identity', evalCrop: 'center', ...over };
}

/** Fraction of pixels where the prepared mask disagrees with the prepared image thresholded at 0.5. */
function disagreement(data: Float32Array, mask: Uint8Array): number {
  let bad = 0;
  for (let i = 0; i < mask.length; i++) if ((data[i] >= 0.5 ? 1 : 0) !== mask[i]) bad++;
  return bad / mask.length;
}

describe('flips, crops and boxes', () => {
  it('flips are exact mirror images and involutions', () => {
    const img: PlanarImage = { width: 3, height: 2, channels: 2, data: Float32Array.from({ length: 12 }, (_, i) => i) };
    expect(Array.from(flipHorizontal(img).data)).toEqual([2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9]);
    expect(Array.from(flipVertical(img).data)).toEqual([3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8]);
    expect(Array.from(flipVertical(flipVertical(img)).data)).toEqual(Array.from(img.data));
  });

  it('maskBox and cropOffsetRange', () => {
    const m: PlanarImage = { width: 5, height: 4, channels: 1, data: new Float32Array(20) };
    expect(maskBox(m)).toBeNull();
    m.data[1 * 5 + 2] = 0.7;
    m.data[2 * 5 + 3] = 0.5;
    m.data[3 * 5 + 0] = 0.49; // below threshold
    expect(maskBox(m)).toEqual({ top: 1, left: 2, bottom: 3, right: 4 });
    // a defect [40, 60) in 300 pixels with a crop of 224: offsets 0..40
    expect(cropOffsetRange(300, 224, 40, 60)).toEqual([0, 40]);
    expect(cropOffsetRange(300, 224, 250, 290)).toEqual([66, 76]);
    // a defect longer than the crop: the crop lies inside it
    expect(cropOffsetRange(600, 224, 100, 400)).toEqual([100, 176]);
    expect(cropOffsetRange(300, 224)).toEqual([0, 76]);
    expect(() => cropOffsetRange(100, 224)).toThrow(/does not fit/);
  });

  it('random crops always contain the defect box and cover the allowed range', () => {
    const rand = mulberry32(7);
    const box = { top: 250, left: 10, bottom: 262, right: 30 };
    const tops = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const { top, left } = randomCropContaining(rand, [300, 400], [224, 224], box);
      expect(top).toBeLessThanOrEqual(box.top);
      expect(top + 224).toBeGreaterThanOrEqual(box.bottom);
      expect(left).toBeLessThanOrEqual(box.left);
      expect(left + 224).toBeGreaterThanOrEqual(box.right);
      expect(top + 224).toBeLessThanOrEqual(300);
      tops.add(top);
    }
    expect(Math.min(...tops)).toBe(38);
    expect(Math.max(...tops)).toBe(76);
  });
});

describe('image and mask stay aligned through every transform', () => {
  const cases: [string, Partial<SampleSpec>][] = [
    ['eval centre crop', { mode: 'eval' }],
    ['eval hflip', { mode: 'eval', view: 'hflip' }],
    ['eval vflip', { mode: 'eval', view: 'vflip' }],
    ['eval defect crop', { mode: 'eval', evalCrop: 'defect' }],
    ['train crop + flips', { mode: 'train', augment: CLASSIFIER_AUGMENT }],
    ['train crop + flips + affine + elastic', { mode: 'train', augment: UNET_AUGMENT }],
    ['train crop + flips + 90° rotations', { mode: 'train', augment: { ...CLASSIFIER_AUGMENT, rot90: true } }],
    ['train scale jitter + crop + flips', { mode: 'train', augment: { ...CLASSIFIER_AUGMENT, scale: 2 } }],
  ];
  for (const [name, over] of cases) {
    it(`${name}: the mask of the image's own content transforms into the transformed image's content`, () => {
      for (let seed = 0; seed < 6; seed++) {
        // small images are scaled up first (48 × 90 → 64 × 120), larger ones only cropped
        for (const [h, w] of [[48, 90], [80, 100]] as const) {
          const img = blobs(seed, h, w);
          const soft = prepareSample(img, img, spec({ ...over, seed }));
          // the same pixels, thresholded: identical geometry gives identical results, bit for bit
          expect(Array.from(soft.mask)).toEqual(Array.from(soft.data, (v) => (v >= 0.5 ? 1 : 0)));
          // a binary mask: interpolation may move an edge pixel, nothing more
          const bin = prepareSample(img, ownMask(img), spec({ ...over, seed }));
          expect(disagreement(bin.data, bin.mask)).toBeLessThan(0.02);
        }
      }
    });
  }

  it('training crops keep the defect; augmentation is seeded', () => {
    const img = blobs(3, 80, 200, 1);
    const mask = ownMask(img);
    for (let seed = 0; seed < 20; seed++) {
      const s = prepareSample(img, mask, spec({ seed }));
      expect(s.maskHasDefect).toBe(true);
      const again = prepareSample(img, mask, spec({ seed }));
      expect(Array.from(again.data)).toEqual(Array.from(s.data));
    }
    const a = prepareSample(img, mask, spec({ seed: 1, augment: UNET_AUGMENT }));
    const b = prepareSample(img, mask, spec({ seed: 2, augment: UNET_AUGMENT }));
    expect(Array.from(a.data)).not.toEqual(Array.from(b.data));
  });

  it('grey becomes three identical channels; a mask of another size is refused', () => {
    const img = blobs(1, 64, 64);
    const s = prepareSample(img, null, spec({ mode: 'eval', channels: 3 }));
    expect(s.data.length).toBe(3 * 64 * 64);
    expect(Array.from(s.data.subarray(0, 4096))).toEqual(Array.from(s.data.subarray(8192)));
    expect(s.mask.every((v) => v === 0)).toBe(true);
    expect(() => prepareSample(img, blobs(1, 64, 65), spec({}))).toThrow(/does not match/);
  });

  it('the warp map is seeded, moves pixels, and warping with the identity map changes nothing', () => {
    const m1 = randomWarpMap(5, 32, 32, DEFAULT_WARP);
    const m2 = randomWarpMap(5, 32, 32, DEFAULT_WARP);
    expect(Array.from(m1.x)).toEqual(Array.from(m2.x));
    const moved = m1.x.reduce((s, v, i) => s + Math.abs(v - (i % 32)), 0) / m1.x.length;
    expect(moved).toBeGreaterThan(0.5);
    const img = blobs(2, 32, 32);
    const id = {
      x: Float32Array.from({ length: 1024 }, (_, i) => i % 32),
      y: Float32Array.from({ length: 1024 }, (_, i) => Math.floor(i / 32)),
    };
    expect(Array.from(warpBilinear(img, id, 32, 32).data)).toEqual(Array.from(img.data));
    expect(thresholdMask({ width: 2, height: 1, channels: 1, data: Float32Array.from([0.5, 0.4999]) })).toEqual(Uint8Array.from([1, 0]));
  });
});

describe('90° rotations, brightness and contrast', () => {
  const img: PlanarImage = { width: 3, height: 2, channels: 2, data: Float32Array.from({ length: 12 }, (_, i) => i) };

  it('rotate90 turns counter-clockwise, swaps the sides on odd turns, and four turns are the identity', () => {
    // channel 0 is [[0 1 2] [3 4 5]]; a quarter turn counter-clockwise gives [[2 5] [1 4] [0 3]]
    const r1 = rotate90(img, 1);
    expect([r1.width, r1.height]).toEqual([2, 3]);
    expect(Array.from(r1.data)).toEqual([2, 5, 1, 4, 0, 3, 8, 11, 7, 10, 6, 9]);
    expect(Array.from(rotate90(img, 2).data)).toEqual([5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6]);
    expect(Array.from(rotate90(img, 3).data)).toEqual([3, 0, 4, 1, 5, 2, 9, 6, 10, 7, 11, 8]);
    expect(Array.from(rotate90(img, -1).data)).toEqual(Array.from(rotate90(img, 3).data));
    expect(Array.from(rotate90(rotate90(img, 1), 3).data)).toEqual(Array.from(img.data));
    let four = img;
    for (let i = 0; i < 4; i++) four = rotate90(four, 1);
    expect(Array.from(four.data)).toEqual(Array.from(img.data));
    // two quarter turns are both flips
    expect(Array.from(rotate90(img, 2).data)).toEqual(Array.from(flipVertical(flipHorizontal(img)).data));
  });

  it('brightness multiplies and contrast blends with the mean, both clipped to [0, 1]', () => {
    const g: PlanarImage = { width: 4, height: 1, channels: 1, data: Float32Array.from([0.1, 0.3, 0.5, 0.9]) };
    const close = (a: Float32Array, b: number[]) => b.forEach((v, i) => expect(a[i]).toBeCloseTo(v, 6));
    close(adjustBrightness(g, 1.5).data, [0.15, 0.45, 0.75, 1]);
    const mean = (0.1 + 0.3 + 0.5 + 0.9) / 4;
    const c = adjustContrast(g, 0.5);
    Array.from(g.data).forEach((v, i) => expect(c.data[i]).toBeCloseTo(mean + 0.5 * (v - mean), 6));
    expect(Array.from(adjustContrast(g, 1).data)).toEqual(Array.from(g.data));
    close(adjustContrast(g, 2).data, [0, 0.15, 0.55, 1]); // mean 0.45
  });

  it('photometric jitter is seeded, stays in range, draws nothing when off, and refuses magnitudes ≥ 1', () => {
    const g = blobs(4, 16, 16);
    const a = randomPhotometric(mulberry32(3), g, { brightness: 0.3, contrast: 0 });
    expect(Array.from(randomPhotometric(mulberry32(3), g, { brightness: 0.3, contrast: 0 }).data)).toEqual(Array.from(a.data));
    // unclipped pixels all scaled by one factor within [0.7, 1.3]
    const ratios = Array.from(g.data).map((v, i) => a.data[i] / v).filter((_, i) => a.data[i] < 1);
    expect(Math.max(...ratios) - Math.min(...ratios)).toBeLessThan(1e-5);
    expect(ratios[0]).toBeGreaterThanOrEqual(0.7);
    expect(ratios[0]).toBeLessThanOrEqual(1.3);
    const factors = new Set<number>();
    for (let s = 0; s < 20; s++) factors.add(Math.round(100 * (randomPhotometric(mulberry32(s), g, { brightness: 0.3, contrast: 0 }).data[0] / g.data[0])));
    expect(factors.size).toBeGreaterThan(5);
    const rand = mulberry32(9);
    const off = randomPhotometric(rand, g, { brightness: 0, contrast: 0 });
    expect(Array.from(off.data)).toEqual(Array.from(g.data));
    expect(rand()).toBe(mulberry32(9)());
    expect(() => randomPhotometric(rand, g, { brightness: 1, contrast: 0 })).toThrow(/brightness/);
    expect(() => randomPhotometric(rand, g, { brightness: 0, contrast: -0.1 })).toThrow(/contrast/);
  });

  it('with the new options off, samples are bit for bit those of the flips-only augmentation', () => {
    const g = blobs(2, 80, 100);
    for (let seed = 0; seed < 4; seed++) {
      const old = prepareSample(g, ownMask(g), spec({ seed }));
      const off = prepareSample(g, ownMask(g), spec({ seed, augment: { ...CLASSIFIER_AUGMENT, rot90: false, brightness: 0, contrast: 0, scale: 1, hide: { probability: 0, cell: 16 } } }));
      expect(Array.from(off.data)).toEqual(Array.from(old.data));
      expect(Array.from(off.mask)).toEqual(Array.from(old.mask));
    }
  });

  it('hide-and-seek: every cell, ragged edges included, is either untouched or its channel mean; about the asked share hidden', () => {
    const [H, W, C, cell] = [20, 18, 2, 8]; // cells of 8, 8, 4 rows × 8, 8, 2 columns
    const rnd = mulberry32(3);
    const img: PlanarImage = { width: W, height: H, channels: C, data: Float32Array.from({ length: C * H * W }, () => rnd()) };
    const means = [0, 1].map((c) => img.data.slice(c * H * W, (c + 1) * H * W).reduce((a, v) => a + v, 0) / (H * W));
    let hidden = 0;
    let cells = 0;
    for (let seed = 0; seed < 60; seed++) {
      const out = hidePatches(mulberry32(seed), img, { probability: 0.3, cell });
      for (let y0 = 0; y0 < H; y0 += cell) {
        for (let x0 = 0; x0 < W; x0 += cell) {
          const states = new Set<string>();
          for (let c = 0; c < C; c++) {
            for (let y = y0; y < Math.min(H, y0 + cell); y++) {
              for (let x = x0; x < Math.min(W, x0 + cell); x++) {
                const i = c * H * W + y * W + x;
                states.add(out.data[i] === img.data[i] ? 'kept' : Math.abs(out.data[i] - means[c]) < 1e-6 ? 'hidden' : 'other');
              }
            }
          }
          expect([...states], `seed ${seed}, cell at ${y0}, ${x0}`).toHaveLength(1);
          expect(states.has('other')).toBe(false);
          cells++;
          if (states.has('hidden')) hidden++;
        }
      }
    }
    expect(hidden / cells).toBeGreaterThan(0.24);
    expect(hidden / cells).toBeLessThan(0.36);
    const rand = mulberry32(9);
    expect(hidePatches(rand, img, { probability: 0, cell })).toBe(img);
    expect(rand()).toBe(mulberry32(9)()); // off draws nothing
    expect(() => hidePatches(rand, img, { probability: 1, cell })).toThrow(/probability/);
    expect(() => hidePatches(rand, img, { probability: 0.5, cell: 0 })).toThrow(/side/);
  });

  it('hide-and-seek in a sample: the same crop, flips and mask; only hidden cells change, to the crop\'s mean', () => {
    const g = blobs(4, 80, 100);
    let changed = 0;
    for (let seed = 0; seed < 8; seed++) {
      const plain = prepareSample(g, ownMask(g), spec({ seed }));
      const hid = prepareSample(g, ownMask(g), spec({ seed, augment: { ...CLASSIFIER_AUGMENT, hide: { probability: 0.5, cell: 16 } } }));
      expect(Array.from(hid.mask)).toEqual(Array.from(plain.mask));
      const mean = plain.data.reduce((a, v) => a + v, 0) / plain.data.length;
      hid.data.forEach((v, i) => {
        if (v !== plain.data[i]) {
          expect(v).toBeCloseTo(mean, 5);
          changed++;
        }
      });
    }
    expect(changed).toBeGreaterThan(0);
  });

  it('rot90 in a sample: one of the four turns of the unrotated sample, every turn occurs; non-square inputs are refused', () => {
    const g = blobs(5, 80, 100);
    const seen = new Set<number>();
    for (let seed = 0; seed < 24; seed++) {
      const plain = prepareSample(g, ownMask(g), spec({ seed }));
      const rot = prepareSample(g, ownMask(g), spec({ seed, augment: { ...CLASSIFIER_AUGMENT, rot90: true } }));
      const asImage = (d: Float32Array): PlanarImage => ({ width: 64, height: 64, channels: 1, data: d });
      const k = [0, 1, 2, 3].find((q) => rotate90(asImage(plain.data), q).data.every((v, i) => v === rot.data[i]));
      expect(k, `seed ${seed}`).toBeDefined();
      const maskAsImage = asImage(Float32Array.from(plain.mask));
      expect(Array.from(rot.mask)).toEqual(Array.from(rotate90(maskAsImage, k!).data));
      seen.add(k!);
    }
    expect([...seen].sort()).toEqual([0, 1, 2, 3]);
    expect(() => prepareSample(g, null, spec({ size: [64, 48], augment: { ...CLASSIFIER_AUGMENT, rot90: true } }))).toThrow(/square/);
  });

  it('brightness and contrast change the image of a sample, never its mask or crop', () => {
    const g = blobs(6, 80, 100);
    for (let seed = 0; seed < 6; seed++) {
      const plain = prepareSample(g, ownMask(g), spec({ seed }));
      const jit = prepareSample(g, ownMask(g), spec({ seed, augment: { ...CLASSIFIER_AUGMENT, brightness: 0.4, contrast: 0.4 } }));
      expect(Array.from(jit.mask)).toEqual(Array.from(plain.mask));
      expect(Array.from(jit.data)).not.toEqual(Array.from(plain.data));
      expect(jit.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
  });
});

describe('scale jitter', () => {
  it('draws a factor log-uniformly in [1/s, s], keeps the aspect ratio and never shrinks below the input', () => {
    const rand = mulberry32(11);
    const factors: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const [h, w] = randomScaledSize(rand, 300, 400, 64, 64, 2);
      expect(h).toBeGreaterThanOrEqual(64);
      expect(w).toBeGreaterThanOrEqual(64);
      expect(Math.abs(w / h - 400 / 300)).toBeLessThan(0.01);
      factors.push(h / 300);
    }
    expect(Math.min(...factors)).toBeGreaterThanOrEqual(0.5 - 1 / 300);
    expect(Math.max(...factors)).toBeLessThanOrEqual(2 + 1 / 300);
    // log-uniform: half of the factors below 1, a quarter below 1/√2, a quarter above √2
    const share = (p: (f: number) => boolean): number => factors.filter(p).length / factors.length;
    expect(share((f) => f < 1)).toBeGreaterThan(0.46);
    expect(share((f) => f < 1)).toBeLessThan(0.54);
    expect(share((f) => f < Math.SQRT1_2)).toBeGreaterThan(0.21);
    expect(share((f) => f > Math.SQRT2)).toBeGreaterThan(0.21);
  });

  it("range 'enlarge' draws log-uniformly in [1, s] (never shrinks), one number per image like 'both'", () => {
    let draws = 0;
    const base = mulberry32(5);
    const rand = (): number => {
      draws++;
      return base();
    };
    const factors: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const [h, w] = randomScaledSize(rand, 300, 400, 64, 64, 2, 'enlarge');
      expect(h).toBeGreaterThanOrEqual(300);
      expect(Math.abs(w / h - 400 / 300)).toBeLessThan(0.01);
      factors.push(h / 300);
    }
    expect(draws).toBe(4000);
    expect(Math.max(...factors)).toBeLessThanOrEqual(2 + 1 / 300);
    expect(Math.max(...factors)).toBeGreaterThan(1.95);
    // log-uniform on [1, 2]: half below √2, a quarter below 2^¼
    const share = (p: (f: number) => boolean): number => factors.filter(p).length / factors.length;
    expect(share((f) => f < Math.SQRT2)).toBeGreaterThan(0.46);
    expect(share((f) => f < Math.SQRT2)).toBeLessThan(0.54);
    expect(share((f) => f < 2 ** 0.25)).toBeGreaterThan(0.21);
    expect(share((f) => f < 2 ** 0.25)).toBeLessThan(0.29);
    // the same draw u gives 2^u under 'enlarge' and 2^(2u − 1) under 'both'
    const u = (): number => 0.75;
    expect(randomScaledSize(u, 300, 400, 64, 64, 2, 'enlarge')).toEqual([Math.round(300 * 2 ** 0.75), Math.round(400 * 2 ** 0.75)]);
    expect(randomScaledSize(u, 300, 400, 64, 64, 2, 'both')).toEqual([Math.round(300 * 2 ** 0.5), Math.round(400 * 2 ** 0.5)]);
    expect(randomScaledSize(u, 300, 400, 64, 64, 1, 'enlarge')).toEqual([300, 400]);
  });

  it('a small image is raised to hold the input, with its aspect ratio; s = 1 is off and draws nothing', () => {
    const rand = mulberry32(2);
    let atInput = 0;
    for (let i = 0; i < 400; i++) {
      const [h, w] = randomScaledSize(rand, 64, 96, 64, 64, 3);
      expect(h).toBeGreaterThanOrEqual(64);
      expect(h).toBeLessThanOrEqual(192);
      expect(Math.abs(w / h - 1.5)).toBeLessThanOrEqual(1.25 / h + 1e-12); // both sides rounded
      if (h === 64) atInput++;
    }
    // the factors below 1 (about half) are raised to 1
    expect(atInput / 400).toBeGreaterThan(0.4);
    expect(atInput / 400).toBeLessThan(0.6);
    let draws = 0;
    const counting = (): number => {
      draws++;
      return 0.5;
    };
    expect(randomScaledSize(counting, 300, 400, 64, 64, 1)).toEqual([300, 400]);
    expect(draws).toBe(0);
    expect(() => randomScaledSize(counting, 300, 400, 64, 64, 0.5)).toThrow(/\[1, 4\]/);
    expect(() => randomScaledSize(counting, 300, 400, 64, 64, 5)).toThrow(/\[1, 4\]/);
    expect(() => randomScaledSize(counting, 50, 400, 64, 64, 2)).toThrow(/smaller than the input/);
  });

  it('in a sample: the defect stays in the crop, its apparent size varies, evaluation ignores the jitter', () => {
    const img = blobs(3, 120, 160, 1);
    const mask = ownMask(img);
    const areas: number[] = [];
    for (let seed = 0; seed < 40; seed++) {
      const s = prepareSample(img, mask, spec({ seed, augment: { ...CLASSIFIER_AUGMENT, scale: 2 } }));
      expect(s.maskHasDefect).toBe(true);
      areas.push(s.mask.reduce((a, b) => a + b, 0));
    }
    const plain = prepareSample(img, mask, spec({ seed: 0 })).mask.reduce((a, b) => a + b, 0);
    expect(Math.max(...areas) / plain).toBeGreaterThan(1.8);
    expect(Math.min(...areas) / plain).toBeLessThan(0.55);
    for (const view of ['identity', 'hflip'] as const) {
      const a = prepareSample(img, mask, spec({ mode: 'eval', view, augment: { ...CLASSIFIER_AUGMENT, scale: 2 } }));
      const b = prepareSample(img, mask, spec({ mode: 'eval', view }));
      expect(Array.from(a.data)).toEqual(Array.from(b.data));
    }
  });
});

import { describe, expect, it } from 'vitest';
import { CUTPASTE_CLASSES, cutPasteBatch, drawPastePatch, mulberry32, pasteMap, pastePatch, type PastePatch } from '../../src/index.js';

/** A crop whose every pixel is distinct (so copies can be traced), identical in each channel. */
function ramp(c: number, s: number): Float32Array {
  const x = new Float32Array(c * s * s);
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < s * s; i++) x[ch * s * s + i] = (i + 1) / (s * s + 1);
  return x;
}

function changed(a: Float32Array, b: Float32Array, s: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < s * s; i++) if (a[i] !== b[i]) out.push([Math.floor(i / s), i % s]);
  return out;
}

describe('pastePatch', () => {
  it('copies an upright source rectangle exactly onto the destination, and nothing else', () => {
    const s = 12, c = 2;
    const x = ramp(c, s);
    // 3 × 4 rectangle with top-left (1, 2) pasted at top-left (6, 7): centres at top + (size − 1) / 2
    const p: PastePatch = { height: 3, width: 4, srcY: 2, srcX: 3.5, dstY: 7, dstX: 8.5, angle: 0, brightness: 1, contrast: 1 };
    const out = pastePatch(x, c, s, s, p);
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < s; y++) {
        for (let xx = 0; xx < s; xx++) {
          const inside = y >= 6 && y < 9 && xx >= 7 && xx < 11;
          const want = inside ? x[ch * s * s + (y - 5) * s + (xx - 5)] : x[ch * s * s + y * s + xx];
          expect(out[ch * s * s + y * s + xx], `(${ch}, ${y}, ${xx})`).toBe(want);
        }
      }
    }
    expect(x).toEqual(ramp(c, s)); // the input is not touched
  });

  it('applies brightness, then contrast about the patch mean, clipped to [0, 1], the same in every channel', () => {
    const s = 6;
    const x = ramp(3, s);
    const p: PastePatch = { height: 2, width: 2, srcY: 0.5, srcX: 0.5, dstY: 3.5, dstX: 3.5, angle: 0, brightness: 1.1, contrast: 0.9 };
    const out = pastePatch(x, 3, s, s, p);
    const src = [0, 1, s, s + 1].map((i) => 1.1 * x[i]);
    const mean = src.reduce((a, b) => a + b, 0) / 4;
    const dst = [3 * s + 3, 3 * s + 4, 4 * s + 3, 4 * s + 4];
    dst.forEach((d, i) => expect(out[d]).toBeCloseTo(Math.min(1, mean + 0.9 * (src[i] - mean)), 6));
    for (let ch = 1; ch < 3; ch++) expect(Array.from(out.subarray(ch * s * s, (ch + 1) * s * s))).toEqual(Array.from(out.subarray(0, s * s)));
    const bright = pastePatch(new Float32Array(s * s).fill(0.95), 1, s, s, { ...p, brightness: 1.1, contrast: 1 });
    expect(Math.max(...bright)).toBe(1);
  });

  it('pastes a turned strip whose pixels are the strip turned about its centre', () => {
    const s = 32;
    const x = ramp(1, s);
    const angle = Math.PI / 6;
    const p: PastePatch = { height: 9, width: 3, srcY: 8, srcX: 8, dstY: 20, dstX: 20, angle, brightness: 1, contrast: 1 };
    const out = pastePatch(x, 1, s, s, p);
    const { dst } = pasteMap(p, s, s);
    // about height × width pixels, all within the strip's turned outline, each a copy of its source pixel
    expect(dst.length).toBeGreaterThan(9 * 3 * 0.8);
    expect(dst.length).toBeLessThan(9 * 3 * 1.25);
    expect(changed(x, out, s).length).toBe(dst.length);
    for (const [y, xx] of Array.from(dst, (d) => [Math.floor(d / s), d % s])) {
      const dy = y - 20, dx = xx - 20;
      const qy = Math.cos(angle) * dy - Math.sin(angle) * dx;
      const qx = Math.sin(angle) * dy + Math.cos(angle) * dx;
      expect(Math.abs(qy)).toBeLessThan(4.5);
      expect(Math.abs(qx)).toBeLessThan(1.5);
      expect(out[y * s + xx]).toBe(x[Math.round(8 + qy) * s + Math.round(8 + qx)]);
    }
  });
});

describe('drawPastePatch', () => {
  it('keeps every drawn patch inside the crop, within the ranges of the paper', () => {
    const rand = mulberry32(1);
    for (const size of [32, 64, 224]) {
      for (let i = 0; i < 300; i++) {
        const cp = drawPastePatch(rand, size, 'cutpaste');
        const area = (cp.height * cp.width) / (size * size);
        expect(area).toBeGreaterThan(0.01);
        expect(area).toBeLessThan(0.2);
        expect(cp.angle).toBe(0);
        for (const [y, h] of [[cp.srcY, cp.height], [cp.dstY, cp.height], [cp.srcX, cp.width], [cp.dstX, cp.width]]) {
          expect(y - (h - 1) / 2).toBeGreaterThanOrEqual(0);
          expect(y + (h - 1) / 2).toBeLessThanOrEqual(size - 1);
        }
        expect(cp.brightness).toBeGreaterThanOrEqual(0.9);
        expect(cp.contrast).toBeLessThanOrEqual(1.1);
        const scar = drawPastePatch(rand, size, 'scar');
        expect(Math.abs(scar.angle)).toBeLessThanOrEqual(Math.PI / 4);
        expect(scar.width).toBeLessThanOrEqual(Math.max(1, Math.round((16 * size) / 256)));
        expect(scar.height).toBeGreaterThanOrEqual(Math.max(2, Math.round((10 * size) / 256)));
        // no destination pixel is clipped: the same count as in a crop 64 pixels larger each way
        const inCrop = pasteMap(scar, size, size).dst.length;
        const inBig = pasteMap({ ...scar, dstY: scar.dstY + 32, dstX: scar.dstX + 32 }, size + 64, size + 64).dst.length;
        expect(inCrop).toBe(inBig);
        expect(inCrop).toBeGreaterThan(0);
        expect(pasteMap(cp, size, size).dst.length).toBe(cp.height * cp.width);
      }
    }
  });
});

describe('cutPasteBatch', () => {
  it('leaves class 0 as it is, changes classes 1 and 2, and is determined by the generator', () => {
    const n = 6, c = 3, s = 48;
    const x = new Float32Array(n * c * s * s);
    for (let i = 0; i < n; i++) x.set(ramp(c, s), i * c * s * s);
    const labels = [0, 1, 2, 0, 1, 2];
    const a = cutPasteBatch(x, n, c, s, labels, mulberry32(5));
    const b = cutPasteBatch(x, n, c, s, labels, mulberry32(5));
    expect(a).toEqual(b);
    const size = c * s * s;
    labels.forEach((k, i) => {
      const before = x.subarray(i * size, (i + 1) * size);
      const after = a.subarray(i * size, (i + 1) * size);
      if (k === 0) expect(after).toEqual(before);
      else expect(changed(before, after, s).length).toBeGreaterThan(0);
    });
    expect(CUTPASTE_CLASSES).toHaveLength(3);
    expect(() => cutPasteBatch(x, n, c, s, [0, 1, 2, 3, 0, 0], mulberry32(0))).toThrow(/label 3/);
  });
});

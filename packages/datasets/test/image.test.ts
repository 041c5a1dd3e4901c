import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import jpegjs from 'jpeg-js';
import pngjs from 'pngjs';
import { LrpsegError } from '@lrpseg/core';
import { decodeImage, jpegFrameInfo, sniffImageFormat, encodePngGrey, encodePngRgb } from '../src/index.js';
import { BLOWHOLE_DIR, HAVE_BLOWHOLE, blowholeStems } from './shared.js';

function expectBadInput(fn: () => unknown, name: string): LrpsegError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(LrpsegError);
  const le = err as LrpsegError;
  expect(le.code).toBe('BAD_INPUT');
  expect(le.message.startsWith(`${name}: `)).toBe(true);
  expect(le.message).not.toContain('\n');
  return le;
}

/** A deterministic pseudo-random byte array. */
function pseudoRandomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

function rawPng(width: number, height: number, data: Uint8Array | Uint16Array, colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16): Uint8Array {
  const inputHasAlpha = colorType === 4 || colorType === 6;
  const buf = data instanceof Uint16Array ? (data as unknown as Buffer) : Buffer.from(data);
  const out = pngjs.PNG.sync.write({ width, height, data: buf } as unknown as pngjs.PNG, {
    colorType,
    inputColorType: colorType,
    inputHasAlpha,
    bitDepth,
  });
  return new Uint8Array(out);
}

describe.skipIf(!HAVE_BLOWHOLE)('magnetic tile images', () => {
  const stems = blowholeStems(6);

  it('decodes grey JPEGs at their own size, one channel, values in [0, 1]', () => {
    expect(stems.length).toBeGreaterThan(0);
    for (const stem of stems) {
      const file = path.join(BLOWHOLE_DIR, `${stem}.jpg`);
      const bytes = readFileSync(file);
      const frame = jpegFrameInfo(bytes);
      expect(frame).not.toBeNull();
      const img = decodeImage(bytes, file);
      expect(img.channels).toBe(1);
      expect([img.height, img.width]).toEqual([frame!.height, frame!.width]);
      expect(img.data.length).toBe(img.width * img.height);
      let min = Infinity;
      let max = -Infinity;
      for (const v of img.data) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThanOrEqual(1);
      expect(max).toBeGreaterThan(min);

      // the mask PNG beside it has the same size
      const maskFile = path.join(BLOWHOLE_DIR, `${stem}.png`);
      const mask = decodeImage(readFileSync(maskFile), maskFile);
      expect(mask.channels).toBe(1);
      expect([mask.height, mask.width]).toEqual([img.height, img.width]);
      expect(mask.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
  });

  it('refuses a truncated JPEG with BAD_INPUT naming the file', () => {
    const file = path.join(BLOWHOLE_DIR, `${stems[0]}.jpg`);
    const bytes = readFileSync(file);
    for (const frac of [0.95, 0.5, 0.2, 0.05]) {
      const cut = bytes.subarray(0, Math.floor(bytes.length * frac));
      expectBadInput(() => decodeImage(cut, 'cut.jpg'), 'cut.jpg');
    }
    expectBadInput(() => decodeImage(bytes.subarray(0, 3), 'tiny.jpg'), 'tiny.jpg');
  });

  it('refuses a PNG with a damaged or missing tail', () => {
    const file = path.join(BLOWHOLE_DIR, `${stems[0]}.png`);
    const bytes = new Uint8Array(readFileSync(file));
    expectBadInput(() => decodeImage(bytes.subarray(0, Math.floor(bytes.length / 2)), 'half.png'), 'half.png');
    const flipped = bytes.slice();
    flipped[Math.floor(bytes.length / 2)] ^= 0xff; // CRC no longer matches
    expectBadInput(() => decodeImage(flipped, 'flipped.png'), 'flipped.png');
  });
});

describe('decodeImage on synthetic images', () => {
  it('sniffs formats by magic bytes, not by name', () => {
    const png = encodePngGrey(new Uint8Array([0, 255]), 2, 1);
    expect(sniffImageFormat(png)).toBe('png');
    const jpg = jpegjs.encode({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 4) }, 90).data;
    expect(sniffImageFormat(jpg)).toBe('jpeg');
    expect(sniffImageFormat(new Uint8Array([1, 2, 3]))).toBeNull();
    // a PNG named .jpg still decodes
    expect(decodeImage(png, 'really-a-png.jpg').width).toBe(2);
  });

  it('decodes 8-bit grey PNG exactly', () => {
    const img = decodeImage(encodePngGrey(new Uint8Array([0, 51, 102, 255, 0, 0]), 3, 2), 'g.png');
    expect(img.channels).toBe(1);
    expect([img.height, img.width]).toEqual([2, 3]);
    expect(Array.from(img.data)).toEqual([0, 0.2, 0.4, 1, 0, 0].map((v) => Math.fround(v)));
  });

  it('decodes RGB PNG to planar CHW', () => {
    // 2×1 pixels: (255, 0, 51), (0, 102, 255)
    const img = decodeImage(encodePngRgb(new Uint8Array([255, 0, 51, 0, 102, 255]), 2, 1), 'rgb.png');
    expect(img.channels).toBe(3);
    expect(Array.from(img.data)).toEqual([1, 0, 0, 0.4, 0.2, 1].map((v) => Math.fround(v)));
  });

  it('drops alpha (RGBA and grey+alpha)', () => {
    const rgba = rawPng(1, 1, new Uint8Array([255, 0, 0, 10]), 6, 8);
    const a = decodeImage(rgba, 'rgba.png');
    expect(a.channels).toBe(3);
    expect(Array.from(a.data)).toEqual([1, 0, 0]);
    const ga = rawPng(2, 1, new Uint8Array([255, 0, 0, 128]), 4, 8);
    const g = decodeImage(ga, 'ga.png');
    expect(g.channels).toBe(1);
    expect(Array.from(g.data)).toEqual([1, 0]);
  });

  it('scales 16-bit PNGs to [0, 1]', () => {
    const px = new Uint16Array([65535, 0, 32768]);
    const png = rawPng(3, 1, px, 0, 16);
    const img = decodeImage(png, 'g16.png');
    expect(img.channels).toBe(1);
    expect(img.data[0]).toBeCloseTo(1, 6);
    expect(img.data[1]).toBe(0);
    expect(img.data[2]).toBeCloseTo(32768 / 65535, 6);
  });

  it('decodes a colour JPEG as three channels, close to the original', () => {
    const w = 16;
    const h = 8;
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) rgba.set([200, 100, 30, 255], 4 * p);
    const jpg = jpegjs.encode({ width: w, height: h, data: rgba }, 95).data;
    const img = decodeImage(jpg, 'c.jpg');
    expect(img.channels).toBe(3);
    expect([img.height, img.width]).toEqual([h, w]);
    expect(img.data[0]).toBeCloseTo(200 / 255, 1);
    expect(img.data[w * h]).toBeCloseTo(100 / 255, 1);
    expect(img.data[2 * w * h]).toBeCloseTo(30 / 255, 1);
  });

  it('refuses random bytes, garbage after a JPEG or PNG signature, and empty files', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const bytes = pseudoRandomBytes(4096, seed);
      expectBadInput(() => decodeImage(bytes, `rand${seed}.bin`), `rand${seed}.bin`);
      const fakeJpeg = bytes.slice();
      fakeJpeg.set([0xff, 0xd8, 0xff], 0);
      expectBadInput(() => decodeImage(fakeJpeg, `rand${seed}.jpg`), `rand${seed}.jpg`);
      const fakePng = bytes.slice();
      fakePng.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
      expectBadInput(() => decodeImage(fakePng, `rand${seed}.png`), `rand${seed}.png`);
    }
    const e = expectBadInput(() => decodeImage(new Uint8Array(0), 'empty.png'), 'empty.png');
    expect(e.message).toContain('empty');
  });

  it('refuses a JPEG that declares an absurd size before decoding it', () => {
    const jpg = new Uint8Array(jpegjs.encode({ width: 8, height: 8, data: new Uint8Array(256) }, 90).data);
    const frameAt = (() => {
      for (let i = 2; i < jpg.length - 1; i++) if (jpg[i] === 0xff && jpg[i + 1] === 0xc0) return i;
      return -1;
    })();
    expect(frameAt).toBeGreaterThan(0);
    jpg.set([0xff, 0xff, 0xff, 0xff], frameAt + 5); // 65535 × 65535
    const t0 = Date.now();
    const e = expectBadInput(() => decodeImage(jpg, 'huge.jpg'), 'huge.jpg');
    expect(e.message).toContain('limit');
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

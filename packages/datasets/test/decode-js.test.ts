import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LrpsegError } from '@lrpseg/core';
import * as viaJs from '../src/decode-js.js';
import * as viaSharp from '../src/decode-sharp.js';
import { encodePngGrey, encodePngRgb } from '../src/index.js';
import { BLOWHOLE_DIR, HAVE_BLOWHOLE, blowholeStems } from './shared.js';

describe('decode-js (the offline bundle\'s stand-in for decode-sharp)', () => {
  it('exports what decode-sharp exports', () => {
    expect(Object.keys(viaJs).sort()).toEqual(Object.keys(viaSharp).sort());
  });

  it('PNG: the same floats and grey bytes as sharp, grey and colour', async () => {
    const grey = encodePngGrey(Uint8Array.from([0, 51, 102, 255, 7, 9]), 3, 2);
    expect(await viaJs.decodeImageAsync(grey, 'g.png')).toEqual(await viaSharp.decodeImageAsync(grey, 'g.png'));
    expect(await viaJs.decodeGreyBytes(grey, 'g.png')).toEqual(await viaSharp.decodeGreyBytes(grey, 'g.png'));
    const rgb = encodePngRgb(Uint8Array.from([255, 0, 51, 0, 102, 255, 90, 90, 90, 128, 64, 32, 0, 255, 0]), 5, 1);
    expect(await viaJs.decodeImageAsync(rgb, 'c.png')).toEqual(await viaSharp.decodeImageAsync(rgb, 'c.png'));
    const a = await viaJs.decodeGreyBytes(rgb, 'c.png');
    const b = await viaSharp.decodeGreyBytes(rgb, 'c.png');
    expect(a.data[2]).toBe(90); // a grey pixel stays itself
    for (let i = 0; i < 5; i++) expect(Math.abs(a.data[i] - b.data[i])).toBeLessThanOrEqual(1);
  });

  it.skipIf(!HAVE_BLOWHOLE)('JPEG tiles: grey bytes within 2 levels of sharp, same size', async () => {
    for (const stem of blowholeStems(3)) {
      const file = path.join(BLOWHOLE_DIR, `${stem}.jpg`);
      const bytes = readFileSync(file);
      const a = await viaJs.decodeGreyBytes(bytes, file);
      const b = await viaSharp.decodeGreyBytes(bytes, file);
      expect([a.width, a.height]).toEqual([b.width, b.height]);
      let max = 0;
      for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i] - b.data[i]));
      expect(max).toBeLessThanOrEqual(2);
    }
  });

  it('refuses garbage and an empty file by name', async () => {
    for (const [data, name, re] of [
      [Uint8Array.from([1, 2, 3, 4]), 'x.jpg', /^x\.jpg: not a JPEG or PNG image/],
      [new Uint8Array(0), 'e.png', /^e\.png: empty file/],
    ] as const) {
      const e = await viaJs.decodeGreyBytes(data, name).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LrpsegError);
      expect((e as LrpsegError).message).toMatch(re);
    }
  });
});

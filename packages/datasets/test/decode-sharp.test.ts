import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LrpsegError } from '@lrpseg/core';
import { decodeImage, decodeImageAsync, encodePngGrey, encodePngRgb, readImageFile } from '../src/index.js';
import { BLOWHOLE_DIR, HAVE_BLOWHOLE, blowholeStems } from './shared.js';

describe('sharp decoding (the Node path) agrees with the pure-JS decoders', () => {
  it('PNG: identical values, grey and colour, alpha dropped, 16-bit kept', async () => {
    const grey = encodePngGrey(Uint8Array.from([0, 51, 102, 255, 7, 9]), 3, 2);
    const a = await decodeImageAsync(grey, 'g.png');
    expect(a).toEqual(decodeImage(grey, 'g.png'));
    expect(a.channels).toBe(1);
    const rgb = encodePngRgb(Uint8Array.from([255, 0, 51, 0, 102, 255]), 2, 1);
    expect(await decodeImageAsync(rgb, 'c.png')).toEqual(decodeImage(rgb, 'c.png'));
  });

  it.skipIf(!HAVE_BLOWHOLE)('JPEG: one channel for grey tiles, within 2/255 of jpeg-js', async () => {
    for (const stem of blowholeStems(3)) {
      const file = path.join(BLOWHOLE_DIR, `${stem}.jpg`);
      const viaSharp = await readImageFile(file);
      const viaJs = decodeImage(readFileSync(file), file);
      expect([viaSharp.channels, viaSharp.width, viaSharp.height]).toEqual([viaJs.channels, viaJs.width, viaJs.height]);
      expect(viaSharp.channels).toBe(1);
      let max = 0;
      for (let i = 0; i < viaJs.data.length; i++) max = Math.max(max, Math.abs(viaSharp.data[i] - viaJs.data[i]));
      expect(max * 255).toBeLessThanOrEqual(2);
    }
  });

  it.skipIf(!HAVE_BLOWHOLE)('refuses a truncated JPEG, garbage and an empty file by name', async () => {
    const bytes = readFileSync(path.join(BLOWHOLE_DIR, `${blowholeStems(1)[0]}.jpg`));
    for (const [data, name, re] of [
      [bytes.subarray(0, bytes.length >> 1), 'cut.jpg', /^cut\.jpg: corrupt or truncated JPEG/],
      [Uint8Array.from([1, 2, 3, 4]), 'x.jpg', /^x\.jpg: not a JPEG or PNG image/],
      [new Uint8Array(0), 'e.png', /^e\.png: empty file/],
    ] as const) {
      const e = await decodeImageAsync(data, name).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LrpsegError);
      expect((e as LrpsegError).code).toBe('BAD_INPUT');
      expect((e as Error).message).toMatch(re);
    }
  });
});

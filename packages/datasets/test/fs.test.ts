import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LrpsegError } from '@lrpseg/core';
import { encodePngGrey, listImageInputs, readImageFile } from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lrpseg-ds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('listImageInputs and readImageFile', () => {
  const png = encodePngGrey(new Uint8Array([10, 20, 30, 40]), 2, 2);
  const folder = path.join(dir, 'imgs');
  mkdirSync(path.join(folder, 'sub'), { recursive: true });
  for (const n of ['b.png', 'A.JPG', 'c.jpeg', 'a.png', '.hidden.png', 'sub/d.png']) {
    writeFileSync(path.join(folder, n), png);
  }
  writeFileSync(path.join(folder, 'notes.txt'), 'not an image\n');

  it('expands a folder to its images, sorted, not recursively; files stay as given', async () => {
    const single = path.join(dir, 'single.bin');
    writeFileSync(single, png);
    const missing = path.join(dir, 'missing.png');
    const list = await listImageInputs([single, folder, missing, path.join(folder, 'a.png')]);
    expect(list).toEqual([
      single,
      path.join(folder, 'A.JPG'),
      path.join(folder, 'a.png'),
      path.join(folder, 'b.png'),
      path.join(folder, 'c.jpeg'),
      missing,
    ]);
  });

  it('refuses a folder without images', async () => {
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    await expect(listImageInputs([empty])).rejects.toThrow(/no \.jpg/);
  });

  it('reads an image, and names the file when it cannot', async () => {
    const img = await readImageFile(path.join(folder, 'a.png'));
    expect([img.channels, img.height, img.width]).toEqual([1, 2, 2]);
    const missing = path.join(dir, 'nope.png');
    const err = await readImageFile(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LrpsegError);
    expect((err as LrpsegError).code).toBe('BAD_INPUT');
    expect((err as LrpsegError).message).toBe(`${missing}: cannot read (no such file)`);
    const notImage = path.join(folder, 'notes.txt');
    await expect(readImageFile(notImage)).rejects.toThrow(`${notImage}: not a JPEG or PNG`);
  });
});

/**
 * File-system helpers (Node only): expanding image folders and reading image files.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';
import { type RgbImage } from './image.js';
import { decodeGreyBytes, decodeImageAsync } from './decode-sharp.js';

/** File extensions of images that folder expansion picks up (compared case-insensitively). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png'];

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(p).toLowerCase());
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Expands inputs into a list of image files, in order: a file (or a path that does not exist, which
 * the caller reports when reading it) is kept as given; a folder becomes its .jpg/.jpeg/.png files
 * (not recursively, hidden files skipped), sorted by name. A folder without any image is an error.
 * Duplicates (the same resolved path twice) are kept once.
 */
export async function listImageInputs(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  const push = (p: string): void => {
    const key = path.resolve(p);
    if (seen.has(key)) return;
    seen.add(key);
    out.push(p);
  };
  for (const p of paths) {
    let isDir = false;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      push(p);
      continue;
    }
    let names: string[];
    try {
      names = await readdir(p);
    } catch (e) {
      throw new LrpsegError('BAD_INPUT', `${p}: cannot list folder (${(e as Error).message})`, { cause: e });
    }
    const images = names.filter((n) => !n.startsWith('.') && isImagePath(n)).sort(byCodePoint);
    const files: string[] = [];
    for (const n of images) {
      const full = path.join(p, n);
      try {
        if ((await stat(full)).isFile()) files.push(full);
      } catch {
        // vanished or a dangling link: skip
      }
    }
    if (files.length === 0) {
      throw new LrpsegError('BAD_INPUT', `${p}: folder contains no .jpg, .jpeg or .png images`);
    }
    for (const f of files) push(f);
  }
  return out;
}

/** Reads a whole file; every failure is a BAD_INPUT LrpsegError naming the file. */
export async function readFileBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a folder' : err.message;
    throw new LrpsegError('BAD_INPUT', `${file}: cannot read (${why})`, { cause: e });
  }
}

/**
 * Reads and decodes an image file (sharp, off the event loop); every failure is a BAD_INPUT
 * LrpsegError naming the file.
 */
export async function readImageFile(file: string): Promise<RgbImage> {
  return decodeImageAsync(await readFileBytes(file), file);
}

/** Reads an image file as 8-bit grey (masks, grouping features). */
export async function readGreyFile(file: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  return decodeGreyBytes(await readFileBytes(file), file);
}

/**
 * How users bring their own data (Node): a folder of images plus a folder of masks (the same stem,
 * mask as .png), or one folder per class.
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';
import { isImagePath, readGreyFile } from './fs.js';
import type { DatasetEntry } from './manifest.js';
import { resolveClasses, type DatasetIndex } from './magnetic-tile.js';

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const stemOf = (n: string): string => n.replace(/\.[^.]+$/, '');

async function listImages(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${dir}: cannot list folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  return names.filter((n) => !n.startsWith('.') && isImagePath(n)).sort(byCodePoint);
}

/** '/'-separated path of `p` relative to `root`. */
function rel(root: string, p: string): string {
  return path.relative(root, p).split(path.sep).join('/');
}

/**
 * Images and masks in two folders, matched by stem (`a.jpg` ↔ `a.png`). An image's label is 1 when
 * its mask has any pixel ≥ 128, else 0. The root is the folders' common parent.
 */
export async function indexMaskFolders(imagesDir: string, masksDir: string): Promise<DatasetIndex> {
  const imgAbs = path.resolve(imagesDir);
  const mskAbs = path.resolve(masksDir);
  let root = path.dirname(imgAbs);
  while (!(mskAbs + path.sep).startsWith(root === path.parse(root).root ? root : root + path.sep)) root = path.dirname(root);
  const images = await listImages(imgAbs);
  if (images.length === 0) throw new LrpsegError('BAD_INPUT', `${imagesDir}: no .jpg, .jpeg or .png images`);
  const masks = new Map((await listImages(mskAbs)).filter((n) => /\.png$/i.test(n)).map((n) => [stemOf(n), n] as const));
  const entries: DatasetEntry[] = [];
  const problems: string[] = [];
  for (const img of images) {
    const m = masks.get(stemOf(img));
    if (m === undefined) {
      problems.push(`${path.join(imagesDir, img)}: no mask (expected ${path.join(masksDir, `${stemOf(img)}.png`)})`);
      continue;
    }
    let label: number;
    try {
      label = (await readGreyFile(path.join(mskAbs, m))).data.some((v) => v >= 128) ? 1 : 0;
    } catch (e) {
      problems.push((e as Error).message);
      continue;
    }
    entries.push({ image: rel(root, path.join(imgAbs, img)), mask: rel(root, path.join(mskAbs, m)), label, class: label ? 'defect' : 'defect-free' });
  }
  return { kind: 'masks', root, entries, classes: ['defect', 'defect-free'], labels: ['defect-free', 'defect'], problems };
}

/**
 * One sub-folder per class, images inside (not recursive), no masks. Labels: with `negative`, that
 * class is 0 and every other 1; otherwise the index of the class among the chosen ones.
 */
export async function indexClassFolders(dir: string, opts: { classes?: readonly string[]; negative?: string } = {}): Promise<DatasetIndex> {
  let subdirs: string[];
  try {
    subdirs = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort(byCodePoint);
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${dir}: cannot list folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
  if (subdirs.length === 0) throw new LrpsegError('BAD_INPUT', `${dir}: no class folders`);
  const classes = opts.classes ? resolveClasses(opts.classes, subdirs) : subdirs;
  const negative = opts.negative === undefined ? undefined : resolveClasses([opts.negative], classes)[0];
  const labels = negative === undefined ? [...classes] : [negative, 'positive'];
  const entries: DatasetEntry[] = [];
  for (const cls of classes) {
    const label = negative === undefined ? classes.indexOf(cls) : cls === negative ? 0 : 1;
    for (const img of await listImages(path.join(dir, cls))) entries.push({ image: `${cls}/${img}`, mask: null, label, class: cls });
  }
  return { kind: 'classes', root: dir, entries, classes, labels, problems: [] };
}

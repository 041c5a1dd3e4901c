/**
 * The Magnetic Tile data set (Huang et al. 2018) as the authors' repository lays it out:
 * `MT_<Class>/Imgs/<stem>.jpg` with the mask `<stem>.png` beside it. Node (file listing).
 */
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';
import type { DatasetEntry, DatasetKind } from './manifest.js';
import { findRoot } from './source.js';

/** The classes of the public data set; Free is defect-free. */
export const MAGNETIC_TILE_CLASSES: readonly string[] = ['Blowhole', 'Break', 'Crack', 'Fray', 'Free', 'Uneven'];
/** What the paper used: cracks and blowholes against defect-free tiles. */
export const PAPER_CLASSES: readonly string[] = ['Crack', 'Blowhole', 'Free'];
export const FREE_CLASS = 'Free';

/** A data set's images before splitting, with what was wrong with the ones left out. */
export interface DatasetIndex {
  readonly kind: DatasetKind;
  /** The folder every entry path is relative to. */
  readonly root: string;
  readonly entries: readonly DatasetEntry[];
  /** Class names in the order the user chose (or the data set's order). */
  readonly classes: readonly string[];
  /** Class names by label value. */
  readonly labels: readonly string[];
  /** One line per problem found (missing masks…), each naming the file. */
  readonly problems: readonly string[];
}

const isMtRoot = (names: readonly string[]): boolean => names.some((n) => /^MT_\w+$/.test(n));

/** The folder holding the MT_* class folders: `dir` itself or one or two levels below. */
export async function findMagneticTileRoot(dir: string): Promise<string> {
  const root = await findRoot(dir, isMtRoot, 2);
  if (root === null) {
    throw new LrpsegError('BAD_INPUT', `${dir}: no Magnetic Tile data set here (expected folders MT_<Class>/Imgs, e.g. MT_Crack/Imgs)`);
  }
  return root;
}

/** Resolves user class names (case-insensitive, with or without "MT_") against those present. */
export function resolveClasses(wanted: readonly string[], present: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of wanted) {
    const key = w.trim().replace(/^MT_/i, '').toLowerCase();
    const hit = present.find((p) => p.toLowerCase() === key);
    if (hit === undefined) {
      throw new LrpsegError('BAD_INPUT', `unknown class "${w}" (this data set has ${present.join(', ')})`);
    }
    if (!out.includes(hit)) out.push(hit);
  }
  if (out.length === 0) throw new LrpsegError('BAD_INPUT', 'no classes selected');
  return out;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Lists the selected classes of a Magnetic Tile folder (default: the paper's Crack, Blowhole, Free,
 * those present).
 * Labels: Free is 0, every other class 1. An image without its mask is left out and reported in
 * `problems`, as is a mask without its image.
 */
export async function indexMagneticTile(dir: string, classes?: readonly string[]): Promise<DatasetIndex> {
  const root = await findMagneticTileRoot(dir);
  const present = (await readdir(root, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && /^MT_\w+$/.test(e.name))
    .map((e) => e.name.slice(3))
    .sort(byCodePoint);
  // by default the paper's classes, those of them that this copy has
  const chosen = resolveClasses(classes ?? PAPER_CLASSES.filter((c) => present.includes(c)), present);
  const entries: DatasetEntry[] = [];
  const problems: string[] = [];
  for (const cls of chosen) {
    const rel = `MT_${cls}/Imgs`;
    let names: string[];
    try {
      names = await readdir(path.join(root, rel));
    } catch (e) {
      throw new LrpsegError('BAD_INPUT', `${path.join(root, rel)}: cannot list (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
    }
    const files = new Set(names);
    const jpgs = names.filter((n) => /\.jpe?g$/i.test(n) && !n.startsWith('.')).sort(byCodePoint);
    const stems = new Set(jpgs.map((n) => n.replace(/\.jpe?g$/i, '')));
    for (const jpg of jpgs) {
      const stem = jpg.replace(/\.jpe?g$/i, '');
      const mask = `${stem}.png`;
      if (!files.has(mask)) {
        problems.push(`${rel}/${jpg}: no mask (expected ${rel}/${mask})`);
        continue;
      }
      entries.push({ image: `${rel}/${jpg}`, mask: `${rel}/${mask}`, label: cls === FREE_CLASS ? 0 : 1, class: cls });
    }
    for (const n of names) {
      if (/\.png$/i.test(n) && !n.startsWith('.') && !stems.has(n.slice(0, -4))) problems.push(`${rel}/${n}: mask without an image`);
    }
  }
  return { kind: 'magnetic-tile', root, entries, classes: chosen, labels: ['defect-free', 'defect'], problems };
}

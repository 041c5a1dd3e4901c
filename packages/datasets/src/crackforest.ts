/**
 * CrackForest (Shi et al. 2016), the stand-in for the paper's sewer-pipe cracks: `image/NNN.jpg` with
 * ground truth `seg/NNN.seg`. Every image shows a crack, so image-level labels come from patches: a
 * patch with at least `minCrackPixels` crack pixels is positive, one without any is negative (patches
 * in between are left out as ambiguous). All patches of one photo form one group. Node (file access).
 */
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';
import type { DatasetEntry, Region } from './manifest.js';
import type { DatasetIndex } from './magnetic-tile.js';
import { parseSeg, type SegMask } from './seg.js';
import { findRoot } from './source.js';

export interface PatchOptions {
  /** Patch side in pixels (112 by default: about as many crack as crack-free patches; scaled up to the model input). */
  readonly patch: number;
  /** Largest step between patches; patches are spread evenly so that the last one touches the border. */
  readonly stride: number;
  /** Crack pixels that make a patch positive. */
  readonly minCrackPixels: number;
}

export const DEFAULT_PATCHES: PatchOptions = { patch: 112, stride: 112, minCrackPixels: 1 };

/** Offsets of patches along one axis: evenly spread, at most `stride` apart, first 0 and last size − patch. */
export function patchOffsets(size: number, patch: number, stride: number): number[] {
  if (size < patch) return [];
  const n = Math.ceil((size - patch) / stride) + 1;
  if (n === 1) return [0];
  return Array.from({ length: n }, (_, i) => Math.round((i * (size - patch)) / (n - 1)));
}

function crackPixels(seg: SegMask, r: Region): number {
  let n = 0;
  for (let y = r.top; y < r.top + r.height; y++) {
    const row = y * seg.width;
    for (let x = r.left; x < r.left + r.width; x++) if (seg.data[row + x] !== 0) n++;
  }
  return n;
}

const isCrackForestRoot = (names: readonly string[]): boolean => names.includes('image') && names.includes('seg');

/** Patches of every CrackForest photo with their labels (1 crack, 0 no crack). */
export async function indexCrackForest(dir: string, opts: PatchOptions = DEFAULT_PATCHES): Promise<DatasetIndex> {
  if (!(opts.patch > 0 && opts.stride > 0 && opts.minCrackPixels >= 1)) {
    throw new LrpsegError('BAD_INPUT', `invalid patch options (patch ${opts.patch}, stride ${opts.stride}, min crack pixels ${opts.minCrackPixels})`);
  }
  const root = await findRoot(dir, isCrackForestRoot, 2);
  if (root === null) throw new LrpsegError('BAD_INPUT', `${dir}: no CrackForest data set here (expected folders image/ and seg/)`);
  const images = (await readdir(path.join(root, 'image'))).filter((n) => /\.jpe?g$/i.test(n) && !n.startsWith('.')).sort();
  const entries: DatasetEntry[] = [];
  const problems: string[] = [];
  for (const img of images) {
    const stem = img.replace(/\.jpe?g$/i, '');
    const segRel = `seg/${stem}.seg`;
    let seg: SegMask;
    try {
      seg = parseSeg(await readFile(path.join(root, segRel), 'utf8'), segRel);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      problems.push(code === 'ENOENT' ? `image/${img}: no ground truth (expected ${segRel})` : (e as Error).message);
      continue;
    }
    for (const top of patchOffsets(seg.height, opts.patch, opts.stride)) {
      for (const left of patchOffsets(seg.width, opts.patch, opts.stride)) {
        const region = { top, left, height: opts.patch, width: opts.patch };
        const n = crackPixels(seg, region);
        if (n > 0 && n < opts.minCrackPixels) continue;
        const label = n > 0 ? 1 : 0;
        entries.push({ image: `image/${img}`, mask: segRel, label, class: label ? 'crack' : 'no-crack', region });
      }
    }
  }
  return { kind: 'crackforest', root, entries, classes: ['crack', 'no-crack'], labels: ['no-crack', 'crack'], problems };
}

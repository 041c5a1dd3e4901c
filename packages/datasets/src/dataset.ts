/**
 * Opening a data set of any supported kind from a folder, .zip or URL (Node).
 */
import { LrpsegError } from '@lrpseg/core';
import { DEFAULT_PATCHES, indexCrackForest, type PatchOptions } from './crackforest.js';
import { indexClassFolders, indexMaskFolders } from './folders.js';
import { indexMagneticTile, type DatasetIndex } from './magnetic-tile.js';
import type { DatasetKind } from './manifest.js';
import { findRoot, resolveDatasetSource, type SourceOptions } from './source.js';

export interface DatasetSpec {
  /** A folder, a .zip, or an http(s) URL of a .zip. */
  readonly source: string;
  /** 'auto' recognises Magnetic Tile (MT_* folders) and CrackForest (image/ + seg/). */
  readonly kind?: DatasetKind | 'auto';
  /** Classes to use (Magnetic Tile: default Crack, Blowhole, Free; class folders: default all). */
  readonly classes?: readonly string[];
  /** kind 'masks': the folder of masks (the source is the folder of images). */
  readonly masks?: string;
  /** kind 'classes': the defect-free class (label 0; every other class is 1). */
  readonly negative?: string;
  /** CrackForest patches. */
  readonly patches?: PatchOptions;
}

/** Which kind a folder holds, or null. */
export async function detectKind(dir: string): Promise<DatasetKind | null> {
  if (await findRoot(dir, (n) => n.some((x) => /^MT_\w+$/.test(x)), 2)) return 'magnetic-tile';
  if (await findRoot(dir, (n) => n.includes('image') && n.includes('seg'), 2)) return 'crackforest';
  return null;
}

export async function openDataset(spec: DatasetSpec, sourceOpts: SourceOptions = {}): Promise<DatasetIndex> {
  const dir = await resolveDatasetSource(spec.source, sourceOpts);
  let kind = spec.kind ?? 'auto';
  if (kind === 'auto') {
    if (spec.masks !== undefined) kind = 'masks';
    else {
      const found = await detectKind(dir);
      if (found === null) {
        throw new LrpsegError('BAD_INPUT', `${spec.source}: cannot tell the kind of data set (not Magnetic Tile, not CrackForest); name it (masks with a masks folder, or classes)`);
      }
      kind = found;
    }
  }
  switch (kind) {
    case 'magnetic-tile':
      return indexMagneticTile(dir, spec.classes);
    case 'crackforest':
      return indexCrackForest(dir, spec.patches ?? DEFAULT_PATCHES);
    case 'masks':
      if (spec.masks === undefined) throw new LrpsegError('BAD_INPUT', 'a "masks" data set needs the folder of masks');
      return indexMaskFolders(dir, spec.masks);
    case 'classes':
      return indexClassFolders(dir, { ...(spec.classes ? { classes: spec.classes } : {}), ...(spec.negative !== undefined ? { negative: spec.negative } : {}) });
  }
}

import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

/** The shared folder (../shared from the repository root), or LRPSEG_SHARED. */
export const SHARED_DIR = process.env.LRPSEG_SHARED
  ? path.resolve(process.env.LRPSEG_SHARED)
  : path.resolve(import.meta.dirname, '../../../../shared');
export const DATASETS_DIR = path.join(SHARED_DIR, 'datasets');
export const BLOWHOLE_DIR = path.join(DATASETS_DIR, 'magnetic-tile', 'MT_Blowhole', 'Imgs');
export const HAVE_BLOWHOLE = existsSync(BLOWHOLE_DIR);

/** The first n Blowhole JPEG stems, sorted. */
export function blowholeStems(n: number): string[] {
  if (!HAVE_BLOWHOLE) return [];
  return readdirSync(BLOWHOLE_DIR)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, n)
    .map((f) => f.slice(0, -4));
}

export const MT_DIR = path.join(DATASETS_DIR, 'magnetic-tile');
export const HAVE_MT = existsSync(path.join(MT_DIR, 'MT_Free', 'Imgs'));
export const CRACKFOREST_DIR = path.join(DATASETS_DIR, 'crackforest');
export const HAVE_CRACKFOREST = existsSync(path.join(CRACKFOREST_DIR, 'seg'));

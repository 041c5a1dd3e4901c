import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The shared folder (../shared from the repository root), or LRPSEG_SHARED. */
export const SHARED_DIR = process.env.LRPSEG_SHARED ? path.resolve(process.env.LRPSEG_SHARED) : path.resolve(REPO_ROOT, '../shared');

export function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

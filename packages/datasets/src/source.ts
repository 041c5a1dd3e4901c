/**
 * Where a data set comes from (Node): a folder, a .zip of it, or a URL of such a .zip. Archives are
 * extracted once into a cache folder keyed by their SHA-256, and reused after that.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';
import { extractZip, isExtracted } from './archive.js';
import { downloadFile, isUrl } from './download.js';

export interface SourceOptions {
  /** Where downloads and extractions go (default: $LRPSEG_CACHE, else ~/.cache/lrpseg). */
  readonly cacheDir?: string;
  /** Expected SHA-256 of a downloaded archive. */
  readonly sha256?: string;
  readonly onProgress?: (phase: 'download' | 'extract', done: number, total: number | undefined) => void;
  readonly signal?: AbortSignal;
}

export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.LRPSEG_CACHE ? path.resolve(env.LRPSEG_CACHE) : path.join(homedir(), '.cache', 'lrpseg');
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function extractCached(zip: string, cacheDir: string, opts: SourceOptions): Promise<string> {
  const digest = await sha256File(zip);
  const dir = path.join(cacheDir, 'datasets', digest.slice(0, 16));
  if (!(await isExtracted(dir))) {
    await extractZip(zip, dir, { onProgress: (d, t) => opts.onProgress?.('extract', d, t) });
  }
  return dir;
}

/**
 * A local folder holding the data set: the folder itself, or the extraction of a .zip (local or
 * downloaded). Errors name the source.
 */
export async function resolveDatasetSource(source: string, opts: SourceOptions = {}): Promise<string> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  if (isUrl(source)) {
    const name = decodeURIComponent(new URL(source).pathname.split('/').pop() || 'dataset.zip').replace(/[^\w.-]/g, '_');
    const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
    const dest = path.join(cacheDir, 'downloads', `${key}-${name}`);
    let have = false;
    try {
      have = (await stat(dest)).isFile() && (opts.sha256 === undefined || (await sha256File(dest)) === opts.sha256.toLowerCase());
    } catch {
      have = false;
    }
    if (!have) {
      await downloadFile(source, dest, {
        ...(opts.sha256 !== undefined ? { sha256: opts.sha256 } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: (d, t) => opts.onProgress?.('download', d, t),
      });
    }
    return extractCached(dest, cacheDir, opts);
  }
  let st;
  try {
    st = await stat(source);
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${source}: no such file or folder`, { cause: e });
  }
  if (st.isDirectory()) return source;
  if (source.toLowerCase().endsWith('.zip')) return extractCached(source, cacheDir, opts);
  throw new LrpsegError('BAD_INPUT', `${source}: expected a folder, a .zip archive or an http(s) URL`);
}

/**
 * The folder at or below `dir` (at most `depth` levels) for which `isRoot` holds; the shallowest,
 * then the first by name. Archives often wrap the data set in one top-level folder.
 */
export async function findRoot(dir: string, isRoot: (names: readonly string[]) => boolean, depth = 2): Promise<string | null> {
  let level = [dir];
  for (let d = 0; d <= depth; d++) {
    const next: string[] = [];
    for (const folder of level) {
      let names: string[];
      try {
        names = (await readdir(folder, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort();
      } catch {
        continue;
      }
      if (isRoot(names)) return folder;
      for (const n of names) next.push(path.join(folder, n));
    }
    level = next;
  }
  return null;
}

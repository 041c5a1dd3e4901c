/**
 * Safe .zip extraction (Node; yauzl). Every entry must stay inside the target folder: absolute paths,
 * `..` segments, drive letters and symbolic links are refused before anything is written. Files are
 * extracted into a hidden folder inside the target and moved into place only when the whole archive
 * has been read, so a failure (or Ctrl-C) leaves no half-extracted data set behind.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yauzl from 'yauzl';
import { LrpsegError } from '@lrpseg/core';

export interface ExtractOptions {
  /** Largest total uncompressed size accepted (bytes). */
  readonly maxBytes?: number;
  /** Largest number of entries accepted. */
  readonly maxEntries?: number;
  /** Called after each file with the bytes written so far and the archive's total uncompressed size. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ExtractResult {
  readonly files: number;
  readonly bytes: number;
}

/** Marker written last: a target folder holding it was extracted completely. */
export const EXTRACT_COMPLETE_MARKER = '.lrpseg-extracted';

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

/**
 * Why an archive path may not be extracted, or null when it is safe: the path must be relative, use
 * '/' separators, and have no empty, '.' or '..' segment.
 */
export function unsafeEntryReason(name: string): string | null {
  if (name.length === 0) return 'empty path';
  if (name.includes('\0')) return 'NUL character in path';
  if (name.includes('\\')) return 'backslash in path';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute path';
  const parts = name.replace(/\/$/, '').split('/');
  if (parts.some((p) => p === '..')) return '".." in path';
  if (parts.some((p) => p === '' || p === '.')) return 'empty or "." segment in path';
  return null;
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings: false, so that names reach unsafeEntryReason as they are (yauzl's own check
    // would fail the whole archive with a less specific message)
    yauzl.open(file, { lazyEntries: true, autoClose: true, decodeStrings: false, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) reject(err ?? new Error('cannot open'));
      else resolve(zip);
    });
  });
}

function entryName(entry: yauzl.Entry): string {
  const raw = entry.fileName as unknown as Buffer;
  // general-purpose flag bit 11: UTF-8 names; otherwise CP437, whose printable ASCII equals UTF-8's
  return Buffer.isBuffer(raw) ? raw.toString((entry.generalPurposeBitFlag & 0x800) !== 0 ? 'utf8' : 'latin1') : String(raw);
}

function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err || !stream) reject(err ?? new Error('cannot read entry'));
      else resolve(stream);
    });
  });
}

/** Lists and checks every entry first (nothing is written when any is unsafe). */
async function checkedEntries(file: string, opts: ExtractOptions): Promise<{ names: string[]; total: number }> {
  const zip = await openZip(file);
  const maxBytes = opts.maxBytes ?? 8 * 2 ** 30;
  const maxEntries = opts.maxEntries ?? 200_000;
  const names: string[] = [];
  let total = 0;
  await new Promise<void>((resolve, reject) => {
    zip.on('error', reject);
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      const name = entryName(entry);
      const why = unsafeEntryReason(name);
      if (why !== null) {
        zip.close();
        reject(new LrpsegError('BAD_INPUT', `${file}: archive entry "${name}" would be written outside the target folder (${why}); nothing was extracted`));
        return;
      }
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (mode === S_IFLNK) {
        zip.close();
        reject(new LrpsegError('BAD_INPUT', `${file}: archive entry "${name}" is a symbolic link, which is not extracted; nothing was extracted`));
        return;
      }
      names.push(name);
      total += entry.uncompressedSize;
      if (names.length > maxEntries || total > maxBytes) {
        zip.close();
        reject(new LrpsegError('BAD_INPUT', `${file}: archive too large (more than ${maxEntries} entries or ${maxBytes} bytes uncompressed)`));
        return;
      }
      zip.readEntry();
    });
    zip.readEntry();
  });
  return { names, total };
}

/**
 * Extracts a .zip into `targetDir` (created if needed). Refuses the whole archive if any entry is
 * unsafe. Existing files of the same names in the target are replaced.
 */
export async function extractZip(file: string, targetDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  let checked: { names: string[]; total: number };
  try {
    checked = await checkedEntries(file, opts);
  } catch (e) {
    if (e instanceof LrpsegError) throw e;
    throw new LrpsegError('BAD_INPUT', `${file}: not a readable .zip archive (${(e as Error).message})`, { cause: e });
  }
  const target = path.resolve(targetDir);
  await mkdir(target, { recursive: true });
  const staging = path.join(target, `.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  let files = 0;
  let bytes = 0;
  try {
    const zip = await openZip(file);
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        void (async () => {
          const name = entryName(entry);
          // checked above; checked again here because this is what decides where bytes go
          const dest = path.resolve(staging, name);
          if (unsafeEntryReason(name) !== null || !dest.startsWith(staging + path.sep)) {
            throw new LrpsegError('BAD_INPUT', `${file}: archive entry "${name}" would be written outside the target folder`);
          }
          if (name.endsWith('/')) {
            await mkdir(dest, { recursive: true });
          } else {
            await mkdir(path.dirname(dest), { recursive: true });
            const stream = await openEntry(zip, entry);
            await pipeline(stream, createWriteStream(dest, { flags: 'wx' }));
            files++;
            bytes += entry.uncompressedSize;
            opts.onProgress?.(bytes, checked.total);
          }
          zip.readEntry();
        })().catch((e: unknown) => {
          zip.close();
          reject(e);
        });
      });
      zip.readEntry();
    });
    // move the top-level items into place
    for (const item of await readdir(staging)) {
      const to = path.join(target, item);
      await rm(to, { recursive: true, force: true });
      await rename(path.join(staging, item), to);
    }
    await rm(staging, { recursive: true, force: true });
    await writeFile(path.join(target, EXTRACT_COMPLETE_MARKER), `${path.basename(file)}\n`);
  } catch (e) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    if (e instanceof LrpsegError) throw e;
    throw new LrpsegError('BAD_INPUT', `${file}: extraction failed (${(e as Error).message})`, { cause: e });
  }
  return { files, bytes };
}

/** Whether `dir` holds a complete extraction (its marker file exists). */
export async function isExtracted(dir: string): Promise<boolean> {
  try {
    return (await stat(path.join(dir, EXTRACT_COMPLETE_MARKER))).isFile();
  } catch {
    return false;
  }
}

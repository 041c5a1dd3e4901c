/**
 * Downloading a data set archive (Node): streamed to a temporary file beside the destination, hashed
 * (SHA-256) on the way, checked against the expected checksum, then renamed into place. A failed or
 * interrupted download leaves nothing under the destination name.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';

export interface DownloadOptions {
  /** Expected SHA-256 of the file (hex); the download is refused when it differs. */
  readonly sha256?: string;
  /** Called as bytes arrive: received so far and the total when the server tells it. */
  readonly onProgress?: (received: number, total: number | undefined) => void;
  readonly signal?: AbortSignal;
  /** Largest accepted size in bytes. */
  readonly maxBytes?: number;
}

export interface DownloadResult {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

export function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** Downloads `url` to `dest`; every failure is an LrpsegError('BAD_INPUT') naming the URL. */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const expected = opts.sha256?.trim().toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) {
    throw new LrpsegError('BAD_INPUT', `--sha256 must be 64 hexadecimal digits (got "${opts.sha256}")`);
  }
  const maxBytes = opts.maxBytes ?? 8 * 2 ** 30;
  let res: Response;
  try {
    res = await fetch(url, { signal: opts.signal, redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new LrpsegError('BAD_INPUT', `${url}: download failed (${cause?.code ?? cause?.message ?? (e as Error).message})`, { cause: e });
  }
  if (!res.ok || !res.body) {
    throw new LrpsegError('BAD_INPUT', `${url}: download failed (HTTP ${res.status} ${res.statusText})`);
  }
  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  if (total !== undefined && total > maxBytes) {
    throw new LrpsegError('BAD_INPUT', `${url}: ${total} bytes exceeds the limit of ${maxBytes}`);
  }
  await mkdir(path.dirname(path.resolve(dest)), { recursive: true });
  const tmp = `${dest}.partial-${process.pid}`;
  const hash = createHash('sha256');
  let received = 0;
  try {
    const out = createWriteStream(tmp);
    const done = new Promise<void>((resolve, reject) => {
      out.on('finish', () => resolve());
      out.on('error', reject);
    });
    const reader = res.body.getReader();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      received += value.byteLength;
      if (received > maxBytes) throw new LrpsegError('BAD_INPUT', `${url}: more than ${maxBytes} bytes`);
      hash.update(value);
      if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
      opts.onProgress?.(received, total);
    }
    out.end();
    await done;
    if (total !== undefined && received !== total) {
      throw new LrpsegError('BAD_INPUT', `${url}: connection closed after ${received} of ${total} bytes`);
    }
    const got = hash.digest('hex');
    if (expected !== undefined && got !== expected) {
      throw new LrpsegError('BAD_INPUT', `${url}: checksum mismatch (expected SHA-256 ${expected}, got ${got})`);
    }
    await rename(tmp, dest);
    return { file: dest, bytes: received, sha256: got };
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if (e instanceof LrpsegError) throw e;
    throw new LrpsegError('BAD_INPUT', `${url}: download failed (${(e as Error).message})`, { cause: e });
  }
}

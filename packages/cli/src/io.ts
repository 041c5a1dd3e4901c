import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import cliProgress from 'cli-progress';
import { fsError } from './errors.js';

/** Where the CLI writes: the process's streams by default, buffers in tests. */
export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
  /** A TTY stream for progress bars, or undefined when stderr is not a terminal. */
  readonly progressStream?: NodeJS.WriteStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function processIo(): CliIo {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    progressStream: process.stderr.isTTY ? process.stderr : undefined,
    env: process.env,
  };
}

/**
 * mkdir -p without `recursive: true`, one level at a time (Node's recursive mkdir can spin forever on
 * special file systems such as /proc).
 */
export async function mkdirp(dir: string): Promise<void> {
  const missing: string[] = [];
  let cur = path.resolve(dir);
  for (;;) {
    try {
      const st = await stat(cur);
      if (!st.isDirectory()) {
        const leaf = missing.length === 0;
        throw Object.assign(new Error(`${leaf ? 'EEXIST' : 'ENOTDIR'}: mkdir '${cur}'`), { code: leaf ? 'EEXIST' : 'ENOTDIR', syscall: 'mkdir', path: cur });
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const parent = path.dirname(cur);
      missing.push(cur);
      if (parent === cur || missing.length > 256) break;
      cur = parent;
    }
  }
  for (const d of missing.reverse()) {
    try {
      await mkdir(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Writes `OUT.tmp-<pid>` and renames it to OUT, so that OUT is either absent, old, or complete. */
export async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  try {
    await mkdirp(dir);
  } catch (e) {
    throw fsError('create folder', dir, e);
  }
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw fsError('write', file, e);
  }
}

export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdirp(dir);
  } catch (e) {
    throw fsError('create output folder', dir, e);
  }
}

/**
 * Progress of a long job: a bar on a terminal (when there is more than one step), otherwise a plain
 * line every few seconds and at the end; nothing when quiet.
 */
export class Progress {
  private bar: cliProgress.SingleBar | null = null;
  private lastLine = 0;
  private done = 0;

  constructor(
    private readonly io: CliIo,
    private readonly label: string,
    private readonly total: number,
    private readonly unit: string,
    opts: { quiet: boolean; steps: number; intervalMs?: number },
  ) {
    this.quiet = opts.quiet;
    this.intervalMs = opts.intervalMs ?? 2000;
    if (!opts.quiet && io.progressStream && opts.steps > 1) {
      this.bar = new cliProgress.SingleBar(
        {
          stream: io.progressStream,
          format: `${label} [{bar}] {value}/{total} ${unit} | {detail}{eta_formatted} left`,
          hideCursor: false,
          clearOnComplete: true,
          etaBuffer: 20,
          fps: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(total, 0, { detail: '' });
    }
    this.lastLine = Date.now();
  }

  private readonly quiet: boolean;
  private readonly intervalMs: number;

  /** `detail` (e.g. running loss and speed) is shown before the time left, and in the plain progress lines. */
  advance(n: number, detail = ''): void {
    this.done += n;
    if (this.bar) {
      this.bar.update(this.done, { detail: detail ? `${detail} | ` : '' });
      return;
    }
    if (this.quiet) return;
    const now = Date.now();
    if (now - this.lastLine >= this.intervalMs && this.done < this.total) {
      this.lastLine = now;
      this.io.stderr(`${this.label}: ${this.done}/${this.total} ${this.unit}${detail ? ` (${detail})` : ''}\n`);
    }
  }

  /** A message line that must not be garbled by the bar. */
  message(line: string): void {
    if (this.bar && this.io.progressStream) this.io.progressStream.write('\r\x1b[2K');
    this.io.stderr(line.endsWith('\n') ? line : `${line}\n`);
  }

  stop(): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = null;
    }
  }
}

/** 1234567 → "1,234,567". */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A left-aligned text table; columns listed in `right` are right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: readonly string[]): string =>
    r
      .map((cell, i) => (right.includes(i) ? (cell ?? '').padStart(widths[i]) : (cell ?? '').padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n') + '\n';
}

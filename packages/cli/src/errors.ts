import { LrpsegError } from '@lrpseg/core';

/** A failure the CLI reports as one line, with its own exit status (1 unless stated). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A usage problem (bad or missing option, conflicting inputs): exit status 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

/** Exit status for problems that are the input's fault (bad file, bad spec, no device). */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function errnoReason(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a folder';
    case 'ENOTDIR':
      return 'a parent is not a folder';
    case 'EEXIST':
      return 'exists and is not a folder';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return e.message;
  }
}

export function isErrno(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/** A file-system error as one line, e.g. "cannot read model file m.safetensors: no such file or folder". */
export function fsError(action: string, file: string, e: unknown): CliError {
  if (isErrno(e)) return new CliError(`cannot ${action} ${file}: ${errnoReason(e)}`, EXIT_FAILURE, { cause: e });
  if (e instanceof LrpsegError || e instanceof CliError) return e as CliError;
  return new CliError(`cannot ${action} ${file}: ${e instanceof Error ? e.message : String(e)}`, EXIT_FAILURE, { cause: e });
}

/** Prefixes an LrpsegError's message with a file name (unless it already names it). */
export function withFile(file: string, e: unknown): unknown {
  if (e instanceof LrpsegError && !e.message.includes(file)) {
    return new LrpsegError(e.code, `${file}: ${e.message}`, { cause: e });
  }
  return e;
}

/** One line: newlines inside a message become "; ". */
export function oneLine(s: string): string {
  return s.trim().replace(/\s*\r?\n\s*/g, '; ');
}

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { run } from '../src/cli.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `lrpseg argv…` in-process, capturing its output. */
export async function lrpseg(...argv: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    io: {
      stdout: (s) => void (stdout += s),
      stderr: (s) => void (stderr += s),
      progressStream: undefined,
      env: { LRPSEG_THREADS: '1' },
    },
  });
  return { code, stdout, stderr };
}

export function tempDir(prefix = 'lrpseg-cli-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The shared folder (../shared from the repository root), or LRPSEG_SHARED. */
export const SHARED_DIR = process.env.LRPSEG_SHARED
  ? path.resolve(process.env.LRPSEG_SHARED)
  : path.resolve(import.meta.dirname, '../../../../shared');
export const BLOWHOLE_DIR = path.join(SHARED_DIR, 'datasets', 'magnetic-tile', 'MT_Blowhole', 'Imgs');
export const HAVE_BLOWHOLE = existsSync(BLOWHOLE_DIR);

/** Magnetic Tile's six classes in the shared data, and whether all are there. */
export const MT_DIR = path.join(SHARED_DIR, 'datasets', 'magnetic-tile');
export const MT_CLASSES = ['Crack', 'Blowhole', 'Free', 'Break', 'Fray', 'Uneven'] as const;
export const HAVE_MT = MT_CLASSES.every((c) => existsSync(path.join(MT_DIR, `MT_${c}`, 'Imgs')));

/** A Magnetic Tile layout in `dir` with the first n images (and masks) of every class, linked. */
export function miniMagneticTile(dir: string, n: number): void {
  for (const c of MT_CLASSES) {
    const from = path.join(MT_DIR, `MT_${c}`, 'Imgs');
    const to = path.join(dir, `MT_${c}`, 'Imgs');
    mkdirSync(to, { recursive: true });
    const stems = readdirSync(from).filter((f) => f.endsWith('.jpg')).sort().slice(0, n).map((f) => f.slice(0, -4));
    for (const s of stems) for (const ext of ['.jpg', '.png']) symlinkSync(path.join(from, s + ext), path.join(to, s + ext));
  }
}

export function blowholeJpegs(n: number): string[] {
  if (!HAVE_BLOWHOLE) return [];
  return readdirSync(BLOWHOLE_DIR)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .slice(0, n)
    .map((f) => path.join(BLOWHOLE_DIR, f));
}

/** A .npy file with any dtype descriptor (for dtypes lrpseg does not write). */
export function rawNpy(descr: string, shape: readonly number[], payload: Uint8Array): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  out.set(new TextEncoder().encode(header), 10);
  out.set(payload, 10 + header.length);
  return out;
}

/** Splits a safetensors file into its header JSON and data bytes. */
export function splitSafetensors(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  return { header, data: bytes.subarray(8 + n) };
}

export function joinSafetensors(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const raw = new TextEncoder().encode(JSON.stringify(header));
  const h = new Uint8Array(raw.length + ((8 - (raw.length % 8)) % 8)).fill(0x20);
  h.set(raw);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Asserts the shape of a reported failure: exactly one stderr line starting "lrpseg: ". */
export function oneErrorLine(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  if (lines.length !== 1 || !lines[0].startsWith('lrpseg: ')) {
    throw new Error(`expected one "lrpseg: " line on stderr, got:\n${r.stderr}`);
  }
  return lines[0];
}

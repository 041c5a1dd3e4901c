/**
 * Berkeley segmentation files (.seg, ASCII): a header (`width`, `height`, …) up to a line `data`, then
 * one run per line, `label row colStart colEnd` with colEnd inclusive. CrackForest uses label 0 for
 * background and anything else for crack. Pure, browser-safe.
 */
import { LrpsegError } from '@lrpseg/core';

export interface SegMask {
  readonly width: number;
  readonly height: number;
  /** Row-major bytes: 255 where the label is not 0, else 0 (the same scale as a mask PNG). */
  readonly data: Uint8Array;
}

/** Parses a .seg file's text; `name` prefixes every error (with the line number). */
export function parseSeg(text: string, name: string): SegMask {
  const lines = text.split(/\r?\n/);
  let width = -1;
  let height = -1;
  let i = 0;
  const fail = (line: number, what: string): never => {
    throw new LrpsegError('BAD_INPUT', `${name}:${line}: ${what}`);
  };
  for (; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t === 'data') break;
    const m = /^(\w+)\s+(.*)$/.exec(t);
    if (!m) continue;
    if (m[1] === 'width') width = Number(m[2]);
    else if (m[1] === 'height') height = Number(m[2]);
    else if (m[1] === 'format' && !/^ascii\b/.test(m[2])) fail(i + 1, `unsupported format "${m[2]}" (only ascii)`);
  }
  if (i >= lines.length) fail(lines.length, 'no "data" line');
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0 || width * height > 64e6) {
    fail(i + 1, `missing or invalid width/height (${width}×${height})`);
  }
  const data = new Uint8Array(width * height);
  for (let k = i + 1; k < lines.length; k++) {
    const t = lines[k].trim();
    if (t === '') continue;
    const f = t.split(/\s+/);
    if (f.length !== 4 || f.some((x) => !/^\d+$/.test(x))) fail(k + 1, `expected "label row colStart colEnd", got "${t}"`);
    const [label, row, c0, c1] = f.map(Number);
    if (row >= height || c0 > c1 || c1 >= width) fail(k + 1, `run (row ${row}, columns ${c0}–${c1}) outside the ${width}×${height} image`);
    if (label !== 0) data.fill(255, row * width + c0, row * width + c1 + 1);
  }
  return { width, height, data };
}

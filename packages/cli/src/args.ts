/** Option parsers for commander: each throws InvalidArgumentError, which commander reports as a usage error. */
import { InvalidArgumentError } from 'commander';

export function intArg(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v: string) => {
    const s = v.trim();
    const n = Number(s);
    if (!/^[+-]?\d+$/.test(s) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('not an integer.');
    if (n < min || n > max) throw new InvalidArgumentError(max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}.` : `must be between ${min} and ${max}.`);
    return n;
  };
}

/** "224" → [224, 224]; "224x160" → [224, 160] (height × width). */
export function parseSizeText(v: string): [number, number] {
  const m = /^\s*(\d+)\s*(?:[x×,]\s*(\d+))?\s*$/i.exec(v);
  if (!m) throw new InvalidArgumentError('expected N or HxW, e.g. 224 or 224x160.');
  const h = Number(m[1]);
  const w = m[2] !== undefined ? Number(m[2]) : h;
  return [h, w];
}

/** Collects a repeatable option into an array. */
export function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

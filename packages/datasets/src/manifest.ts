/**
 * The split manifest: which image goes to which subset. Training and evaluation read it; `lrpseg data
 * split` writes it. Plain JSON, keys in a fixed order, so that the same seed gives the same bytes.
 */
import { LrpsegError } from '@lrpseg/core';

/** A rectangle of an image, in its pixels (CrackForest patches). */
export interface Region {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/** One image (or one patch of an image) of a data set. Paths are relative to the data set root, '/'-separated. */
export interface DatasetEntry {
  readonly image: string;
  /** A mask PNG, a Berkeley .seg file, or null when the data set has no masks. */
  readonly mask: string | null;
  /** 0 defect-free, 1 defect (or a class index for generic class folders). */
  readonly label: number;
  readonly class: string;
  /** The part of the image this entry stands for; absent: the whole image. */
  readonly region?: Region;
}

/** An entry with the repeated-capture group it belongs to (all of a group land in one subset). */
export interface ManifestEntry extends DatasetEntry {
  readonly group: string;
}

export type SubsetName = 'train' | 'val' | 'test';
export const SUBSET_NAMES: readonly SubsetName[] = ['train', 'val', 'test'];

export type DatasetKind = 'magnetic-tile' | 'crackforest' | 'masks' | 'classes';

export interface Manifest {
  readonly format: 'lrpseg-split';
  readonly version: 1;
  readonly dataset: DatasetKind;
  /** The data set root, relative to the folder of the manifest file ('/'-separated), or absolute. */
  readonly root: string;
  readonly seed: number;
  readonly ratios: { readonly train: number; readonly val: number; readonly test: number };
  /** Group k-fold: this manifest is fold `fold` of `k` (test = that fold, val = the next); absent for a ratio split. */
  readonly folds?: { readonly k: number; readonly fold: number };
  readonly classes: readonly string[];
  /** Class names by label value. */
  readonly labels: readonly string[];
  /** How groups were found, with its parameters (see docs/datasets.md). */
  readonly grouping: Readonly<Record<string, unknown>>;
  /** What evaluation adds to val and test (section 3.4 of the paper): each image and its flips. */
  readonly evalViews: readonly EvalView[];
  readonly counts: Readonly<Record<SubsetName, Readonly<Record<string, number>>>>;
  readonly subsets: Readonly<Record<SubsetName, readonly ManifestEntry[]>>;
}

export type EvalView = 'identity' | 'hflip' | 'vflip';

/** Entries with keys in a fixed order (region last, only when present). */
function orderedEntry(e: ManifestEntry): ManifestEntry {
  const out: { -readonly [K in keyof ManifestEntry]: ManifestEntry[K] } = {
    image: e.image,
    mask: e.mask,
    label: e.label,
    class: e.class,
    group: e.group,
  };
  if (e.region) out.region = { top: e.region.top, left: e.region.left, height: e.region.height, width: e.region.width };
  return out;
}

/** The manifest as JSON text: two-space indent, one entry per line, a final newline. */
export function serializeManifest(m: Manifest): string {
  const head = {
    format: m.format,
    version: m.version,
    dataset: m.dataset,
    root: m.root,
    seed: m.seed,
    ratios: m.ratios,
    ...(m.folds ? { folds: m.folds } : {}),
    classes: m.classes,
    labels: m.labels,
    grouping: m.grouping,
    evalViews: m.evalViews,
    counts: m.counts,
  };
  const lines = JSON.stringify(head, null, 2).split('\n');
  lines.pop(); // the closing brace
  lines[lines.length - 1] += ',';
  lines.push('  "subsets": {');
  SUBSET_NAMES.forEach((s, si) => {
    const entries = m.subsets[s];
    lines.push(`    "${s}": [`);
    entries.forEach((e, i) => lines.push(`      ${JSON.stringify(orderedEntry(e))}${i < entries.length - 1 ? ',' : ''}`));
    lines.push(`    ]${si < SUBSET_NAMES.length - 1 ? ',' : ''}`);
  });
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

function bad(where: string, what: string): LrpsegError {
  return new LrpsegError('BAD_INPUT', `${where}: ${what}`);
}

function checkEntry(x: unknown, where: string): ManifestEntry {
  if (typeof x !== 'object' || x === null) throw bad(where, 'not an object');
  const e = x as Record<string, unknown>;
  if (typeof e.image !== 'string' || e.image.length === 0) throw bad(where, '"image" must be a non-empty string');
  if (e.mask !== null && typeof e.mask !== 'string') throw bad(where, '"mask" must be a string or null');
  if (typeof e.label !== 'number' || !Number.isInteger(e.label) || e.label < 0) throw bad(where, '"label" must be an integer ≥ 0');
  if (typeof e.class !== 'string') throw bad(where, '"class" must be a string');
  if (typeof e.group !== 'string') throw bad(where, '"group" must be a string');
  for (const p of [e.image, e.mask]) {
    if (typeof p === 'string' && (p.startsWith('/') || p.split('/').includes('..'))) {
      throw bad(where, `path "${p}" must be relative to the data set root, without ".."`);
    }
  }
  if (e.region !== undefined) {
    const r = e.region as Record<string, unknown>;
    const ok = typeof r === 'object' && r !== null && ['top', 'left', 'height', 'width'].every((k) => Number.isInteger(r[k]) && (r[k] as number) >= 0);
    if (!ok || (r.height as number) === 0 || (r.width as number) === 0) throw bad(where, '"region" must have integer top, left, height, width');
  }
  return e as unknown as ManifestEntry;
}

/** Parses and checks a manifest's text; `name` (the file) prefixes errors. */
export function parseManifest(text: string, name: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${name}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof raw !== 'object' || raw === null) throw bad(name, 'not a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format !== 'lrpseg-split') throw bad(name, 'not an lrpseg split manifest ("format" is not "lrpseg-split")');
  if (m.version !== 1) throw bad(name, `unsupported manifest version ${String(m.version)}`);
  const subsets = m.subsets as Record<string, unknown> | undefined;
  if (typeof subsets !== 'object' || subsets === null) throw bad(name, 'no "subsets" object');
  for (const s of SUBSET_NAMES) {
    const list = subsets[s];
    if (!Array.isArray(list)) throw bad(name, `"subsets.${s}" must be an array`);
    list.forEach((e, i) => checkEntry(e, `${name}: subsets.${s}[${i}]`));
  }
  if (typeof m.root !== 'string') throw bad(name, '"root" must be a string');
  return m as unknown as Manifest;
}

/**
 * The manifest restricted to some of its classes, in every subset (entry order kept, counts
 * recomputed). Groups are kept as they were found among all the classes, so a split grouped over
 * more classes stays free of leaks when cut down: e.g. the six-class Magnetic Tile split restricted to
 * the paper's Crack, Blowhole and Free for evaluation, while training also sees Break, Fray and Uneven.
 */
export function selectClasses(m: Manifest, classes: readonly string[]): Manifest {
  const unknown = classes.filter((c) => !m.classes.includes(c));
  if (unknown.length > 0) throw new LrpsegError('BAD_INPUT', `class ${unknown.map((c) => `"${c}"`).join(', ')} not in the manifest (it has ${m.classes.join(', ')})`);
  if (classes.length === 0) throw new LrpsegError('BAD_INPUT', 'no classes selected');
  const kept = m.classes.filter((c) => classes.includes(c));
  const subsets = {} as Record<SubsetName, ManifestEntry[]>;
  const counts = {} as Record<SubsetName, Record<string, number>>;
  for (const s of SUBSET_NAMES) {
    subsets[s] = m.subsets[s].filter((e) => kept.includes(e.class));
    const c: Record<string, number> = { total: subsets[s].length };
    for (const cls of kept) c[cls] = subsets[s].filter((e) => e.class === cls).length;
    counts[s] = c;
  }
  return { ...m, classes: kept, counts, subsets };
}

/**
 * Grouped, stratified, seeded train/val/test split (pure). Every capture of one region (one group)
 * lands in one subset; within that constraint the subsets get their share of every class.
 */
import { LrpsegError, mulberry32 } from '@lrpseg/core';
import { DEFAULT_GROUPING, findGroups, type GroupingParams, type GroupingResult } from './grouping.js';
import type { DatasetKind, EvalView, Manifest, ManifestEntry, SubsetName } from './manifest.js';
import { SUBSET_NAMES } from './manifest.js';
import type { EntryScan, ScanResult } from './scan.js';

export interface Ratios {
  readonly train: number;
  readonly val: number;
  readonly test: number;
}

export const PAPER_RATIOS: Ratios = { train: 0.6, val: 0.2, test: 0.2 };
export const EVAL_VIEWS: readonly EvalView[] = ['identity', 'hflip', 'vflip'];

export interface Groups {
  /** Group name of each scan (same order as the scans). */
  readonly groupOf: readonly string[];
  /** How the groups were found, for the manifest. */
  readonly method: Readonly<Record<string, unknown>>;
  readonly result?: GroupingResult;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/**
 * Groups of repeated captures. CrackForest: the patches of one photo. Other data sets: the texture
 * matching of grouping.ts (or no grouping at all with `params === 'none'`).
 */
export function groupScans(kind: DatasetKind, scans: readonly EntryScan[], params: GroupingParams | 'none' = DEFAULT_GROUPING): Groups {
  if (kind === 'crackforest') {
    const groupOf = scans.map((s) => s.entry.image.replace(/^.*\//, '').replace(/\.[^.]+$/, ''));
    return { groupOf, method: { method: 'source-image', description: 'all patches of one photo form a group' } };
  }
  if (params === 'none') {
    const w = String(scans.length).length;
    return { groupOf: scans.map((_, i) => `g${pad(i + 1, w)}`), method: { method: 'none', description: 'every image is its own group' } };
  }
  const missing = scans.find((s) => s.features === undefined);
  if (missing) throw new LrpsegError('BAD_INPUT', `${missing.entry.image}: no grouping features (scan with features)`);
  const result = findGroups(
    scans.map((s) => ({ features: s.features!, mask: s.binaryMask ?? null })),
    params,
  );
  // names in order of each group's first member, which follows the index's (sorted) order
  const w = String(result.groupCount).length;
  const groupOf = Array.from(result.groupOf, (g) => `g${pad(g + 1, w)}`);
  return {
    groupOf,
    method: {
      method: 'texture',
      description: 'aligned high-pass texture correlation at half resolution, joined transitively; plus same-size masks with IoU >= maskIoU',
      ...params,
    },
    result,
  };
}

/** Group k-fold cross-validation: k folds, and which one is the test subset. */
export interface Folds {
  readonly k: number;
  readonly fold: number;
}

export function checkFolds(f: Folds): void {
  if (!Number.isInteger(f.k) || f.k < 3) throw new LrpsegError('BAD_INPUT', `folds: need k ≥ 3 (a test, a val and a train fold; got ${f.k})`);
  if (!Number.isInteger(f.fold) || f.fold < 0 || f.fold >= f.k) throw new LrpsegError('BAD_INPUT', `fold must be 0 … ${f.k - 1} (got ${f.fold})`);
}

export interface SplitOptions {
  readonly seed: number;
  /** Subset shares of a plain split (default 60/20/20); not with `folds`. */
  readonly ratios?: Ratios;
  /** Group k-fold instead of ratios: test = fold `fold`, val = the next fold, train = the rest. */
  readonly folds?: Folds;
  /** The manifest's "root": the data set root relative to the manifest's folder. */
  readonly root: string;
}

function checkRatios(r: Ratios): void {
  const vals = [r.train, r.val, r.test];
  if (vals.some((v) => !(v >= 0)) || Math.abs(vals.reduce((a, b) => a + b, 0) - 1) > 1e-9) {
    throw new LrpsegError('BAD_INPUT', `split ratios must be non-negative and sum to 1 (got ${vals.join(', ')})`);
  }
}

function shuffle<T>(xs: T[], rand: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function entryKey(e: ManifestEntry): string {
  const r = e.region;
  return r ? `${e.image}\0${pad(r.top, 6)}\0${pad(r.left, 6)}` : e.image;
}

/**
 * Assigns groups to bins of the given shares: groups in seeded random order, then largest first; each
 * goes where its classes are most wanted (the largest shortfall against every class's target, weighted
 * by how many of the group's images are of that class). Returns each group's bin index.
 */
export function assignBins(
  groups: readonly { readonly classCounts: ReadonlyMap<string, number> }[],
  classTotals: ReadonlyMap<string, number>,
  shares: readonly number[],
  seed: number,
): number[] {
  const rand = mulberry32(seed);
  const order = shuffle(groups.map((_, i) => i), rand);
  const size = (i: number): number => [...groups[i].classCounts.values()].reduce((a, b) => a + b, 0);
  order.sort((a, b) => size(b) - size(a)); // stable: equal sizes keep their random order
  const current = shares.map(() => new Map<string, number>());
  const out: number[] = new Array(groups.length);
  for (const g of order) {
    const tieBreak = shuffle(shares.map((_, b) => b), rand);
    let best = tieBreak[0];
    let bestScore = -Infinity;
    for (const b of tieBreak) {
      if (shares[b] === 0) continue;
      let score = 0;
      for (const [c, n] of groups[g].classCounts) {
        const total = classTotals.get(c) ?? 0;
        const want = shares[b] * total - (current[b].get(c) ?? 0);
        score += (n * want) / Math.max(1, total);
      }
      if (score > bestScore + 1e-12) {
        bestScore = score;
        best = b;
      }
    }
    out[g] = best;
    for (const [c, n] of groups[g].classCounts) current[best].set(c, (current[best].get(c) ?? 0) + n);
  }
  return out;
}

/** Groups to train/val/test at the given ratios (assignBins over the three subsets). */
export function assignGroups(
  groups: readonly { readonly classCounts: ReadonlyMap<string, number> }[],
  classTotals: ReadonlyMap<string, number>,
  ratios: Ratios,
  seed: number,
): SubsetName[] {
  checkRatios(ratios);
  return assignBins(groups, classTotals, SUBSET_NAMES.map((s) => ratios[s]), seed).map((b) => SUBSET_NAMES[b]);
}

/**
 * Group k-fold: the groups dealt into k folds of equal share (stratified as assignGroups), and fold
 * `fold`'s subsets: test is that fold, val the next one (cyclically), train the other k − 2. Over
 * fold = 0 … k − 1 every group is tested exactly once, by a model that never trained on it.
 */
export function assignFold(
  groups: readonly { readonly classCounts: ReadonlyMap<string, number> }[],
  classTotals: ReadonlyMap<string, number>,
  folds: Folds,
  seed: number,
): SubsetName[] {
  checkFolds(folds);
  const bins = assignBins(groups, classTotals, new Array<number>(folds.k).fill(1 / folds.k), seed);
  return bins.map((b) => (b === folds.fold ? 'test' : b === (folds.fold + 1) % folds.k ? 'val' : 'train'));
}

/** The split manifest of scanned entries with their groups. */
export function makeManifest(scan: ScanResult, groups: Groups, opts: SplitOptions): Manifest {
  if (opts.folds && opts.ratios) throw new LrpsegError('BAD_INPUT', 'a split takes ratios or folds, not both');
  const folds = opts.folds;
  const ratios = folds ? { train: (folds.k - 2) / folds.k, val: 1 / folds.k, test: 1 / folds.k } : (opts.ratios ?? PAPER_RATIOS);
  if (folds) checkFolds(folds);
  else checkRatios(ratios);
  const { index, scans } = scan;
  if (scans.length === 0) throw new LrpsegError('BAD_INPUT', `${index.root}: no usable images to split`);
  const members = new Map<string, number[]>();
  scans.forEach((s, i) => {
    const g = groups.groupOf[i];
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  const names = [...members.keys()].sort(byCodePoint);
  const classTotals = new Map<string, number>();
  for (const s of scans) classTotals.set(s.entry.class, (classTotals.get(s.entry.class) ?? 0) + 1);
  const groupList = names.map((g) => {
    const classCounts = new Map<string, number>();
    for (const i of members.get(g)!) classCounts.set(scans[i].entry.class, (classCounts.get(scans[i].entry.class) ?? 0) + 1);
    return { classCounts };
  });
  const where = folds ? assignFold(groupList, classTotals, folds, opts.seed) : assignGroups(groupList, classTotals, ratios, opts.seed);
  const subsets: Record<SubsetName, ManifestEntry[]> = { train: [], val: [], test: [] };
  names.forEach((g, k) => {
    for (const i of members.get(g)!) subsets[where[k]].push({ ...scans[i].entry, group: g });
  });
  for (const s of SUBSET_NAMES) subsets[s].sort((a, b) => byCodePoint(entryKey(a), entryKey(b)));
  const counts = {} as Record<SubsetName, Record<string, number>>;
  for (const s of SUBSET_NAMES) {
    const c: Record<string, number> = { total: subsets[s].length };
    for (const cls of index.classes) c[cls] = subsets[s].filter((e) => e.class === cls).length;
    counts[s] = c;
  }
  return {
    format: 'lrpseg-split',
    version: 1,
    dataset: index.kind,
    root: opts.root,
    seed: opts.seed,
    ratios: { train: ratios.train, val: ratios.val, test: ratios.test },
    ...(folds ? { folds: { k: folds.k, fold: folds.fold } } : {}),
    classes: [...index.classes],
    labels: [...index.labels],
    grouping: { ...groups.method, groups: names.length },
    evalViews: [...EVAL_VIEWS],
    counts,
    subsets,
  };
}

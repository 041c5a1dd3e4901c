/**
 * `lrpseg data inspect PATH` and `lrpseg data split PATH --out manifest.json`: what a data set holds
 * (counts, sizes, defect areas, repeated-capture groups, problems), and its grouped, stratified split.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import {
  DEFAULT_GROUPING,
  DEFAULT_PATCHES,
  MAGNETIC_TILE_CLASSES,
  groupScans,
  makeManifest,
  openDataset,
  scanDataset,
  serializeManifest,
  type DatasetIndex,
  type DatasetKind,
  type DatasetSpec,
  type EntryScan,
  type Folds,
  type Groups,
  type GroupingParams,
  type Ratios,
  type ScanResult,
  type SourceOptions,
} from '@lrpseg/datasets';
import { intArg } from '../args.js';
import { CliError, EXIT_FAILURE, UsageError, oneLine } from '../errors.js';
import { Progress, fmtInt, table, writeFileAtomic, type CliIo } from '../io.js';

export interface DataSourceOptions {
  readonly path: string;
  readonly kind: DatasetKind | 'auto';
  readonly classes?: readonly string[];
  readonly masks?: string;
  readonly negative?: string;
  readonly patch: number;
  readonly stride: number;
  readonly sha256?: string;
  readonly cache?: string;
  readonly groups: boolean;
  readonly threshold?: number;
  readonly quiet: boolean;
}

export interface InspectOptions extends DataSourceOptions {
  readonly json: boolean;
}

export interface SplitCommandOptions extends DataSourceOptions {
  readonly out: string;
  readonly seed: number;
  readonly ratios: Ratios;
  /** Group k-fold instead of the ratios: this fold's test, the next fold's val, the rest train. */
  readonly folds?: Folds;
  readonly skipBad: boolean;
}

interface Loaded {
  readonly index: DatasetIndex;
  readonly scan: ScanResult;
  readonly groups: Groups;
  readonly ms: { readonly open: number; readonly decode: number; readonly grouping: number };
}

function groupingParams(o: DataSourceOptions): GroupingParams | 'none' {
  if (!o.groups) return 'none';
  return o.threshold === undefined ? DEFAULT_GROUPING : { ...DEFAULT_GROUPING, threshold: o.threshold };
}

async function load(o: DataSourceOptions, io: CliIo, allClassesByDefault: boolean): Promise<Loaded> {
  const t0 = performance.now();
  let bar: Progress | null = null;
  let phase = '';
  let last = 0;
  const sourceOpts: SourceOptions = {
    ...(o.cache !== undefined ? { cacheDir: o.cache } : {}),
    ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}),
    onProgress: (p, done, total) => {
      if (o.quiet || total === undefined) return;
      if (phase !== p) {
        bar?.stop();
        phase = p;
        last = 0;
        bar = new Progress(io, p, total, 'bytes', { quiet: o.quiet, steps: 2 });
      }
      bar?.advance(done - last);
      last = done;
    },
  };
  let classes = o.classes;
  const kind = o.kind;
  if (classes === undefined && allClassesByDefault && (kind === 'magnetic-tile' || kind === 'auto')) classes = MAGNETIC_TILE_CLASSES;
  const spec: DatasetSpec = {
    source: o.path,
    kind,
    ...(classes !== undefined ? { classes } : {}),
    ...(o.masks !== undefined ? { masks: o.masks } : {}),
    ...(o.negative !== undefined ? { negative: o.negative } : {}),
    patches: { ...DEFAULT_PATCHES, patch: o.patch, stride: o.stride },
  };
  let index: DatasetIndex;
  try {
    index = await openDataset(spec, sourceOpts);
  } finally {
    (bar as Progress | null)?.stop();
  }
  const t1 = performance.now();
  const params = groupingParams(o);
  const progress = new Progress(io, 'decode', new Set(index.entries.map((e) => e.image)).size, 'images', { quiet: o.quiet, steps: 2 });
  let seen = 0;
  let scan: ScanResult;
  try {
    scan = await scanDataset(index, {
      features: params !== 'none' && index.kind !== 'crackforest',
      ...(params !== 'none' ? { grouping: params } : {}),
      onProgress: (done) => {
        progress.advance(done - seen);
        seen = done;
      },
    });
  } finally {
    progress.stop();
  }
  const t2 = performance.now();
  const groups = groupScans(index.kind, scan.scans, params);
  const t3 = performance.now();
  return { index, scan, groups, ms: { open: t1 - t0, decode: t2 - t1, grouping: t3 - t2 } };
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface ClassReport {
  readonly class: string;
  readonly label: number;
  readonly images: number;
  readonly width: readonly [number, number];
  readonly height: readonly [number, number];
  readonly emptyMasks: number;
  /** Defect pixels as a percentage of the image: mean, median, min, max over images with a defect. */
  readonly defectAreaPercent: { readonly mean: number; readonly median: number; readonly min: number; readonly max: number } | null;
  /** Defect images whose evaluation centre crop keeps no defect pixel. */
  readonly centreCropMissesDefect: number;
}

export interface GroupReport {
  readonly method: string;
  readonly count: number;
  /** Number of groups by size. */
  readonly sizes: Record<string, number>;
  readonly largest: number;
  /** Groups whose images carry different class names. */
  readonly mixedClass: readonly { readonly group: string; readonly classes: Record<string, number> }[];
  readonly stats?: Record<string, number>;
}

export interface InspectReport {
  readonly dataset: DatasetKind;
  readonly root: string;
  readonly classes: readonly ClassReport[];
  readonly total: number;
  readonly groups: GroupReport;
  readonly problems: readonly string[];
  readonly timingsMs: { readonly open: number; readonly decode: number; readonly grouping: number };
}

function groupReport(scans: readonly EntryScan[], groups: Groups): GroupReport {
  const members = new Map<string, EntryScan[]>();
  scans.forEach((s, i) => {
    const g = groups.groupOf[i];
    const l = members.get(g);
    if (l) l.push(s);
    else members.set(g, [s]);
  });
  const sizes: Record<string, number> = {};
  let largest = 0;
  const mixedClass: { group: string; classes: Record<string, number> }[] = [];
  for (const [g, ms] of [...members.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    sizes[String(ms.length)] = (sizes[String(ms.length)] ?? 0) + 1;
    largest = Math.max(largest, ms.length);
    const classes: Record<string, number> = {};
    for (const s of ms) classes[s.entry.class] = (classes[s.entry.class] ?? 0) + 1;
    if (Object.keys(classes).length > 1) mixedClass.push({ group: g, classes });
  }
  return {
    method: String(groups.method.method),
    count: members.size,
    sizes,
    largest,
    mixedClass,
    ...(groups.result ? { stats: { ...groups.result.stats } } : {}),
  };
}

export function inspectReport(l: Loaded): InspectReport {
  const { index, scan, groups } = l;
  const classes: ClassReport[] = index.classes.map((cls) => {
    const ss = scan.scans.filter((s) => s.entry.class === cls);
    const withDefect = ss.filter((s) => s.defectPixels > 0);
    const pct = withDefect.map((s) => (100 * s.defectPixels) / (s.width * s.height));
    const label = ss[0]?.entry.label ?? index.entries.find((e) => e.class === cls)?.label ?? -1;
    return {
      class: cls,
      label,
      images: ss.length,
      width: [Math.min(...ss.map((s) => s.width)), Math.max(...ss.map((s) => s.width))],
      height: [Math.min(...ss.map((s) => s.height)), Math.max(...ss.map((s) => s.height))],
      emptyMasks: ss.filter((s) => s.entry.mask !== null && s.defectPixels === 0).length,
      defectAreaPercent:
        pct.length === 0
          ? null
          : { mean: pct.reduce((a, b) => a + b, 0) / pct.length, median: median(pct), min: Math.min(...pct), max: Math.max(...pct) },
      centreCropMissesDefect: withDefect.filter((s) => !s.centreCropHasDefect).length,
    };
  });
  return {
    dataset: index.kind,
    root: index.root,
    classes,
    total: scan.scans.length,
    groups: groupReport(scan.scans, groups),
    problems: scan.problems,
    timingsMs: { open: Math.round(l.ms.open), decode: Math.round(l.ms.decode), grouping: Math.round(l.ms.grouping) },
  };
}

function fmtPct(x: number): string {
  return x >= 10 ? x.toFixed(1) : x >= 0.01 ? x.toFixed(2) : x.toExponential(1);
}

export function formatInspect(r: InspectReport, labels: readonly string[]): string {
  const rows = r.classes.map((c) => [
    c.class,
    `${c.label}${labels[c.label] !== undefined ? ` ${labels[c.label]}` : ''}`,
    fmtInt(c.images),
    c.images ? `${c.width[0]}–${c.width[1]}` : '–',
    c.images ? `${c.height[0]}–${c.height[1]}` : '–',
    String(c.emptyMasks),
    c.defectAreaPercent ? `${fmtPct(c.defectAreaPercent.mean)} / ${fmtPct(c.defectAreaPercent.median)} / ${fmtPct(c.defectAreaPercent.min)}–${fmtPct(c.defectAreaPercent.max)}` : '–',
    String(c.centreCropMissesDefect),
  ]);
  const g = r.groups;
  const sizes = Object.entries(g.sizes)
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([s, n]) => `${n}×${s}`)
    .join(', ');
  const lines = [
    `data set  ${r.dataset} at ${r.root}`,
    `images    ${fmtInt(r.total)}`,
    '',
    table(['class', 'label', 'images', 'width', 'height', 'empty masks', 'defect area % mean / median / range', 'centre crop misses defect'], rows, [2, 5, 7]).trimEnd(),
    '',
    `groups    ${fmtInt(g.count)} (${g.method}); sizes (groups×images): ${sizes}; largest ${g.largest}`,
  ];
  if (g.stats) lines.push(`          pairs of similar size ${fmtInt(g.stats.candidatePairs)}, compared ${fmtInt(g.stats.comparedPairs)}, joined by texture ${fmtInt(g.stats.textureMatches)}, by mask ${fmtInt(g.stats.maskMatches)}`);
  if (g.mixedClass.length > 0) {
    lines.push(
      `          ${g.mixedClass.length} group(s) hold captures filed under different classes: ` +
        g.mixedClass.map((m) => `${m.group} (${Object.entries(m.classes).map(([c, n]) => `${c} ${n}`).join(', ')})`).join('; '),
    );
  }
  lines.push(`problems  ${r.problems.length === 0 ? 'none' : String(r.problems.length)}`);
  for (const p of r.problems) lines.push(`  ${oneLine(p)}`);
  lines.push(`time      open ${fmtMs(r.timingsMs.open)}, decode ${fmtMs(r.timingsMs.decode)}, grouping ${fmtMs(r.timingsMs.grouping)}`);
  return `${lines.join('\n')}\n`;
}

function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

export async function dataInspectCommand(o: InspectOptions, io: CliIo): Promise<number> {
  const l = await load(o, io, true);
  const report = inspectReport(l);
  io.stdout(o.json ? `${JSON.stringify({ ...report, labels: l.index.labels }, null, 2)}\n` : formatInspect(report, l.index.labels));
  return report.problems.length > 0 ? EXIT_FAILURE : 0;
}

/** The manifest's root: the data set root relative to the manifest's folder, '/'-separated. */
function relativeRoot(manifestFile: string, root: string): string {
  const rel = path.relative(path.dirname(path.resolve(manifestFile)), path.resolve(root));
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}

export async function dataSplitCommand(o: SplitCommandOptions, io: CliIo): Promise<number> {
  const l = await load(o, io, false);
  if (l.scan.problems.length > 0) {
    for (const p of l.scan.problems) io.stderr(`lrpseg: ${oneLine(p)}\n`);
    if (!o.skipBad) {
      throw new CliError(`${l.scan.problems.length} problem(s) in ${o.path}; nothing written (--skip-bad splits the usable images)`, EXIT_FAILURE);
    }
  }
  const partition = o.folds ? { folds: o.folds } : { ratios: o.ratios };
  const manifest = makeManifest(l.scan, l.groups, { seed: o.seed, ...partition, root: relativeRoot(o.out, l.index.root) });
  await writeFileAtomic(o.out, new TextEncoder().encode(serializeManifest(manifest)));
  if (!o.quiet) {
    const rows = (['train', 'val', 'test'] as const).map((s) => [s, ...['total', ...manifest.classes].map((c) => fmtInt(manifest.counts[s][c] ?? 0))]);
    io.stderr(
      `wrote ${o.out}: ${fmtInt(l.scan.scans.length)} images in ${fmtInt(Number(manifest.grouping.groups))} groups (${String(manifest.grouping.method)}), seed ${o.seed}${o.folds ? `, fold ${o.folds.fold} of ${o.folds.k} (test; val: fold ${(o.folds.fold + 1) % o.folds.k})` : ''}\n` +
        table(['subset', 'total', ...manifest.classes], rows, [1, 2, 3, 4, 5, 6, 7, 8]) +
        `time: open ${fmtMs(l.ms.open)}, decode ${fmtMs(l.ms.decode)}, grouping ${fmtMs(l.ms.grouping)}\n`,
    );
  }
  return l.scan.problems.length > 0 ? EXIT_FAILURE : 0;
}

/** "60,20,20" or "0.6,0.2,0.2" → ratios summing to 1. */
export function parseRatios(text: string): Ratios {
  const parts = text.split(/[,/:]/).map((s) => s.trim());
  const xs = parts.map(Number);
  if (xs.length !== 3 || xs.some((x, i) => parts[i] === '' || !Number.isFinite(x) || x < 0)) {
    throw new UsageError(`--ratios: expected three non-negative numbers, e.g. 60,20,20 (got "${text}")`);
  }
  const sum = xs[0] + xs[1] + xs[2];
  if (sum <= 0) throw new UsageError('--ratios: the numbers must not all be 0');
  return { train: xs[0] / sum, val: xs[1] / sum, test: xs[2] / sum };
}

/** --folds and --fold together (or neither); not with an explicit --ratios. */
export function foldsFrom(k: number | undefined, fold: number | undefined, ratiosGiven: boolean): Folds | undefined {
  if (k === undefined && fold === undefined) return undefined;
  if (k === undefined) throw new UsageError('--fold needs --folds <k>');
  if (fold === undefined) throw new UsageError(`--folds ${k} needs --fold <i> (0 … ${k - 1}): which fold is the test subset`);
  if (fold >= k) throw new UsageError(`--fold ${fold}: must be below --folds ${k}`);
  if (ratiosGiven) throw new UsageError('--ratios and --folds exclude each other: k folds give shares (k−2)/k, 1/k, 1/k');
  return { k, fold };
}

function parseThreshold(v: string): number {
  const x = Number(v);
  if (!Number.isFinite(x) || x <= -1 || x > 1) throw new UsageError(`--group-threshold: expected a number in (−1, 1] (got "${v}")`);
  return x;
}

function sourceOptions(cmd: Command): Command {
  return cmd
    .argument('<path>', 'data set folder, .zip, or http(s) URL of a .zip')
    .addOption(new Option('--kind <kind>', 'data set kind').choices(['auto', 'magnetic-tile', 'crackforest', 'masks', 'classes']).default('auto'))
    .option('--classes <list>', 'classes to use, comma-separated (Magnetic Tile split default: Crack,Blowhole,Free; inspect: all)')
    .option('--masks <dir>', 'kind masks: the folder of masks (PATH is the folder of images)')
    .option('--negative <class>', 'kind classes: the defect-free class (label 0; the others are 1)')
    .option('--patch <n>', 'CrackForest patch size', intArg(8, 4096), DEFAULT_PATCHES.patch)
    .option('--stride <n>', 'CrackForest largest patch step', intArg(1, 4096), DEFAULT_PATCHES.stride)
    .option('--no-groups', 'do not look for repeated captures (every image its own group)')
    .option('--group-threshold <x>', `texture correlation that joins two captures (default ${DEFAULT_GROUPING.threshold})`, parseThreshold)
    .option('--sha256 <hex>', 'expected SHA-256 of a downloaded archive')
    .option('--cache <dir>', 'where archives are downloaded and extracted (default $LRPSEG_CACHE or ~/.cache/lrpseg)')
    .option('-q, --quiet', 'no progress or summary on stderr (errors are still reported)')
    .option('--debug', 'print stack traces of unexpected errors');
}

function sourceFrom(p: string, opts: Record<string, unknown>): DataSourceOptions {
  const classes = opts.classes === undefined ? undefined : (opts.classes as string).split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (classes !== undefined && classes.length === 0) throw new UsageError('--classes: no class named');
  if (opts.kind === 'masks' && opts.masks === undefined) throw new UsageError('--kind masks needs --masks <dir>');
  return {
    path: p,
    kind: opts.kind as DatasetKind | 'auto',
    ...(classes !== undefined ? { classes } : {}),
    ...(opts.masks !== undefined ? { masks: opts.masks as string } : {}),
    ...(opts.negative !== undefined ? { negative: opts.negative as string } : {}),
    patch: opts.patch as number,
    stride: opts.stride as number,
    ...(opts.sha256 !== undefined ? { sha256: opts.sha256 as string } : {}),
    ...(opts.cache !== undefined ? { cache: opts.cache as string } : {}),
    groups: opts.groups !== false,
    ...(opts.groupThreshold !== undefined ? { threshold: opts.groupThreshold as number } : {}),
    quiet: Boolean(opts.quiet),
  };
}

/** The `data` command with its subcommands; `setResult` receives the exit status. */
export function dataCommand(io: CliIo, setResult: (code: number) => void): Command {
  const data = new Command('data').summary('inspect and split data sets').description('Inspect a data set, or split it into train/val/test with a manifest.');
  // set before the subcommands are made, which copy these settings (commander's inheritance)
  data
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s), outputError: (s, write) => write(`lrpseg: ${oneLine(s.replace(/^error:\s*/i, ''))}\n`) });
  sourceOptions(
    data
      .command('inspect')
      .summary('counts, sizes, defect areas, repeated-capture groups')
      .description('Counts per class, image sizes, defect-area statistics, the groups of repeated captures found, and any problems (exit 1 when there are problems).'),
  )
    .option('--json', 'print JSON instead of a report')
    .action(async (p: string, opts: Record<string, unknown>) => {
      setResult(await dataInspectCommand({ ...sourceFrom(p, opts), json: Boolean(opts.json) }, io));
    });
  sourceOptions(
    data
      .command('split')
      .summary('grouped, stratified, seeded train/val/test manifest')
      .description(
        'Splits 60/20/20 (or --ratios), stratified by class, keeping every group of repeated captures in one subset, and writes a JSON manifest ' +
          '("subsets": {"train": [...], "val": [...], "test": [...]}, entries with image, mask, label, class, group; paths relative to the data set root). ' +
          'With --folds K --fold I: group k-fold cross-validation, the groups dealt into K stratified folds (the same for every I at one seed); ' +
          'fold I is the test subset, fold I+1 (mod K) val, the rest train, so the K manifests test every group once.',
      ),
  )
    .requiredOption('-o, --out <file>', 'manifest to write (.json)')
    .option('--seed <n>', 'random seed', intArg(0, 2 ** 32 - 1), 0)
    .option('--ratios <train,val,test>', 'subset shares', '60,20,20')
    .option('--folds <k>', 'group k-fold cross-validation into k folds (with --fold)', intArg(3, 1000))
    .option('--fold <i>', 'which fold is the test subset, 0 … k−1 (with --folds)', intArg(0, 999))
    .option('--skip-bad', 'split the usable images when some are bad (they are still reported; exit 1)')
    .action(async (p: string, opts: Record<string, unknown>, cmd: Command) => {
      const folds = foldsFrom(opts.folds as number | undefined, opts.fold as number | undefined, cmd.getOptionValueSource('ratios') === 'cli');
      setResult(
        await dataSplitCommand(
          { ...sourceFrom(p, opts), out: opts.out as string, seed: opts.seed as number, ratios: parseRatios(opts.ratios as string), ...(folds ? { folds } : {}), skipBad: Boolean(opts.skipBad) },
          io,
        ),
      );
    });
  return data;
}


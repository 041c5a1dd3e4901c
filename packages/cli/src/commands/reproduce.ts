/**
 * `lrpseg reproduce magnetic-tile`: the paper's whole Magnetic Tile study in one command — grouped
 * split, the two VGG-A classifiers and the U-Net, classification on the test split (Table 2), every
 * network × LRP rule set × method plus the U-Net on the test split (Table 3, Figures 4, 5 and 9) —
 * and one report beside the paper's figures. `--quick` runs the same pipeline at a reduced scale
 * (narrow nets, small inputs, few steps, a subsample of the test split) for CI on a 2-core machine.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { SEGMENT_METHODS, SeededRng } from '@lrpseg/core';
import { DEFAULT_PATCHES, parseManifest, serializeManifest, type Manifest, type ManifestEntry } from '@lrpseg/datasets';
import { intArg } from '../args.js';
import { BACKEND_NAMES, type BackendName } from '../backends.js';
import { CliError, EXIT_FAILURE, UsageError } from '../errors.js';
import { mkdirp, writeFileAtomic, type CliIo } from '../io.js';
import type { ArchChoice } from '../model.js';
import { dataSplitCommand } from './data.js';
import { UNET_METHOD, evalCommand, type EvalReport } from './eval.js';
import { trainClassifierCommand, trainUNetCommand, type CommonTrainOptions } from './train.js';

/** Scale of one study run. */
export interface StudySettings {
  readonly size: number;
  readonly widthDivisor: number;
  readonly batchSize: number;
  readonly epochs: number;
  /** undefined: one pass over the balanced training subset per epoch. */
  readonly stepsPerEpoch?: number;
  /** At most this many training / validation images per label. */
  readonly limit?: number;
  readonly lrConv: number;
  readonly lrFc: number;
  readonly patience: number;
  readonly unetBaseChannels: number;
  readonly unetDepth: number;
  readonly unetEpochs: number;
  readonly unetStepsPerEpoch?: number;
  readonly unetBatchSize: number;
  readonly unetLr: number;
  /** BCE weight of damage pixels (damage is ~1 % of the pixels; the tiny quick U-Net collapses to "no damage" at 1). */
  readonly unetPosWeight: number;
  /** Evaluate at most this many test images per label (seeded choice); undefined: the whole test split. */
  readonly testPerLabel?: number;
  /** Evaluate the flipped views too (section 3.4 of the paper). */
  readonly flips: boolean;
}

/** The paper's setup (section 3.2): 224×224, full VGG-11 widths, FC at 1e-3 and convolutions at 1e-4. */
export const FULL_SETTINGS: StudySettings = {
  size: 224,
  widthDivisor: 1,
  batchSize: 32,
  epochs: 30,
  lrConv: 1e-4,
  lrFc: 1e-3,
  patience: 8,
  unetBaseChannels: 64,
  unetDepth: 4,
  unetEpochs: 30,
  unetBatchSize: 8,
  unetLr: 1e-3,
  unetPosWeight: 1,
  flips: true,
};

/** The CI scale; measured in docs/training.md ("reproduce --quick"). */
export const QUICK_SETTINGS: StudySettings = {
  size: 64,
  widthDivisor: 8,
  batchSize: 32,
  epochs: 15,
  limit: 100,
  lrConv: 1e-3,
  lrFc: 1e-3,
  patience: 0,
  unetBaseChannels: 4,
  unetDepth: 2,
  unetEpochs: 6,
  unetStepsPerEpoch: 10,
  unetBatchSize: 8,
  unetLr: 3e-3,
  unetPosWeight: 10,
  flips: false,
};

export interface ReproduceOptions {
  readonly dataset: 'magnetic-tile';
  readonly data: string;
  readonly out: string;
  readonly quick: boolean;
  readonly seed: number;
  /** Initial convolution weights of both classifiers (the paper: ImageNet VGG-11). */
  readonly init?: string;
  readonly backend: BackendName;
  readonly threads?: number;
  readonly device?: number;
  readonly quiet: boolean;
}

/** The paper's Table 2 (Magnetic Tile). */
export const PAPER_TABLE2: Readonly<Record<string, { balanced_accuracy: number; tpr: number; tnr: number }>> = {
  'VGG-A 128N': { balanced_accuracy: 0.961, tpr: 0.957, tnr: 0.965 },
  'VGG-A one FC': { balanced_accuracy: 0.985, tpr: 0.971, tnr: 0.999 },
};

/** The paper's Table 3 (Magnetic Tile): network → rule set → method → [IoU, precision, recall]. */
export const PAPER_TABLE3: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, readonly [number, number, number]>>>>>> = {
  'VGG-A 128N': {
    ours: { simple: [0.349, 0.352, 0.976], gmm: [0.129, 0.129, 0.993], bmm: [0.462, 0.638, 0.679] },
    montavon: { simple: [0.466, 0.497, 0.897], gmm: [0.216, 0.216, 0.996], bmm: [0.332, 0.703, 0.448] },
  },
  'VGG-A one FC': {
    ours: { simple: [0.386, 0.404, 0.944], gmm: [0.168, 0.169, 0.991], bmm: [0.402, 0.669, 0.614] },
    montavon: { simple: [0.425, 0.491, 0.808], gmm: [0.238, 0.246, 0.947], bmm: [0.317, 0.686, 0.47] },
  },
};
const PAPER_UNET: readonly [number, number, number] = [0.461, 0.578, 0.699];
const PAPER_NO_SKILL = 0.006;

export const STUDY_RULES = ['montavon', 'ours'] as const;
const CLASSIFIERS: readonly { arch: ArchChoice; dir: string }[] = [
  { arch: 'vgg11-128n', dir: 'vgg-128n' },
  { arch: 'vgg11-onefc', dir: 'vgg-onefc' },
];

/** A seeded choice of at most n entries per label, in manifest order. */
function subsamplePerLabel(entries: readonly ManifestEntry[], n: number, seed: number): ManifestEntry[] {
  const chosen = new Set<ManifestEntry>();
  const seen = new Map<number, number>();
  for (const e of new SeededRng(seed).shuffle([...entries])) {
    const k = seen.get(e.label) ?? 0;
    if (k < n) chosen.add(e);
    seen.set(e.label, k + 1);
  }
  return entries.filter((e) => chosen.has(e));
}

function countClasses(entries: readonly ManifestEntry[]): Record<string, number> {
  const c: Record<string, number> = { total: entries.length };
  for (const e of entries) c[e.class] = (c[e.class] ?? 0) + 1;
  return c;
}

/** The manifest eval reads: the split itself, or (quick) one whose test subset is subsampled. */
async function evalManifest(splitFile: string, s: StudySettings, seed: number, out: string): Promise<{ file: string; manifest: Manifest }> {
  const manifest = parseManifest(await readFile(splitFile, 'utf8'), splitFile);
  if (s.testPerLabel === undefined) return { file: splitFile, manifest };
  const test = subsamplePerLabel(manifest.subsets.test, s.testPerLabel, seed);
  const reduced: Manifest = { ...manifest, counts: { ...manifest.counts, test: countClasses(test) }, subsets: { ...manifest.subsets, test } };
  const file = path.join(out, 'split-eval.json');
  await writeFileAtomic(file, new TextEncoder().encode(serializeManifest(reduced)));
  return { file, manifest: reduced };
}

async function bestValidation(logFile: string): Promise<{ epochs: number; best_epoch: number; best_val_balanced_accuracy: number } | null> {
  try {
    const recs = (await readFile(logFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; best?: boolean; val: { balancedAccuracy: number } });
    const best = recs.reduce((a, b) => (b.val.balancedAccuracy > a.val.balancedAccuracy ? b : a));
    return { epochs: recs.length, best_epoch: best.epoch + 1, best_val_balanced_accuracy: best.val.balancedAccuracy };
  } catch {
    return null;
  }
}

function withoutSteps<T extends { stepsPerEpoch?: number }>(o: T): Omit<T, 'stepsPerEpoch'> {
  const { stepsPerEpoch: _steps, ...rest } = o;
  return rest;
}

const f3 = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(3));
const pct = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
const mdRow = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const methodName = (m: string): string => (m === 'simple' ? 'Simple' : m === UNET_METHOD ? 'U-Net' : m.toUpperCase());

export interface StudyRow {
  readonly network: string;
  readonly rules: string;
  readonly method: string;
  readonly iou: number;
  readonly precision: number;
  readonly recall: number;
  readonly ap: number | null;
  readonly mean_image_iou: number;
  readonly ungated: { readonly iou: number; readonly precision: number; readonly recall: number; readonly ap: number | null } | null;
  readonly paper: { readonly iou: number; readonly precision: number; readonly recall: number } | null;
}

/** Table-3 rows, ours beside the paper's: every network × rule set × method, and the U-Net. */
export function studyRows(ev: EvalReport): StudyRow[] {
  return ev.segmentation.map((c) => {
    const p = c.method === UNET_METHOD ? PAPER_UNET : PAPER_TABLE3[c.network]?.[c.rules]?.[c.method];
    return {
      network: c.network,
      rules: c.rules,
      method: c.method,
      iou: c.gated.iou,
      precision: c.gated.precision,
      recall: c.gated.recall,
      ap: c.gated.ap,
      mean_image_iou: c.gated.mean_image_iou,
      ungated: c.ungated ? { iou: c.ungated.iou, precision: c.ungated.precision, recall: c.ungated.recall, ap: c.ungated.ap } : null,
      paper: p ? { iou: p[0], precision: p[1], recall: p[2] } : null,
    };
  });
}

function reportMd(o: ReproduceOptions, s: StudySettings, ev: EvalReport, rows: readonly StudyRow[], seconds: Record<string, number>, manifest: Manifest, evalManifestCounts: Record<string, number>): string {
  const out: string[] = [`# Reproduction: Magnetic Tile${o.quick ? ' (quick scale — a pipeline check, not the paper\'s setup)' : ''}`, ''];
  out.push(
    `- Data: ${o.data}; grouped split seed ${o.seed}: train ${manifest.counts.train.total}, val ${manifest.counts.val.total}, test ${manifest.counts.test.total} images (split.json).`,
    `- Evaluated: ${evalManifestCounts.total} test images${s.testPerLabel !== undefined ? ` (at most ${s.testPerLabel} per label, seeded)` : ''}, views ${ev.data.views.join(', ')}; ${ev.data.defective_views} defective views scored; no-skill precision ${f3(ev.no_skill_precision)} (paper ${PAPER_NO_SKILL}).`,
    `- Classifiers: VGG-11 (VGG-A) 128N and one FC, ${o.init !== undefined ? `convolutions initialised from ${o.init}` : 'from scratch (no ImageNet weights)'}, ${s.size}×${s.size}, conv widths /${s.widthDivisor}, ${s.epochs} epochs${s.stepsPerEpoch ? ` × ${s.stepsPerEpoch} steps` : ''}, batch ${s.batchSize}${s.limit ? `, at most ${s.limit} training images per label` : ''}, Adam, lr conv ${s.lrConv}, FC ${s.lrFc}.`,
    `- U-Net: base ${s.unetBaseChannels} channels, depth ${s.unetDepth}, ${s.unetEpochs} epochs${s.unetStepsPerEpoch ? ` × ${s.unetStepsPerEpoch} steps` : ''}, lr ${s.unetLr}, damage-pixel weight ${s.unetPosWeight}; score = sigmoid output, mask = score > 0.5.`,
    `- Backend ${o.backend}; time ${Object.entries(seconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}.`,
    '- The paper used ImageNet-pretrained convolutions and its own (unpublished) split; differences are expected (docs/training.md).',
    '',
    '## Table 2: classification on the test split',
    '',
    mdRow(['Network', 'Balanced accuracy', 'TPR', 'TNR', 'Views', 'Paper: balanced accuracy', 'Paper: TPR', 'Paper: TNR']),
    mdRow(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
  );
  for (const c of ev.classification) {
    const p = PAPER_TABLE2[c.network];
    out.push(mdRow([c.network, pct(c.balancedAccuracy), pct(c.tpr), pct(c.tnr), String(c.views), pct(p?.balanced_accuracy), pct(p?.tpr), pct(p?.tnr)]));
  }
  out.push('', '## Table 3: segmentation on the test split (gate on; pooled over all pixels)', '');
  out.push(mdRow(['Network', 'Rules', 'Method', 'IoU', 'Precision', 'Recall', 'AP', 'Paper: IoU', 'Paper: Precision', 'Paper: Recall']));
  out.push(mdRow(['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const r of rows) {
    out.push(mdRow([r.network, r.rules, methodName(r.method), f3(r.iou), f3(r.precision), f3(r.recall), f3(r.ap), f3(r.paper?.iou), f3(r.paper?.precision), f3(r.paper?.recall)]));
  }
  out.push(
    '',
    '## Files',
    '',
    '- `metrics.json`: every figure above, machine-readable; `eval/metrics.json` and `eval/metrics.md`: the full evaluation (with and without the gate, per-view IoU, PR curves).',
    '- `eval/pr-montavon.png`, `eval/pr-ours.png` (Figures 4 and 5; `-ungated` without the gate), `eval/examples-*.png` (as Figure 9).',
    '- `models/vgg-128n/model.safetensors`, `models/vgg-onefc/model.safetensors`, `models/unet/unet.safetensors`, with their training logs and curves.',
    '',
  );
  return out.join('\n');
}

export async function reproduceCommand(o: ReproduceOptions, io: CliIo): Promise<number> {
  const s = o.quick ? QUICK_SETTINGS : FULL_SETTINGS;
  const t0 = performance.now();
  const seconds: Record<string, number> = {};
  const stage = async <T>(n: number, name: string, key: string, f: () => Promise<T>): Promise<T> => {
    if (!o.quiet) io.stderr(`reproduce [${n}/5] ${name}\n`);
    const t = performance.now();
    const r = await f();
    seconds[key] = (performance.now() - t) / 1000;
    if (!o.quiet) io.stderr(`reproduce [${n}/5] ${name}: done in ${seconds[key].toFixed(1)} s\n`);
    return r;
  };
  // the sub-commands' one-line summaries go to stderr with the progress; stdout gets the final summary
  const sub: CliIo = { ...io, stdout: (t) => (o.quiet ? undefined : io.stderr(t)) };
  const check = (code: number, what: string): void => {
    if (code !== 0) throw new CliError(`reproduce: ${what} failed (exit ${code}); see the messages above`, EXIT_FAILURE);
  };
  await mkdirp(o.out);
  const splitFile = path.join(o.out, 'split.json');
  const modelsDir = path.join(o.out, 'models');
  const evalDir = path.join(o.out, 'eval');

  await stage(1, 'grouped split', 'split', async () =>
    check(
      await dataSplitCommand(
        { path: o.data, kind: o.dataset, patch: DEFAULT_PATCHES.patch, stride: DEFAULT_PATCHES.stride, groups: true, quiet: o.quiet, out: splitFile, seed: o.seed, ratios: { train: 0.6, val: 0.2, test: 0.2 }, skipBad: false },
        sub,
      ),
      'data split',
    ),
  );
  const manifest = parseManifest(await readFile(splitFile, 'utf8'), splitFile);

  const common: Omit<CommonTrainOptions, 'out'> = {
    manifest: splitFile,
    epochs: s.epochs,
    ...(s.stepsPerEpoch !== undefined ? { stepsPerEpoch: s.stepsPerEpoch } : {}),
    batchSize: s.batchSize,
    optimizer: 'adam',
    weightDecay: 0,
    warmup: 0,
    schedule: 'constant',
    patience: s.patience,
    size: s.size,
    seed: o.seed,
    backend: o.backend,
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.device !== undefined ? { device: o.device } : {}),
    ...(s.limit !== undefined ? { limit: s.limit } : {}),
    quiet: o.quiet,
  };
  await stage(2, 'training the classifiers VGG-A 128N and VGG-A one FC', 'train_classifiers', async () => {
    for (const c of CLASSIFIERS) {
      if (!o.quiet) io.stderr(`reproduce: training ${c.arch}\n`);
      check(
        await trainClassifierCommand(
          { ...common, out: path.join(modelsDir, c.dir), arch: c.arch, widthDivisor: s.widthDivisor, lrConv: s.lrConv, lrFc: s.lrFc, ...(o.init !== undefined ? { init: o.init } : {}), balance: 'sampling', resume: false },
          sub,
        ),
        `training ${c.arch}`,
      );
    }
  });
  await stage(3, 'training the U-Net', 'train_unet', async () => {
    check(
      await trainUNetCommand(
        {
          ...withoutSteps(common),
          out: path.join(modelsDir, 'unet'),
          epochs: s.unetEpochs,
          ...(s.unetStepsPerEpoch !== undefined ? { stepsPerEpoch: s.unetStepsPerEpoch } : {}),
          batchSize: s.unetBatchSize,
          baseChannels: s.unetBaseChannels,
          depth: s.unetDepth,
          lr: s.unetLr,
          posWeight: s.unetPosWeight,
        },
        sub,
      ),
      'training the U-Net',
    );
  });

  const evalData = await evalManifest(splitFile, s, o.seed, o.out);
  await stage(4, `classification, LRP (${STUDY_RULES.join(', ')}) and segmentation (${SEGMENT_METHODS.join(', ')}, U-Net) on the test split`, 'eval', async () =>
    check(
      await evalCommand(
        {
          models: CLASSIFIERS.map((c) => path.join(modelsDir, c.dir, 'model.safetensors')),
          rules: [...STUDY_RULES],
          methods: [...SEGMENT_METHODS],
          preds: [],
          unets: [path.join(modelsDir, 'unet', 'unet.safetensors')],
          data: [evalData.file],
          subset: 'test',
          views: s.flips ? ['identity', 'hflip', 'vflip'] : ['identity'],
          crop: 'defect',
          out: evalDir,
          target: '1',
          pool: 'wta',
          backend: o.backend,
          ...(o.threads !== undefined ? { threads: o.threads } : {}),
          batchSize: 8,
          examples: 4,
          failFast: false,
          quiet: o.quiet,
        },
        sub,
      ),
      'evaluation',
    ),
  );

  await stage(5, 'report', 'report', async () => {
    const ev = JSON.parse(await readFile(path.join(evalDir, 'metrics.json'), 'utf8')) as EvalReport;
    const rows = studyRows(ev);
    const training: Record<string, unknown> = {};
    for (const c of CLASSIFIERS) training[c.arch] = await bestValidation(path.join(modelsDir, c.dir, 'train-log.jsonl'));
    const metrics = {
      format: 'lrpseg-reproduce-report',
      version: 1,
      dataset: o.dataset,
      quick: o.quick,
      created: new Date().toISOString(),
      data: o.data,
      seed: o.seed,
      init: o.init ?? null,
      backend: o.backend,
      settings: s,
      split: manifest.counts,
      evaluated: { test_images: evalData.manifest.counts.test.total, views: ev.data.views, defective_views: ev.data.defective_views, failed: ev.data.failed },
      no_skill_precision: ev.no_skill_precision,
      training,
      classification: ev.classification.map((c) => ({
        network: c.network,
        views: c.views,
        balanced_accuracy: c.balancedAccuracy,
        tpr: c.tpr,
        tnr: c.tnr,
        paper: PAPER_TABLE2[c.network] ?? null,
      })),
      segmentation: rows,
      paper: { no_skill_precision: PAPER_NO_SKILL },
      seconds: { ...seconds, total: (performance.now() - t0) / 1000 },
    };
    await writeFileAtomic(path.join(o.out, 'metrics.json'), new TextEncoder().encode(JSON.stringify(metrics, null, 1) + '\n'));
    await writeFileAtomic(path.join(o.out, 'report.md'), new TextEncoder().encode(reportMd(o, s, ev, rows, seconds, manifest, evalData.manifest.counts.test)));
    const best = ev.classification.reduce((a, b) => (b.balancedAccuracy > a.balancedAccuracy ? b : a), ev.classification[0]);
    io.stdout(
      `reproduced magnetic-tile${o.quick ? ' (quick)' : ''} in ${((performance.now() - t0) / 1000).toFixed(0)} s: ` +
        `best test balanced accuracy ${pct(best?.balancedAccuracy)} (${best?.network ?? '—'}) → ${path.join(o.out, 'report.md')}\n`,
    );
  });
  return 0;
}

/** Registers `lrpseg reproduce`; `setResult` receives the exit status. */
export function registerReproduce(program: Command, io: CliIo, setResult: (code: number) => void): void {
  program
    .command('reproduce')
    .summary("run the paper's whole study and write one report")
    .description(
      "Runs the paper's study on a data set: a grouped split (split.json), training of VGG-A 128N, VGG-A one FC and the " +
        'U-Net (models/), classification on the test split (Table 2), segmentation of the test split with every network × ' +
        '{montavon, ours} × {Simple, GMM, BMM} and the U-Net (Table 3, PR curves as Figures 4 and 5, panels as Figure 9, in ' +
        'eval/), and report.md + metrics.json beside the paper\'s figures. --quick: the same pipeline at a reduced scale ' +
        '(a few minutes on 2 CPU cores). Data sets: magnetic-tile (crackforest: not implemented yet).',
    )
    .argument('<dataset>', 'magnetic-tile')
    .option('--data <path>', 'the data set folder (default: $LRPSEG_SHARED/datasets/<dataset>, else ../shared/datasets/<dataset>)')
    .option('-o, --out <dir>', 'output folder (default: reproduce-<dataset>)')
    .option('--quick', 'reduced scale (CI)')
    .option('--seed <n>', 'seed of the split, initialisation and sampling', intArg(0, 2 ** 31 - 1), 0)
    .option('--init <file>', "initial convolution weights of both classifiers (e.g. torchvision's ImageNet VGG-11 as safetensors)")
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]).default('cpu'))
    .addOption(new Option('--threads <n>', 'CPU backend worker threads').argParser(intArg(1, 1024)))
    .addOption(new Option('--device <n>', 'GPU index (cuda)').argParser(intArg(0, 64)))
    .option('-q, --quiet', 'no progress on stderr (errors are still reported)')
    .option('--debug', 'print stack traces of unexpected errors')
    .action(async (dataset: string, opts: Record<string, unknown>) => {
      if (dataset === 'crackforest') throw new UsageError('reproduce crackforest: not implemented yet (only magnetic-tile)');
      if (dataset !== 'magnetic-tile') throw new UsageError(`reproduce: unknown data set "${dataset}" (magnetic-tile)`);
      const shared = io.env.LRPSEG_SHARED ?? path.join('..', 'shared');
      setResult(
        await reproduceCommand(
          {
            dataset,
            data: (opts.data as string | undefined) ?? path.join(shared, 'datasets', dataset),
            out: (opts.out as string | undefined) ?? `reproduce-${dataset}`,
            quick: Boolean(opts.quick),
            seed: opts.seed as number,
            ...(opts.init !== undefined ? { init: opts.init as string } : {}),
            backend: opts.backend as BackendName,
            ...(opts.threads !== undefined ? { threads: opts.threads as number } : {}),
            ...(opts.device !== undefined ? { device: opts.device as number } : {}),
            quiet: Boolean(opts.quiet),
          },
          io,
        ),
      );
    });
}

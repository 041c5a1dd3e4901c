/**
 * The paper's study as one pipeline, the same for every data set: (1) the data set's split, (2) the two
 * VGG-A classifiers, (3) the U-Net, (4) classification, LRP with every rule set × method and the U-Net
 * on the test split, (5) report.md and metrics.json beside the paper's figures. A DatasetStudy supplies
 * only what differs: the data preparation, the settings, and the paper's reference figures.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { SEGMENT_METHODS } from '@lrpseg/core';
import type { Manifest } from '@lrpseg/datasets';
import { CliError, EXIT_FAILURE } from '../errors.js';
import { mkdirp, writeFileAtomic, type CliIo } from '../io.js';
import type { ArchChoice } from '../model.js';
import { evalCommand, type EvalReport } from '../commands/eval.js';
import { namedRuleSet } from '../rule-sets.js';
import { trainClassifierCommand, trainUNetCommand, type CommonTrainOptions } from '../commands/train.js';
import { metricsJson, pct, reportMd, studyRows, type PaperReference, type ReportContext } from './report.js';
import type { ReproduceOptions, StudyDataset, StudySettings } from './settings.js';

export const STUDY_RULES = ['montavon', 'ours'] as const;
export const STUDY_CLASSIFIERS: readonly { arch: ArchChoice; dir: string }[] = [
  { arch: 'vgg11-128n', dir: 'vgg-128n' },
  { arch: 'vgg11-onefc', dir: 'vgg-onefc' },
];

/** What a data set's preparation hands the pipeline. */
export interface StudyContext<S extends StudySettings = StudySettings> {
  readonly options: ReproduceOptions;
  readonly settings: S;
  /** For sub-commands: their summaries go to stderr with the progress (nothing when quiet). */
  readonly io: CliIo;
  /** Fails the study when a sub-command did not exit 0. */
  readonly check: (code: number, what: string) => void;
}

/** The split manifest training reads. */
export interface PreparedSplit {
  readonly file: string;
  readonly manifest: Manifest;
}

/** What `lrpseg eval` reads: a manifest .json (its "test" subset) and that subset's counts. */
export interface PreparedEval {
  readonly file: string;
  readonly counts: Readonly<Record<string, number>>;
}

/** Everything that differs between data sets. */
export interface DatasetStudy<S extends StudySettings = StudySettings> {
  readonly dataset: StudyDataset;
  /** Name in the report's title, e.g. 'Magnetic Tile'. */
  readonly title: string;
  readonly full: S;
  readonly quick: S;
  readonly paper: PaperReference;
  /** Stage 1's name on stderr. */
  readonly splitStage: string;
  /** What one evaluated item is ('images', 'patches'). */
  readonly unit: string;
  /** Stage 1: writes `<out>/split.json` (train/val/test). */
  split(ctx: StudyContext<S>): Promise<PreparedSplit>;
  /** After training: the test data eval reads (the split itself, or a reduced / converted copy). */
  evalData(ctx: StudyContext<S>, split: PreparedSplit): Promise<PreparedEval>;
  /** The report's "- Data: …" line. */
  dataLine(ctx: StudyContext<S>, split: PreparedSplit): string;
  /** The report's lines on how this setup differs from the paper's. */
  notes(ctx: StudyContext<S>): readonly string[];
  /** Lines of the report's Files section beyond the common ones. */
  readonly extraFiles: readonly string[];
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

/** Runs the whole study of one data set into `o.out`; returns the exit status. */
export async function runStudy<S extends StudySettings>(study: DatasetStudy<S>, o: ReproduceOptions, io: CliIo): Promise<number> {
  const s = o.quick ? study.quick : study.full;
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
  const ctx: StudyContext<S> = { options: o, settings: s, io: sub, check };
  await mkdirp(o.out);
  const modelsDir = path.join(o.out, 'models');
  const evalDir = path.join(o.out, 'eval');

  const split = await stage(1, study.splitStage, 'split', () => study.split(ctx));

  const common: Omit<CommonTrainOptions, 'out'> = {
    manifest: split.file,
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
    for (const c of STUDY_CLASSIFIERS) {
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

  const evalData = await study.evalData(ctx, split);
  await stage(4, `classification, LRP (${STUDY_RULES.join(', ')}) and segmentation (${SEGMENT_METHODS.join(', ')}, U-Net) on the test split`, 'eval', async () =>
    check(
      await evalCommand(
        {
          models: STUDY_CLASSIFIERS.map((c) => path.join(modelsDir, c.dir, 'model.safetensors')),
          rules: STUDY_RULES.map(namedRuleSet),
          methods: [...SEGMENT_METHODS],
          preds: [],
          unets: [path.join(modelsDir, 'unet', 'unet.safetensors')],
          data: [evalData.file],
          subset: 'test',
          views: s.flips ? ['identity', 'hflip', 'vflip'] : ['identity'],
          crop: 'defect',
          out: evalDir,
          target: '1',
          pools: ['wta'],
          ttas: ['none'],
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
    const rows = studyRows(ev, study.paper);
    const training: Record<string, unknown> = {};
    for (const c of STUDY_CLASSIFIERS) training[c.arch] = await bestValidation(path.join(modelsDir, c.dir, 'train-log.jsonl'));
    const report: ReportContext = {
      options: o,
      settings: s,
      title: study.title,
      paper: study.paper,
      dataLine: study.dataLine(ctx, split),
      unit: study.unit,
      notes: study.notes(ctx),
      extraFiles: study.extraFiles,
      manifest: split.manifest,
      evaluated: evalData.counts,
      seconds,
    };
    const metrics = metricsJson(report, ev, rows, training, (performance.now() - t0) / 1000);
    await writeFileAtomic(path.join(o.out, 'metrics.json'), new TextEncoder().encode(JSON.stringify(metrics, null, 1) + '\n'));
    await writeFileAtomic(path.join(o.out, 'report.md'), new TextEncoder().encode(reportMd(report, ev, rows)));
    const best = ev.classification.reduce((a, b) => (b.balancedAccuracy > a.balancedAccuracy ? b : a), ev.classification[0]);
    io.stdout(
      `reproduced ${o.dataset}${o.quick ? ' (quick)' : ''} in ${((performance.now() - t0) / 1000).toFixed(0)} s: ` +
        `best test balanced accuracy ${pct(best?.balancedAccuracy)} (${best?.network ?? '—'}) → ${path.join(o.out, 'report.md')}\n`,
    );
  });
  return 0;
}

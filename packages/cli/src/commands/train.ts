/**
 * `lrpseg train classifier` and `lrpseg train unet`: train on a split manifest (`lrpseg data split`),
 * with progress, a JSONL log, curves, the best weights and a resumable last checkpoint in --out.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import {
  LrpsegError,
  buildUNet,
  ROTATION_CLASSES,
  CUTPASTE_CLASSES,
  cutPasteBatch,
  argmaxAccuracy,
  clearlyAboveChance,
  buildVgg,
  keepFirstClasses,
  rotateSquareBatch,
  saveFeatureWeights,
  loadFeatureWeights,
  saveModel,
  loadModel,
  trainClassifier,
  trainUNet,
  unetMeta,
  vgg11Meta,
  resumeFromCheckpoint,
  type EpochRecord,
  type LabeledBatch,
  type MaskedBatch,
  type Model,
  type OptimizerKind,
  SeededRng,
  type UNetEpochRecord,
} from '@lrpseg/core';
import {
  CLASSIFIER_AUGMENT,
  DataLoader,
  type Batch,
  UNET_AUGMENT,
  parseManifest,
  selectClasses,
  serializeManifest,
  type Manifest,
  type ManifestEntry,
  type ScaleRange,
  type TrainAugment,
} from '@lrpseg/datasets';
import { intArg } from '../args.js';
import { BACKEND_NAMES, createBackend, resolveThreads, type BackendName } from '../backends.js';
import { UsageError, fsError } from '../errors.js';
import { Progress, mkdirp, writeFileAtomic, type CliIo } from '../io.js';
import { StepMeter } from '../step-meter.js';
import { calibrateOn, describeCalibration } from '../calibration.js';
import { ARCH_CHOICES, archVariant, type ArchChoice } from '../model.js';
import { renderCurves, type CurvePoint } from '../report/curves.js';

export interface CommonTrainOptions {
  readonly manifest: string;
  /** Overrides the manifest's data root. */
  readonly data?: string;
  readonly out: string;
  readonly epochs: number;
  /** Steps per epoch; default: one pass over the (balanced) training subset. */
  readonly stepsPerEpoch?: number;
  readonly batchSize: number;
  readonly optimizer: OptimizerKind;
  readonly weightDecay: number;
  readonly warmup: number;
  readonly schedule: 'constant' | 'cosine';
  readonly patience: number;
  /** With patience: never stop before this many epochs (default 0). */
  readonly minEpochs?: number;
  readonly size: number;
  readonly seed: number;
  readonly backend: BackendName;
  readonly threads?: number;
  readonly device?: number;
  readonly workers?: number;
  /** Use at most this many training / validation entries per label (quick runs). */
  readonly limit?: number;
  readonly quiet: boolean;
}

export interface ClassifierTrainOptions extends CommonTrainOptions {
  readonly arch: ArchChoice;
  readonly widthDivisor: number;
  readonly lrConv: number;
  readonly lrFc: number;
  readonly init?: string;
  readonly balance: 'sampling' | 'loss' | 'none';
  readonly resume: boolean;
  /** Random quarter turns of the training crops (default off). */
  readonly rot90?: boolean;
  /** Brightness / contrast jitter magnitudes in [0, 1) (default 0: off). */
  readonly brightness?: number;
  readonly contrast?: number;
  /** Scale jitter s in [1, 4]: each training image rescaled by a factor log-uniform in [1/s, s] before the crop (default 1: off). */
  readonly scaleJitter?: number;
  /** Hide-and-Seek: the probability of hiding each cell of a training crop (default 0: off), and the cells' side in pixels (default 16). */
  readonly hidePatches?: number;
  readonly hideCell?: number;
  /** The factors the scale jitter draws: [1/s, s] (`both`, default) or [1, s] (`enlarge`); needs scaleJitter > 1. */
  readonly scaleRange?: ScaleRange;
  /** Label smoothing ε of the cross-entropy (default 0). */
  readonly labelSmoothing?: number;
  /** Train with a batch norm after every convolution, folded into the convolutions in what is saved. */
  readonly batchNorm?: boolean;
  /** Validate, keep and save a moving average of the weights with this decay in (0, 1) (default: off). */
  readonly ema?: number;
  /** Fold the validation-optimal decision threshold into model.safetensors (lrpseg calibrate). */
  readonly calibrate?: boolean;
  /** The manifest classes the classifier decides between (default: all but the extra ones). */
  readonly classes?: readonly string[];
  /**
   * More manifest classes as auxiliary outputs, trained on (train subset only) but never decided on:
   * e.g. Break, Fray, Uneven beside Crack, Blowhole, Free. model.safetensors keeps the decision's outputs.
   */
  readonly extraClasses?: readonly string[];
}

/** The self-supervised tasks of `train pretext`. */
export const PRETEXT_TASKS = ['rotation', 'cutpaste'] as const;
export type PretextTask = (typeof PRETEXT_TASKS)[number];

export interface PretextTrainOptions extends CommonTrainOptions {
  /** rotation: predict k quarter turns (every train image); cutpaste: normal / cut-paste / scar (defect-free train images). */
  readonly task: PretextTask;
  readonly arch: ArchChoice;
  readonly widthDivisor: number;
  readonly lrConv: number;
  readonly lrFc: number;
  /** Share of the training images held out to measure the pretext accuracy (0: none). */
  readonly holdOut: number;
}

export interface UNetTrainOptions extends CommonTrainOptions {
  readonly baseChannels: number;
  readonly depth: number;
  readonly lr: number;
  readonly posWeight: number;
  /** Weight of the soft Dice loss added to the BCE (0: BCE alone). */
  readonly dice?: number;
}

interface OpenedManifest {
  readonly manifest: Manifest;
  readonly root: string;
}

export async function openManifest(file: string, dataOverride?: string): Promise<OpenedManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw fsError('read manifest', file, e);
  }
  const manifest = parseManifest(text, file);
  const root = dataOverride ?? path.resolve(path.dirname(file), manifest.root);
  return { manifest, root };
}

/**
 * At most `limit` entries per label, a seeded random choice (manifest order would take the first
 * captures only, which share their lighting, and give an unrepresentative validation set).
 */
function limitPerLabel(entries: readonly ManifestEntry[], limit: number | undefined, seed: number): ManifestEntry[] {
  if (limit === undefined) return [...entries];
  const seen = new Map<number, number>();
  return new SeededRng(seed).shuffle([...entries]).filter((e) => {
    const n = seen.get(e.label) ?? 0;
    seen.set(e.label, n + 1);
    return n < limit;
  });
}

/** Repeats the entries of the rarer labels so that every label is equally frequent in an epoch. */
export function balanceBySampling(entries: readonly ManifestEntry[]): ManifestEntry[] {
  const byLabel = new Map<number, ManifestEntry[]>();
  for (const e of entries) byLabel.set(e.label, [...(byLabel.get(e.label) ?? []), e]);
  const most = Math.max(...[...byLabel.values()].map((l) => l.length));
  const out: ManifestEntry[] = [];
  for (const list of byLabel.values()) for (let i = 0; i < most; i++) out.push(list[i % list.length]);
  return out;
}

/** Loss weights n / (k · n_c), PyTorch's usual "balanced" weighting. */
function balancedClassWeights(entries: readonly ManifestEntry[], k: number): number[] {
  const counts = new Array<number>(k).fill(0);
  for (const e of entries) counts[e.label]++;
  return counts.map((c) => (c > 0 ? entries.length / (k * c) : 0));
}

function requireSubset(m: Manifest, name: 'train' | 'val', file: string): readonly ManifestEntry[] {
  const s = m.subsets[name];
  if (s.length === 0) throw new LrpsegError('BAD_INPUT', `${file}: the "${name}" subset is empty`);
  return s;
}

async function writeLogLine(file: string, lines: string[], record: unknown): Promise<void> {
  lines.push(JSON.stringify(record));
  await writeFileAtomic(file, new TextEncoder().encode(`${lines.join('\n')}\n`));
}

async function writeCurves(out: string, name: string, title: string, points: CurvePoint[]): Promise<void> {
  const { svg, png } = await renderCurves(title, points);
  await writeFileAtomic(path.join(out, `${name}.svg`), new TextEncoder().encode(svg));
  await writeFileAtomic(path.join(out, `${name}.png`), png);
}

/** Resolves user class names (case-insensitive) against the manifest's. */
function manifestClasses(names: readonly string[], m: Manifest, option: string): string[] {
  return names.map((n) => {
    const hit = m.classes.find((c) => c.toLowerCase() === n.trim().toLowerCase());
    if (hit === undefined) throw new UsageError(`${option}: no class "${n}" in the manifest (it has ${m.classes.join(', ')})`);
    return hit;
  });
}

/**
 * The decision classes and the auxiliary ones: `decision` is the manifest cut to the classes decided
 * between (all subsets); `extraTrain` the auxiliary classes' training entries, relabelled
 * labels.length + i (validation and test never see them).
 */
export function splitDecisionAndExtra(
  manifest: Manifest, classes: readonly string[] | undefined, extra: readonly string[] | undefined,
): { decision: Manifest; extraTrain: ManifestEntry[]; extraNames: string[] } {
  const extraNames = extra ? manifestClasses(extra, manifest, '--extra-classes') : [];
  const chosen = classes ? manifestClasses(classes, manifest, '--classes') : manifest.classes.filter((c) => !extraNames.includes(c));
  const both = chosen.filter((c) => extraNames.includes(c));
  if (both.length > 0) throw new UsageError(`${both.join(', ')}: a class cannot be both decided on and extra`);
  if (chosen.length === 0) throw new UsageError('--classes: no class left to decide between');
  const decision = classes || extra ? selectClasses(manifest, chosen) : manifest;
  const base = manifest.labels.length;
  const extraTrain = manifest.subsets.train
    .filter((e) => extraNames.includes(e.class))
    .map((e) => ({ ...e, label: base + extraNames.indexOf(e.class) }));
  return { decision, extraTrain, extraNames };
}

/** --min-epochs only restrains --patience, and cannot ask for more epochs than --epochs. */
function checkEarlyStopping(o: CommonTrainOptions): void {
  const min = o.minEpochs ?? 0;
  if (min === 0) return;
  if (o.patience === 0) throw new UsageError('--min-epochs restrains early stopping: it needs --patience');
  if (min > o.epochs) throw new UsageError(`--min-epochs ${min} is more than --epochs ${o.epochs}`);
}

/** Hide-and-Seek's smallest cell on 224 inputs (Singh and Lee): 16 pixels. */
const DEFAULT_HIDE_CELL = 16;

/** The training crops' augmentation the classifier options ask for (flips always; each lever only when on). */
export function classifierAugment(o: Pick<ClassifierTrainOptions, 'rot90' | 'brightness' | 'contrast' | 'scaleJitter' | 'scaleRange' | 'hidePatches' | 'hideCell'>): TrainAugment {
  return {
    ...CLASSIFIER_AUGMENT,
    ...(o.rot90 ? { rot90: true } : {}),
    ...((o.brightness ?? 0) > 0 ? { brightness: o.brightness } : {}),
    ...((o.contrast ?? 0) > 0 ? { contrast: o.contrast } : {}),
    ...((o.scaleJitter ?? 1) !== 1 ? { scale: o.scaleJitter, scaleRange: o.scaleRange ?? 'both' } : {}),
    ...((o.hidePatches ?? 0) > 0 ? { hide: { probability: o.hidePatches!, cell: o.hideCell ?? DEFAULT_HIDE_CELL } } : {}),
  };
}

export async function trainClassifierCommand(o: ClassifierTrainOptions, io: CliIo): Promise<number> {
  checkEarlyStopping(o);
  if (o.scaleRange === 'enlarge' && (o.scaleJitter ?? 1) === 1) throw new UsageError('--scale-range enlarge needs --scale-jitter above 1');
  if (o.hideCell !== undefined && (o.hidePatches ?? 0) === 0) throw new UsageError('--hide-cell needs --hide-patches above 0');
  const opened = await openManifest(o.manifest, o.data);
  const { root } = opened;
  const { decision: manifest, extraTrain, extraNames } = splitDecisionAndExtra(opened.manifest, o.classes, o.extraClasses);
  // limited separately, so that the decision classes' images are the same with and without extra classes
  const trainEntries = [
    ...limitPerLabel(requireSubset(manifest, 'train', o.manifest), o.limit, o.seed),
    ...limitPerLabel(extraTrain, o.limit, o.seed + 2),
  ];
  const valEntries = limitPerLabel(requireSubset(manifest, 'val', o.manifest), o.limit, o.seed + 1);
  const augment = classifierAugment(o);
  await mkdirp(o.out);
  if (o.classes !== undefined || o.extraClasses !== undefined) {
    // the manifest of the classes decided between, for `lrpseg eval --data` (root relative to --out)
    const rootFromOut = path.relative(path.resolve(o.out), path.resolve(root)).split(path.sep).join('/') || '.';
    await writeFileAtomic(path.join(o.out, 'eval-split.json'), new TextEncoder().encode(serializeManifest({ ...manifest, root: rootFromOut })));
  }
  const lastFile = path.join(o.out, 'last.ckpt.safetensors');
  const bestFile = path.join(o.out, 'best.ckpt.safetensors');
  const logFile = path.join(o.out, 'train-log.jsonl');

  const backend = await createBackend(o.backend, { threads: resolveThreads(o.threads, io.env), ...(o.device !== undefined ? { device: o.device } : {}) });
  const loaders: DataLoader[] = [];
  // Ctrl-C: finish the step, write last.ckpt (exact resume, mid-epoch too); a second Ctrl-C quits at once
  let stopAsked = false;
  const onSigint = (): void => {
    stopAsked = true;
    io.stderr('\ntrain: stopping after this step to save last.ckpt.safetensors (Ctrl-C again quits now, losing the epoch so far)\n');
  };
  process.once('SIGINT', onSigint);
  try {
    let model: Model;
    let resume;
    if (o.resume) {
      const bytes = await readFile(lastFile).catch((e) => {
        throw fsError('resume from', lastFile, e);
      });
      ({ model, resume } = resumeFromCheckpoint(backend, bytes));
      const at = resume.partial ? `in epoch ${resume.epoch + 1} at step ${resume.partial.steps}` : `after epoch ${resume.epoch}`;
      io.stderr(`train: resuming ${at} from ${lastFile}\n`);
    } else {
      const base = vgg11Meta(archVariant(o.arch), { inputSize: [o.size, o.size], widthDivisor: o.widthDivisor });
      const labels = [...manifest.labels, ...extraNames];
      const meta = { ...base, arch: { ...base.arch, num_classes: labels.length }, classes: labels };
      model = buildVgg(backend, meta, { seed: o.seed });
      if (o.init !== undefined) {
        const copied = await loadFeatureWeights(model, await readFile(o.init).catch((e) => {
          throw fsError('read initial weights', o.init!, e);
        }));
        io.stderr(`train: ${copied.length / 2} convolutions initialised from ${o.init}\n`);
      }
    }
    const entries = o.balance === 'sampling' ? balanceBySampling(trainEntries) : trainEntries;
    const common = { root, size: [o.size, o.size] as const, channels: model.meta.arch.in_channels, ...(o.workers !== undefined ? { workers: o.workers } : {}) };
    const trainLoader = new DataLoader({ ...common, entries, mode: 'train', batchSize: o.batchSize, seed: o.seed, augment, dropLast: true });
    const valLoader = new DataLoader({ ...common, entries: valEntries, mode: 'eval', batchSize: o.batchSize, evalCrop: 'defect' });
    loaders.push(trainLoader, valLoader);
    const stepsPerEpoch = o.stepsPerEpoch ?? trainLoader.batchesPerEpoch;
    if (stepsPerEpoch < 1) throw new LrpsegError('BAD_INPUT', `train: ${entries.length} training images make no batch of ${o.batchSize}`);

    const emaDecay = o.ema ?? resume?.average?.decay;
    if (emaDecay !== undefined && !o.quiet) io.stderr(`train: validating, keeping and saving the weights' moving average (decay ${emaDecay})\n`);
    const logLines: string[] = resume ? (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((l) => l.length > 0) : [];
    let bar: Progress | null = null;
    let meter = new StepMeter();
    const endBar = (): void => bar?.stop();
    const result = await trainClassifier(
      model,
      {
        epochs: o.epochs,
        stepsPerEpoch,
        optimizer: { kind: o.optimizer, weightDecay: o.weightDecay },
        lrs: { conv: o.lrConv, fc: o.lrFc },
        schedule: { kind: o.schedule, warmupSteps: o.warmup },
        ...(o.balance === 'loss' ? { classWeights: balancedClassWeights(trainEntries, model.meta.arch.num_classes) } : {}),
        ...((o.labelSmoothing ?? 0) > 0 ? { labelSmoothing: o.labelSmoothing } : {}),
        // a resumed run keeps the checkpoint's choice; --batch-norm on a checkpoint without is refused
        ...(o.batchNorm || resume?.batchNorms !== undefined ? { batchNorm: true } : {}),
        // likewise the moving average: a resumed run keeps the checkpoint's decay unless --ema names another
        ...(emaDecay !== undefined ? { ema: emaDecay } : {}),
        decisionClasses: manifest.labels.length,
        patience: o.patience,
        minEpochs: o.minEpochs ?? 0,
        seed: o.seed,
      },
      {
        async *trainBatches(epoch: number, _rng: SeededRng, startStep: number): AsyncIterable<LabeledBatch> {
          bar = new Progress(io, `epoch ${epoch + 1}/${o.epochs}`, stepsPerEpoch, 'steps', { quiet: o.quiet, steps: stepsPerEpoch });
          if (startStep > 0) bar.advance(startStep);
          meter = new StepMeter();
          for await (const b of trainLoader.trainingEpoch(epoch, stepsPerEpoch, startStep)) yield { x: b.x, labels: Array.from(b.labels) };
        },
        async *validationBatches(): AsyncIterable<LabeledBatch> {
          for await (const b of valLoader.epoch(0)) yield { x: b.x, labels: Array.from(b.labels) };
        },
        onStep: (st) => {
          meter.add(st.loss, o.batchSize, st.accuracy);
          bar?.advance(1, meter.describe());
        },
        onEpoch: async (r: EpochRecord) => {
          bar?.stop();
          await writeLogLine(logFile, logLines, r);
          if (!o.quiet) {
            io.stderr(
              `epoch ${r.epoch + 1}: loss ${r.trainLoss.toFixed(4)}, train acc ${(100 * r.trainAccuracy).toFixed(1)}%, ` +
                `val balanced acc ${(100 * r.val.balancedAccuracy).toFixed(1)}% (TPR ${(100 * r.val.tpr).toFixed(1)}%, TNR ${(100 * r.val.tnr).toFixed(1)}%)` +
                `${r.best ? ' best' : ''}, ${r.seconds.toFixed(0)} s\n`,
            );
          }
        },
        saveCheckpoint: async (bytes, kind) => writeFileAtomic(kind === 'last' ? lastFile : bestFile, bytes),
        stopRequested: () => stopAsked,
      },
      resume,
    );
    if (result.stopped) endBar();
    const resumeHint = result.stopped
      ? `train: interrupted at epoch ${result.stopped.epoch + 1}, step ${result.stopped.step} of ${stepsPerEpoch}; ` +
        `the same command with --resume continues from ${lastFile}\n`
      : '';
    if (result.stopped && !existsSync(bestFile)) {
      io.stderr(resumeHint);
      return 130;
    }
    // The model file: the best epoch's weights without optimiser state, and without the extra classes'
    // outputs (explain, segment and eval then see a plain defect-free / defect model).
    const bestAll = loadModel(backend, await readFile(bestFile));
    const cut = bestAll.meta.arch.num_classes > manifest.labels.length ? await keepFirstClasses(bestAll, manifest.labels.length) : bestAll;
    let best = cut;
    if (o.calibrate && !result.stopped) {
      const c = await calibrateOn(cut, valLoader.epoch(0), 'val');
      best = c.model;
      if (!o.quiet) io.stderr(`train: ${describeCalibration(c)}\n`);
    }
    await writeFileAtomic(path.join(o.out, 'model.safetensors'), await saveModel(best));
    const points: CurvePoint[] = result.history.flatMap((r) => [
      { epoch: r.epoch + 1, series: 'train loss', value: r.trainLoss },
      { epoch: r.epoch + 1, series: 'val balanced accuracy', value: r.val.balancedAccuracy },
    ]);
    await writeCurves(o.out, 'curves', `${o.arch} training`, points);
    const b = result.history.find((r) => r.epoch === result.bestEpoch);
    io.stdout(
      `${result.stopped ? 'so far' : 'trained'} ${o.arch}: best epoch ${result.bestEpoch + 1} of ${result.history.length}, val balanced accuracy ${b ? (100 * b.val.balancedAccuracy).toFixed(1) : '?'}% → ${path.join(o.out, 'model.safetensors')}\n`,
    );
    if (result.stopped) {
      io.stderr(resumeHint);
      return 130;
    }
    return 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await Promise.all(loaders.map((l) => l.close()));
    await backend.destroy();
  }
}

/** How a pretext task labels its samples: the classes, and a batch of crops made into labelled samples. */
interface PretextLabeller {
  readonly classes: readonly string[];
  /** Flips are off for rotation: a vertical flip is a half turn composed with a horizontal flip, which would blur k = 0 with k = 2. */
  readonly augment: TrainAugment;
  /** Which train images the task uses, and what to call them when there are none. */
  readonly uses: (e: ManifestEntry) => boolean;
  readonly imagesUsed: string;
  /** Labels drawn from `rng` (or all `fixed`), the batch made to match. */
  label(x: Float32Array, shape: readonly number[], rng: SeededRng, fixed?: number): LabeledBatch;
}

function squareShape(shape: readonly number[], task: string): [number, number, number] {
  const [n, c, h, w] = shape;
  if (h !== w) throw new LrpsegError('BAD_INPUT', `${task} needs a square input (got ${h}×${w})`);
  return [n, c, h];
}

const PRETEXT_LABELLERS: Readonly<Record<PretextTask, PretextLabeller>> = {
  // Gidaris et al. 2018: each sample turned by k quarter turns, k uniform in {0, 1, 2, 3}; the label is k
  rotation: {
    classes: ROTATION_CLASSES,
    augment: { flips: false, warp: null },
    uses: () => true,
    imagesUsed: 'image',
    label(x, shape, rng, fixed) {
      const [n, c, s] = squareShape(shape, 'rotation prediction');
      const ks = Array.from({ length: n }, () => fixed ?? rng.int(4));
      return { x: rotateSquareBatch(x, n, c, s, ks), labels: ks };
    },
  },
  // Li et al. 2021 (three-way): normal, a pasted rectangle, a pasted scar, uniform; only defect-free
  // images, since a real defect would otherwise be taught as "normal"
  cutpaste: {
    classes: CUTPASTE_CLASSES,
    augment: CLASSIFIER_AUGMENT,
    uses: (e) => e.label === 0,
    imagesUsed: 'defect-free image',
    label(x, shape, rng, fixed) {
      const [n, c, s] = squareShape(shape, 'CutPaste');
      const labels = Array.from({ length: n }, () => fixed ?? rng.int(CUTPASTE_CLASSES.length));
      return { x: cutPasteBatch(x, n, c, s, labels, () => rng.next()), labels };
    },
  },
};

/**
 * `train pretext`: a self-supervised task on the manifest's train images (rotation: every class, labels
 * ignored; cutpaste: the defect-free ones), val and test untouched; the convolutions written to
 * features.safetensors for `train classifier --init`. No early stopping: the last epoch's weights are kept.
 */
export async function trainPretextCommand(o: PretextTrainOptions, io: CliIo): Promise<number> {
  if (o.patience > 0 || (o.minEpochs ?? 0) > 0) throw new UsageError('train pretext has no validation to stop on: --patience and --min-epochs do not apply');
  const task = PRETEXT_LABELLERS[o.task];
  const { manifest, root } = await openManifest(o.manifest, o.data);
  let images = new SeededRng(o.seed).shuffle(requireSubset(manifest, 'train', o.manifest).filter(task.uses));
  if (images.length === 0) throw new LrpsegError('BAD_INPUT', `train pretext --task ${o.task}: the "train" subset of ${o.manifest} has no ${task.imagesUsed}`);
  if (o.limit !== undefined) images = images.slice(0, o.limit);
  const held = Math.floor(images.length * o.holdOut);
  const heldOut = images.slice(0, held);
  const trainImages = images.slice(held);
  await mkdirp(o.out);
  const logFile = path.join(o.out, 'pretext-log.jsonl');
  const featuresFile = path.join(o.out, 'features.safetensors');
  const backend = await createBackend(o.backend, { threads: resolveThreads(o.threads, io.env), ...(o.device !== undefined ? { device: o.device } : {}) });
  const loaders: DataLoader[] = [];
  try {
    const base = vgg11Meta(archVariant(o.arch), { inputSize: [o.size, o.size], widthDivisor: o.widthDivisor });
    const model = buildVgg(backend, { ...base, arch: { ...base.arch, num_classes: task.classes.length }, classes: [...task.classes] }, { seed: o.seed });
    const common = { root, size: [o.size, o.size] as const, channels: model.meta.arch.in_channels, ...(o.workers !== undefined ? { workers: o.workers } : {}) };
    const trainLoader = new DataLoader({ ...common, entries: trainImages, mode: 'train', batchSize: o.batchSize, seed: o.seed, augment: task.augment, dropLast: true });
    loaders.push(trainLoader);
    const heldLoader = heldOut.length > 0 ? new DataLoader({ ...common, entries: heldOut, mode: 'eval', batchSize: o.batchSize, views: ['identity'], evalCrop: 'center' }) : null;
    if (heldLoader) loaders.push(heldLoader);
    const stepsPerEpoch = o.stepsPerEpoch ?? trainLoader.batchesPerEpoch;
    if (stepsPerEpoch < 1) throw new LrpsegError('BAD_INPUT', `train pretext: ${trainImages.length} training images make no batch of ${o.batchSize}`);
    const labelRng = new SeededRng(o.seed + 3);
    // every held-out image as each class, drawn the same way every epoch
    const heldOutBatches = async function* (): AsyncIterable<LabeledBatch> {
      if (!heldLoader) return;
      const rng = new SeededRng(o.seed + 4);
      for await (const b of heldLoader.epoch(0)) for (let k = 0; k < task.classes.length; k++) yield task.label(b.x, b.shape, rng, k);
    };
    const logLines: string[] = [];
    let bar: Progress | null = null;
    let meter = new StepMeter();
    let lastHeldOut: { correct: number; total: number } | null = null;
    const result = await trainClassifier(
      model,
      {
        epochs: o.epochs, stepsPerEpoch, optimizer: { kind: o.optimizer, weightDecay: o.weightDecay }, lrs: { conv: o.lrConv, fc: o.lrFc },
        schedule: { kind: o.schedule, warmupSteps: o.warmup }, patience: 0, seed: o.seed,
      },
      {
        async *trainBatches(epoch: number): AsyncIterable<LabeledBatch> {
          bar = new Progress(io, `pretext epoch ${epoch + 1}/${o.epochs}`, stepsPerEpoch, 'steps', { quiet: o.quiet, steps: stepsPerEpoch });
          meter = new StepMeter();
          for await (const b of trainLoader.trainingEpoch(epoch, stepsPerEpoch)) yield task.label(b.x, b.shape, labelRng);
        },
        // the trainer's binary validation does not apply to the pretext classes; the held-out accuracy is measured in onEpoch
        async *validationBatches(): AsyncIterable<LabeledBatch> {},
        onStep: (st) => {
          meter.add(st.loss, o.batchSize, st.accuracy);
          bar?.advance(1, meter.describe());
        },
        onEpoch: async (r: EpochRecord) => {
          bar?.stop();
          const acc = heldLoader ? await argmaxAccuracy(model, heldOutBatches()) : null;
          lastHeldOut = acc;
          const heldOutAccuracy = acc ? acc.correct / acc.total : null;
          await writeLogLine(logFile, logLines, {
            epoch: r.epoch, step: r.step, trainLoss: r.trainLoss, trainAccuracy: r.trainAccuracy, heldOutAccuracy, heldOutSamples: acc?.total ?? 0, seconds: r.seconds,
          });
          if (!o.quiet) {
            io.stderr(
              `pretext epoch ${r.epoch + 1}: loss ${r.trainLoss.toFixed(4)}, train acc ${(100 * r.trainAccuracy).toFixed(1)}%` +
                `${heldOutAccuracy !== null ? `, held-out acc ${(100 * heldOutAccuracy).toFixed(1)}%` : ''}, ${r.seconds.toFixed(0)} s\n`,
            );
          }
        },
      },
    );
    const last = result.history[result.history.length - 1];
    // assigned in onEpoch, which the compiler does not follow
    const finalHeldOut = lastHeldOut as { correct: number; total: number } | null;
    const heldOutAccuracy = finalHeldOut ? finalHeldOut.correct / finalHeldOut.total : null;
    const provenance = {
      task: o.task, arch: o.arch, widthDivisor: o.widthDivisor, size: o.size, epochs: result.history.length, steps: last?.step ?? 0,
      trainImages: trainImages.length, heldOutImages: heldOut.length, trainAccuracy: last?.trainAccuracy ?? null, heldOutAccuracy, seed: o.seed,
    };
    await writeFileAtomic(featuresFile, await saveFeatureWeights(model, provenance));
    if (!o.quiet && finalHeldOut && heldOutAccuracy !== null && !clearlyAboveChance(finalHeldOut.correct, finalHeldOut.total, task.classes.length)) {
      io.stderr(
        `lrpseg: warning: the pretext task was not learnt (held-out accuracy ${(100 * heldOutAccuracy).toFixed(1)}%, ` +
          `chance ${(100 / task.classes.length).toFixed(1)}% for ${task.classes.length} classes, ${finalHeldOut.total} samples): ` +
          `${featuresFile} is written, but --init from it starts from convolutions that learnt nothing this task measures\n`,
      );
    }
    io.stdout(
      `pretext (${o.task}) ${o.arch}: ${provenance.steps} steps on ${trainImages.length} images, ` +
        `${heldOutAccuracy !== null ? `held-out accuracy ${(100 * heldOutAccuracy).toFixed(1)}%` : `train accuracy ${(100 * (last?.trainAccuracy ?? NaN)).toFixed(1)}%`} → ${featuresFile}\n`,
    );
    return 0;
  } finally {
    await Promise.all(loaders.map((l) => l.close()));
    await backend.destroy();
  }
}

export async function trainUNetCommand(o: UNetTrainOptions, io: CliIo): Promise<number> {
  checkEarlyStopping(o);
  const { manifest, root } = await openManifest(o.manifest, o.data);
  // The U-Net learns from pixel labels: defective images only (defect-free ones have empty masks and
  // are kept too, at their share, so that it also sees clean surfaces).
  const trainEntries = limitPerLabel(requireSubset(manifest, 'train', o.manifest), o.limit, o.seed);
  const valEntries = limitPerLabel(requireSubset(manifest, 'val', o.manifest), o.limit, o.seed + 1).filter((e) => e.label === 1);
  await mkdirp(o.out);
  const logFile = path.join(o.out, 'train-log.jsonl');
  const modelFile = path.join(o.out, 'unet.safetensors');
  const backend = await createBackend(o.backend, { threads: resolveThreads(o.threads, io.env), ...(o.device !== undefined ? { device: o.device } : {}) });
  const loaders: DataLoader[] = [];
  try {
    const unet = buildUNet(backend, unetMeta({ baseChannels: o.baseChannels, depth: o.depth, inputSize: [o.size, o.size] }), o.seed);
    const common = { root, size: [o.size, o.size] as const, channels: 3, ...(o.workers !== undefined ? { workers: o.workers } : {}) };
    const trainLoader = new DataLoader({ ...common, entries: trainEntries, mode: 'train', batchSize: o.batchSize, seed: o.seed, augment: UNET_AUGMENT, dropLast: true });
    const valLoader = new DataLoader({ ...common, entries: valEntries, mode: 'eval', batchSize: o.batchSize, evalCrop: 'defect' });
    loaders.push(trainLoader, valLoader);
    const stepsPerEpoch = o.stepsPerEpoch ?? trainLoader.batchesPerEpoch;
    const toMasked = (b: { x: Float32Array; masks: Uint8Array; shape: readonly number[] }): MaskedBatch => ({ x: b.x, masks: b.masks, n: b.shape[0], height: b.shape[2], width: b.shape[3] });
    const logLines: string[] = [];
    let bar: Progress | null = null;
    let meter = new StepMeter();
    const result = await trainUNet(
      unet,
      {
        epochs: o.epochs, stepsPerEpoch, optimizer: { kind: o.optimizer, weightDecay: o.weightDecay }, lr: o.lr,
        schedule: { kind: o.schedule, warmupSteps: o.warmup }, posWeight: o.posWeight, diceWeight: o.dice ?? 0, patience: o.patience,
        minEpochs: o.minEpochs ?? 0, seed: o.seed,
      },
      {
        async *trainBatches(epoch: number) {
          bar = new Progress(io, `epoch ${epoch + 1}/${o.epochs}`, stepsPerEpoch, 'steps', { quiet: o.quiet, steps: stepsPerEpoch });
          meter = new StepMeter();
          for await (const b of trainLoader.trainingEpoch(epoch, stepsPerEpoch)) yield toMasked(b);
        },
        async *validationBatches() {
          for await (const b of valLoader.epoch(0)) yield toMasked(b);
        },
        onStep: (st) => {
          meter.add(st.loss, o.batchSize);
          bar?.advance(1, meter.describe());
        },
        onEpoch: async (r: UNetEpochRecord) => {
          bar?.stop();
          await writeLogLine(logFile, logLines, r);
          if (!o.quiet) io.stderr(`epoch ${r.epoch + 1}: loss ${r.trainLoss.toFixed(4)}, val IoU ${r.valIoU.toFixed(3)}${r.best ? ' best' : ''}, ${r.seconds.toFixed(0)} s\n`);
        },
        saveBest: async (bytes) => writeFileAtomic(modelFile, bytes),
      },
    );
    await writeCurves(o.out, 'curves', 'U-Net training', result.history.flatMap((r) => [
      { epoch: r.epoch + 1, series: 'train loss', value: r.trainLoss },
      { epoch: r.epoch + 1, series: 'val IoU', value: r.valIoU },
    ]));
    io.stdout(`trained U-Net: best epoch ${result.bestEpoch + 1} of ${result.history.length} → ${modelFile}\n`);
    return 0;
  } finally {
    await Promise.all(loaders.map((l) => l.close()));
    await backend.destroy();
  }
}

function floatArg(name: string): (v: string) => number {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0) throw new UsageError(`${name} must be a non-negative number, not "${v}"`);
    return x;
  };
}

/** A scale-jitter factor in [1, 4]. */
function scaleArg(name: string): (v: string) => number {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < 1 || x > 4) throw new UsageError(`${name} must be a number in [1, 4], not "${v}"`);
    return x;
  };
}

/** A number strictly between 0 and 1 (a moving average's decay). */
function openUnitArg(name: string): (v: string) => number {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0 || x >= 1) throw new UsageError(`${name} must be a number in (0, 1), not "${v}"`);
    return x;
  };
}

/** A number in [0, 1) (jitter magnitudes, label smoothing). */
function fractionArg(name: string): (v: string) => number {
  return (v: string) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < 0 || x >= 1) throw new UsageError(`${name} must be a number in [0, 1), not "${v}"`);
    return x;
  };
}

function listArg(name: string): (v: string) => string[] {
  return (v: string) => {
    const names = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === 0) throw new UsageError(`${name}: no class named`);
    return names;
  };
}

/** `validated`: trained with a validation subset (classifier, U-Net), which early stopping and a per-label --limit need; `pretext` has neither. */
function commonOptions(cmd: Command, kind: 'validated' | 'pretext' = 'validated'): Command {
  const validated = kind === 'validated';
  cmd
    .requiredOption('--manifest <file>', 'split manifest from `lrpseg data split`')
    .option('--data <dir>', "data set root (default: the manifest's root)")
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--epochs <n>', 'epochs', intArg(1), 30)
    .addOption(new Option('--steps-per-epoch <n>', 'optimiser steps per epoch (default: one pass over the training set)').argParser(intArg(1)))
    .option('--batch-size <n>', 'images per step', intArg(1, 4096), 32)
    .addOption(new Option('--optimizer <kind>', 'optimiser').choices(['adam', 'adamw', 'sgd']).default('adam'))
    .option('--weight-decay <w>', 'weight decay', floatArg('--weight-decay'), 0)
    .option('--warmup <steps>', 'linear learning-rate warm-up steps', intArg(0), 0)
    .addOption(new Option('--schedule <kind>', 'learning-rate schedule after warm-up').choices(['constant', 'cosine']).default('constant'));
  if (validated) {
    cmd
      .option('--patience <epochs>', 'stop after this many epochs without improvement (0: never)', intArg(0), 0)
      .option('--min-epochs <n>', 'with --patience: never stop before this many epochs (a run from scratch can sit at chance at first)', intArg(0), 0);
  }
  return cmd
    .option('--size <n>', 'input size (square)', intArg(8, 4096), 224)
    .option('--seed <n>', 'seed of initialisation, sampling, augmentation and dropout', intArg(0), 0)
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]).default('cpu'))
    .addOption(new Option('--threads <n>', 'CPU backend worker threads').argParser(intArg(1, 1024)))
    .addOption(new Option('--device <n>', 'GPU index (cuda)').argParser(intArg(0, 64)))
    .addOption(new Option('--workers <n>', 'data loading worker threads').argParser(intArg(0, 64)))
    .addOption(
      new Option('--limit <n>', validated ? 'at most n training and n validation images per label (quick runs)' : 'at most n train images (quick runs)').argParser(intArg(1)),
    )
    .option('-q, --quiet', 'no progress on stderr')
    .option('--debug', 'print stack traces of unexpected errors');
}

function common(opts: Record<string, unknown>): CommonTrainOptions {
  return {
    manifest: opts.manifest as string,
    ...(opts.data !== undefined ? { data: opts.data as string } : {}),
    out: opts.out as string,
    epochs: opts.epochs as number,
    ...(opts.stepsPerEpoch !== undefined ? { stepsPerEpoch: opts.stepsPerEpoch as number } : {}),
    batchSize: opts.batchSize as number,
    optimizer: opts.optimizer as OptimizerKind,
    weightDecay: opts.weightDecay as number,
    warmup: opts.warmup as number,
    schedule: opts.schedule as 'constant' | 'cosine',
    patience: (opts.patience as number | undefined) ?? 0,
    minEpochs: (opts.minEpochs as number | undefined) ?? 0,
    size: opts.size as number,
    seed: opts.seed as number,
    backend: opts.backend as BackendName,
    ...(opts.threads !== undefined ? { threads: opts.threads as number } : {}),
    ...(opts.device !== undefined ? { device: opts.device as number } : {}),
    ...(opts.workers !== undefined ? { workers: opts.workers as number } : {}),
    ...(opts.limit !== undefined ? { limit: opts.limit as number } : {}),
    quiet: Boolean(opts.quiet),
  };
}

export function registerTrain(program: Command, io: CliIo, setResult: (code: number) => void): void {
  const train = program.command('train').description('train on a split manifest: the VGG classifier, the U-Net baseline, or convolutions for --init by a self-supervised pretext task');
  commonOptions(
    train
      .command('classifier')
      .description(
        'Train a VGG-11 classifier with image-level labels (section 3.2.1 of the paper): FC layers at --lr-fc, ' +
          'convolutions at --lr-conv; class imbalance handled by balanced sampling (default) or loss weights; ' +
          'validation balanced accuracy each epoch; writes model.safetensors (best epoch), best/last checkpoints, ' +
          'train-log.jsonl and curves.svg/png to --out. --resume continues from last.ckpt.safetensors.',
      ),
  )
    .addOption(new Option('--arch <arch>', 'architecture').choices([...ARCH_CHOICES]).default('vgg11-onefc'))
    .option('--width-divisor <d>', 'divide the conv widths (small, fast models)', intArg(1, 512), 1)
    .option('--lr-conv <lr>', 'learning rate of the convolutions', floatArg('--lr-conv'), 1e-4)
    .option('--lr-fc <lr>', 'learning rate of the FC layers', floatArg('--lr-fc'), 1e-3)
    .option('--init <file>', 'initial convolution weights (e.g. a torchvision VGG-11 state dict as safetensors)')
    .addOption(new Option('--balance <how>', 'class imbalance').choices(['sampling', 'loss', 'none']).default('sampling'))
    .option('--resume', 'continue from --out/last.ckpt.safetensors')
    .option('--rot90', 'augmentation: random quarter turns of the training crops')
    .option('--brightness <m>', 'augmentation: brightness factor uniform in [1 - m, 1 + m]', fractionArg('--brightness'), 0)
    .option('--contrast <m>', 'augmentation: contrast factor uniform in [1 - m, 1 + m]', fractionArg('--contrast'), 0)
    .option('--scale-jitter <s>', 'augmentation: each training image rescaled by a factor log-uniform in [1/s, s] before the crop (1: off)', scaleArg('--scale-jitter'), 1)
    .option('--hide-patches <p>', 'augmentation (Hide-and-Seek): each cell of a training crop filled with its mean with probability p (0: off)', fractionArg('--hide-patches'), 0)
    .option('--hide-cell <px>', `the side of --hide-patches' cells in input pixels (default ${DEFAULT_HIDE_CELL})`, intArg(1))
    .addOption(new Option('--scale-range <range>', 'the factors --scale-jitter draws: both ([1/s, s]) or enlarge ([1, s]: never shrinks)').choices(['both', 'enlarge']).default('both'))
    .option('--label-smoothing <e>', 'label smoothing of the cross-entropy', fractionArg('--label-smoothing'), 0)
    .option('--batch-norm', 'train with a batch norm after every convolution (as vgg11_bn); the saved model has them folded into the convolutions, so it is a plain VGG')
    .option('--ema <decay>', 'validate, keep and save an exponential moving average of the weights with this decay (e.g. 0.99; the training itself is unchanged)', openUnitArg('--ema'))
    .option('--calibrate', "fold the decision threshold with the best validation balanced accuracy into model.safetensors (as lrpseg calibrate)")
    .addOption(new Option('--classes <list>', 'the manifest classes to decide between, comma-separated (default: all but --extra-classes)').argParser(listArg('--classes')))
    .addOption(
      new Option('--extra-classes <list>', 'more manifest classes as extra outputs, trained on but not decided on (e.g. Break,Fray,Uneven); writes eval-split.json')
        .argParser(listArg('--extra-classes')),
    )
    .action(async (opts: Record<string, unknown>) => {
      setResult(
        await trainClassifierCommand(
          {
            ...common(opts),
            arch: opts.arch as ArchChoice,
            widthDivisor: opts.widthDivisor as number,
            lrConv: opts.lrConv as number,
            lrFc: opts.lrFc as number,
            ...(opts.init !== undefined ? { init: opts.init as string } : {}),
            balance: opts.balance as 'sampling' | 'loss' | 'none',
            resume: Boolean(opts.resume),
            rot90: Boolean(opts.rot90),
            brightness: opts.brightness as number,
            contrast: opts.contrast as number,
            scaleJitter: opts.scaleJitter as number,
            scaleRange: opts.scaleRange as ScaleRange,
            hidePatches: opts.hidePatches as number,
            ...(opts.hideCell !== undefined ? { hideCell: opts.hideCell as number } : {}),
            labelSmoothing: opts.labelSmoothing as number,
            batchNorm: Boolean(opts.batchNorm),
            ...(opts.ema !== undefined ? { ema: opts.ema as number } : {}),
            calibrate: Boolean(opts.calibrate),
            ...(opts.classes !== undefined ? { classes: opts.classes as string[] } : {}),
            ...(opts.extraClasses !== undefined ? { extraClasses: opts.extraClasses as string[] } : {}),
          },
          io,
        ),
      );
    });
  commonOptions(
    train
      .command('pretext')
      .description(
        'Self-supervised pre-training on the manifest\'s train images: --task rotation predicts k quarter turns (every class, labels ignored); ' +
          '--task cutpaste tells defect-free crops from ones with a pasted rectangle or scar (Li et al. 2021; defect-free images only). ' +
          'Writes features.safetensors (the convolutions, for `train classifier --init`) and pretext-log.jsonl. ' +
          'No early stopping: the last epoch is kept.',
      ),
    'pretext',
  )
    .addOption(new Option('--task <task>', 'pretext task').choices([...PRETEXT_TASKS]).default('rotation'))
    .addOption(new Option('--arch <arch>', 'architecture').choices([...ARCH_CHOICES]).default('vgg11-onefc'))
    .option('--width-divisor <d>', 'divide the conv widths (small, fast models)', intArg(1, 512), 1)
    .option('--lr-conv <lr>', 'learning rate of the convolutions', floatArg('--lr-conv'), 1e-3)
    .option('--lr-fc <lr>', 'learning rate of the FC layers', floatArg('--lr-fc'), 1e-3)
    .option('--hold-out <f>', 'share of the train images held out to measure the pretext accuracy', fractionArg('--hold-out'), 0.1)
    .action(async (opts: Record<string, unknown>) => {
      setResult(
        await trainPretextCommand(
          {
            ...common(opts), task: opts.task as PretextTask, arch: opts.arch as ArchChoice, widthDivisor: opts.widthDivisor as number,
            lrConv: opts.lrConv as number, lrFc: opts.lrFc as number, holdOut: opts.holdOut as number,
          },
          io,
        ),
      );
    });
  commonOptions(
    train
      .command('unet')
      .description('Train the supervised U-Net baseline (section 3.2.2) with affine and elastic augmentation, BCE loss (plus soft Dice with --dice); writes unet.safetensors (best val IoU).'),
  )
    .option('--base-channels <n>', 'channels of the first level', intArg(1, 1024), 64)
    .option('--depth <n>', 'down-steps', intArg(1, 8), 4)
    .option('--lr <lr>', 'learning rate', floatArg('--lr'), 1e-3)
    .option('--pos-weight <w>', 'BCE weight of damage pixels', floatArg('--pos-weight'), 1)
    .option('--dice <w>', 'add the soft Dice loss (per image, smoothing 1) at this weight to the BCE', floatArg('--dice'), 0)
    .action(async (opts: Record<string, unknown>) => {
      setResult(
        await trainUNetCommand(
          { ...common(opts), baseChannels: opts.baseChannels as number, depth: opts.depth as number, lr: opts.lr as number, posWeight: opts.posWeight as number, dice: opts.dice as number },
          io,
        ),
      );
    });
}


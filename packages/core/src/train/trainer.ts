/**
 * The classifier training loop (section 3.2.1 of the paper): epochs over batches from the caller, a
 * learning-rate schedule, validation balanced accuracy after each epoch, the best checkpoint kept,
 * early stopping, and resumable state. I/O is the caller's: batches come in, checkpoints go out as bytes.
 */
import { argmaxRow } from '../argmax.js';
import type { Model } from '../nn/model.js';
import { SeededRng } from '../random.js';
import { scope } from '../tensor.js';
import { trainClassifierStep, trainClassifierStepWithBatchNorm, createVggOptimizer } from './classifier.js';
import { BatchNorms, foldBatchNorms } from './batchnorm.js';
import { LrpsegError } from '../errors.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { Optimizer, OptimizerConfig } from './optimizer.js';
import { lrScaleAt, type LrSchedule } from './schedule.js';
import { stopsEarly, type EarlyStopping } from './early-stopping.js';
import { WeightAverage } from './ema.js';

export interface LabeledBatch {
  /** (n, C, H, W) raw intensities in [0, 1]. */
  readonly x: Float32Array;
  readonly labels: readonly number[];
}

/** Early stopping watches the validation balanced accuracy. */
export interface ClassifierTrainingConfig extends EarlyStopping {
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly optimizer: OptimizerConfig;
  readonly lrs: { readonly conv: number; readonly fc: number };
  readonly schedule: Omit<LrSchedule, 'totalSteps'>;
  readonly classWeights?: readonly number[];
  /** Label smoothing ε of the cross-entropy (default 0). */
  readonly labelSmoothing?: number;
  /**
   * The binary decision (defect iff class 1 wins) is taken among the first this-many classes; the
   * others are auxiliary training classes (default: all classes).
   */
  readonly decisionClasses?: number;
  readonly seed: number;
  /**
   * Train with a batch norm after every convolution (batchnorm.ts); validation and checkpoints use the
   * folded plain VGG. Off by default; with it off training is unchanged.
   */
  readonly batchNorm?: boolean;
  /**
   * Keep an exponential moving average of the weights with this decay (ema.ts); the average is what is
   * validated, kept as best and saved. Off by default; the training itself is the same either way.
   */
  readonly ema?: number;
}

export interface BinaryCounts {
  readonly tp: number;
  readonly tn: number;
  readonly fp: number;
  readonly fn: number;
}

export interface EpochRecord {
  readonly epoch: number;
  readonly step: number;
  readonly trainLoss: number;
  readonly trainAccuracy: number;
  readonly val: BinaryCounts & { readonly tpr: number; readonly tnr: number; readonly balancedAccuracy: number };
  readonly best: boolean;
  readonly seconds: number;
}

export interface TrainingHooks {
  /**
   * The epoch's training batches (the trainer stops after config.stepsPerEpoch of them), from step
   * `startStep` of the epoch on: nonzero when a run stopped mid-epoch is resumed, in which case the
   * batches before it were drawn already (what they drew from `rng` is in its restored state).
   */
  trainBatches(epoch: number, rng: SeededRng, startStep: number): AsyncIterable<LabeledBatch>;
  validationBatches(): AsyncIterable<LabeledBatch>;
  onStep?(info: { epoch: number; step: number; loss: number; accuracy: number; imagesPerSecond: number; lrScale: number }): void;
  onEpoch?(record: EpochRecord): void | Promise<void>;
  /**
   * Checkpoint bytes: 'last' after every epoch and when stopped (for resuming), 'best' when validation
   * improved.
   */
  saveCheckpoint?(bytes: Uint8Array, kind: 'last' | 'best'): Promise<void>;
  /**
   * Asked after every step: true stops the run there (e.g. on Ctrl-C) with a 'last' checkpoint from
   * which a resumed run ends exactly where an uninterrupted one would.
   */
  stopRequested?(): boolean;
}

/** The running totals of an epoch stopped part-way, so that its record comes out as if never stopped. */
export interface PartialEpoch {
  readonly steps: number;
  readonly lossSum: number;
  readonly correct: number;
  readonly seen: number;
  readonly seconds: number;
}

export interface ResumeState {
  readonly optimizer: Optimizer;
  /** Present when the run trains with batch norms. */
  readonly batchNorms?: BatchNorms;
  /** Present when the run keeps a moving average of the weights. */
  readonly average?: WeightAverage;
  /** The epoch to continue: the first not finished. */
  readonly epoch: number;
  readonly rngState: number;
  readonly history: readonly EpochRecord[];
  /** Present when the run stopped inside `epoch`. */
  readonly partial?: PartialEpoch;
}

/** Where a run stopped on request: `step` steps into `epoch` (0: at the epoch's start). */
export interface StoppedAt {
  readonly epoch: number;
  readonly step: number;
}

function rates(c: BinaryCounts): { tpr: number; tnr: number; balancedAccuracy: number } {
  const tpr = c.tp + c.fn > 0 ? c.tp / (c.tp + c.fn) : 0;
  const tnr = c.tn + c.fp > 0 ? c.tn / (c.tn + c.fp) : 0;
  return { tpr, tnr, balancedAccuracy: (tpr + tnr) / 2 };
}

/**
 * Counts of the classifier's decisions against binary labels: defect when class 1 has the largest
 * logit among the first `decisionClasses` classes (default: all, i.e. the argmax).
 */
export async function evaluateClassifier(model: Model, batches: AsyncIterable<LabeledBatch>, decisionClasses?: number): Promise<BinaryCounts> {
  let tp = 0, tn = 0, fp = 0, fn = 0;
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const k = model.meta.arch.num_classes;
  const among = Math.min(k, decisionClasses ?? k);
  for await (const batch of batches) {
    const n = batch.labels.length;
    const logits = await scope(() => model.forward(model.backend.fromArray(batch.x, [n, c, h, w]))).read();
    for (let i = 0; i < n; i++) {
      const pred = argmaxRow(logits, i, k, among) === 1, actual = batch.labels[i] === 1;
      if (pred && actual) tp++;
      else if (pred) fp++;
      else if (actual) fn++;
      else tn++;
    }
  }
  return { tp, tn, fp, fn };
}

export async function trainClassifier(
  model: Model, config: ClassifierTrainingConfig, hooks: TrainingHooks, resume?: ResumeState,
): Promise<{ history: EpochRecord[]; bestEpoch: number; stopped?: StoppedAt }> {
  if (resume && (config.batchNorm ?? false) !== (resume.batchNorms !== undefined)) {
    throw new LrpsegError('BAD_INPUT', `the checkpoint was trained ${resume.batchNorms ? 'with' : 'without'} batch norms; resume it ${resume.batchNorms ? 'with' : 'without'} --batch-norm`);
  }
  if (config.batchNorm && config.ema !== undefined) {
    throw new LrpsegError('BAD_INPUT', 'a moving average of the weights (--ema) is not available with batch norms (--batch-norm)');
  }
  if (resume && (config.ema !== undefined) !== (resume.average !== undefined)) {
    throw new LrpsegError('BAD_INPUT', `the checkpoint was trained ${resume.average ? 'with' : 'without'} a moving average of the weights; resume it ${resume.average ? `with --ema ${resume.average.decay}` : 'without --ema'}`);
  }
  if (resume?.average && resume.average.decay !== config.ema) {
    throw new LrpsegError('BAD_INPUT', `the checkpoint averages the weights with decay ${resume.average.decay}, not ${config.ema}`);
  }
  const bns = resume?.batchNorms ?? (config.batchNorm ? BatchNorms.fresh(model) : undefined);
  const average = resume?.average ?? (config.ema !== undefined ? WeightAverage.of(model, config.ema) : undefined);
  const optimizer = resume?.optimizer ?? createVggOptimizer(model, config.optimizer, config.lrs, bns);
  const rng = new SeededRng(resume ? resume.rngState : config.seed);
  const history: EpochRecord[] = [...(resume?.history ?? [])];
  const schedule: LrSchedule = { ...config.schedule, totalSteps: config.epochs * config.stepsPerEpoch };
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const k = model.meta.arch.num_classes;
  let best = history.reduce((m, r) => Math.max(m, r.val.balancedAccuracy), -1);
  let bestEpoch = history.find((r) => r.val.balancedAccuracy === best)?.epoch ?? -1;

  const checkpoint = (epoch: number, partial?: PartialEpoch): Promise<Uint8Array> =>
    saveCheckpoint(model, optimizer, { epoch, rngState: rng.state, extra: { history, ...(partial ? { partial } : {}) } }, bns, average);

  for (let epoch = resume?.epoch ?? 0; epoch < config.epochs; epoch++) {
    const carried = epoch === resume?.epoch ? resume.partial : undefined;
    const started = Date.now() - 1000 * (carried?.seconds ?? 0);
    let lossSum = carried?.lossSum ?? 0, correct = carried?.correct ?? 0, seen = carried?.seen ?? 0, steps = carried?.steps ?? 0;
    if (steps < config.stepsPerEpoch) {
      for await (const batch of hooks.trainBatches(epoch, rng, steps)) {
        const t0 = Date.now();
        const lrScale = lrScaleAt(schedule, optimizer.step);
        const n = batch.labels.length;
        const stepOptions = { classWeights: config.classWeights, dropoutRng: rng, lrScale, labelSmoothing: config.labelSmoothing ?? 0 };
        const x = model.backend.fromArray(batch.x, [n, c, h, w]);
        const { loss, logits } = bns
          ? await trainClassifierStepWithBatchNorm(model, bns, optimizer, x, batch.labels, stepOptions)
          : trainClassifierStep(model, optimizer, x, batch.labels, stepOptions);
        average?.update(model, optimizer.step);
        const [l] = await loss.read();
        const lg = await logits.read();
        loss.dispose();
        logits.dispose();
        let batchCorrect = 0;
        for (let i = 0; i < n; i++) if (argmaxRow(lg, i, k) === batch.labels[i]) batchCorrect++;
        lossSum += l * n;
        correct += batchCorrect;
        seen += n;
        steps++;
        hooks.onStep?.({ epoch, step: optimizer.step, loss: l, accuracy: batchCorrect / n, imagesPerSecond: (n * 1000) / Math.max(1, Date.now() - t0), lrScale });
        if (steps >= config.stepsPerEpoch) break;
        if (hooks.stopRequested?.()) {
          const partial: PartialEpoch = { steps, lossSum, correct, seen, seconds: (Date.now() - started) / 1000 };
          await hooks.saveCheckpoint?.(await checkpoint(epoch, partial), 'last');
          return { history, bestEpoch, stopped: { epoch, step: steps } };
        }
      }
    }
    const validated = bns ? await foldBatchNorms(model, bns) : average ? await average.model(model) : model;
    const counts = await evaluateClassifier(validated, hooks.validationBatches(), config.decisionClasses);
    if (validated !== model) validated.dispose();
    const val = { ...counts, ...rates(counts) };
    const improved = val.balancedAccuracy > best;
    if (improved) {
      best = val.balancedAccuracy;
      bestEpoch = epoch;
    }
    const record: EpochRecord = {
      epoch, step: optimizer.step, trainLoss: seen ? lossSum / seen : NaN, trainAccuracy: seen ? correct / seen : NaN, val, best: improved,
      seconds: (Date.now() - started) / 1000,
    };
    history.push(record);
    await hooks.onEpoch?.(record);
    if (hooks.saveCheckpoint) {
      const bytes = await checkpoint(epoch + 1);
      await hooks.saveCheckpoint(bytes, 'last');
      if (improved) await hooks.saveCheckpoint(bytes, 'best');
    }
    if (stopsEarly(config, epoch, bestEpoch)) break;
    if (epoch + 1 < config.epochs && hooks.stopRequested?.()) return { history, bestEpoch, stopped: { epoch: epoch + 1, step: 0 } };
  }
  return { history, bestEpoch };
}

/** The model and the state to pass back to trainClassifier from a 'last' checkpoint. */
export function resumeFromCheckpoint(backend: Model['backend'], bytes: Uint8Array): { model: Model; resume: ResumeState } {
  const { model, optimizer, state, batchNorms, average } = loadCheckpoint(backend, bytes);
  const history = (state.extra?.history ?? []) as EpochRecord[];
  const partial = state.extra?.partial as PartialEpoch | undefined;
  return {
    model,
    resume: { optimizer, epoch: state.epoch, rngState: state.rngState, history, ...(partial ? { partial } : {}), ...(batchNorms ? { batchNorms } : {}), ...(average ? { average } : {}) },
  };
}

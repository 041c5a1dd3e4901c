/**
 * The U-Net training loop (section 3.2.2): epochs of augmented image/mask batches, BCE with an optional
 * positive weight, validation pooled IoU at 0.5 after each epoch, best weights kept, early stopping.
 */
import { LrpsegError } from '../errors.js';
import type { UNet } from '../nn/unet.js';
import { saveUNet } from '../nn/unet.js';
import { scope } from '../tensor.js';
import { SeededRng } from '../random.js';
import type { OptimizerConfig } from './optimizer.js';
import { lrScaleAt, type LrSchedule } from './schedule.js';
import { stopsEarly, type EarlyStopping } from './early-stopping.js';
import { createUNetOptimizer, trainUNetStep } from './unet.js';

export interface MaskedBatch {
  /** (n, C, H, W) in [0, 1]. */
  readonly x: Float32Array;
  /** (n, H, W), 1 = damage. */
  readonly masks: Uint8Array;
  readonly n: number;
  readonly height: number;
  readonly width: number;
}

/** Early stopping watches the validation IoU. */
export interface UNetTrainingConfig extends EarlyStopping {
  readonly epochs: number;
  readonly stepsPerEpoch: number;
  readonly optimizer: OptimizerConfig;
  readonly lr: number;
  readonly schedule: Omit<LrSchedule, 'totalSteps'>;
  readonly posWeight?: number;
  /** Weight of the soft Dice loss added to the BCE (default 0: BCE alone). */
  readonly diceWeight?: number;
  readonly seed: number;
}

export interface UNetEpochRecord {
  readonly epoch: number;
  readonly step: number;
  readonly trainLoss: number;
  readonly valIoU: number;
  readonly best: boolean;
  readonly seconds: number;
}

export interface UNetTrainingHooks {
  trainBatches(epoch: number, rng: SeededRng): AsyncIterable<MaskedBatch>;
  validationBatches(): AsyncIterable<MaskedBatch>;
  onStep?(info: { epoch: number; step: number; loss: number; imagesPerSecond: number }): void;
  onEpoch?(record: UNetEpochRecord): void | Promise<void>;
  saveBest?(bytes: Uint8Array): Promise<void>;
}

/** Pooled IoU of masks predicted at 0.5 against the batches' masks. */
export async function evaluateUNet(unet: UNet, batches: AsyncIterable<MaskedBatch>): Promise<{ tp: number; fp: number; fn: number; iou: number }> {
  let tp = 0, fp = 0, fn = 0;
  const c = unet.meta.arch.in_channels;
  for await (const batch of batches) {
    const [H, W] = checkBatch(batch, c);
    const p = await scope(() => unet.predict(unet.backend.fromArray(batch.x, [batch.n, c, H, W]))).read();
    for (let i = 0; i < p.length; i++) {
      const pred = p[i] > 0.5, gt = batch.masks[i] === 1;
      if (pred && gt) tp++;
      else if (pred) fp++;
      else if (gt) fn++;
    }
  }
  return { tp, fp, fn, iou: tp + fp + fn > 0 ? tp / (tp + fp + fn) : 1 };
}

function checkBatch(batch: MaskedBatch, c: number): [number, number] {
  const pixels = batch.n * batch.height * batch.width;
  if (batch.x.length !== c * pixels || batch.masks.length !== pixels) {
    throw new LrpsegError('SHAPE_MISMATCH', `U-Net batch: ${batch.x.length} image values and ${batch.masks.length} mask values for ${batch.n} × ${c} × ${batch.height} × ${batch.width}`);
  }
  return [batch.height, batch.width];
}

export async function trainUNet(unet: UNet, config: UNetTrainingConfig, hooks: UNetTrainingHooks): Promise<{ history: UNetEpochRecord[]; bestEpoch: number }> {
  const optimizer = createUNetOptimizer(unet, config.optimizer, config.lr);
  const rng = new SeededRng(config.seed);
  const schedule: LrSchedule = { ...config.schedule, totalSteps: config.epochs * config.stepsPerEpoch };
  const history: UNetEpochRecord[] = [];
  const c = unet.meta.arch.in_channels;
  let best = -1, bestEpoch = -1;
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    const started = Date.now();
    let lossSum = 0, seen = 0, steps = 0;
    for await (const batch of hooks.trainBatches(epoch, rng)) {
      if (steps >= config.stepsPerEpoch) break;
      const t0 = Date.now();
      const [H, W] = checkBatch(batch, c);
      const { loss } = await trainUNetStep(
        unet, optimizer,
        unet.backend.fromArray(batch.x, [batch.n, c, H, W]),
        unet.backend.fromArray(Float32Array.from(batch.masks), [batch.n, 1, H, W]),
        { posWeight: config.posWeight, diceWeight: config.diceWeight, lrScale: lrScaleAt(schedule, optimizer.step) },
      );
      const [l] = await loss.read();
      loss.dispose();
      lossSum += l * batch.n;
      seen += batch.n;
      steps++;
      hooks.onStep?.({ epoch, step: optimizer.step, loss: l, imagesPerSecond: (batch.n * 1000) / Math.max(1, Date.now() - t0) });
    }
    const { iou } = await evaluateUNet(unet, hooks.validationBatches());
    const improved = iou > best;
    if (improved) {
      best = iou;
      bestEpoch = epoch;
      if (hooks.saveBest) await hooks.saveBest(await saveUNet(unet));
    }
    const record: UNetEpochRecord = { epoch, step: optimizer.step, trainLoss: seen ? lossSum / seen : NaN, valIoU: iou, best: improved, seconds: (Date.now() - started) / 1000 };
    history.push(record);
    await hooks.onEpoch?.(record);
    if (stopsEarly(config, epoch, bestEpoch)) break;
  }
  optimizer.dispose();
  return { history, bestEpoch };
}

/** The scale of one study run and the options of `lrpseg reproduce`, shared by every data set. */
import type { BackendName } from '../backends.js';

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
  /** BCE weight of damage pixels (damage is a few % of the pixels; the tiny quick U-Net collapses to "no damage" at 1). */
  readonly unetPosWeight: number;
  /** Evaluate at most this many test images per label (seeded choice); undefined: the whole test split. */
  readonly testPerLabel?: number;
  /** Evaluate the flipped views too (section 3.4 of the paper). */
  readonly flips: boolean;
}

export type StudyDataset = 'magnetic-tile' | 'crackforest';
export const STUDY_DATASETS: readonly StudyDataset[] = ['magnetic-tile', 'crackforest'];

export interface ReproduceOptions {
  readonly dataset: StudyDataset;
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

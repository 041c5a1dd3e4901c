/**
 * The Magnetic Tile study (section 4.1 of the paper, Tables 2 and 3, Figures 4, 5 and 9): the grouped
 * split of `lrpseg data split` (repeated captures of one region stay in one subset), its settings, and
 * the paper's figures.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { DEFAULT_PATCHES, parseManifest, serializeManifest } from '@lrpseg/datasets';
import { dataSplitCommand } from '../commands/data.js';
import { writeFileAtomic } from '../io.js';
import type { PaperReference } from './report.js';
import type { StudySettings } from './settings.js';
import type { DatasetStudy, PreparedEval, PreparedSplit, StudyContext } from './study.js';
import { withTestSubsample } from './test-subset.js';

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

/** The paper's Table 2 (Magnetic Tile). */
export const PAPER_TABLE2: Readonly<Record<string, { balanced_accuracy: number; tpr: number; tnr: number }>> = {
  'VGG-A 128N': { balanced_accuracy: 0.961, tpr: 0.957, tnr: 0.965 },
  'VGG-A one FC': { balanced_accuracy: 0.985, tpr: 0.971, tnr: 0.999 },
};

/** The paper's Table 3 (Magnetic Tile): network → rule set → method → [IoU, precision, recall]. */
export const PAPER_TABLE3: PaperReference['segmentation'] = {
  'VGG-A 128N': {
    ours: { simple: [0.349, 0.352, 0.976], gmm: [0.129, 0.129, 0.993], bmm: [0.462, 0.638, 0.679] },
    montavon: { simple: [0.466, 0.497, 0.897], gmm: [0.216, 0.216, 0.996], bmm: [0.332, 0.703, 0.448] },
  },
  'VGG-A one FC': {
    ours: { simple: [0.386, 0.404, 0.944], gmm: [0.168, 0.169, 0.991], bmm: [0.402, 0.669, 0.614] },
    montavon: { simple: [0.425, 0.491, 0.808], gmm: [0.238, 0.246, 0.947], bmm: [0.317, 0.686, 0.47] },
  },
};

export const MAGNETIC_TILE_PAPER: PaperReference = {
  classificationTable: 'Table 2',
  segmentationTable: 'Table 3',
  prFigures: 'Figures 4 and 5',
  examplesFigure: 'Figure 9',
  classification: PAPER_TABLE2,
  segmentation: PAPER_TABLE3,
  unet: [0.461, 0.578, 0.699],
  noSkillPrecision: 0.006,
};

async function split(ctx: StudyContext): Promise<PreparedSplit> {
  const o = ctx.options;
  const file = path.join(o.out, 'split.json');
  ctx.check(
    await dataSplitCommand(
      { path: o.data, kind: 'magnetic-tile', patch: DEFAULT_PATCHES.patch, stride: DEFAULT_PATCHES.stride, groups: true, quiet: o.quiet, out: file, seed: o.seed, ratios: { train: 0.6, val: 0.2, test: 0.2 }, skipBad: false },
      ctx.io,
    ),
    'data split',
  );
  return { file, manifest: parseManifest(await readFile(file, 'utf8'), file) };
}

/** The split itself, or (quick) a copy whose test subset is subsampled. */
async function evalData(ctx: StudyContext, s: PreparedSplit): Promise<PreparedEval> {
  const o = ctx.options;
  const per = ctx.settings.testPerLabel;
  const manifest = parseManifest(await readFile(s.file, 'utf8'), s.file);
  if (per === undefined) return { file: s.file, counts: manifest.counts.test };
  const reduced = withTestSubsample(manifest, per, o.seed);
  const file = path.join(o.out, 'split-eval.json');
  await writeFileAtomic(file, new TextEncoder().encode(serializeManifest(reduced)));
  return { file, counts: reduced.counts.test };
}

export const MAGNETIC_TILE_STUDY: DatasetStudy = {
  dataset: 'magnetic-tile',
  title: 'Magnetic Tile',
  full: FULL_SETTINGS,
  quick: QUICK_SETTINGS,
  paper: MAGNETIC_TILE_PAPER,
  splitStage: 'grouped split',
  unit: 'images',
  split,
  evalData,
  dataLine: (ctx, s) =>
    `- Data: ${ctx.options.data}; grouped split seed ${ctx.options.seed}: train ${s.manifest.counts.train.total}, val ${s.manifest.counts.val.total}, test ${s.manifest.counts.test.total} images (split.json).`,
  notes: () => ['- The paper used ImageNet-pretrained convolutions and its own (unpublished) split; differences are expected (docs/training.md).'],
  extraFiles: [],
};

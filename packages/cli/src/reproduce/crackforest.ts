/**
 * The CrackForest study: the stand-in for the paper's sewer-pipe cracks (section 4.2, Tables 4 and 5,
 * Figures 6, 7 and 10), whose footage is not public. The paper's classifier learned from hand-cropped
 * 224×224 images with and without damage (628 / 754); CrackForest has 118 road photos of 480×320, each
 * with a crack, so the image-level task is built from patches (docs/training.md, "reproduce
 * crackforest"): a patch with at least `minCrackPixels` crack pixels is a crack patch, one without any
 * is a no-crack patch, and the few in between (a sliver of crack at the border, which a person
 * cropping by hand would have put in neither class) are left out. All patches of one photo land in
 * one subset. eval reads PNG masks, so the test photos' .seg ground truth is written as PNGs.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  encodePngGrey,
  groupScans,
  makeManifest,
  openDataset,
  parseSeg,
  scanDataset,
  serializeManifest,
  type Manifest,
  type ManifestEntry,
} from '@lrpseg/datasets';
import { CliError, EXIT_FAILURE, oneLine } from '../errors.js';
import { mkdirp, writeFileAtomic } from '../io.js';
import { FULL_SETTINGS, QUICK_SETTINGS } from './magnetic-tile.js';
import type { PaperReference } from './report.js';
import type { StudySettings } from './settings.js';
import type { DatasetStudy, PreparedEval, PreparedSplit, StudyContext } from './study.js';
import { withTestSubsample } from './test-subset.js';

export interface CrackForestSettings extends StudySettings {
  /** Patch side in pixels; smaller than `size`, a patch is scaled up to it (the loader's scale-up). */
  readonly patch: number;
  /** Largest step between patches (they are spread evenly so that the last one touches the border). */
  readonly stride: number;
  /** Crack pixels that make a crack patch (≈ 0.5 % of the patch); patches with 1 to minCrackPixels − 1 are left out. */
  readonly minCrackPixels: number;
}

/**
 * For a GPU (not run here): 112×112 patches scaled ×2 to the paper's 224×224 input, so the network
 * sees a whole patch; otherwise the paper's setup, Magnetic Tile's FULL_SETTINGS (section 3.2).
 */
export const CRACKFOREST_FULL: CrackForestSettings = {
  ...FULL_SETTINGS,
  patch: 112,
  stride: 112,
  minCrackPixels: 63,
};

/**
 * The CI scale (a few minutes on 2 cores): 64×64 patches fed as they are; Magnetic Tile's quick scale
 * with smaller batches, fewer epochs and a subsampled test split; measured in docs/training.md.
 */
export const CRACKFOREST_QUICK: CrackForestSettings = {
  ...QUICK_SETTINGS,
  patch: 64,
  stride: 64,
  minCrackPixels: 20,
  batchSize: 16,
  epochs: 10,
  testPerLabel: 100,
};

/** The paper's Table 4 (sewer-pipe cracks). */
export const PAPER_TABLE4: PaperReference['classification'] = {
  'VGG-A 128N': { balanced_accuracy: 0.953, tpr: 0.928, tnr: 0.975 },
  'VGG-A one FC': { balanced_accuracy: 0.974, tpr: 0.985, tnr: 0.962 },
};

/**
 * The paper's Table 5 (sewer-pipe cracks) as printed. Two cells cannot be pooled scores (IoU above
 * precision: one FC, ours, GMM and BMM), and the U-Net's precision differs between the table's two
 * sides (0.450 beside "ours", 0.565 beside "montavon"); the report says so and shows the left side.
 */
export const PAPER_TABLE5: PaperReference['segmentation'] = {
  'VGG-A 128N': {
    ours: { simple: [0.282, 0.381, 0.671], gmm: [0.272, 0.331, 0.718], bmm: [0.314, 0.469, 0.578] },
    montavon: { simple: [0.292, 0.418, 0.614], gmm: [0.249, 0.316, 0.689], bmm: [0.303, 0.525, 0.483] },
  },
  'VGG-A one FC': {
    ours: { simple: [0.297, 0.381, 0.727], gmm: [0.27, 0.169, 0.782], bmm: [0.337, 0.318, 0.647] },
    montavon: { simple: [0.34, 0.464, 0.669], gmm: [0.281, 0.332, 0.785], bmm: [0.321, 0.686, 0.488] },
  },
};

export const CRACKFOREST_PAPER: PaperReference = {
  classificationTable: 'Table 4',
  segmentationTable: 'Table 5',
  prFigures: 'Figures 6 and 7',
  examplesFigure: 'Figure 10',
  classification: PAPER_TABLE4,
  segmentation: PAPER_TABLE5,
  unet: [0.321, 0.45, 0.797],
  noSkillPrecision: 0.05379,
};

/** `to` relative to the folder `from`, '/'-separated ('.' when the same). */
function relativeTo(from: string, to: string): string {
  const rel = path.relative(path.resolve(from), path.resolve(to));
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}

/**
 * Patches of every photo, labelled by their crack pixels, split 60/20/20 with all patches of one photo
 * in one subset (stratified by class, seeded: the same seed gives the same bytes).
 */
export async function splitCrackForest(data: string, s: CrackForestSettings, seed: number, file: string): Promise<Manifest> {
  const index = await openDataset({ source: data, kind: 'crackforest', patches: { patch: s.patch, stride: s.stride, minCrackPixels: s.minCrackPixels } });
  const scan = await scanDataset(index, { features: false, inputSize: [s.size, s.size] });
  if (scan.problems.length > 0) {
    throw new CliError(`${scan.problems.length} problem(s) in ${data}: ${scan.problems.slice(0, 3).map(oneLine).join('; ')}${scan.problems.length > 3 ? '; …' : ''}`, EXIT_FAILURE);
  }
  const manifest = makeManifest(scan, groupScans('crackforest', scan.scans), { seed, ratios: { train: 0.6, val: 0.2, test: 0.2 }, root: relativeTo(path.dirname(file), index.root) });
  await writeFileAtomic(file, new TextEncoder().encode(serializeManifest(manifest)));
  return manifest;
}

const photosOf = (entries: readonly ManifestEntry[]): number => new Set(entries.map((e) => e.image)).size;

async function split(ctx: StudyContext<CrackForestSettings>): Promise<PreparedSplit> {
  const o = ctx.options;
  const file = path.join(o.out, 'split.json');
  const manifest = await splitCrackForest(o.data, ctx.settings, o.seed, file);
  if (!o.quiet) {
    const line = (n: 'train' | 'val' | 'test'): string =>
      `${n} ${manifest.counts[n].total} (${manifest.counts[n].crack ?? 0} crack, ${manifest.counts[n]['no-crack'] ?? 0} no-crack; ${photosOf(manifest.subsets[n])} photos)`;
    ctx.io.stderr(`wrote ${file}: ${line('train')}, ${line('val')}, ${line('test')}\n`);
  }
  return { file, manifest };
}

/**
 * The test subset (quick: subsampled) as eval reads it: the photos' .seg ground truth written as PNGs
 * (`truth/NNN.png`; eval reads PNG masks only), listed in `split-eval.json` whose root is the output
 * folder (image paths relative to it).
 */
async function evalData(ctx: StudyContext<CrackForestSettings>, s: PreparedSplit): Promise<PreparedEval> {
  const o = ctx.options;
  const reduced = withTestSubsample(s.manifest, ctx.settings.testPerLabel, o.seed);
  const dataRoot = path.resolve(path.dirname(s.file), reduced.root);
  const truthDir = path.join(o.out, 'truth');
  await mkdirp(truthDir);
  const written = new Map<string, string>();
  for (const e of reduced.subsets.test) {
    if (e.mask === null || written.has(e.mask)) continue;
    const seg = parseSeg(await readFile(path.join(dataRoot, e.mask), 'utf8'), e.mask);
    const png = `truth/${path.posix.basename(e.mask).replace(/\.seg$/i, '')}.png`;
    await writeFileAtomic(path.join(o.out, png), encodePngGrey(seg.data, seg.width, seg.height));
    written.set(e.mask, png);
  }
  const test = reduced.subsets.test.map((e) => ({
    image: relativeTo(o.out, path.join(dataRoot, e.image)),
    mask: e.mask === null ? null : written.get(e.mask)!,
    label: e.label,
    class: e.class,
    group: e.group,
    ...(e.region ? { region: e.region } : {}),
  }));
  const file = path.join(o.out, 'split-eval.json');
  const json = {
    format: 'lrpseg-eval-data',
    version: 1,
    description: 'the test subset of split.json as lrpseg eval reads it: masks as PNG (from the .seg files), paths relative to root',
    root: '.',
    evalViews: reduced.evalViews,
    counts: { test: reduced.counts.test },
    subsets: { test },
  };
  const text = `{\n${Object.entries(json)
    .map(([k, v]) => (k === 'subsets' ? `  "subsets": {"test": [\n${test.map((e) => `    ${JSON.stringify(e)}`).join(',\n')}\n  ]}` : `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`))
    .join(',\n')}\n}\n`;
  await writeFileAtomic(file, new TextEncoder().encode(text));
  return { file, counts: reduced.counts.test };
}

function dataLine(ctx: StudyContext<CrackForestSettings>, s: PreparedSplit): string {
  const { options: o, settings: c } = ctx;
  const m = s.manifest;
  const part = (n: 'train' | 'val' | 'test'): string => `${n} ${m.counts[n].total} (${m.counts[n].crack ?? 0} crack; ${photosOf(m.subsets[n])} photos)`;
  return (
    `- Data: ${o.data}; ${c.patch}×${c.patch} patches at most ${c.stride} px apart` +
    `${c.patch < c.size ? `, scaled ×${(c.size / c.patch).toFixed(2).replace(/\.?0+$/, '')} to ${c.size}×${c.size}` : ''}; crack patch: ≥ ${c.minCrackPixels} crack pixels, ` +
    `no-crack patch: none, 1–${c.minCrackPixels - 1} left out; patches split by photo, seed ${o.seed}: ${part('train')}, ${part('val')}, ${part('test')} (split.json).`
  );
}

function notes(ctx: StudyContext<CrackForestSettings>): string[] {
  return [
    "- The paper's second data set is its own sewer-pipe footage (628 damaged and 754 undamaged hand-cropped 224×224 images, and a separate set with masks for the U-Net; not public). " +
      'CrackForest (118 road photos) stands in for it, so the paper columns are its sewer-pipe figures (Tables 4 and 5), the nearest it has, not a CrackForest result.',
    `- The paper used ImageNet-pretrained convolutions; ${ctx.options.init !== undefined ? 'this run used the given initial weights' : 'this run trained from scratch'}. Its U-Net learned from a separate masked set; here it learns from the training patches' masks.`,
    "- Table 5 as printed: VGG-A one FC, ours, GMM (IoU 0.270, precision 0.169) and BMM (0.337, 0.318) have IoU above precision, which pooled scores cannot have; " +
      'the U-Net precision is 0.450 beside "ours" and 0.565 beside "montavon" (shown: 0.450). Differences are expected (docs/training.md).',
  ];
}

export const CRACKFOREST_STUDY: DatasetStudy<CrackForestSettings> = {
  dataset: 'crackforest',
  title: 'CrackForest',
  full: CRACKFOREST_FULL,
  quick: CRACKFOREST_QUICK,
  paper: CRACKFOREST_PAPER,
  splitStage: 'patches and split by photo',
  unit: 'patches',
  split,
  evalData,
  dataLine,
  notes,
  extraFiles: ['- `split-eval.json`, `truth/*.png`: the evaluated test patches as eval reads them (the .seg ground truth of their photos as PNG).'],
};

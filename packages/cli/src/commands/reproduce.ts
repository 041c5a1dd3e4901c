/**
 * `lrpseg reproduce <dataset>`: the paper's whole study on one data set in one command — the split,
 * the two VGG-A classifiers and the U-Net, classification on the test split, every network × LRP rule
 * set × method plus the U-Net on the test split, and one report beside the paper's figures. The
 * pipeline is src/reproduce/study.ts; each data set (src/reproduce/magnetic-tile.ts, crackforest.ts)
 * brings its data preparation, settings and the paper's figures. `--quick` runs the same pipeline at a
 * reduced scale (narrow nets, small inputs, few steps, a subsample of the test split) for CI on a
 * 2-core machine.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { intArg } from '../args.js';
import { BACKEND_NAMES, type BackendName } from '../backends.js';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { CRACKFOREST_STUDY } from '../reproduce/crackforest.js';
import { MAGNETIC_TILE_STUDY } from '../reproduce/magnetic-tile.js';
import { STUDY_DATASETS, type ReproduceOptions, type StudyDataset } from '../reproduce/settings.js';
import { runStudy } from '../reproduce/study.js';

export type { ReproduceOptions } from '../reproduce/settings.js';

export async function reproduceCommand(o: ReproduceOptions, io: CliIo): Promise<number> {
  return o.dataset === 'crackforest' ? runStudy(CRACKFOREST_STUDY, o, io) : runStudy(MAGNETIC_TILE_STUDY, o, io);
}

/** Registers `lrpseg reproduce`; `setResult` receives the exit status. */
export function registerReproduce(program: Command, io: CliIo, setResult: (code: number) => void): void {
  program
    .command('reproduce')
    .summary("run the paper's whole study and write one report")
    .description(
      "Runs the paper's study on a data set: a grouped split (split.json), training of VGG-A 128N, VGG-A one FC and the " +
        'U-Net (models/), classification on the test split (Table 2; CrackForest: Table 4), segmentation of the test split ' +
        'with every network × {montavon, ours} × {Simple, GMM, BMM} and the U-Net (Table 3 / 5, PR curves as Figures 4 and 5 ' +
        '/ 6 and 7, panels as Figure 9 / 10, in eval/), and report.md + metrics.json beside the paper\'s figures. --quick: the ' +
        'same pipeline at a reduced scale (a few minutes on 2 CPU cores). Data sets: magnetic-tile; crackforest (labelled ' +
        'patches with and without cracks, split by photo; the stand-in for the paper\'s sewer pipes).',
    )
    .argument('<dataset>', STUDY_DATASETS.join(' | '))
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
      if (!STUDY_DATASETS.includes(dataset as StudyDataset)) throw new UsageError(`reproduce: unknown data set "${dataset}" (${STUDY_DATASETS.join(', ')})`);
      const shared = io.env.LRPSEG_SHARED ?? path.join('..', 'shared');
      setResult(
        await reproduceCommand(
          {
            dataset: dataset as StudyDataset,
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

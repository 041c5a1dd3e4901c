/**
 * `lrpseg calibrate`: the decision threshold chosen on a manifest's validation subset (each image with
 * its flips, the window centred on the defect, as training validates) and folded into the model's
 * defect-free bias (core `train/calibrate.ts`), written as a new model file. `train classifier
 * --calibrate` does the same at the end of training.
 */
import * as path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CpuBackend, LrpsegError, foldDecisionThreshold, saveModel, type Model } from '@lrpseg/core';
import { DataLoader } from '@lrpseg/datasets';
import { calibrateOn, describeCalibration } from '../calibration.js';
import { intArg } from '../args.js';
import { BACKEND_NAMES, createBackend, resolveThreads, type BackendName } from '../backends.js';
import { UsageError } from '../errors.js';
import { writeFileAtomic, type CliIo } from '../io.js';
import { openModel } from '../model.js';
import { openManifest, splitDecisionAndExtra } from './train.js';

export interface CalibrateOptions {
  readonly model: string;
  /** Choose the threshold on this manifest's subset… */
  readonly manifest?: string;
  /** …or fold this one (e.g. printed by a run elsewhere, or a chosen operating point). */
  readonly threshold?: number;
  readonly subset: 'val' | 'train' | 'test';
  readonly classes?: readonly string[];
  readonly out: string;
  readonly backend: BackendName;
  readonly threads?: number;
  readonly device?: number;
  readonly workers?: number;
  readonly batchSize: number;
  readonly quiet: boolean;
}

export async function calibrateCommand(o: CalibrateOptions, io: CliIo): Promise<number> {
  if (path.resolve(o.model) === path.resolve(o.out)) throw new UsageError('calibrate: --out must differ from the model file');
  if ((o.manifest === undefined) === (o.threshold === undefined)) throw new UsageError('calibrate: give either --manifest (to choose the threshold) or --threshold');
  if (o.threshold !== undefined) {
    const model = await openModel(new CpuBackend(), o.model);
    try {
      const folded = await foldDecisionThreshold(model, o.threshold, { source: 'given' });
      await writeFileAtomic(o.out, await saveModel(folded));
      folded.dispose();
      if (!o.quiet) io.stdout(`${o.out}: decision threshold ${o.threshold} on the margin (defect − defect-free logit), as given\n`);
      return 0;
    } finally {
      model.dispose();
    }
  }
  const manifestFile = o.manifest!;
  const opened = await openManifest(manifestFile);
  const { decision } = splitDecisionAndExtra(opened.manifest, o.classes, undefined);
  const entries = decision.subsets[o.subset];
  if (entries.length === 0) throw new LrpsegError('BAD_INPUT', `${manifestFile}: the "${o.subset}" subset is empty`);
  const backend = await createBackend(o.backend, { threads: resolveThreads(o.threads, io.env), ...(o.device !== undefined ? { device: o.device } : {}) });
  let model: Model | undefined;
  let calibrated: Model | undefined;
  let loader: DataLoader | undefined;
  try {
    model = await openModel(backend, o.model);
    const [h, w] = model.meta.input_size;
    loader = new DataLoader({
      root: opened.root, entries, mode: 'eval', batchSize: o.batchSize, evalCrop: 'defect', size: [h, w], channels: model.meta.arch.in_channels,
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
    });
    const c = await calibrateOn(model, loader.epoch(0), `${path.basename(manifestFile)}:${o.subset}`);
    calibrated = c.model;
    await writeFileAtomic(o.out, await saveModel(calibrated));
    if (!o.quiet) io.stdout(`${o.out}: ${describeCalibration(c)}\n`);
    return 0;
  } finally {
    await loader?.close();
    calibrated?.dispose();
    model?.dispose();
    await backend.destroy();
  }
}

export function registerCalibrate(program: Command, io: CliIo, setResult: (code: number) => void): void {
  program
    .command('calibrate')
    .summary("choose the classifier's decision threshold on validation data")
    .description(
      'Runs the classifier on a manifest subset (default val; each image with its flips, the window centred on the defect), ' +
        'picks the threshold on the margin (defect − defect-free logit) with the best balanced accuracy, and writes the model with it ' +
        'folded into the defect-free output\'s bias: its argmax, the segmentation gate and eval then take the calibrated decision. ' +
        'The defect logit is unchanged. The threshold and what it was chosen on are kept in the metadata ("calibration"). ' +
        'With --threshold T instead of --manifest, folds T as given.',
    )
    .argument('<model>', 'model .safetensors (two classes)')
    .option('--manifest <file>', 'choose the threshold on this split manifest (lrpseg data split, or the eval-split.json written by train)')
    .option('--threshold <t>', 'fold this threshold instead (e.g. one printed by a run elsewhere: its model file then comes out the same)', (v: string) => {
      const t = Number(v);
      if (v.trim() === '' || !Number.isFinite(t)) throw new InvalidArgumentError(`--threshold: "${v}" is not a finite number`);
      return t;
    })
    .addOption(new Option('--subset <name>', 'the subset to calibrate on').choices(['val', 'train', 'test']).default('val'))
    .option('--classes <list>', 'the manifest classes the model decides between (as train --classes)', (v: string) => v.split(',').map((s) => s.trim()))
    .requiredOption('-o, --out <file>', 'output .safetensors')
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]).default('cpu'))
    .option('--threads <n>', 'CPU backend worker threads', intArg(1, 1024))
    .option('--device <n>', 'GPU index for the cuda backend (default 0)', intArg(0, 1023))
    .option('--workers <n>', 'data loading worker threads', intArg(0, 64))
    .option('--batch-size <n>', 'images per forward pass', intArg(1, 4096), 32)
    .option('-q, --quiet', 'no summary line')
    .option('--debug', 'print stack traces of unexpected errors')
    .action(async (model: string, opts: Record<string, unknown>) => {
      setResult(
        await calibrateCommand(
          {
            model,
            ...(opts.manifest !== undefined ? { manifest: opts.manifest as string } : {}),
            ...(opts.threshold !== undefined ? { threshold: opts.threshold as number } : {}),
            subset: opts.subset as 'val' | 'train' | 'test',
            ...(opts.classes !== undefined ? { classes: opts.classes as string[] } : {}),
            out: opts.out as string,
            backend: opts.backend as BackendName,
            ...(opts.threads !== undefined ? { threads: opts.threads as number } : {}),
            ...(opts.device !== undefined ? { device: opts.device as number } : {}),
            ...(opts.workers !== undefined ? { workers: opts.workers as number } : {}),
            batchSize: opts.batchSize as number,
            quiet: Boolean(opts.quiet),
          },
          io,
        ),
      );
    });
}

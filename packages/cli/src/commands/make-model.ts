/**
 * `lrpseg make-model`: a deterministic randomly initialised VGG-11 (torchvision's init, seeded), for
 * pipelines and tests until a trained model is at hand.
 */
import { buildVgg, saveModel, vgg11Meta, type Model, type ModelMeta } from '@lrpseg/core';
import { createBackend } from '../backends.js';
import { UsageError } from '../errors.js';
import { fmtInt, writeFileAtomic, type CliIo } from '../io.js';
import { archVariant, minInputSide, variantName, type ArchChoice } from '../model.js';

export interface MakeModelOptions {
  readonly arch: ArchChoice;
  readonly seed: number;
  readonly widthDivisor: number;
  readonly size: readonly [number, number];
  readonly classes?: readonly string[];
  readonly out: string;
  readonly dtype: 'F32' | 'F16';
  readonly quiet: boolean;
}

export function makeMeta(arch: ArchChoice, size: readonly [number, number], widthDivisor: number, classes?: readonly string[]): ModelMeta {
  const base = vgg11Meta(archVariant(arch), { inputSize: [size[0], size[1]], widthDivisor });
  const min = minInputSide(base);
  if (size[0] < min || size[1] < min) {
    throw new UsageError(`--size ${size[0]} ${size[1]} is too small: VGG-11's five max-pools need at least ${min}×${min}`);
  }
  if (classes === undefined) return base;
  if (classes.length < 2) throw new UsageError('--classes needs at least two class names');
  return { ...base, arch: { ...base.arch, num_classes: classes.length }, classes: [...classes] };
}

export async function makeModelCommand(o: MakeModelOptions, io: CliIo): Promise<number> {
  const meta = makeMeta(o.arch, o.size, o.widthDivisor, o.classes);
  const backend = await createBackend('cpu', { threads: 1 });
  let model: Model | undefined;
  try {
    model = buildVgg(backend, meta, { seed: o.seed });
    const bytes = await saveModel(model, { dtype: o.dtype });
    await writeFileAtomic(o.out, bytes);
    if (!o.quiet) {
      io.stdout(
        `${o.out}: ${variantName(meta)}, input ${meta.arch.in_channels}×${meta.input_size[0]}×${meta.input_size[1]}, ` +
          `${fmtInt(model.parameterCount())} parameters, ${o.dtype}, seed ${o.seed}${o.widthDivisor !== 1 ? `, widths ÷${o.widthDivisor}` : ''} (random, untrained)\n`,
      );
    }
    return 0;
  } finally {
    model?.dispose();
    await backend.destroy();
  }
}

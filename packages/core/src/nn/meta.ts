import { LrpsegError } from '../errors.js';
import type { ModelMeta, VggArch, VggFeature } from './arch.js';

function bad(msg: string): LrpsegError {
  return new LrpsegError('BAD_MODEL_FILE', `model metadata: ${msg}`);
}

function isPositiveInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0;
}

function numberList(v: unknown, what: string, len?: number): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw bad(`${what} must be a list of numbers`);
  if (len !== undefined && v.length !== len) throw bad(`${what} must have ${len} entries, has ${v.length}`);
  return v as number[];
}

function parseArch(v: unknown): VggArch {
  if (typeof v !== 'object' || v === null) throw bad('"arch" is missing');
  const a = v as Record<string, unknown>;
  if (a.type !== 'vgg') throw bad(`arch.type ${JSON.stringify(a.type)} is not supported (only "vgg")`);
  if (!isPositiveInt(a.in_channels)) throw bad('arch.in_channels must be a positive integer');
  if (!Array.isArray(a.features) || a.features.length === 0) throw bad('arch.features must be a non-empty list');
  const features: VggFeature[] = a.features.map((f, i) => {
    if (f === 'M' || isPositiveInt(f)) return f;
    throw bad(`arch.features[${i}] = ${JSON.stringify(f)} is neither a channel count nor "M"`);
  });
  if (!features.some((f) => f !== 'M')) throw bad('arch.features has no convolution');
  if (!Array.isArray(a.classifier) || !a.classifier.every(isPositiveInt)) throw bad('arch.classifier must be a list of positive widths');
  if (!isPositiveInt(a.num_classes)) throw bad('arch.num_classes must be a positive integer');
  return { type: 'vgg', in_channels: a.in_channels, features, classifier: a.classifier as number[], num_classes: a.num_classes };
}

/** Validates the JSON of the `lrpseg` metadata key; unknown keys are kept. */
export function parseModelMeta(json: string): ModelMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw bad('the "lrpseg" entry is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('the "lrpseg" entry is not a JSON object');
  const m = raw as Record<string, unknown>;
  if (m.format_version !== 1) throw bad(`format_version ${JSON.stringify(m.format_version)} is not supported (expected 1)`);
  const arch = parseArch(m.arch);
  const norm = m.normalize as Record<string, unknown> | undefined;
  if (typeof norm !== 'object' || norm === null) throw bad('"normalize" is missing');
  const mean = numberList(norm.mean, 'normalize.mean', arch.in_channels);
  const std = numberList(norm.std, 'normalize.std', arch.in_channels);
  if (std.some((s) => s <= 0)) throw bad('normalize.std must be positive');
  const size = numberList(m.input_size, 'input_size', 2);
  if (!size.every(isPositiveInt)) throw bad('input_size must be two positive integers');
  const classes = m.classes;
  if (!Array.isArray(classes) || classes.length !== arch.num_classes || !classes.every((c) => typeof c === 'string')) {
    throw bad(`classes must be ${arch.num_classes} names`);
  }
  return { ...m, format_version: 1, arch, normalize: { mean, std }, input_size: [size[0], size[1]], classes } as ModelMeta;
}

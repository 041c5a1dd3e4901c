/** Model metadata as FORMATS.md pins it (the `lrpseg` key of the safetensors `__metadata__`). */
export type VggFeature = number | 'M';

export interface VggArch {
  readonly type: 'vgg';
  readonly in_channels: number;
  readonly features: readonly VggFeature[];
  /** Hidden widths of the classifier: [128, 128] is VGG-A 128N, [] the one-FC variant. */
  readonly classifier: readonly number[];
  readonly num_classes: number;
}

export interface ModelMeta {
  readonly format_version: 1;
  readonly arch: VggArch;
  readonly normalize: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly input_size: readonly [number, number];
  readonly classes: readonly string[];
  /** Unknown keys are kept when a file is rewritten. */
  readonly [extra: string]: unknown;
}

/** VGG-11 ("A") convolution configuration. */
export const VGG11_FEATURES: readonly VggFeature[] = [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'];

export const IMAGENET_NORMALIZE = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;

export function vgg11Meta(variant: '128n' | 'onefc', opts: { inputSize?: [number, number]; widthDivisor?: number } = {}): ModelMeta {
  const div = opts.widthDivisor ?? 1;
  const features = VGG11_FEATURES.map((f) => (f === 'M' ? f : Math.max(1, Math.round(f / div))));
  return {
    format_version: 1,
    arch: { type: 'vgg', in_channels: 3, features, classifier: variant === '128n' ? [128, 128] : [], num_classes: 2 },
    normalize: { mean: [...IMAGENET_NORMALIZE.mean], std: [...IMAGENET_NORMALIZE.std] },
    input_size: opts.inputSize ?? [224, 224],
    classes: ['defect-free', 'defect'],
  };
}

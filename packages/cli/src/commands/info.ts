/**
 * `lrpseg info MODEL`: what a model file holds, and which LRP rule each composite gives each layer.
 */
import { NAMED_COMPOSITES, formatRule, parseComposite, type Model, type ModelMeta } from '@lrpseg/core';
import { createBackend } from '../backends.js';
import { fmtInt, table, type CliIo } from '../io.js';
import { openModel, variantName } from '../model.js';

export interface InfoOptions {
  readonly model: string;
  readonly rules?: string;
  readonly json: boolean;
}

export interface LayerInfo {
  readonly index: number;
  readonly name: string;
  readonly label: string;
  readonly kind: 'conv2d' | 'linear';
  readonly weight_shape: number[];
  readonly bias_shape: number[];
  readonly parameters: number;
  /** Rule per composite ('montavon', 'ours', and 'custom' when --rules is given). */
  readonly rules: Record<string, string>;
}

export interface ModelInfo {
  readonly file: string;
  readonly architecture: {
    readonly type: 'vgg';
    readonly variant: string;
    readonly in_channels: number;
    readonly features: readonly (number | 'M')[];
    readonly classifier: readonly number[];
    readonly num_classes: number;
    readonly conv_layers: number;
    readonly linear_layers: number;
  };
  readonly input_size: readonly [number, number];
  readonly normalize: ModelMeta['normalize'];
  readonly classes: readonly string[];
  readonly parameters: number;
  /** Metadata keys besides the ones FORMATS.md defines. */
  readonly extra_metadata: string[];
  /** A decision threshold folded into the model by `lrpseg calibrate` (or train --calibrate). */
  readonly calibration?: { readonly threshold: number; readonly bias: string; readonly source?: string };
  readonly composites: Record<string, string>;
  readonly layers: LayerInfo[];
}

const KNOWN_META = new Set(['format_version', 'arch', 'normalize', 'input_size', 'classes']);

export function describeModel(model: Model, file: string, customRules?: string): ModelInfo {
  const meta = model.meta;
  const layers = model.paramLayers();
  const specs: [string, string][] = NAMED_COMPOSITES.map((n) => [n, n]);
  if (customRules !== undefined) specs.push(['custom', customRules]);
  const rulesByComposite = new Map<string, Map<string, string>>();
  const composites: Record<string, string> = {};
  for (const [key, spec] of specs) {
    // a named composite that does not fit an odd architecture is shown as n/a; --rules must fit
    let c;
    try {
      c = parseComposite(spec, meta);
    } catch (e) {
      if (key === 'custom') throw e;
      composites[key] = 'n/a';
      continue;
    }
    composites[key] = key === 'custom' ? spec : c.name;
    rulesByComposite.set(key, new Map(c.assignments.map((a) => [a.layer, formatRule(a.rule)])));
  }
  return {
    file,
    architecture: {
      type: 'vgg',
      variant: variantName(meta),
      in_channels: meta.arch.in_channels,
      features: [...meta.arch.features],
      classifier: [...meta.arch.classifier],
      num_classes: meta.arch.num_classes,
      conv_layers: layers.filter((l) => l.kind === 'conv2d').length,
      linear_layers: layers.filter((l) => l.kind === 'linear').length,
    },
    input_size: [meta.input_size[0], meta.input_size[1]],
    normalize: { mean: [...meta.normalize.mean], std: [...meta.normalize.std] },
    classes: [...meta.classes],
    parameters: model.parameterCount(),
    extra_metadata: Object.keys(meta).filter((k) => !KNOWN_META.has(k)),
    ...(calibrationOf(meta) ? { calibration: calibrationOf(meta) } : {}),
    composites,
    layers: layers.map((l, i) => {
      const rules: Record<string, string> = {};
      for (const [key] of specs) rules[key] = rulesByComposite.get(key)?.get(l.name) ?? 'n/a';
      return {
        index: i + 1,
        name: l.name,
        label: l.label,
        kind: l.kind,
        weight_shape: [...l.weight.shape],
        bias_shape: [...l.bias.shape],
        parameters: l.weight.size + l.bias.size,
        rules,
      };
    }),
  };
}

export function formatModelInfo(info: ModelInfo): string {
  const a = info.architecture;
  const [h, w] = info.input_size;
  const nums = (xs: readonly number[]): string => xs.map((x) => String(x)).join(', ');
  const lines = [
    `model          ${info.file}`,
    `architecture   ${a.variant}: VGG features [${a.features.join(', ')}], classifier [${a.classifier.join(', ')}] → ${a.num_classes} classes`,
    `               ${a.conv_layers} conv + ${a.linear_layers} linear parameter layers, no adaptive pooling`,
    `input          ${a.in_channels} × ${h} × ${w} (channels × height × width), raw intensities in [0, 1]`,
    `normalisation  mean [${nums(info.normalize.mean)}], std [${nums(info.normalize.std)}] (applied by the model)`,
    `classes        ${info.classes.map((c, i) => `${i} ${c}`).join(', ')}`,
    `parameters     ${fmtInt(info.parameters)} (${(info.parameters * 4 / 2 ** 20).toFixed(1)} MiB as F32)`,
  ];
  if (info.calibration) {
    const c = info.calibration;
    lines.push(`decision       calibrated: threshold ${c.threshold.toPrecision(4)} on the original margin (logit 1 − logit 0), folded into ${c.bias}${c.source ? `; chosen on ${c.source}` : ''}`);
  }
  if (info.extra_metadata.length > 0) lines.push(`metadata       also ${info.extra_metadata.join(', ')}`);
  const ruleKeys = Object.keys(info.layers[0]?.rules ?? {});
  const header = ['#', 'layer', 'label', 'kind', 'weight', 'parameters', ...ruleKeys.map((k) => (k === 'custom' ? '--rules' : k))];
  const rows = info.layers.map((l) => [
    String(l.index),
    l.name,
    l.label,
    l.kind === 'conv2d' ? 'conv' : 'linear',
    l.weight_shape.join('×'),
    fmtInt(l.parameters),
    ...ruleKeys.map((k) => l.rules[k]),
  ]);
  return `${lines.join('\n')}\n\n${table(header, rows, [0, 5])}`;
}

export async function infoCommand(o: InfoOptions, io: CliIo): Promise<number> {
  const backend = await createBackend('cpu', { threads: 1 });
  let model: Model | undefined;
  try {
    model = await openModel(backend, o.model);
    const info = describeModel(model, o.model, o.rules);
    io.stdout(o.json ? `${JSON.stringify(info, null, 2)}\n` : formatModelInfo(info));
    return 0;
  } finally {
    model?.dispose();
    await backend.destroy();
  }
}

function calibrationOf(meta: ModelMeta): ModelInfo['calibration'] {
  const c = meta.calibration as { threshold?: unknown; bias?: unknown; source?: unknown } | undefined;
  if (typeof c?.threshold !== 'number' || typeof c.bias !== 'string') return undefined;
  return { threshold: c.threshold, bias: c.bias, ...(typeof c.source === 'string' ? { source: c.source } : {}) };
}

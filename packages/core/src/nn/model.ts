import type { Backend } from '../backend.js';
import { LrpsegError, fmtShape } from '../errors.js';
import { scope, type Tensor } from '../tensor.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import { mulberry32, normalGenerator, randomNormalArray } from '../random.js';
import type { ModelMeta } from './arch.js';
import { isParamLayer, type Layer, type ParamLayer } from './layers.js';
import { parseModelMeta } from './meta.js';
import { vggParameterShapes, vggPlan } from './vgg.js';

/** A sequential classifier whose parameters live on one backend. */
export class Model {
  readonly backend: Backend;
  readonly meta: ModelMeta;
  readonly layers: readonly Layer[];

  constructor(backend: Backend, meta: ModelMeta, layers: readonly Layer[]) {
    this.backend = backend;
    this.meta = meta;
    this.layers = layers;
  }

  paramLayers(): ParamLayer[] {
    return this.layers.filter(isParamLayer);
  }

  /** Parameter tensors under their torchvision names. */
  parameters(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const l of this.paramLayers()) {
      out.set(`${l.name}.weight`, l.weight);
      out.set(`${l.name}.bias`, l.bias);
    }
    return out;
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.parameters().values()) n += t.size;
    return n;
  }

  /** The model's input normalisation as a per-channel affine map: x·scale + shift. */
  normalization(): { scale: number[]; shift: number[] } {
    const { mean, std } = this.meta.normalize;
    return { scale: std.map((s) => 1 / s), shift: mean.map((m, i) => -m / std[i]) };
  }

  checkInput(op: string, x: Tensor): void {
    const [h, w] = this.meta.input_size;
    const c = this.meta.arch.in_channels;
    const ok = x.shape.length === 4 && x.shape[1] === c && x.shape[2] === h && x.shape[3] === w;
    if (!ok) throw new LrpsegError('BAD_INPUT', `${op}: input ${fmtShape(x.shape)} does not fit the model, which takes (N, ${c}, ${h}, ${w})`);
  }

  /** Logits (N, K) of raw inputs in [0, 1] (N, C, H, W); the model normalises them itself. */
  forward(x: Tensor): Tensor {
    this.checkInput('forward', x);
    return scope(() => {
      const { scale, shift } = this.normalization();
      let cur = this.backend.affineChannels(x, scale, shift);
      for (const layer of this.layers) cur = applyLayer(this.backend, layer, cur);
      return cur;
    });
  }

  /** Logits (n × K, host) of n raw inputs held on the host (n × C × H × W values in [0, 1]). */
  async forwardHost(data: Float32Array, n: number): Promise<Float32Array> {
    const [h, w] = this.meta.input_size;
    const x = this.backend.fromArray(data, [n, this.meta.arch.in_channels, h, w]);
    let logits: Tensor | undefined;
    try {
      logits = this.forward(x);
      return await logits.read();
    } finally {
      logits?.dispose();
      x.dispose();
    }
  }

  dispose(): void {
    for (const t of this.parameters().values()) t.dispose();
  }
}

/** Forward of one layer at inference (dropout is the identity). */
export function applyLayer(backend: Backend, layer: Layer, x: Tensor): Tensor {
  switch (layer.kind) {
    case 'conv2d':
      return backend.conv2d(x, layer.weight, layer.bias, { stride: layer.stride, padding: layer.padding });
    case 'linear':
      return backend.linear(x, layer.weight, layer.bias);
    case 'relu':
      return backend.relu(x);
    case 'maxpool':
      return backend.maxPool2d(x, { kernel: layer.kernel, stride: layer.stride });
    case 'flatten':
      return backend.reshape(x, [x.shape[0], x.size / x.shape[0]]);
    case 'dropout':
      return x;
  }
}

/** The values of each parameter, by torchvision name and shape. */
export type ParamSource = (name: string, shape: number[]) => Float32Array;

/** A model of `meta`'s architecture whose parameters are `source`'s values. */
export function modelFromParameters(backend: Backend, meta: ModelMeta, source: ParamSource): Model {
  return instantiate(backend, meta, source);
}

function instantiate(backend: Backend, meta: ModelMeta, source: ParamSource): Model {
  const layers: Layer[] = [];
  const created: Tensor[] = [];
  const param = (name: string, shape: number[]): Tensor => {
    const t = backend.fromArray(source(name, shape), shape);
    created.push(t);
    return t;
  };
  try {
    for (const e of vggPlan(meta.arch, meta.input_size)) {
      switch (e.kind) {
        case 'conv2d':
          layers.push({
            kind: 'conv2d', name: e.name, label: e.label, stride: 1, padding: e.padding,
            weight: param(`${e.name}.weight`, [e.outChannels, e.inChannels, e.kernel, e.kernel]),
            bias: param(`${e.name}.bias`, [e.outChannels]),
          });
          break;
        case 'linear':
          layers.push({
            kind: 'linear', name: e.name, label: e.label,
            weight: param(`${e.name}.weight`, [e.outFeatures, e.inFeatures]),
            bias: param(`${e.name}.bias`, [e.outFeatures]),
          });
          break;
        case 'maxpool':
          layers.push({ kind: 'maxpool', name: e.name, kernel: 2, stride: 2 });
          break;
        case 'dropout':
          layers.push({ kind: 'dropout', name: e.name, p: 0.5 });
          break;
        default:
          layers.push({ kind: e.kind, name: e.name });
      }
    }
  } catch (err) {
    for (const t of created) t.dispose();
    throw err;
  }
  for (const t of created) t.keep();
  return new Model(backend, meta, layers);
}

export interface InitOptions {
  readonly seed?: number;
  /** Standard deviation of random biases; 0 (torchvision's choice) by default. Tests use non-zero biases. */
  readonly biasStd?: number;
}

/**
 * A freshly initialised VGG, deterministic for a seed: convolutions Kaiming-normal (fan_out, ReLU),
 * linears N(0, 0.01), as torchvision initialises VGG.
 */
export function buildVgg(backend: Backend, meta: ModelMeta, opts: InitOptions = {}): Model {
  const normal = normalGenerator(mulberry32(opts.seed ?? 0));
  const biasStd = opts.biasStd ?? 0;
  return instantiate(backend, meta, (name, shape) => {
    const n = shape.reduce((a, b) => a * b, 1);
    if (name.endsWith('.bias')) return biasStd > 0 ? randomNormalArray(n, biasStd, normal) : new Float32Array(n);
    if (shape.length === 4) return randomNormalArray(n, Math.sqrt(2 / (shape[0] * shape[2] * shape[3])), normal);
    return randomNormalArray(n, 0.01, normal);
  });
}

function requireTensor(file: SafetensorsFile, name: string, shape: number[]): Float32Array {
  const t = file.tensors.get(name);
  if (!t) throw new LrpsegError('BAD_MODEL_FILE', `model file has no tensor "${name}" that its architecture needs (shape ${fmtShape(shape)})`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new LrpsegError('BAD_MODEL_FILE', `tensor "${name}" has shape ${fmtShape(t.shape)} but the architecture needs ${fmtShape(shape)}`);
  }
  return t.data;
}

/** Refuses tensors under VGG names that the architecture does not have (a sign of a mismatched file). */
function rejectStrayVggTensors(file: SafetensorsFile, expected: Map<string, number[]>): void {
  for (const name of file.tensors.keys()) {
    if ((name.startsWith('features.') || name.startsWith('classifier.')) && !expected.has(name)) {
      throw new LrpsegError('BAD_MODEL_FILE', `tensor "${name}" does not belong to the architecture in the file's metadata`);
    }
  }
}

/** Reads a model written by saveModel (or by PyTorch with the same names and metadata). */
export function loadModel(backend: Backend, bytes: Uint8Array): Model {
  const file = parseSafetensors(bytes, { requireFinite: true });
  const metaJson = file.metadata.lrpseg;
  if (metaJson === undefined) {
    throw new LrpsegError(
      'BAD_MODEL_FILE',
      'model file has no "lrpseg" metadata (a plain torchvision state dict can only seed training, see loadFeatureWeights)',
    );
  }
  const meta = parseModelMeta(metaJson);
  const expected = vggParameterShapes(meta.arch, meta.input_size);
  rejectStrayVggTensors(file, expected);
  for (const [name, shape] of expected) requireTensor(file, name, shape);
  return instantiate(backend, meta, (name, shape) => requireTensor(file, name, shape));
}

/**
 * Copies the convolution weights of a safetensors file (e.g. a torchvision VGG-11 state dict) into a
 * model of the same features configuration; the classifier keeps its own weights. Returns the names copied.
 */
export async function loadFeatureWeights(model: Model, bytes: Uint8Array): Promise<string[]> {
  const file = parseSafetensors(bytes, { requireFinite: true });
  const copied: string[] = [];
  const replacements: [ParamLayer, Tensor, Tensor][] = [];
  for (const layer of model.paramLayers()) {
    if (layer.kind !== 'conv2d') continue;
    const w = requireTensor(file, `${layer.name}.weight`, [...layer.weight.shape]);
    const b = requireTensor(file, `${layer.name}.bias`, [...layer.bias.shape]);
    replacements.push([layer, model.backend.fromArray(w, layer.weight.shape).keep(), model.backend.fromArray(b, layer.bias.shape).keep()]);
    copied.push(`${layer.name}.weight`, `${layer.name}.bias`);
  }
  for (const [layer, w, b] of replacements) {
    const mutable = layer as { weight: Tensor; bias: Tensor };
    mutable.weight.dispose();
    mutable.bias.dispose();
    mutable.weight = w;
    mutable.bias = b;
  }
  return copied;
}

export interface SaveOptions {
  readonly dtype?: 'F32' | 'F16';
  /** Replaces the metadata written (e.g. with training provenance added); defaults to the model's. */
  readonly meta?: ModelMeta;
}

export async function saveModel(model: Model, opts: SaveOptions = {}): Promise<Uint8Array> {
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of model.parameters()) entries.push([name, { shape: t.shape, data: await t.read() }]);
  return serializeSafetensors(entries, { lrpseg: JSON.stringify(opts.meta ?? model.meta) }, { dtype: opts.dtype ?? 'F32' });
}

/**
 * U-Net after Ronneberger et al. (2015) with padded 3×3 convolutions, so that the output has the input's
 * size: `depth` down-steps (max-pool) and up-steps (2×2 transposed conv, concatenation with the skip,
 * two convolutions), channels base·2^level, and a 1×1 head giving one logit per pixel.
 */
import type { Backend } from '../backend.js';
import { LrpsegError, fmtShape } from '../errors.js';
import { parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { mulberry32, normalGenerator, randomNormalArray } from '../random.js';
import { scope, type Tensor } from '../tensor.js';
import type { Tape } from '../train/tape.js';

export interface UNetArch {
  readonly type: 'unet';
  readonly in_channels: number;
  /** Channels of the first level (the paper: 64). */
  readonly base_channels: number;
  /** Number of down-steps (the paper: 4). */
  readonly depth: number;
  readonly out_channels: 1;
}

export interface UNetMeta {
  readonly format_version: 1;
  readonly arch: UNetArch;
  readonly normalize: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly input_size: readonly [number, number];
  readonly [extra: string]: unknown;
}

/** Parameter names and shapes, in forward order. */
export function unetParameterShapes(arch: UNetArch): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const ch = (level: number) => arch.base_channels * 2 ** level;
  const conv = (name: string, cin: number, cout: number, k = 3) => {
    out.set(`${name}.weight`, [cout, cin, k, k]);
    out.set(`${name}.bias`, [cout]);
  };
  for (let l = 0; l <= arch.depth; l++) {
    conv(`enc.${l}.conv1`, l === 0 ? arch.in_channels : ch(l - 1), ch(l));
    conv(`enc.${l}.conv2`, ch(l), ch(l));
  }
  for (let l = arch.depth - 1; l >= 0; l--) {
    out.set(`up.${l}.weight`, [ch(l + 1), ch(l), 2, 2]);
    out.set(`up.${l}.bias`, [ch(l)]);
    conv(`dec.${l}.conv1`, 2 * ch(l), ch(l));
    conv(`dec.${l}.conv2`, ch(l), ch(l));
  }
  conv('head', arch.base_channels, arch.out_channels, 1);
  return out;
}

/** The ops a forward pass needs: the backend itself at inference, a Tape when training. */
interface ForwardOps {
  conv2d(x: Tensor, w: Tensor, b: Tensor | null, p: { stride: number; padding: number }): Tensor;
  convTranspose2x2(x: Tensor, w: Tensor, b: Tensor | null): Tensor;
  relu(x: Tensor): Tensor;
  maxPool2d(x: Tensor, p: { kernel: number; stride: number }): Tensor;
  concatChannels(a: Tensor, b: Tensor): Tensor;
  affineChannels(x: Tensor, scale: readonly number[], shift: readonly number[]): Tensor;
}

export class UNet {
  readonly backend: Backend;
  readonly meta: UNetMeta;
  readonly params: ReadonlyMap<string, Tensor>;

  constructor(backend: Backend, meta: UNetMeta, params: ReadonlyMap<string, Tensor>) {
    this.backend = backend;
    this.meta = meta;
    this.params = params;
  }

  parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  private p(name: string): Tensor {
    return this.params.get(name)!;
  }

  checkInput(op: string, x: Tensor): void {
    const d = 2 ** this.meta.arch.depth;
    const ok = x.shape.length === 4 && x.shape[1] === this.meta.arch.in_channels && x.shape[2] % d === 0 && x.shape[3] % d === 0;
    if (!ok) throw new LrpsegError('BAD_INPUT', `${op}: U-Net input ${fmtShape(x.shape)} must be (N, ${this.meta.arch.in_channels}, H, W) with H and W multiples of ${d}`);
  }

  /** Per-pixel logits (N, 1, H, W) of raw inputs in [0, 1]; pass a Tape to record for training. */
  forward(x: Tensor, tape?: Tape): Tensor {
    this.checkInput('unet', x);
    const ops: ForwardOps = tape ?? this.backend;
    const run = () => {
      const { mean, std } = this.meta.normalize;
      let cur = ops.affineChannels(x, std.map((s) => 1 / s), mean.map((m, i) => -m / std[i]));
      const block = (name: string, t: Tensor) => {
        const a = ops.relu(ops.conv2d(t, this.p(`${name}.conv1.weight`), this.p(`${name}.conv1.bias`), { stride: 1, padding: 1 }));
        return ops.relu(ops.conv2d(a, this.p(`${name}.conv2.weight`), this.p(`${name}.conv2.bias`), { stride: 1, padding: 1 }));
      };
      const skips: Tensor[] = [];
      const depth = this.meta.arch.depth;
      for (let l = 0; l <= depth; l++) {
        cur = block(`enc.${l}`, cur);
        if (l < depth) {
          skips.push(cur);
          cur = ops.maxPool2d(cur, { kernel: 2, stride: 2 });
        }
      }
      for (let l = depth - 1; l >= 0; l--) {
        const up = ops.convTranspose2x2(cur, this.p(`up.${l}.weight`), this.p(`up.${l}.bias`));
        cur = block(`dec.${l}`, ops.concatChannels(skips[l], up));
      }
      return ops.conv2d(cur, this.p('head.weight'), this.p('head.bias'), { stride: 1, padding: 0 });
    };
    return tape ? run() : scope(run);
  }

  /** Damage probabilities (N, H, W). */
  predict(x: Tensor): Tensor {
    return scope(() => {
      const logits = this.forward(x);
      const [n, , h, w] = logits.shape;
      return this.backend.reshape(this.backend.sigmoid(logits), [n, h, w]);
    });
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
  }
}

export function unetMeta(opts: { baseChannels?: number; depth?: number; inputSize?: [number, number]; inChannels?: number } = {}): UNetMeta {
  const c = opts.inChannels ?? 3;
  return {
    format_version: 1,
    arch: { type: 'unet', in_channels: c, base_channels: opts.baseChannels ?? 64, depth: opts.depth ?? 4, out_channels: 1 },
    normalize: c === 3 ? { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } : { mean: new Array(c).fill(0.5), std: new Array(c).fill(0.25) },
    input_size: opts.inputSize ?? [224, 224],
  };
}

/** Kaiming-normal (fan_in, ReLU) weights, zero biases, deterministic for a seed. */
export function buildUNet(backend: Backend, meta: UNetMeta, seed = 0): UNet {
  const normal = normalGenerator(mulberry32(seed));
  const params = new Map<string, Tensor>();
  for (const [name, shape] of unetParameterShapes(meta.arch)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = name.startsWith('up.') ? shape[0] * 4 : shape.slice(1).reduce((a, b) => a * b, 1);
    const data = name.endsWith('.bias') ? new Float32Array(n) : randomNormalArray(n, Math.sqrt(2 / fanIn), normal);
    params.set(name, backend.fromArray(data, shape).keep());
  }
  return new UNet(backend, meta, params);
}

export async function saveUNet(unet: UNet, opts: { dtype?: 'F32' | 'F16' } = {}): Promise<Uint8Array> {
  const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of unet.params) entries.push([name, { shape: t.shape, data: await t.read() }]);
  return serializeSafetensors(entries, { lrpseg: JSON.stringify(unet.meta) }, { dtype: opts.dtype ?? 'F32' });
}

function parseUNetMeta(json: string | undefined): UNetMeta {
  if (json === undefined) throw new LrpsegError('BAD_MODEL_FILE', 'model file has no "lrpseg" metadata');
  let m: UNetMeta;
  try {
    m = JSON.parse(json) as UNetMeta;
  } catch {
    throw new LrpsegError('BAD_MODEL_FILE', 'model metadata: the "lrpseg" entry is not valid JSON');
  }
  const a = m?.arch;
  const posInt = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (m?.format_version !== 1 || a?.type !== 'unet' || !posInt(a.in_channels) || !posInt(a.base_channels) || !posInt(a.depth) || a.out_channels !== 1) {
    throw new LrpsegError('BAD_MODEL_FILE', 'model metadata: not a U-Net description (arch.type "unet" with in_channels, base_channels, depth, out_channels 1)');
  }
  if (!Array.isArray(m.normalize?.mean) || m.normalize.mean.length !== a.in_channels || !Array.isArray(m.normalize?.std) || m.normalize.std.length !== a.in_channels) {
    throw new LrpsegError('BAD_MODEL_FILE', `model metadata: normalize needs ${a.in_channels} means and stds`);
  }
  return m;
}

export function loadUNet(backend: Backend, bytes: Uint8Array): UNet {
  const file = parseSafetensors(bytes, { requireFinite: true });
  const meta = parseUNetMeta(file.metadata.lrpseg);
  const params = new Map<string, Tensor>();
  for (const [name, shape] of unetParameterShapes(meta.arch)) {
    const t = file.tensors.get(name);
    if (!t) throw new LrpsegError('BAD_MODEL_FILE', `U-Net file has no tensor "${name}" (shape ${fmtShape(shape)})`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new LrpsegError('BAD_MODEL_FILE', `tensor "${name}" has shape ${fmtShape(t.shape)} but the U-Net needs ${fmtShape(shape)}`);
    }
  }
  for (const [name, shape] of unetParameterShapes(meta.arch)) params.set(name, backend.fromArray(file.tensors.get(name)!.data, shape).keep());
  return new UNet(backend, meta, params);
}

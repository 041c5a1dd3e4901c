/**
 * Test-time augmentation of a heatmap (an option, not in the spec; its default is `none`): explain the
 * input's mirror images (and, with `dihedral`, its quarter turns) as well, map each heatmap back onto
 * the input, and average. The classifier's decision stays the input's own (the logits returned are the
 * untransformed pass's), so the gate of section 3.1 is unchanged and only the masks can differ.
 */
import { LrpsegError } from '../errors.js';
import { flipPlanes } from '../flip.js';
import { rotatePlanes90 } from '../rotate.js';
import type { Model } from '../nn/model.js';
import { classifyAndExplain, type ExplainOptions } from './explain.js';

export const HEATMAP_TTAS = ['none', 'flips', 'dihedral'] as const;
export type HeatmapTta = (typeof HEATMAP_TTAS)[number];

/** Turn by `quarterTurns` counter-clockwise, then mirror left–right when `mirror`. */
export interface PlaneTransform {
  readonly quarterTurns: 0 | 1 | 2 | 3;
  readonly mirror: boolean;
}

/**
 * The transforms a heatmap TTA averages over, the identity first: `flips` the four of {id, left–right,
 * top–bottom, both} (both = a half turn), `dihedral` all eight symmetries of the square.
 */
export function ttaTransforms(tta: HeatmapTta): readonly PlaneTransform[] {
  switch (tta) {
    case 'none':
      return [{ quarterTurns: 0, mirror: false }];
    case 'flips':
      // top–bottom = half turn then left–right
      return [{ quarterTurns: 0, mirror: false }, { quarterTurns: 0, mirror: true }, { quarterTurns: 2, mirror: true }, { quarterTurns: 2, mirror: false }];
    case 'dihedral':
      return ([0, 1, 2, 3] as const).flatMap((quarterTurns) => [{ quarterTurns, mirror: false }, { quarterTurns, mirror: true }]);
  }
}

/** Applies t to `planes` square-or-not planes (odd quarter turns need height = width); a new array. */
export function transformPlanes(data: Float32Array, planes: number, height: number, width: number, t: PlaneTransform): Float32Array {
  if (t.quarterTurns % 2 === 1 && height !== width) throw new LrpsegError('BAD_INPUT', `a quarter turn of a ${height}×${width} input changes its size; dihedral TTA needs a square input`);
  const turned = rotatePlanes90(data, planes, height, width, t.quarterTurns).data;
  return t.mirror ? flipPlanes(turned, planes, height, width, { horizontal: true, vertical: false }) : turned;
}

/** The inverse of transformPlanes: mirror back, then turn back; a new array. */
export function untransformPlanes(data: Float32Array, planes: number, height: number, width: number, t: PlaneTransform): Float32Array {
  const unmirrored = t.mirror ? flipPlanes(data, planes, height, width, { horizontal: true, vertical: false }) : data;
  return rotatePlanes90(unmirrored, planes, height, width, 4 - t.quarterTurns).data;
}

const isIdentity = (t: PlaneTransform): boolean => t.quarterTurns === 0 && !t.mirror;

/** One explanation pass over host data, read back. */
async function explainHost(model: Model, x: Float32Array, n: number, opts: ExplainOptions): Promise<{ logits: Float32Array; heatmaps: Float32Array }> {
  const [h, w] = model.meta.input_size;
  const input = model.backend.fromArray(x, [n, model.meta.arch.in_channels, h, w]);
  try {
    const r = classifyAndExplain(model, input, opts);
    try {
      return { logits: await r.logits.read(), heatmaps: await r.heatmaps.read() };
    } finally {
      r.logits.dispose();
      r.heatmaps.dispose();
    }
  } finally {
    input.dispose();
  }
}

/**
 * Logits and heatmaps of n raw inputs (n × C × H × W values in [0, 1], host memory), the heatmaps
 * averaged over the TTA's transforms (each mapped back). With `none` this is classifyAndExplain read
 * back, one pass over x itself: the one entry point for callers that hold their inputs on the host.
 * One explanation pass per transform, one at a time, so device memory is that of one pass.
 */
export async function classifyAndExplainTta(
  model: Model,
  x: Float32Array,
  n: number,
  opts: ExplainOptions & { readonly tta: HeatmapTta },
): Promise<{ logits: Float32Array; heatmaps: Float32Array }> {
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const size = c * h * w;
  if (x.length !== n * size) throw new LrpsegError('BAD_INPUT', `explain: ${x.length} values for ${n} inputs of ${c}×${h}×${w}`);
  const transforms = ttaTransforms(opts.tta);
  if (transforms.length === 1) return explainHost(model, x, n, opts);
  let logits: Float32Array | null = null;
  const sum = new Float64Array(n * h * w);
  for (const t of transforms) {
    let xt = x;
    if (!isIdentity(t)) {
      xt = new Float32Array(x.length);
      for (let i = 0; i < n; i++) xt.set(transformPlanes(x.subarray(i * size, (i + 1) * size), c, h, w, t), i * size);
    }
    const r = await explainHost(model, xt, n, opts);
    logits ??= r.logits;
    for (let i = 0; i < n; i++) {
      const map = r.heatmaps.subarray(i * h * w, (i + 1) * h * w);
      const back = isIdentity(t) ? map : untransformPlanes(map, 1, h, w, t);
      for (let p = 0, o = i * h * w; p < h * w; p++) sum[o + p] += back[p];
    }
  }
  const heatmaps = new Float32Array(sum.length);
  for (let p = 0; p < sum.length; p++) heatmaps[p] = sum[p] / transforms.length;
  return { logits: logits!, heatmaps };
}

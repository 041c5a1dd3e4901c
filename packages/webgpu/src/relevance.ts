/**
 * The relevance ops (LRP.md) as few fused kernels each, on the conv products of wgsl/conv.ts (a linear
 * layer is a 1×1 convolution on 1×1 images). Every adjoint's right operand is s = R / stab(z, e): by
 * default one map computes it first (quotientKernel, in place over the op's own z), otherwise
 * (lrpQuotients: false) the adjoint divides as it loads, k² times per element; the same bits either way.
 *
 *   zero, epsilon: [ε: one reduction for rms(z) per sample] + one adjoint product whose right operand
 *                  is s, and whose epilogue multiplies by a.
 *                  z is the forward pass's own when passed; otherwise one forward product first.
 *   gamma:         one forward product with W + γW⁺ (and b + γb⁺), one adjoint product as above.
 *   alphabeta:     one forward product for z⁺ and z⁻ together (2 blocks over 2 input segments), one
 *                  adjoint product giving a⁺·P and a⁻·Q as 2 blocks, one map adding the blocks; on a
 *                  ReLU's output (a⁻ = 0, known from the tensor's origin) one segment, one block and
 *                  no map: two kernels.
 *   zbox:          one forward product over 3 segments (a, l, h), one adjoint product with 3 blocks
 *                  (a·Wᵀs, −l·W⁺ᵀs, −h·W⁻ᵀs), one map adding them.
 */
import { LRP_DELTA, LrpsegError, type Rule } from '@lrpseg/core';
import type { GemmSpec } from './wgsl/gemm.js';
import { convAdjointSpec, convForwardSpec, type ConvGeometryValues, type ForwardVariant } from './wgsl/conv.js';
import type { Kernel, StorageBinding } from './wgsl/kernel.js';
import { epsilonKernel, quotientKernel, sumBlocksKernel } from './wgsl/ops.js';

/** What the relevance ops need from the backend: record products and small kernels, get scratch buffers. */
export interface RelevanceContext {
  gemm(spec: GemmSpec, m: number, n: number, k: number, params: Readonly<Record<string, number>>, buffers: readonly GPUBuffer[]): void;
  reduce(kernel: Kernel, groups: number, params: Readonly<Record<string, number>>, buffers: readonly GPUBuffer[]): void;
  map(kernel: Kernel, count: number, params: Readonly<Record<string, number>>, buffers: readonly GPUBuffer[]): void;
  /** A scratch buffer of `floats` values, released once the op's work is done. */
  scratch(floats: number): GPUBuffer;
  /** Uploads host values into a scratch buffer. */
  upload(values: Float32Array): GPUBuffer;
  /** Compute the quotients R / stab(z, e) in a map before the adjoint (quotientKernel) instead of in its loads. */
  readonly quotients: boolean;
}

export interface RelevanceInputs {
  readonly g: ConvGeometryValues;
  readonly a: GPUBuffer;
  readonly r: GPUBuffer;
  readonly w: GPUBuffer;
  readonly b: GPUBuffer | null;
  readonly z: GPUBuffer | null;
  readonly out: GPUBuffer;
  readonly rule: Rule;
  /** The input is known to be ≥ 0 (a ReLU's output, or pooled from one): its negative part is skipped. */
  readonly aNonNegative: boolean;
}

// ---- forward variants (modified z) -------------------------------------------------------------

export function plainForward(bias: boolean): ForwardVariant {
  return { name: `plain${bias ? '+b' : ''}`, blocks: 1, segments: 1, bias, wmap: '  return w;', xmap: '  return v;' };
}

const gammaForward = (bias: boolean): ForwardVariant => ({
  name: `gamma${bias ? '+b' : ''}`, blocks: 1, segments: 1, bias, params: [['g', 'f32']],
  wmap: '  return w + p.g * pos(w);', xmap: '  return v;', bmap: '  return b + p.g * pos(b);',
});

/**
 * z⁺ = W⁺a⁺ + W⁻a⁻ + b⁺ (block 0) and, when β ≠ 0, z⁻ = W⁻a⁺ + W⁺a⁻ + b⁻ (block 1). Segment 1 (the a⁻
 * terms) is left out when the input is known to be non-negative (a ReLU's output): it is all zeros.
 */
const alphabetaForward = (bias: boolean, withNegative: boolean, inputSigned: boolean): ForwardVariant => ({
  name: `ab${withNegative ? '2' : '1'}${inputSigned ? 's' : 'p'}${bias ? '+b' : ''}`, blocks: withNegative ? 2 : 1, segments: inputSigned ? 2 : 1, bias,
  wmap: '  if (mb == seg) { return pos(w); }\n  return neg(w);',
  xmap: '  if (seg == 0u) { return pos(v); }\n  return neg(v);',
  bmap: '  if (mb == 0u) { return pos(b); }\n  return neg(b);',
});

/** z = W·a − W⁺·l − W⁻·h (no bias); `bounds` holds l then h per input channel. */
const zboxForward: ForwardVariant = {
  name: 'zbox', blocks: 1, segments: 3, bias: false, extra: [{ name: 'bounds', access: 'read' }],
  wmap: '  if (seg == 0u) { return w; }\n  if (seg == 1u) { return pos(w); }\n  return neg(w);',
  xmap: '  if (seg == 0u) { return v; }\n  if (seg == 1u) { return -bounds[c]; }\n  return -bounds[p.C + c];',
};

// ---- adjoint variants ------------------------------------------------------------------------

/**
 * The adjoints' right operand s = R / stab(z, e): 'delta' and 'sample' compute it as it is loaded (e = δ,
 * or the per-sample ε stabiliser), 'precomputed' reads the quotients q of quotientKernel. Its reads come
 * first among the adjoint's bindings: r, z (and e), or q.
 */
type Quotient = 'delta' | 'sample' | 'precomputed';

function quotientReads(q: Quotient): StorageBinding[] {
  const read = (name: string): StorageBinding => ({ name, access: 'read' });
  if (q === 'precomputed') return [read('q')];
  return [read('r'), read('z'), ...(q === 'sample' ? [read('e')] : [])];
}

/** R_in = a ⊙ W'ᵀ s. */
function singleAdjoint(weights: 'plain' | 'gamma', q: Quotient): GemmSpec {
  return convAdjointSpec({
    name: `lrp:${weights}:${q === 'precomputed' ? 'q' : q === 'sample' ? 'e' : 'd'}`,
    blocks: 1,
    segments: 1,
    params: [['delta', 'f32'], ['g', 'f32']],
    reads: [...quotientReads(q), { name: 'a', access: 'read' }],
    wmap: weights === 'plain' ? '  return w;' : '  return w + p.g * pos(w);',
    src: q === 'precomputed' ? '  return q[idx];' : `  return r[idx] / stab(z[idx], ${q === 'sample' ? 'e[b]' : 'p.delta'});`,
    epilogue: '  out[idx] = clean(a[idx] * v);',
  });
}

/**
 * Block 0: P = αW⁺ᵀs⁺ − βW⁻ᵀs⁻ times a⁺; block 1: Q = αW⁻ᵀs⁺ − βW⁺ᵀs⁻ times a⁻ (segment 0 reads s⁺,
 * segment 1 s⁻, present only when β ≠ 0). ZS: size of one z block; AS: size of one output block.
 * For a non-negative input only block 0 exists, and it is the result itself.
 */
function alphabetaAdjoint(withNegative: boolean, inputSigned: boolean, q: Exclude<Quotient, 'sample'>): GemmSpec {
  return convAdjointSpec({
    name: `lrp:ab${withNegative ? '2' : '1'}${inputSigned ? 's' : 'p'}${q === 'precomputed' ? ':q' : ''}`,
    blocks: inputSigned ? 2 : 1,
    segments: withNegative ? 2 : 1,
    params: [['delta', 'f32'], ['alpha', 'f32'], ['beta', 'f32'], ['ZS', 'u32'], ['AS', 'u32']],
    reads: [...quotientReads(q), { name: 'a', access: 'read' }],
    wmap: `  if (seg == 0u) {
    if (mb == 0u) { return p.alpha * pos(w); }
    return p.alpha * neg(w);
  }
  if (mb == 0u) { return -p.beta * neg(w); }
  return -p.beta * pos(w);`,
    src: q === 'precomputed' ? '  return q[seg * p.ZS + idx];' : '  return r[idx] / stab(z[seg * p.ZS + idx], p.delta);',
    epilogue: inputSigned
      ? '  let av = a[idx];\n  out[mb * p.AS + idx] = select(neg(av), pos(av), mb == 0u) * v;'
      : '  out[idx] = clean(pos(a[idx]) * v);',
  });
}

/** Blocks a·Wᵀs, −l·W⁺ᵀs, −h·W⁻ᵀs with s = R / stab(z, δ). */
const zboxAdjoint = (q: Exclude<Quotient, 'sample'>): GemmSpec => convAdjointSpec({
  name: `lrp:zbox${q === 'precomputed' ? ':q' : ''}`,
  blocks: 3,
  segments: 1,
  params: [['delta', 'f32'], ['AS', 'u32']],
  reads: [...quotientReads(q), { name: 'a', access: 'read' }, { name: 'bounds', access: 'read' }],
  wmap: '  if (mb == 0u) { return w; }\n  if (mb == 1u) { return pos(w); }\n  return neg(w);',
  src: q === 'precomputed' ? '  return q[idx];' : '  return r[idx] / stab(z[idx], p.delta);',
  epilogue: `  var f = a[idx];
  if (mb == 1u) { f = -bounds[c]; } else if (mb == 2u) { f = -bounds[p.C + c]; }
  out[mb * p.AS + idx] = f * v;`,
});

// ---- the op ----------------------------------------------------------------------------------

function geometryParams(g: ConvGeometryValues): Record<string, number> {
  return { ...g };
}

/** Per-channel zbox bounds (l then h) for C input channels; one value broadcasts. */
export function zboxBounds(op: string, rule: Extract<Rule, { kind: 'zbox' }>, c: number): Float32Array {
  const expand = (v: readonly number[], what: string): number[] => {
    if (v.length === 1) return new Array<number>(c).fill(v[0]);
    if (v.length !== c) throw new LrpsegError('BAD_INPUT', `${op}: zbox ${what} bounds have ${v.length} values for ${c} input channels`);
    return [...v];
  };
  return Float32Array.from([...expand(rule.low, 'low'), ...expand(rule.high, 'high')]);
}

export function lrpProduct(ctx: RelevanceContext, op: string, x: RelevanceInputs): void {
  const { g, rule } = x;
  const geo = geometryParams(g);
  const outPerSample = g.O * g.OH * g.OW;
  const zSize = g.NB * outPerSample;
  const aSize = g.NB * g.C * g.H * g.W;
  const ckk = g.C * g.KS * g.KS;
  const okk = g.O * g.KS * g.KS;
  const pixOut = g.NB * g.OH * g.OW;
  const pixIn = g.NB * g.H * g.W;
  const forward = (v: ForwardVariant, params: Record<string, number>, extra: GPUBuffer[] = []): GPUBuffer => {
    const z = ctx.scratch(v.blocks * zSize);
    ctx.gemm(convForwardSpec(v), v.blocks * g.O, pixOut, v.segments * ckk, { ...geo, ...params }, [x.a, x.w, ...extra, ...(v.bias && x.b ? [x.b] : []), z]);
    return z;
  };
  /**
   * The adjoint's quotient: its buffers (first among the adjoint's reads) and kind. Precomputed: one map
   * over the `segments` z blocks, in place when z is this op's scratch (the forward pass's own z is
   * left alone); else R, z (and e) for the adjoint to divide itself.
   */
  const quotient = <S extends Quotient>(z: GPUBuffer, segments: number, e: GPUBuffer | null, inline: S): [GPUBuffer[], S | 'precomputed'] => {
    if (!ctx.quotients) return [[x.r, z, ...(e ? [e] : [])], inline];
    const inPlace = z !== x.z;
    const q = inPlace ? z : ctx.scratch(segments * zSize);
    ctx.map(quotientKernel(e !== null, inPlace), segments * zSize, { ZS: zSize, L: outPerSample, delta: LRP_DELTA }, [x.r, ...(e ? [e] : []), z, ...(inPlace ? [] : [q])]);
    return [[q], 'precomputed'];
  };
  switch (rule.kind) {
    case 'zero':
    case 'epsilon': {
      const z = x.z ?? forward(plainForward(x.b !== null), {});
      let e: GPUBuffer | null = null;
      if (rule.kind === 'epsilon') {
        e = ctx.scratch(g.NB);
        ctx.reduce(epsilonKernel(), g.NB, { L: outPerSample, E: rule.epsilon, delta: LRP_DELTA }, [z, e]);
      }
      const [s, kind] = quotient(z, 1, e, e ? 'sample' : 'delta');
      ctx.gemm(singleAdjoint('plain', kind), g.C, pixIn, okk, { ...geo, delta: LRP_DELTA, g: 0 }, [x.w, ...s, x.a, x.out]);
      return;
    }
    case 'gamma': {
      const z = forward(gammaForward(x.b !== null), { g: rule.gamma });
      const [s, kind] = quotient(z, 1, null, 'delta');
      ctx.gemm(singleAdjoint('gamma', kind), g.C, pixIn, okk, { ...geo, delta: LRP_DELTA, g: rule.gamma }, [x.w, ...s, x.a, x.out]);
      return;
    }
    case 'alphabeta': {
      const withNegative = rule.beta !== 0;
      const signed = !x.aNonNegative;
      const z = forward(alphabetaForward(x.b !== null, withNegative, signed), {});
      const params = { ...geo, delta: LRP_DELTA, alpha: rule.alpha, beta: rule.beta, ZS: zSize, AS: aSize };
      const k = (withNegative ? 2 : 1) * okk;
      const [s, kind] = quotient(z, withNegative ? 2 : 1, null, 'delta');
      if (!signed) {
        ctx.gemm(alphabetaAdjoint(withNegative, false, kind), g.C, pixIn, k, params, [x.w, ...s, x.a, x.out]);
        return;
      }
      const parts = ctx.scratch(2 * aSize);
      ctx.gemm(alphabetaAdjoint(withNegative, true, kind), 2 * g.C, pixIn, k, params, [x.w, ...s, x.a, parts]);
      ctx.map(sumBlocksKernel(), aSize, { blocks: 2 }, [parts, x.out]);
      return;
    }
    case 'zbox': {
      const bounds = ctx.upload(zboxBounds(op, rule, g.C));
      const z = forward(zboxForward, {}, [bounds]);
      const parts = ctx.scratch(3 * aSize);
      const [s, kind] = quotient(z, 1, null, 'delta');
      ctx.gemm(zboxAdjoint(kind), 3 * g.C, pixIn, okk, { ...geo, delta: LRP_DELTA, AS: aSize }, [x.w, ...s, x.a, bounds, parts]);
      ctx.map(sumBlocksKernel(), aSize, { blocks: 3 }, [parts, x.out]);
      return;
    }
  }
}

/**
 * LRP rules as products of native/gemm.h (LRP.md; the reference is core's cpu/relevance.ts). Every rule
 * is at most: one modified forward product (skipped for zero/ε, which reuse the forward pass's z), one
 * per-sample reduction (ε only), and one fused relevance product whose operand loader divides R by
 * stab(z, e) on the fly and whose epilogue multiplies by the activation: no intermediate s or Wᵀs in
 * device memory. Sign-split and bounded rules stack their parts as row/K blocks of the same products.
 */
import { LRP_DELTA, type Rule } from '@lrpseg/core';
import { T, packGemm, type ConvProblem, type GemmSpec, type LrpOperand, type TransformCode } from './gemm.js';

/** The device operations relevance needs (implemented by CudaBackend). */
export interface RelevanceDevice {
  /** Device buffer of `floats` float32 values. */
  alloc(floats: number, op: string): number;
  free(ptr: number): void;
  /** Uploads float32 values into a fresh buffer. */
  upload(values: readonly number[], op: string): number;
  op(name: string, params: Float64Array, label: string): void;
  /**
   * Experiment: with one K block, compute coef·R / stab(z, e) once per element (op lrpQuotient) and run a
   * plain transposed product on it, instead of dividing in the product's loader at every read (nine per
   * element for a 3×3 kernel, again in every row tile). Same expression, same sum order: same bits.
   */
  readonly lrpQuotients: boolean;
}

export interface RelevanceArgs {
  readonly p: ConvProblem;
  /** Layer input (n, c, h, w), and whether it is known to have no negative values. */
  readonly a: number;
  readonly aNonNegative: boolean;
  readonly r: number;
  readonly wt: number;
  readonly bias: number | null;
  /** The forward pass's own pre-activation (zero and ε only). */
  readonly z?: number;
  readonly out: number;
}

/** Per-channel zbox bounds, length c (a single value is broadcast). */
function channelBounds(values: readonly number[], c: number): number[] {
  return values.length === 1 ? new Array<number>(c).fill(values[0]) : [...values];
}

/** Runs the rule's products for one layer; `op` names the Backend op in errors. */
export function relevance(dev: RelevanceDevice, rule: Rule, args: RelevanceArgs, op: string): void {
  const { p } = args;
  const zFloats = p.n * p.o * p.oh * p.ow;
  const temps: number[] = [];
  const temp = (floats: number): number => {
    const t = dev.alloc(floats, op);
    temps.push(t);
    return t;
  };
  const gemm = (s: GemmSpec): void => dev.op('gemm', packGemm(s), op);
  /**
   * A DGRAD whose B operand is coef·R / stab(z, e): fused into the loader, or (dev.lrpQuotients) computed once
   * into (n, kb·o, oh, ow) and read by a plain product. K blocks become kb·o output channels of one block, their
   * weights transformed beforehand: the K order (j, q, kh, kw) is unchanged, so are the sums. Several K blocks
   * with several row blocks (αβ on inputs that may be negative) would need one weight stack per row: fused.
   */
  const relevanceProduct = (s: GemmSpec & { readonly lrp: LrpOperand }): void => {
    const { lrp, ...plain } = s;
    const kb = s.kb ?? 1;
    const rb = s.rb ?? 1;
    if (!dev.lrpQuotients || (kb > 1 && rb > 1)) {
      gemm(s);
      return;
    }
    if (lrp.zC !== kb * p.o) throw new Error(`relevance: ${kb} K block(s) but z has ${lrp.zC} channels, not ${kb * p.o}`);
    const per = p.o * p.oh * p.ow;
    const q = temp(p.n * kb * per);
    const coef = [0, 1, 2].map((j) => lrp.coef[j] ?? 0);
    dev.op('lrpQuotient', Float64Array.of(s.x, lrp.z, lrp.e ?? 0, lrp.eConst ?? 0, ...coef, q, p.n, kb, per), op);
    if (kb === 1) {
      gemm({ ...plain, x: q });
      return;
    }
    const wCount = p.o * p.c * p.ks * p.ks;
    const stacked = temp(kb * wCount);
    const modes = [0, 1, 2].map((j) => s.wmode?.[0]?.[j] ?? T.ID);
    dev.op('transformWeights', Float64Array.of(s.wt, stacked, wCount, kb, ...modes, s.gamma ?? 0), op);
    gemm({ ...plain, p: { ...p, o: kb * p.o }, kb: 1, wmode: [[T.ID]], gamma: 0, wt: stacked, x: q });
  };
  const bias = args.bias ?? undefined;
  try {
    switch (rule.kind) {
      case 'zero':
      case 'epsilon': {
        let z = args.z;
        if (z === undefined) {
          z = temp(zFloats);
          gemm({ kind: 'fwd', p, wt: args.wt, x: args.a, bias, out: z });
        }
        let e: number | undefined;
        if (rule.kind === 'epsilon') {
          e = temp(p.n);
          dev.op('rms', Float64Array.of(z, e, p.n, p.o * p.oh * p.ow, rule.epsilon, LRP_DELTA), op);
        }
        relevanceProduct({
          kind: 'dgrad', p, wt: args.wt, x: args.r, mul: args.a, mulmode: [T.A], out: args.out,
          lrp: { z, zC: p.o, e, eConst: LRP_DELTA, coef: [1] },
        });
        return;
      }
      case 'gamma': {
        const z = temp(zFloats);
        gemm({ kind: 'fwd', p, wt: args.wt, x: args.a, bias, wmode: [[T.GAMMA]], biasmode: [T.GAMMA], gamma: rule.gamma, out: z });
        relevanceProduct({
          kind: 'dgrad', p, wt: args.wt, x: args.r, wmode: [[T.GAMMA]], gamma: rule.gamma, mul: args.a, mulmode: [T.A], out: args.out,
          lrp: { z, zC: p.o, eConst: LRP_DELTA, coef: [1] },
        });
        return;
      }
      case 'alphabeta': {
        // z⁺ = W⁺a⁺ + W⁻a⁻ + b⁺ (row block 0) and z⁻ = W⁻a⁺ + W⁺a⁻ + b⁻ (row block 1, only when β ≠ 0).
        const parts = rule.beta !== 0 ? 2 : 1;
        const nonNeg = args.aNonNegative;
        const z = temp(parts * zFloats);
        const fwdW: TransformCode[][] = nonNeg ? [[T.POS], [T.NEG]] : [[T.POS, T.NEG], [T.NEG, T.POS]];
        gemm({
          kind: 'fwd', p, rb: parts, kb: nonNeg ? 1 : 2, wmode: fwdW.slice(0, parts), srcmode: nonNeg ? [T.ID] : [T.POS, T.NEG],
          bias, biasmode: [T.POS, T.NEG], wt: args.wt, x: args.a, out: z,
        });
        // R_in = a⁺ ⊙ (W⁺ᵀu + W⁻ᵀv) + a⁻ ⊙ (W⁻ᵀu + W⁺ᵀv), u = α·R/stab(z⁺), v = −β·R/stab(z⁻): the
        // K blocks are u and v; the a⁻ row block exists only for inputs that may be negative.
        const lrp = { z, zC: parts * p.o, eConst: LRP_DELTA, coef: [rule.alpha, -rule.beta] };
        const rowW: TransformCode[][] = [[T.POS, T.NEG], [T.NEG, T.POS]].map((row) => row.slice(0, parts) as TransformCode[]);
        if (nonNeg) {
          relevanceProduct({ kind: 'dgrad', p, kb: parts, wmode: [rowW[0]], wt: args.wt, x: args.r, mul: args.a, mulmode: [T.A], out: args.out, lrp });
        } else {
          const t = temp(2 * p.n * p.c * p.h * p.w);
          relevanceProduct({ kind: 'dgrad', p, rb: 2, kb: parts, wmode: rowW, wt: args.wt, x: args.r, mul: args.a, mulmode: [T.POS, T.NEG], out: t, lrp });
          dev.op('sumBlocks', Float64Array.of(t, args.out, p.n, 2, p.c * p.h * p.w), op);
        }
        return;
      }
      case 'zbox': {
        const lowT = dev.upload(channelBounds(rule.low, p.c), op);
        temps.push(lowT);
        const highT = dev.upload(channelBounds(rule.high, p.c), op);
        temps.push(highT);
        // z = W·a − W⁺·l − W⁻·h (no bias): three K blocks against a, −l and −h.
        const z = temp(zFloats);
        gemm({
          kind: 'fwd', p, kb: 3, wmode: [[T.ID, T.POS, T.NEG]], srcmode: [T.ID, T.CHAN0, T.CHAN1], chan0: lowT, chan1: highT,
          wt: args.wt, x: args.a, out: z,
        });
        // R_in = a ⊙ Wᵀs − l ⊙ W⁺ᵀs − h ⊙ W⁻ᵀs: three row blocks, then their sum.
        const t = temp(3 * p.n * p.c * p.h * p.w);
        relevanceProduct({
          kind: 'dgrad', p, rb: 3, wmode: [[T.ID], [T.POS], [T.NEG]], mulmode: [T.A, T.CHAN0, T.CHAN1], chan0: lowT, chan1: highT,
          wt: args.wt, x: args.r, mul: args.a, out: t, lrp: { z, zC: p.o, eConst: LRP_DELTA, coef: [1] },
        });
        dev.op('sumBlocks', Float64Array.of(t, args.out, p.n, 3, p.c * p.h * p.w), op);
        return;
      }
    }
  } finally {
    for (const t of temps) dev.free(t);
  }
}

/**
 * The TypeScript side of native/gemm.h: a conv problem, the product kinds, and the parameter block that
 * the addon's "gemm" op reads (same order as addon.cpp). Pure functions, so the packing and the LRP
 * plans are tested without a GPU.
 */

/** Transform codes (native/gemm.h Transform). */
export const T = { ZERO: 0, ID: 1, POS: 2, NEG: 3, GAMMA: 4, CHAN0: 5, CHAN1: 6, A: 7 } as const;
export type TransformCode = (typeof T)[keyof typeof T];

export type GemmKind = 'fwd' | 'dgrad' | 'wgrad';
const KIND: Record<GemmKind, number> = { fwd: 0, dgrad: 1, wgrad: 2 };

/** A convolution: input (n, c, h, w), weight (o, c, ks, ks), output (n, o, oh, ow). */
export interface ConvProblem {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly o: number;
  readonly ks: number;
  readonly stride: number;
  readonly pad: number;
  readonly oh: number;
  readonly ow: number;
}

export function convProblem(x: readonly number[], w: readonly number[], stride: number, pad: number): ConvProblem {
  const [n, c, h, wd] = x;
  const o = w[0];
  const ks = w[2];
  return { n, c, h, w: wd, o, ks, stride, pad, oh: Math.floor((h + 2 * pad - ks) / stride) + 1, ow: Math.floor((wd + 2 * pad - ks) / stride) + 1 };
}

/** A linear layer x (n, in) · w (out, in)ᵀ as the 1×1 conv of 1×1 images. */
export function linearProblem(n: number, inF: number, outF: number): ConvProblem {
  return { n, c: inF, h: 1, w: 1, o: outF, ks: 1, stride: 1, pad: 0, oh: 1, ow: 1 };
}

/** ConvTranspose2d(kernel 2, stride 2) of x (n, ci, h, w) to co channels is the DGRAD of this conv. */
export function convT2Problem(n: number, ci: number, co: number, h: number, w: number): ConvProblem {
  return { n, c: co, h: 2 * h, w: 2 * w, o: ci, ks: 2, stride: 2, pad: 0, oh: h, ow: w };
}

/** The relevance product's B operand coef[j]·x / stab(z_j, e): z has zC = kb·o channels; e per sample, or eConst. */
export interface LrpOperand {
  readonly z: number;
  readonly zC: number;
  readonly e?: number;
  readonly eConst?: number;
  readonly coef: readonly number[];
}

export interface GemmSpec {
  readonly kind: GemmKind;
  readonly p: ConvProblem;
  /** Row blocks (stacked outputs) and K blocks (summed operand pairs), 1–3 each. */
  readonly rb?: number;
  readonly kb?: number;
  /** A's transform per (row block, K block); default identity. */
  readonly wmode?: readonly (readonly TransformCode[])[];
  /** FWD: B's source per K block (ID, POS, NEG, CHAN0 = −chan0[c], CHAN1 = −chan1[c]). */
  readonly srcmode?: readonly TransformCode[];
  /** Bias transform per row block (when a bias is given). */
  readonly biasmode?: readonly TransformCode[];
  /** DGRAD: epilogue multiplier per row block (ID = 1, A = a, POS = a⁺, NEG = a⁻, CHAN0 = −chan0[c], CHAN1 = −chan1[c]). */
  readonly mulmode?: readonly TransformCode[];
  readonly gamma?: number;
  readonly wt: number;
  readonly x: number;
  readonly x2?: number;
  readonly bias?: number;
  /** DGRAD relevance: B = coef[j]·x / stab(z_j, e). */
  readonly lrp?: LrpOperand;
  readonly chan0?: number;
  readonly chan1?: number;
  readonly mul?: number;
  readonly out: number;
  readonly accumulate?: boolean;
}

export const GEMM_PARAM_COUNT = 49;

/** The parameter block of the addon's "gemm" op. */
export function packGemm(s: GemmSpec): Float64Array {
  const rb = s.rb ?? 1;
  const kb = s.kb ?? 1;
  if (rb < 1 || rb > 3 || kb < 1 || kb > 3) throw new Error(`gemm: block counts ${rb}×${kb} outside 1–3`);
  const v: number[] = [KIND[s.kind]];
  const p = s.p;
  v.push(p.n, p.c, p.h, p.w, p.o, p.ks, p.stride, p.pad, p.oh, p.ow, rb, kb);
  for (let r = 0; r < 3; r++) for (let j = 0; j < 3; j++) v.push(s.wmode?.[r]?.[j] ?? T.ID);
  for (let j = 0; j < 3; j++) v.push(s.srcmode?.[j] ?? T.ID);
  for (let j = 0; j < 3; j++) v.push(s.biasmode?.[j] ?? T.ID);
  for (let j = 0; j < 3; j++) v.push(s.mulmode?.[j] ?? T.ID);
  v.push(s.gamma ?? 0, s.wt, s.x, s.x2 ?? 0, s.bias ?? 0);
  v.push(s.lrp?.z ?? 0, s.lrp?.zC ?? 0, s.lrp?.e ?? 0, s.lrp?.eConst ?? 0);
  for (let j = 0; j < 3; j++) v.push(s.lrp?.coef[j] ?? 0);
  v.push(s.lrp ? 1 : 0, s.chan0 ?? 0, s.chan1 ?? 0, s.mul ?? 0, s.out, s.accumulate ? 1 : 0);
  if (v.length !== GEMM_PARAM_COUNT) throw new Error(`gemm: packed ${v.length} parameters, expected ${GEMM_PARAM_COUNT}`);
  return Float64Array.from(v);
}

/** Output shape of a product: FWD (n, rb·o, oh, ow), DGRAD (n, rb·c, h, w), WGRAD (o, c, ks, ks). */
export function gemmOutShape(kind: GemmKind, p: ConvProblem, rb = 1): number[] {
  if (kind === 'fwd') return [p.n, rb * p.o, p.oh, p.ow];
  if (kind === 'dgrad') return [p.n, rb * p.c, p.h, p.w];
  return [p.o, p.c, p.ks, p.ks];
}

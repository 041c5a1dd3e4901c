/**
 * Convolution-shaped products for the GEMM template (gemm.ts). A linear layer is the same thing on 1×1
 * images (C = in features, O = out features, H = W = k = 1), so linear ops and their relevance reuse
 * these specs.
 *
 * Forward variants compute `blocks` outputs at once (rows m = block·O + o) from `segments` stacked
 * copies of the input (k = segment·C·k² + …): LRP's modified forwards become one product, e.g.
 * alphabeta's z⁺ = W⁺a⁺ + W⁻a⁻ and z⁻ = W⁻a⁺ + W⁺a⁻ are two blocks over two segments.
 * Adjoint (transposed-convolution) variants gather their right operand from an output-shaped source,
 * which for LRP is the stabilised quotient R / stab(z, e), computed as it is loaded.
 */
import type { ParamField, StorageBinding } from './kernel.js';
import { LRP_HELPERS } from './kernel.js';
import type { GemmSpec, OperandWalk } from './gemm.js';
import { advance, decompose, digitFields, type Digit } from './walk.js';

/** Geometry parameters every conv product receives. */
export const CONV_PARAMS: readonly ParamField[] = [
  ['NB', 'u32'], ['C', 'u32'], ['H', 'u32'], ['W', 'u32'], ['O', 'u32'], ['KS', 'u32'], ['S', 'u32'], ['PAD', 'u32'], ['OH', 'u32'], ['OW', 'u32'],
];

export interface ConvGeometryValues {
  readonly NB: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly O: number;
  readonly KS: number;
  readonly S: number;
  readonly PAD: number;
  readonly OH: number;
  readonly OW: number;
}

const IM2COL = /* wgsl */ `
// The input value a product's column n (output pixel) sees at depth kc = (c, ky, kx); 0 in the padding.
// Returns vec2(value, 1) inside the image and vec2(0, 0) in the padding.
fn im2col(kc: u32, n: u32) -> vec2<f32> {
  let kk2 = p.KS * p.KS;
  let c = kc / kk2;
  let r = kc - c * kk2;
  let ky = r / p.KS;
  let kx = r - ky * p.KS;
  let ohw = p.OH * p.OW;
  let b = n / ohw;
  let pix = n - b * ohw;
  let oy = pix / p.OW;
  let ox = pix - oy * p.OW;
  let iy = i32(oy * p.S + ky) - i32(p.PAD);
  let ix = i32(ox * p.S + kx) - i32(p.PAD);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { return vec2<f32>(0.0, 0.0); }
  return vec2<f32>(x[((b * p.C + c) * p.H + u32(iy)) * p.W + u32(ix)], 1.0);
}
`;

export interface ForwardVariant {
  readonly name: string;
  readonly blocks: number;
  readonly segments: number;
  readonly params?: readonly ParamField[];
  /** Extra read bindings (after x and w, before the bias). */
  readonly extra?: readonly StorageBinding[];
  readonly bias: boolean;
  /** Body of fn wmap(mb: u32, seg: u32, w: f32) -> f32. */
  readonly wmap: string;
  /** Body of fn xmap(seg: u32, c: u32, v: f32) -> f32 (only called inside the image). */
  readonly xmap: string;
  /** Body of fn bmap(mb: u32, b: f32) -> f32 (only with a bias). */
  readonly bmap?: string;
}

// A forward product's depth k = ((seg·C + c)·KS + ky)·KS + kx and row m = block·O + o.
const FORWARD_K: readonly Digit[] = [['seg', null], ['c', 'p.C'], ['ky', 'p.KS'], ['kx', 'p.KS']];
const FORWARD_M: readonly Digit[] = [['mb', null], ['o', 'p.O']];

/** loadB of a forward product (im2col, then xmap) walking k at a fixed output pixel n. */
const forwardWalkB: OperandWalk = {
  fields: `b: u32, iy0: i32, ix0: i32, ${digitFields(FORWARD_K)}`,
  init: `
  let ohw = p.OH * p.OW;
  w.b = n / ohw;
  let pix = n - w.b * ohw;
  let oy = pix / p.OW;
  w.iy0 = i32(oy * p.S) - i32(p.PAD);
  w.ix0 = i32((pix - oy * p.OW) * p.S) - i32(p.PAD);
${decompose(FORWARD_K, 'k', 'step')}`,
  load: `
  let iy = w.iy0 + i32(w.ky);
  let ix = w.ix0 + i32(w.kx);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { return 0.0; }
  return xmap(w.seg, w.c, x[((w.b * p.C + w.c) * p.H + u32(iy)) * p.W + u32(ix)]);`,
  step: advance(FORWARD_K),
};

/** loadA of a forward product (the weights, through wmap) walking m at a fixed depth k. */
const forwardWalkA: OperandWalk = {
  fields: `seg: u32, kc: u32, ckk: u32, ${digitFields(FORWARD_M)}`,
  init: `
  w.ckk = p.C * p.KS * p.KS;
  w.seg = k / w.ckk;
  w.kc = k - w.seg * w.ckk;
${decompose(FORWARD_M, 'm', 'step')}`,
  load: '  return wmap(w.mb, w.seg, wt[w.o * w.ckk + w.kc]);',
  step: advance(FORWARD_M),
};

/** z[block, n, o, oy, ox] = Σ wmap(block, seg, W)·xmap(seg, x) (+ bmap(block, b)). M = blocks·O, N = NB·OH·OW, K = segments·C·k². */
export function convForwardSpec(v: ForwardVariant): GemmSpec {
  const bindings: StorageBinding[] = [
    { name: 'x', access: 'read' },
    { name: 'wt', access: 'read' },
    ...(v.extra ?? []),
    ...(v.bias ? [{ name: 'bias', access: 'read' } as const] : []),
    { name: 'out', access: 'read_write' },
  ];
  return {
    name: `convfwd:${v.name}`,
    params: [...CONV_PARAMS, ...(v.params ?? [])],
    bindings,
    helpers: `${LRP_HELPERS}${IM2COL}
fn wmap(mb: u32, seg: u32, w: f32) -> f32 {
${v.wmap}
}
fn xmap(seg: u32, c: u32, v: f32) -> f32 {
${v.xmap}
}
${v.bias ? `fn bmap(mb: u32, b: f32) -> f32 {\n${v.bmap ?? 'return b;'}\n}` : ''}
`,
    loadA: `
  let ckk = p.C * p.KS * p.KS;
  let mb = m / p.O;
  let o = m - mb * p.O;
  let seg = k / ckk;
  let kc = k - seg * ckk;
  return wmap(mb, seg, wt[o * ckk + kc]);`,
    loadB: `
  let ckk = p.C * p.KS * p.KS;
  let seg = k / ckk;
  let kc = k - seg * ckk;
  let xv = im2col(kc, n);
  if (xv.y == 0.0) { return 0.0; }
  return xmap(seg, kc / (p.KS * p.KS), xv.x);`,
    store: `
  let ohw = p.OH * p.OW;
  let mb = m / p.O;
  let o = m - mb * p.O;
  let b = n / ohw;
  let pix = n - b * ohw;
  out[((mb * p.NB + b) * p.O + o) * ohw + pix] = ${v.bias ? 'v + bmap(mb, bias[o])' : 'v'};`,
    walkA: forwardWalkA,
    walkB: forwardWalkB,
  };
}

export interface AdjointVariant {
  readonly name: string;
  readonly blocks: number;
  readonly segments: number;
  readonly params?: readonly ParamField[];
  /** Read bindings the source and epilogue use (besides wt and out). */
  readonly reads: readonly StorageBinding[];
  /** Body of fn wmapT(mb: u32, seg: u32, w: f32) -> f32. */
  readonly wmap: string;
  /** Body of fn src(seg: u32, b: u32, idx: u32) -> f32: the output-shaped operand at flat index idx. */
  readonly src: string;
  /** Body of fn epi(mb: u32, c: u32, idx: u32, v: f32): writes the result for input element idx. */
  readonly epilogue: string;
}

// An adjoint product's depth k = ((seg·O + o)·KS + ky)·KS + kx and row m = block·C + c.
const ADJOINT_K: readonly Digit[] = [['seg', null], ['o', 'p.O'], ['ky', 'p.KS'], ['kx', 'p.KS']];
const ADJOINT_M: readonly Digit[] = [['mb', null], ['c', 'p.C']];

/** loadB of an adjoint product (the gather from the output-shaped source) walking k at a fixed input pixel n. */
const adjointWalkB: OperandWalk = {
  fields: `b: u32, ty0: i32, tx0: i32, ${digitFields(ADJOINT_K)}`,
  init: `
  let hw = p.H * p.W;
  w.b = n / hw;
  let pix = n - w.b * hw;
  let y = pix / p.W;
  w.ty0 = i32(y + p.PAD);
  w.tx0 = i32(pix - y * p.W + p.PAD);
${decompose(ADJOINT_K, 'k', 'step')}`,
  load: `
  let ty = w.ty0 - i32(w.ky);
  let tx = w.tx0 - i32(w.kx);
  if (ty < 0 || tx < 0) { return 0.0; }
  var oy = u32(ty);
  var ox = u32(tx);
  if (p.S != 1u) {
    oy = oy / p.S;
    ox = ox / p.S;
    if (oy * p.S != u32(ty) || ox * p.S != u32(tx)) { return 0.0; }
  }
  if (oy >= p.OH || ox >= p.OW) { return 0.0; }
  return src(w.seg, w.b, ((w.b * p.O + w.o) * p.OH + oy) * p.OW + ox);`,
  step: advance(ADJOINT_K),
};

/** loadA of an adjoint product (the transposed weights, through wmapT) walking m at a fixed depth k. */
const adjointWalkA: OperandWalk = {
  fields: `seg: u32, kk2: u32, base: u32, ${digitFields(ADJOINT_M)}`,
  init: `
  w.kk2 = p.KS * p.KS;
  let okk = p.O * w.kk2;
  w.seg = k / okk;
  let kc = k - w.seg * okk;
  let o = kc / w.kk2;
  w.base = o * p.C * w.kk2 + (kc - o * w.kk2);
${decompose(ADJOINT_M, 'm', 'step')}`,
  load: '  return wmapT(w.mb, w.seg, wt[w.base + w.c * w.kk2]);',
  step: advance(ADJOINT_M),
};

/**
 * The adjoint (transposed convolution): out[block, n, c, y, x] = epi(Σ_{seg, o, ky, kx} wmapT(W[o, c, ky, kx])·src(dy-position)).
 * M = blocks·C, N = NB·H·W, K = segments·O·k².
 */
export function convAdjointSpec(v: AdjointVariant): GemmSpec {
  return {
    name: `convadj:${v.name}`,
    params: [...CONV_PARAMS, ...(v.params ?? [])],
    bindings: [{ name: 'wt', access: 'read' }, ...v.reads, { name: 'out', access: 'read_write' }],
    helpers: `${LRP_HELPERS}
fn wmapT(mb: u32, seg: u32, w: f32) -> f32 {
${v.wmap}
}
fn src(seg: u32, b: u32, idx: u32) -> f32 {
${v.src}
}
fn epi(mb: u32, c: u32, idx: u32, v: f32) {
${v.epilogue}
}
`,
    loadA: `
  let kk2 = p.KS * p.KS;
  let okk = p.O * kk2;
  let mb = m / p.C;
  let c = m - mb * p.C;
  let seg = k / okk;
  let kc = k - seg * okk;
  let o = kc / kk2;
  let r = kc - o * kk2;
  return wmapT(mb, seg, wt[(o * p.C + c) * kk2 + r]);`,
    loadB: `
  let kk2 = p.KS * p.KS;
  let okk = p.O * kk2;
  let seg = k / okk;
  let kc = k - seg * okk;
  let o = kc / kk2;
  let r = kc - o * kk2;
  let ky = r / p.KS;
  let kx = r - ky * p.KS;
  let hw = p.H * p.W;
  let b = n / hw;
  let pix = n - b * hw;
  let y = pix / p.W;
  let xx = pix - y * p.W;
  let ty = i32(y + p.PAD) - i32(ky);
  let tx = i32(xx + p.PAD) - i32(kx);
  if (ty < 0 || tx < 0) { return 0.0; }
  let oy = u32(ty) / p.S;
  let ox = u32(tx) / p.S;
  if (oy * p.S != u32(ty) || ox * p.S != u32(tx) || oy >= p.OH || ox >= p.OW) { return 0.0; }
  return src(seg, b, ((b * p.O + o) * p.OH + oy) * p.OW + ox);`,
    store: `
  let hw = p.H * p.W;
  let mb = m / p.C;
  let c = m - mb * p.C;
  let b = n / hw;
  let pix = n - b * hw;
  epi(mb, c, (b * p.C + c) * hw + pix, v);`,
    walkA: adjointWalkA,
    walkB: adjointWalkB,
  };
}

// A filter gradient's depth k = (b·OH + oy)·OW + ox (the output pixels); its row m = o.
const PIXELS: readonly Digit[] = [['b', null], ['oy', 'p.OH'], ['ox', 'p.OW']];
const ROW: readonly Digit[] = [['m', null]];

/** loadB of a filter gradient (im2col transposed) walking the pixels k at a fixed n = (c, ky, kx). */
const filterGradWalkB: OperandWalk = {
  fields: `c: u32, ky: u32, kx: u32, ${digitFields(PIXELS)}`,
  init: `
  let kk2 = p.KS * p.KS;
  w.c = n / kk2;
  let r = n - w.c * kk2;
  w.ky = r / p.KS;
  w.kx = r - w.ky * p.KS;
${decompose(PIXELS, 'k', 'step')}`,
  load: `
  let iy = i32(w.oy * p.S + w.ky) - i32(p.PAD);
  let ix = i32(w.ox * p.S + w.kx) - i32(p.PAD);
  if (iy < 0 || ix < 0 || iy >= i32(p.H) || ix >= i32(p.W)) { return 0.0; }
  return x[((w.b * p.C + w.c) * p.H + u32(iy)) * p.W + u32(ix)];`,
  step: advance(PIXELS),
};

/** loadA of a filter gradient (dy) walking the output channels m at a fixed pixel k. */
const filterGradWalkA: OperandWalk = {
  fields: `ohw: u32, base: u32, ${digitFields(ROW)}`,
  init: `
  w.ohw = p.OH * p.OW;
  let b = k / w.ohw;
  w.base = b * p.O * w.ohw + (k - b * w.ohw);
${decompose(ROW, 'm', 'step')}`,
  load: '  return dy[w.base + w.m * w.ohw];',
  step: advance(ROW),
};

/** dW[o, c, ky, kx] = Σ_{n, oy, ox} dy[n, o, oy, ox]·x[n, c, oy·s + ky − p, ox·s + kx − p]. M = O, N = C·k², K = NB·OH·OW. */
export function convFilterGradSpec(): GemmSpec {
  return {
    name: 'convdw',
    params: CONV_PARAMS,
    bindings: [{ name: 'dy', access: 'read' }, { name: 'x', access: 'read' }, { name: 'dw', access: 'read_write' }],
    helpers: IM2COL,
    loadA: `
  let ohw = p.OH * p.OW;
  let b = k / ohw;
  return dy[(b * p.O + m) * ohw + (k - b * ohw)];`,
    loadB: `
  return im2col(n, k).x;`,
    store: `
  dw[m * p.C * p.KS * p.KS + n] = v;`,
    walkA: filterGradWalkA,
    walkB: filterGradWalkB,
  };
}

// ---- 2×2 stride-2 transposed convolution (U-Net up-sampling) -------------------------------------

export const CONVT_PARAMS: readonly ParamField[] = [['NB', 'u32'], ['CI', 'u32'], ['CO', 'u32'], ['H', 'u32'], ['W', 'u32']];

const CONVT_HELPERS = /* wgsl */ `
// Flat index in the (NB, CO, 2H, 2W) output of output channel co, tap d = 2·dy + dx, input pixel (b, pix).
fn upIndex(b: u32, co: u32, d: u32, pix: u32) -> u32 {
  let y = pix / p.W;
  let xx = pix - y * p.W;
  return ((b * p.CO + co) * 2u * p.H + 2u * y + d / 2u) * 2u * p.W + 2u * xx + d % 2u;
}
`;

/** y = convT(x): M = CO·4, N = NB·H·W, K = CI. */
export function convTForwardSpec(bias: boolean): GemmSpec {
  return {
    name: `convt:${bias ? 'b' : 'nb'}`,
    params: CONVT_PARAMS,
    bindings: [{ name: 'x', access: 'read' }, { name: 'wt', access: 'read' }, ...(bias ? [{ name: 'bias', access: 'read' } as const] : []), { name: 'out', access: 'read_write' }],
    helpers: CONVT_HELPERS,
    loadA: `  return wt[k * p.CO * 4u + m];`,
    loadB: `
  let hw = p.H * p.W;
  let b = n / hw;
  return x[(b * p.CI + k) * hw + (n - b * hw)];`,
    store: `
  let hw = p.H * p.W;
  let b = n / hw;
  out[upIndex(b, m / 4u, m % 4u, n - b * hw)] = v${bias ? ' + bias[m / 4u]' : ''};`,
  };
}

/** dx of convT: M = CI, N = NB·H·W, K = CO·4. */
export function convTDataGradSpec(): GemmSpec {
  return {
    name: 'convt-dx',
    params: CONVT_PARAMS,
    bindings: [{ name: 'dy', access: 'read' }, { name: 'wt', access: 'read' }, { name: 'dx', access: 'read_write' }],
    helpers: CONVT_HELPERS,
    loadA: `  return wt[m * p.CO * 4u + k];`,
    loadB: `
  let hw = p.H * p.W;
  let b = n / hw;
  return dy[upIndex(b, k / 4u, k % 4u, n - b * hw)];`,
    store: `
  let hw = p.H * p.W;
  let b = n / hw;
  dx[(b * p.CI + m) * hw + (n - b * hw)] = v;`,
  };
}

/** dW of convT: M = CI, N = CO·4, K = NB·H·W. */
export function convTFilterGradSpec(): GemmSpec {
  return {
    name: 'convt-dw',
    params: CONVT_PARAMS,
    bindings: [{ name: 'dy', access: 'read' }, { name: 'x', access: 'read' }, { name: 'dw', access: 'read_write' }],
    helpers: CONVT_HELPERS,
    loadA: `
  let hw = p.H * p.W;
  let b = k / hw;
  return x[(b * p.CI + m) * hw + (k - b * hw)];`,
    loadB: `
  let hw = p.H * p.W;
  let b = k / hw;
  return dy[upIndex(b, n / 4u, n % 4u, k - b * hw)];`,
    store: `  dw[m * p.CO * 4u + n] = v;`,
  };
}

/**
 * Map and reduction kernels: elementwise ops, channel ops, pooling, losses, optimiser steps and the
 * small reductions of the relevance ops. Each is written to match the reference CPU kernels
 * (packages/core/src/cpu/kernels) up to float32 rounding.
 */
import { LRP_HELPERS, type Kernel, type StorageBinding } from './kernel.js';
import { mapKernel, reduceKernel } from './templates.js';

const R = (name: string, type: 'f32' | 'u32' = 'f32'): StorageBinding => ({ name, access: 'read', type });
const RW = (name: string, type: 'f32' | 'u32' = 'f32'): StorageBinding => ({ name, access: 'read_write', type });

// ---- elementwise ------------------------------------------------------------------------------

export type UnaryOp = 'relu' | 'sigmoid' | 'scale' | 'copy';

const SIGMOID = /* wgsl */ `
fn sigmoid1(x: f32) -> f32 {
  if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
  let e = exp(x);
  return e / (1.0 + e);
}
`;

export function unaryKernel(op: UnaryOp): Kernel {
  const body: Record<UnaryOp, string> = {
    relu: 'out[i] = select(0.0, x[i], x[i] > 0.0);',
    sigmoid: 'out[i] = sigmoid1(x[i]);',
    scale: 'out[i] = x[i] * p.s;',
    copy: 'out[i] = x[i];',
  };
  return mapKernel(`unary:${op}`, op === 'scale' ? [['s', 'f32']] : [], [R('x'), RW('out')], `  ${body[op]}`, op === 'sigmoid' ? SIGMOID : '');
}

export type BinaryOp = 'add' | 'mul' | 'reluBackward' | 'sigmoidBackward';

export function binaryKernel(op: BinaryOp): Kernel {
  const body: Record<BinaryOp, string> = {
    add: 'out[i] = a[i] + b[i];',
    mul: 'out[i] = a[i] * b[i];',
    reluBackward: 'out[i] = select(0.0, a[i], b[i] > 0.0);', // a = dy, b = y
    sigmoidBackward: 'out[i] = a[i] * b[i] * (1.0 - b[i]);',
  };
  return mapKernel(`binary:${op}`, [], [R('a'), R('b'), RW('out')], `  ${body[op]}`);
}

/** y = x·scale[c] + shift[c]; `sc` holds scale then shift (2·C values). */
export function affineChannelsKernel(): Kernel {
  return mapKernel('affine', [['C', 'u32'], ['plane', 'u32']], [R('x'), R('sc'), RW('out')], `
  let c = (i / p.plane) % p.C;
  out[i] = x[i] * sc[c] + sc[p.C + c];`);
}

export function sumChannelsKernel(): Kernel {
  return mapKernel('sumchannels', [['C', 'u32'], ['plane', 'u32']], [R('x'), RW('out')], `
  let b = i / p.plane;
  let pix = i - b * p.plane;
  var s = 0.0;
  for (var c = 0u; c < p.C; c++) { s += x[(b * p.C + c) * p.plane + pix]; }
  out[i] = s;`);
}

export function selectClassKernel(): Kernel {
  return mapKernel('selectclass', [['K', 'u32']], [R('x'), R('tgt', 'u32'), RW('out')], `
  let row = i / p.K;
  out[i] = select(0.0, x[i], i - row * p.K == tgt[row]);`);
}

export function concatChannelsKernel(): Kernel {
  return mapKernel('concat', [['C1', 'u32'], ['C2', 'u32'], ['plane', 'u32']], [R('a'), R('b'), RW('out')], `
  let per = (p.C1 + p.C2) * p.plane;
  let n = i / per;
  let rest = i - n * per;
  if (rest < p.C1 * p.plane) { out[i] = a[n * p.C1 * p.plane + rest]; }
  else { out[i] = b[n * p.C2 * p.plane + rest - p.C1 * p.plane]; }`);
}

export function sliceChannelsKernel(): Kernel {
  return mapKernel('slice', [['C', 'u32'], ['start', 'u32'], ['count2', 'u32'], ['plane', 'u32']], [R('x'), RW('out')], `
  let per = p.count2 * p.plane;
  let n = i / per;
  let rest = i - n * per;
  out[i] = x[(n * p.C + p.start) * p.plane + rest];`);
}

/** Sum of `blocks` equally sized blocks of t (combines the partial relevances of alphabeta and zbox). */
export function sumBlocksKernel(): Kernel {
  return mapKernel('sumblocks', [['blocks', 'u32']], [R('t'), RW('out')], `
  var s = t[i];
  for (var k = 1u; k < p.blocks; k++) { s += t[k * p.count + i]; }
  out[i] = clean(s);`, LRP_HELPERS);
}

/**
 * The relevance ops' stabilised quotients q = R / stab(z, e), computed once per element before the
 * adjoint product instead of at each of its k² reads of R and z (the same division: the same bits). z
 * holds count / ZS segments of ZS values that share one R (alphabeta's z⁺ and z⁻); e is per sample (L
 * values each) or δ. `inPlace` overwrites z with q (when z is the op's own scratch), else q is a binding.
 */
export function quotientKernel(perSample: boolean, inPlace: boolean): Kernel {
  const bindings = [R('r'), ...(perSample ? [R('e')] : []), ...(inPlace ? [RW('z')] : [R('z'), RW('q')])];
  return mapKernel(`quotient:${perSample ? 'e' : 'd'}${inPlace ? ':z' : ''}`, [['ZS', 'u32'], ['L', 'u32'], ['delta', 'f32']], bindings, `
  let idx = i % p.ZS;
  ${inPlace ? 'z' : 'q'}[i] = r[idx] / stab(z[i], ${perSample ? 'e[idx / p.L]' : 'p.delta'});`, LRP_HELPERS);
}

// ---- softmax and losses ----------------------------------------------------------------------

export function softmaxKernel(): Kernel {
  return mapKernel('softmax', [['K', 'u32']], [R('x'), RW('out')], `
  let r = i * p.K;
  var mx = x[r];
  for (var j = 1u; j < p.K; j++) { mx = max(mx, x[r + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.K; j++) { s += exp(x[r + j] - mx); }
  for (var j = 0u; j < p.K; j++) { out[r + j] = exp(x[r + j] - mx) / s; }`);
}

const LOG1P = /* wgsl */ `
// log(1 + u) accurate for small u (Goldberg's trick)
fn log1p1(u: f32) -> f32 {
  let w = 1.0 + u;
  if (w == 1.0) { return u; }
  return log(w) * u / (w - 1.0);
}
fn softplus(x: f32) -> f32 { return max(x, 0.0) + log1p1(exp(-abs(x))); }
`;

/**
 * Cross-entropy, one group over the rows: item(row) writes the row's gradient and returns w[y]·ℓ;
 * finish divides by Σ w[y] (`wsum`, from the host). `cw` holds the per-class weights (1 without).
 */
export function crossEntropyKernel(): Kernel {
  return reduceKernel('crossentropy', [['K', 'u32'], ['wsum', 'f32']], [R('x'), R('labels', 'u32'), R('cw'), RW('d'), RW('loss')], `
  let r = i * p.K;
  let y = labels[i];
  let wi = cw[y];
  var mx = x[r];
  for (var j = 1u; j < p.K; j++) { mx = max(mx, x[r + j]); }
  var s = 0.0;
  for (var j = 0u; j < p.K; j++) { s += exp(x[r + j] - mx); }
  let f = wi / p.wsum;
  for (var j = 0u; j < p.K; j++) { d[r + j] = f * (exp(x[r + j] - mx) / s - select(0.0, 1.0, j == y)); }
  return wi * (mx + log(s) - x[r + y]);`, `
  loss[0] = s / p.wsum;`);
}

export function bceKernel(): Kernel {
  return reduceKernel('bce', [['pw', 'f32'], ['count', 'f32']], [R('x'), R('t'), RW('d'), RW('loss')], `
  let xi = x[i];
  let ti = t[i];
  let s = sigmoid1(xi);
  d[i] = (p.pw * ti * (s - 1.0) + (1.0 - ti) * s) / p.count;
  return p.pw * ti * softplus(-xi) + (1.0 - ti) * softplus(xi);`, `
  loss[0] = s / p.count;`, SIGMOID + LOG1P);
}

// ---- pooling -----------------------------------------------------------------------------------

const POOL_PARAMS = [['C', 'u32'], ['H', 'u32'], ['W', 'u32'], ['KS', 'u32'], ['S', 'u32'], ['OH', 'u32'], ['OW', 'u32']] as const;

const ARGMAX = /* wgsl */ `
// Index within its plane of window (oy, ox)'s maximum: the first in row-major order on ties; NaN wins.
fn argmax(base: u32, oy: u32, ox: u32) -> u32 {
  let y0 = oy * p.S;
  let x0 = ox * p.S;
  var best = y0 * p.W + x0;
  var bv = x[base + best];
  for (var ky = 0u; ky < p.KS; ky++) {
    for (var kx = 0u; kx < p.KS; kx++) {
      let j = (y0 + ky) * p.W + x0 + kx;
      let v = x[base + j];
      if (v > bv || (v != v && bv == bv)) { bv = v; best = j; }
    }
  }
  return best;
}
`;

export function maxPoolKernel(): Kernel {
  return mapKernel('maxpool', [...POOL_PARAMS], [R('x'), RW('out')], `
  let ohw = p.OH * p.OW;
  let plane = i / ohw;
  let r = i - plane * ohw;
  let oy = r / p.OW;
  let base = plane * p.H * p.W;
  out[i] = x[base + argmax(base, oy, r - oy * p.OW)];`, ARGMAX);
}

/** Windows (oy, ox) that contain input row y: oy in [lo, hi]. */
const WINDOW_RANGE = /* wgsl */ `
fn windows(y: u32, outSize: u32) -> vec2<u32> {
  var lo = 0u;
  if (y + 1u > p.KS) { lo = (y + 1u - p.KS + p.S - 1u) / p.S; }
  let hi = min(y / p.S, outSize - 1u);
  return vec2<u32>(lo, hi);
}
`;

/**
 * Gathers, for every input element, what the windows containing it send back, in ascending window
 * order (the order the CPU reference accumulates in):
 *   grad / wta: g[window] where the element is the window's argmax;
 *   avg:        x·R[window] / stab(Σ_window x, δ).
 */
export function poolBackKernel(kind: 'wta' | 'avg'): Kernel {
  const per = kind === 'wta'
    ? `if (argmax(base, oy, ox) == j) { acc += g[gi]; }`
    : `var s = 0.0;
        for (var ky = 0u; ky < p.KS; ky++) { for (var kx = 0u; kx < p.KS; kx++) { s += x[base + (oy * p.S + ky) * p.W + ox * p.S + kx]; } }
        acc += x[i] * (g[gi] / stab(s, p.delta));`;
  return mapKernel(`poolback:${kind}`, [...POOL_PARAMS, ['delta', 'f32']], [R('x'), R('g'), RW('out')], `
  let hw = p.H * p.W;
  let plane = i / hw;
  let j = i - plane * hw;
  let y = j / p.W;
  let xx = j - y * p.W;
  let base = plane * hw;
  let ry = windows(y, p.OH);
  let rx = windows(xx, p.OW);
  var acc = 0.0;
  if (ry.x <= ry.y && rx.x <= rx.y) {
    for (var oy = ry.x; oy <= ry.y; oy++) {
      for (var ox = rx.x; ox <= rx.y; ox++) {
        let gi = (plane * p.OH + oy) * p.OW + ox;
        ${per}
      }
    }
  }
  out[i] = acc;`, ARGMAX + WINDOW_RANGE + LRP_HELPERS);
}

// ---- optimisers ----------------------------------------------------------------------------------

export function sgdKernel(momentum: boolean, nesterov: boolean): Kernel {
  return mapKernel(`sgd:${momentum ? 'm' : ''}${nesterov ? 'n' : ''}`, [['lr', 'f32'], ['mu', 'f32'], ['wd', 'f32']], [RW('param'), R('grad'), RW('buf')], `
  var g = grad[i] + p.wd * param[i];
  ${momentum ? `let b = p.mu * buf[i] + g;
  buf[i] = b;
  g = ${nesterov ? 'g + p.mu * b' : 'b'};` : ''}
  param[i] = param[i] - p.lr * g;`);
}

export function adamKernel(decoupled: boolean): Kernel {
  return mapKernel(`adam:${decoupled ? 'w' : 'l2'}`, [['lr', 'f32'], ['b1', 'f32'], ['b2', 'f32'], ['omb1', 'f32'], ['omb2', 'f32'], ['eps', 'f32'], ['wd', 'f32'], ['stepSize', 'f32'], ['bc2sqrt', 'f32']],
    [RW('param'), R('grad'), RW('m'), RW('v')], `
  var theta = param[i];
  var g = grad[i];
  ${decoupled ? 'theta = theta * (1.0 - p.lr * p.wd);' : 'g = g + p.wd * theta;'}
  let mi = p.b1 * m[i] + p.omb1 * g;
  let vi = p.b2 * v[i] + p.omb2 * g * g;
  m[i] = mi;
  v[i] = vi;
  param[i] = theta - (p.stepSize * mi) / (sqrt(vi) / p.bc2sqrt + p.eps);`);
}

// ---- reductions --------------------------------------------------------------------------------

/** Bias gradient: db[g] = Σ_{n, pix} dy[n, g, pix] with `plane` pixels per channel and G channels. */
export function biasGradKernel(): Kernel {
  return reduceKernel('biasgrad', [['plane', 'u32']], [R('dy'), RW('db')], `
  let b = i / p.plane;
  return dy[(b * p.G + g) * p.plane + i - b * p.plane];`, `
  db[g] = s;`);
}

/** LRP-ε's stabiliser per sample: e[g] = max(δ, E·sqrt(mean(z²))) over the sample's L outputs. */
export function epsilonKernel(): Kernel {
  return reduceKernel('epsilon', [['E', 'f32'], ['delta', 'f32']], [R('z'), RW('e')], `
  let v = z[g * p.L + i];
  return v * v;`, `
  e[g] = max(p.delta, p.E * sqrt(s / f32(p.L)));`);
}

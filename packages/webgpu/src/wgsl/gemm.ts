/**
 * One template for every matrix-product-shaped op: C[m, n] = Σ_k A(m, k)·B(k, n), where A and B are
 * WGSL functions that compute their operand on the fly (im2col, transposed-conv gathers, LRP weight
 * and input modifications, stabilised divisions) and `store` is the epilogue (bias, product with the
 * activation, layout). Convolutions, their gradients, linear layers and the relevance ops all use it.
 *
 * Two bodies: the tiled one stages TM×TK and TK×TN operand tiles in workgroup memory, each thread
 * holding an RM×RN block of accumulators; the naive one (kept for comparison) has each thread read
 * its operands straight from A and B. Both accumulate over k in ascending order with fma, so they
 * agree bit for bit when the tiles are f32.
 */
import { header, type Kernel, type ParamField, type StorageBinding } from './kernel.js';

export interface TileConfig {
  /** Threads per workgroup along n (x) and m (y). */
  readonly wx: number;
  readonly wy: number;
  /** Outputs per thread along m and n. */
  readonly rm: number;
  readonly rn: number;
  /** Depth of a k-step staged in workgroup memory. */
  readonly tk: number;
  /** Operand tiles stored as f16 (needs the shader-f16 feature); accumulation stays f32. */
  readonly f16: boolean;
}

export type GemmMode = TileConfig | 'naive';

export interface DeviceLimitsLike {
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupSizeY: number;
  readonly maxComputeWorkgroupStorageSize: number;
}

/** Workgroup memory a tile configuration needs, in bytes. */
export function tileBytes(t: TileConfig): number {
  return (t.wy * t.rm + t.wx * t.rn) * t.tk * (t.f16 ? 2 : 4);
}

function deepestFitting(shape: Omit<TileConfig, 'tk'>, limits: DeviceLimitsLike): TileConfig | null {
  for (const tk of [64, 32, 16, 8, 4]) {
    const t: TileConfig = { ...shape, tk };
    if (tileBytes(t) <= limits.maxComputeWorkgroupStorageSize) return t;
  }
  return null;
}

/**
 * The largest square tile the adapter allows: 16×16 threads (8×8 where fewer invocations are allowed),
 * 4×4 outputs per thread, and the deepest k-step (64, 32, 16, 8 or 4) whose two tiles fit in workgroup
 * memory (SwiftShader's 32 KiB: 64; WebGPU's default 16 KiB: 32).
 */
export function chooseTile(limits: DeviceLimitsLike, f16 = false): TileConfig {
  const side = limits.maxComputeInvocationsPerWorkgroup >= 256 && limits.maxComputeWorkgroupSizeX >= 16 && limits.maxComputeWorkgroupSizeY >= 16 ? 16 : 8;
  return deepestFitting({ wx: side, wy: side, rm: 4, rn: 4, f16 }, limits) ?? { wx: side, wy: side, rm: 1, rn: 1, tk: 4, f16 };
}

/**
 * Tiles for the three shapes of product that occur: square (64×64), wide for few rows (m ≤ 16: the
 * adjoint of a first layer has m = 3 input channels) and tall for few columns (n ≤ 16: linear layers at
 * small batches, the last convolutions of small images). A 64×64 tile would waste up to 95 % there.
 * The wide and tall ones use as many threads as the square one, in a 64×(threads/64) arrangement.
 */
export interface TileSet {
  readonly square: TileConfig;
  readonly wide: TileConfig;
  readonly tall: TileConfig;
}

export function chooseTiles(limits: DeviceLimitsLike, f16 = false): TileSet {
  const square = chooseTile(limits, f16);
  const threads = square.wx * square.wy;
  const long = Math.min(64, limits.maxComputeWorkgroupSizeX, limits.maxComputeWorkgroupSizeY, threads);
  const short = threads / long;
  const wide = deepestFitting({ wx: long, wy: short, rm: 4, rn: 4, f16 }, limits) ?? square;
  const tall = deepestFitting({ wx: short, wy: long, rm: 4, rn: 4, f16 }, limits) ?? square;
  return { square, wide, tall };
}

/** The tile for an m×n product. */
export function pickTile(tiles: TileSet, m: number, n: number): TileConfig {
  const tm = tiles.wide.wy * tiles.wide.rm;
  const tn = tiles.tall.wx * tiles.tall.rn;
  if (m <= tm && n > 4 * tm) return tiles.wide;
  if (n <= tn && m > 4 * tn) return tiles.tall;
  return tiles.square;
}

export function modeKey(mode: GemmMode): string {
  return mode === 'naive' ? 'naive' : `t${mode.wx}x${mode.wy}r${mode.rm}x${mode.rn}k${mode.tk}${mode.f16 ? 'h' : ''}`;
}

export interface GemmSpec {
  /** Names the variant (everything that changes the WGSL besides the tile). */
  readonly name: string;
  /** Parameters besides M, N, K (which come first). */
  readonly params: readonly ParamField[];
  readonly bindings: readonly StorageBinding[];
  readonly helpers?: string;
  /** Body of fn loadA(m: u32, k: u32) -> f32; called only with m < M, k < K. */
  readonly loadA: string;
  /** Body of fn loadB(k: u32, n: u32) -> f32; called only with k < K, n < N. */
  readonly loadB: string;
  /** Body of fn store(m: u32, n: u32, v: f32); called only with m < M, n < N. */
  readonly store: string;
  /** loadA as a walk along m at a fixed k (the tiled kernels' k-steps): same values, fewer divisions. */
  readonly walkA?: OperandWalk;
  /** loadB as a walk along k at a fixed n (a tiled kernel thread's column): same values, fewer divisions. */
  readonly walkB?: OperandWalk;
}

/**
 * An operand computed by walking: a tiled kernel's thread loads its operand elements along one index
 * with a constant stride (walkA: m, at one k per k-step; walkB: k, at one n for the whole kernel), so the
 * fixed index is decomposed once and the walked one advanced with carries (walk.ts) instead of divided
 * at every element. It must give exactly loadA's / loadB's values: the kernels with and without walks
 * agree bit for bit. Used where the tile makes every thread's stride constant (walkUse), else the loads.
 */
export interface OperandWalk {
  /** Fields of the walker's struct (WGSL, e.g. 'b: u32, iy0: i32,'). */
  readonly fields: string;
  /** Body of fn init(m or k, k or n, step: u32): sets the fields of `var w` for that element, walking by `step`. */
  readonly init: string;
  /** Body of fn load(w: struct) -> f32: the operand at the walker's element (called only inside M, N, K). */
  readonly load: string;
  /** Body of fn step(w: ptr<function, struct>): advances the walked index by the init's step. */
  readonly step: string;
}

/** Which operand walks a tile allows: each thread's fixed index constant and its stride dividing the tile. */
export function walkUse(t: TileConfig): { a: boolean; b: boolean } {
  const threads = t.wx * t.wy;
  const tm = t.wy * t.rm;
  const tn = t.wx * t.rn;
  return {
    a: threads % t.tk === 0 && tm % (threads / t.tk) === 0,
    b: threads % tn === 0 && t.tk % (threads / tn) === 0,
  };
}

function walkFunctions(name: 'A' | 'B', w: OperandWalk): string {
  const [fixedFirst, args] = name === 'A' ? ['m', 'm: u32, k: u32'] : ['k', 'k: u32, n: u32'];
  return `struct Walk${name} { ${w.fields} }
// walk${name}Init: the walker at (${args.replace(/: u32/g, '')}), advancing ${fixedFirst} by step
fn walk${name}Init(${args}, step: u32) -> Walk${name} {
  var w: Walk${name};
${w.init}
  return w;
}
fn walk${name}Load(w: Walk${name}) -> f32 {
${w.load}
}
fn walk${name}Step(w: ptr<function, Walk${name}>) {
${w.step}
}
`;
}

function operandFunctions(spec: GemmSpec, walks: { a: boolean; b: boolean }): string {
  return `${spec.helpers ?? ''}
fn loadA(m: u32, k: u32) -> f32 {
${spec.loadA}
}
fn loadB(k: u32, n: u32) -> f32 {
${spec.loadB}
}
fn store(m: u32, n: u32, v: f32) {
${spec.store}
}
${walks.a && spec.walkA ? walkFunctions('A', spec.walkA) : ''}${walks.b && spec.walkB ? walkFunctions('B', spec.walkB) : ''}`;
}

/** Straight-line WGSL for `count` items (the accumulators live in registers, not an indexed array). */
function unrolled(count: number, line: (i: number) => string): string {
  return Array.from({ length: count }, (_, i) => line(i)).join('\n');
}

/**
 * XOR mask of the A tile's swizzle: the A tile is filled along k (consecutive threads, consecutive k,
 * for coalesced reads of A's rows), which with a row stride of TM words puts a warp's 32 stores in one
 * workgroup-memory bank; storing element (kk, mm) at kk·TM + (mm ^ (kk & mask)) spreads them over 32.
 * 0 (no swizzle) where TM is not a power of two.
 */
export function swizzleMask(t: TileConfig): number {
  const tm = t.wy * t.rm;
  return tm >= 2 && (tm & (tm - 1)) === 0 ? Math.min(tm, 32) - 1 : 0;
}

export interface KernelChoices {
  /** Operand walks where the tile allows them (OperandWalk). */
  readonly walk: boolean;
  /** The A tile's XOR swizzle (swizzleMask). */
  readonly swizzle: boolean;
}

function tiledBody(t: TileConfig, walks: { a: boolean; b: boolean }, swizzle: boolean): string {
  const T = t.f16 ? 'f16' : 'f32';
  const swz = swizzle ? swizzleMask(t) : 0;
  const aCol = (mm: string, kk: string): string => (swz ? `((${mm}) ^ (${kk} & ${swz}u))` : mm);
  const tm = t.wy * t.rm;
  const tn = t.wx * t.rn;
  const threads = t.wx * t.wy;
  const cells: [number, number][] = [];
  for (let i = 0; i < t.rm; i++) for (let j = 0; j < t.rn; j++) cells.push([i, j]);
  return `
const WX = ${t.wx}u;
const WY = ${t.wy}u;
const TM = ${tm}u;
const TN = ${tn}u;
const TK = ${t.tk}u;
const THREADS = ${threads}u;
var<workgroup> As: array<${T}, ${tm * t.tk}>;
var<workgroup> Bs: array<${T}, ${tn * t.tk}>;

@compute @workgroup_size(${t.wx}, ${t.wy}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let m0 = wid.y * TM;
  let n0 = (wid.x + wid.z * nwg.x) * TN;
  if (n0 >= p.N) { return; }
${unrolled(cells.length, (c) => `  var acc${c} = 0.0;`)}${walks.b ? `
  // this thread's column n is fixed (THREADS is a multiple of TN) and its k advances by THREADS / TN
  var wb = walkBInit(li / TN, n0 + li % TN, THREADS / TN);` : ''}
  for (var k0 = 0u; k0 < p.K; k0 += TK) {${walks.a ? `
    // this thread's k is fixed within the step (THREADS is a multiple of TK) and its m advances by THREADS / TK
    var wa = walkAInit(m0 + li / TK, k0 + li % TK, THREADS / TK);` : ''}
    for (var i = li; i < TM * TK; i += THREADS) {
      let mm = i / TK;
      let kk = i % TK;
      let m = m0 + mm;
      let k = k0 + kk;
      var v = 0.0;
      if (m < p.M && k < p.K) { v = ${walks.a ? 'walkALoad(wa)' : 'loadA(m, k)'}; }
      As[kk * TM + ${aCol('mm', 'kk')}] = ${T}(v);${walks.a ? '\n      walkAStep(&wa);' : ''}
    }
    for (var i = li; i < TN * TK; i += THREADS) {
      let nn = i % TN;
      let kk = i / TN;
      let n = n0 + nn;
      let k = k0 + kk;
      var v = 0.0;
      if (n < p.N && k < p.K) { v = ${walks.b ? 'walkBLoad(wb)' : 'loadB(k, n)'}; }
      Bs[kk * TN + nn] = ${T}(v);${walks.b ? '\n      walkBStep(&wb);' : ''}
    }
    workgroupBarrier();
    let kEnd = min(TK, p.K - k0);
    for (var kk = 0u; kk < kEnd; kk++) {
${unrolled(t.rm, (i) => `      let a${i} = f32(As[kk * TM + ${aCol(`lid.y + ${i * t.wy}u`, 'kk')}]);`)}
${unrolled(t.rn, (j) => `      let b${j} = f32(Bs[kk * TN + lid.x + ${j * t.wx}u]);`)}
${unrolled(cells.length, (c) => `      acc${c} = fma(a${cells[c][0]}, b${cells[c][1]}, acc${c});`)}
    }
    workgroupBarrier();
  }
${unrolled(cells.length, (c) => `  store_if(m0 + lid.y + ${cells[c][0] * t.wy}u, n0 + lid.x + ${cells[c][1] * t.wx}u, acc${c});`)}
}
fn store_if(m: u32, n: u32, v: f32) {
  if (m < p.M && n < p.N) { store(m, n, v); }
}
`;
}

const NAIVE_SIDE = 16;

function naiveBody(): string {
  return `
@compute @workgroup_size(${NAIVE_SIDE}, ${NAIVE_SIDE}, 1)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let n = (wid.x + wid.z * nwg.x) * ${NAIVE_SIDE}u + lid.x;
  let m = wid.y * ${NAIVE_SIDE}u + lid.y;
  if (m >= p.M || n >= p.N) { return; }
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) { acc = fma(loadA(m, k), loadB(k, n), acc); }
  store(m, n, acc);
}
`;
}

/**
 * The kernel for a spec and mode. By default the tiled kernels walk the spec's operands where the tile
 * allows it and keep the plain A tile; `choices` changes either (neither changes a bit of the result).
 */
export function gemmKernel(spec: GemmSpec, mode: GemmMode, choices: KernelChoices = { walk: true, swizzle: false }): Kernel {
  const params: ParamField[] = [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ...spec.params];
  const allowed = mode === 'naive' || !choices.walk ? { a: false, b: false } : walkUse(mode);
  const walks = { a: allowed.a && spec.walkA !== undefined, b: allowed.b && spec.walkB !== undefined };
  const swizzle = mode !== 'naive' && choices.swizzle && swizzleMask(mode) > 0;
  return {
    key: `gemm:${spec.name}:${modeKey(mode)}${walks.a ? ':wa' : ''}${walks.b ? ':wb' : ''}${swizzle ? ':sw' : ''}`,
    params,
    bindings: spec.bindings,
    wgsl: () =>
      header(params, spec.bindings, mode !== 'naive' && mode.f16 ? 'enable f16;\n' : '') +
      operandFunctions(spec, walks) +
      (mode === 'naive' ? naiveBody() : tiledBody(mode, walks, swizzle)),
  };
}

/** Workgroups for an M×N product: x·z covers the n-tiles (z only when x would pass the limit), y the m-tiles. */
export function gemmGrid(m: number, n: number, mode: GemmMode, maxPerDim: number): [number, number, number] {
  const tm = mode === 'naive' ? NAIVE_SIDE : mode.wy * mode.rm;
  const tn = mode === 'naive' ? NAIVE_SIDE : mode.wx * mode.rn;
  const tilesM = Math.ceil(m / tm);
  const tilesN = Math.ceil(n / tn);
  if (tilesM > maxPerDim) throw new RangeError(`${tilesM} row tiles exceed the device's ${maxPerDim} workgroups per dimension`);
  const x = Math.min(tilesN, maxPerDim);
  return [x, tilesM, x === 0 ? 0 : Math.ceil(tilesN / x)];
}

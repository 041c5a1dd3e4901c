/**
 * The two small templates besides the GEMM: a map (one invocation per output element) and a grouped
 * reduction (one workgroup per group, a fixed-order tree, so results never depend on the batch).
 */
import { header, type Kernel, type ParamField, type StorageBinding } from './kernel.js';

export const MAP_WORKGROUP = 256;
export const REDUCE_WORKGROUP = 256;

/** `body` runs for every flat index `i` < p.count. */
export function mapKernel(name: string, params: readonly ParamField[], bindings: readonly StorageBinding[], body: string, helpers = ''): Kernel {
  const all: ParamField[] = [['count', 'u32'], ...params];
  return {
    key: `map:${name}`,
    params: all,
    bindings,
    wgsl: () => `${header(all, bindings)}${helpers}
@compute @workgroup_size(${MAP_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.x + wid.y * nwg.x) * ${MAP_WORKGROUP}u + lid.x;
  if (i >= p.count) { return; }
${body}
}
`,
  };
}

/**
 * For each group g < p.G: s = Σ_{i < p.L} item(g, i) (strided per thread, then a tree), then finish(g, s).
 * `item` may also write (loss kernels write their gradient there).
 */
export function reduceKernel(name: string, params: readonly ParamField[], bindings: readonly StorageBinding[], item: string, finish: string, helpers = ''): Kernel {
  const all: ParamField[] = [['G', 'u32'], ['L', 'u32'], ...params];
  const wg = REDUCE_WORKGROUP;
  return {
    key: `reduce:${name}`,
    params: all,
    bindings,
    wgsl: () => `${header(all, bindings)}${helpers}
fn item(g: u32, i: u32) -> f32 {
${item}
}
fn finish(g: u32, s: f32) {
${finish}
}
var<workgroup> part: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= p.G) { return; }
  var s = 0.0;
  for (var i = lid.x; i < p.L; i += ${wg}u) { s += item(g, i); }
  part[lid.x] = s;
  workgroupBarrier();
  for (var w = ${wg / 2}u; w > 0u; w = w / 2u) {
    if (lid.x < w) { part[lid.x] += part[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { finish(g, part[0]); }
}
`,
  };
}

/** Workgroups for `groups` flat groups: x up to the per-dimension limit, y for the rest. */
export function flatGrid(groups: number, maxPerDim: number): [number, number, number] {
  if (groups === 0) return [0, 1, 1];
  const x = Math.min(groups, maxPerDim);
  return [x, Math.ceil(groups / x), 1];
}

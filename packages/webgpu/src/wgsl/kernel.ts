/**
 * A compute kernel as data: its WGSL, the fields of its uniform parameter struct (binding 0) and its
 * storage bindings (1, 2, …). The key names the shader variant; the pipeline cache compiles each key once.
 */

export type ParamType = 'u32' | 'f32';
export type ParamField = readonly [name: string, type: ParamType];

export interface StorageBinding {
  readonly name: string;
  readonly access: 'read' | 'read_write';
  readonly type?: 'f32' | 'u32';
}

export interface Kernel {
  readonly key: string;
  readonly params: readonly ParamField[];
  readonly bindings: readonly StorageBinding[];
  /** Full WGSL source (generated lazily: only on a pipeline-cache miss). */
  wgsl(): string;
}

/** The uniform struct `P` and the binding declarations every kernel starts with. */
export function header(params: readonly ParamField[], bindings: readonly StorageBinding[], enables = ''): string {
  const fields = params.length > 0 ? params.map(([n, t]) => `  ${n}: ${t},`).join('\n') : '  unused: u32,';
  const decls = bindings.map((b, i) => `@group(0) @binding(${i + 1}) var<storage, ${b.access}> ${b.name}: array<${b.type ?? 'f32'}>;`);
  return `${enables}struct P {\n${fields}\n}\n@group(0) @binding(0) var<uniform> p: P;\n${decls.join('\n')}\n`;
}

/** Bytes of the uniform struct (4 per scalar field), rounded up to 16. */
export function paramBytes(params: readonly ParamField[]): number {
  return Math.max(16, Math.ceil((params.length * 4) / 16) * 16);
}

/** Writes the parameter values into `view` at `offset`, in declaration order. */
export function packParams(params: readonly ParamField[], values: Readonly<Record<string, number>>, view: DataView, offset: number): void {
  params.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined) throw new Error(`kernel parameter ${name} missing`);
    if (type === 'u32') view.setUint32(offset + 4 * i, v, true);
    else view.setFloat32(offset + 4 * i, v, true);
  });
}

/** WGSL helpers shared by the relevance kernels. */
export const LRP_HELPERS = /* wgsl */ `
// stab(z, e) = z + e·sign(z), sign(0) = +1 (LRP.md)
fn stab(z: f32, e: f32) -> f32 { return select(z - e, z + e, z >= 0.0); }
// -0 → +0, so that a zero relevance reads as the reference's +0
fn clean(v: f32) -> f32 { return select(v, 0.0, v == 0.0); }
fn pos(v: f32) -> f32 { return max(v, 0.0); }
fn neg(v: f32) -> f32 { return min(v, 0.0); }
`;

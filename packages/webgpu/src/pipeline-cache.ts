/**
 * Compute pipelines cached by kernel key (the shader variant and the tile it was generated for): each
 * WGSL variant is generated and compiled once per device. Compilation is asynchronous
 * (createComputePipelineAsync), so that a new variant never blocks the event loop; the command queue
 * waits for `ready` before it encodes a batch that uses the pipeline. Bind-group layouts are explicit
 * (and created at once), so that bind groups can be made before the pipeline exists.
 */
import { paramBytes, type Kernel } from './wgsl/kernel.js';

export interface CachedKernel {
  readonly key: string;
  readonly layout: GPUBindGroupLayout;
  readonly paramBytes: number;
  /** Set once compiled. */
  pipeline: GPUComputePipeline | null;
  /** Resolves when compiled; rejects with the compiler's message. */
  readonly ready: Promise<void>;
}

export class PipelineCache {
  private readonly cache = new Map<string, CachedKernel>();
  /** Pipelines requested so far (a cache miss each). */
  compiled = 0;
  /** Pipelines whose compilation has finished. */
  ready = 0;

  constructor(private readonly device: GPUDevice) {}

  get(kernel: Kernel): CachedKernel {
    const hit = this.cache.get(kernel.key);
    if (hit) return hit;
    const layout = this.device.createBindGroupLayout({
      label: kernel.key,
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        ...kernel.bindings.map((b, i): GPUBindGroupLayoutEntry => ({
          binding: i + 1,
          visibility: GPUShaderStage.COMPUTE,
          buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
        })),
      ],
    });
    const module = this.device.createShaderModule({ label: kernel.key, code: kernel.wgsl() });
    const entry: { -readonly [K in keyof CachedKernel]: CachedKernel[K] } = {
      key: kernel.key,
      layout,
      paramBytes: paramBytes(kernel.params),
      pipeline: null,
      ready: Promise.resolve(),
    };
    entry.ready = this.device
      .createComputePipelineAsync({
        label: kernel.key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
      })
      .then(
        (p) => {
          entry.pipeline = p;
          this.ready++;
        },
        (e: unknown) => {
          throw new Error(`kernel ${kernel.key} failed to compile: ${(e as Error).message ?? String(e)}`, { cause: e });
        },
      );
    // Consumers attach their own handlers; this one only keeps an early failure from being "unhandled".
    entry.ready.catch(() => undefined);
    this.cache.set(kernel.key, entry);
    this.compiled++;
    return entry;
  }

  get size(): number {
    return this.cache.size;
  }
}

/**
 * Size-bucketed free lists of GPU buffers (the onnxruntime-web idea): a released buffer goes back to
 * the list of its bucket and is handed out again for any request of that bucket. Buckets are powers of
 * two up to 1 MiB and eighths of a power of two above, so no buffer is more than 12.5 % larger than
 * asked (beyond 1 MiB). The caller decides when a buffer may be released (after the GPU work that
 * uses it is done: see command-queue.ts).
 */

const MIN_BYTES = 256;
const POW2_UP_TO = 1 << 20;

/** The bucket (allocated size) for a request of `bytes`. */
export function bucketSize(bytes: number): number {
  const b = Math.max(MIN_BYTES, bytes);
  const pow = 2 ** Math.ceil(Math.log2(b));
  if (pow <= POW2_UP_TO) return pow;
  const step = pow / 16; // eighths of the power of two below `pow`
  return Math.ceil(b / step) * step;
}

export interface PoolStats {
  /** Buffers created since the pool started. */
  created: number;
  /** Requests served from a free list. */
  reused: number;
  /** Bytes held in free lists now. */
  freeBytes: number;
  /** Bytes handed out and not yet released. */
  liveBytes: number;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly sizes = new WeakMap<GPUBuffer, number>();
  readonly stats: PoolStats = { created: 0, reused: 0, freeBytes: 0, liveBytes: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
    /** Free-list bytes beyond which released buffers are destroyed instead of kept. */
    private readonly maxFreeBytes: number,
    /** The device's largest buffer: a bucket never rounds a request past it. */
    private readonly maxBufferBytes = Number.POSITIVE_INFINITY,
  ) {}

  acquire(bytes: number): GPUBuffer {
    const bucket = bucketSize(bytes);
    const size = bucket <= this.maxBufferBytes ? bucket : Math.ceil(bytes / 16) * 16;
    const list = this.free.get(size);
    const reused = list?.pop();
    this.stats.liveBytes += size;
    if (reused) {
      this.stats.reused++;
      this.stats.freeBytes -= size;
      return reused;
    }
    const buf = this.device.createBuffer({ size, usage: this.usage, label: `${this.label} ${size}` });
    this.sizes.set(buf, size);
    this.stats.created++;
    return buf;
  }

  release(buf: GPUBuffer): void {
    const size = this.sizes.get(buf);
    if (size === undefined) throw new Error('BufferPool.release: buffer does not belong to this pool');
    this.stats.liveBytes -= size;
    if (this.stats.freeBytes + size > this.maxFreeBytes) {
      buf.destroy();
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.stats.freeBytes += size;
  }

  /** Destroys every free buffer (live ones are destroyed with the device). */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.stats.freeBytes = 0;
  }
}

import { Tensor, type Backend, type Shape } from '@lrpseg/core';

/** A tensor whose values live in a GPU storage buffer owned by its backend's pool. */
export class WebgpuTensor extends Tensor {
  readonly backend: Backend;
  private storage: GPUBuffer | null;

  /**
   * @param nonNegative every value is known to be ≥ 0 by construction (a ReLU's output, or max-pooled
   *   or reshaped from one); relevance ops skip the negative half of alphabeta for such inputs.
   */
  constructor(backend: Backend, shape: Shape, buffer: GPUBuffer, private readonly onRelease: (b: GPUBuffer) => void, readonly nonNegative = false) {
    super(shape);
    this.backend = backend;
    this.storage = buffer;
  }

  /** The storage buffer (throws DISPOSED once released). */
  get buffer(): GPUBuffer {
    if (!this.storage) this.assertLive('buffer');
    return this.storage as GPUBuffer;
  }

  protected release(): void {
    const b = this.storage;
    this.storage = null;
    if (b) this.onRelease(b);
  }
}

import { Tensor, type Shape } from '../tensor.js';
import { LrpsegError, fmtShape } from '../errors.js';
import type { Backend } from '../backend.js';

/** A tensor of the CPU backend: its values live in `data` (length = size). */
export class CpuTensor extends Tensor {
  readonly backend: Backend;
  private storage: Float32Array | null;

  constructor(backend: Backend, shape: Shape, data: Float32Array) {
    super(shape);
    if (data.length !== this.size) {
      throw new LrpsegError('SHAPE_MISMATCH', `tensor data of length ${data.length} does not fit shape ${fmtShape(shape)}`);
    }
    this.backend = backend;
    this.storage = data;
  }

  get data(): Float32Array {
    if (!this.storage) this.assertLive('data');
    return this.storage as Float32Array;
  }

  protected release(): void {
    this.storage = null;
  }
}

import { Tensor, type Backend, type Shape } from '@lrpseg/core';

/** Device memory shared by a tensor and its reshaped views; freed when the last of them is disposed. */
export class DeviceStorage {
  private refs = 1;
  constructor(
    readonly ptr: number,
    readonly bytes: number,
    private readonly free: (s: DeviceStorage) => void,
  ) {}

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) this.free(this);
  }
}

/**
 * A tensor of the CUDA backend. `nonNegative` is host-side knowledge of the values (ReLU outputs, pools
 * of them, uploads without negatives), which lets the αβ rule skip the a⁻ half without reading the device.
 */
export class CudaTensor extends Tensor {
  readonly backend: Backend;
  readonly storage: DeviceStorage;
  readonly nonNegative: boolean;

  constructor(backend: Backend, shape: Shape, storage: DeviceStorage, nonNegative = false) {
    super(shape);
    this.backend = backend;
    this.storage = storage;
    this.nonNegative = nonNegative;
  }

  get ptr(): number {
    return this.storage.ptr;
  }

  protected release(): void {
    this.storage.release();
  }
}

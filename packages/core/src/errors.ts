/**
 * Typed errors with stable codes. The CLI maps each code to one line and an exit status
 * (ARCHITECTURE.md, principle 6).
 */
export type LrpsegErrorCode =
  | 'SHAPE_MISMATCH' // an op received tensors whose shapes do not fit
  | 'BAD_MODEL_FILE' // safetensors file unreadable, malformed, or not matching its architecture
  | 'BAD_ARRAY_FILE' // .npy file unreadable or of an unsupported dtype/rank
  | 'BAD_INPUT' // user input (image, option, rule spec) that cannot be used
  | 'BAD_RULE_SPEC' // a composite or rule string that does not parse or does not fit the model
  | 'DISPOSED' // a tensor was used after dispose()
  | 'WRONG_BACKEND' // a tensor was passed to a backend that does not own it
  | 'NO_DEVICE' // a backend's device (CUDA, WebGPU adapter) is not available
  | 'OUT_OF_DEVICE_MEMORY'
  | 'NOT_IMPLEMENTED';

export class LrpsegError extends Error {
  readonly code: LrpsegErrorCode;
  constructor(code: LrpsegErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LrpsegError';
    this.code = code;
  }
}

export function shapeError(op: string, detail: string): LrpsegError {
  return new LrpsegError('SHAPE_MISMATCH', `${op}: ${detail}`);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

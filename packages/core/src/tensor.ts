import { LrpsegError, fmtShape } from './errors.js';
import type { Backend } from './backend.js';

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

let nextId = 1;

/**
 * A float32 tensor (NCHW where it has 4 dims) whose storage belongs to one backend.
 * Release it with dispose(), or create it inside scope() to have it released for you.
 */
export abstract class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly size: number;
  abstract readonly backend: Backend;
  private disposedFlag = false;

  protected constructor(shape: Shape) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new LrpsegError('SHAPE_MISMATCH', `invalid shape ${fmtShape(shape)}`);
    }
    this.shape = Object.freeze([...shape]);
    this.size = sizeOf(shape);
    trackInCurrentScope(this);
  }

  get disposed(): boolean {
    return this.disposedFlag;
  }

  /** Releases the storage. Idempotent. */
  dispose(): void {
    if (this.disposedFlag) return;
    this.disposedFlag = true;
    this.release();
  }

  /** Backend-specific release of storage; called once. */
  protected abstract release(): void;

  /** Copies the values to the host (a promise: GPU backends read asynchronously). */
  read(): Promise<Float32Array> {
    return this.backend.read(this);
  }

  /** Marks the tensor to survive the enclosing scope(s). */
  keep(): this {
    keep(this);
    return this;
  }

  assertLive(op: string): void {
    if (this.disposedFlag) throw new LrpsegError('DISPOSED', `${op}: tensor #${this.id} ${fmtShape(this.shape)} was disposed`);
  }
}

// ---- scopes ---------------------------------------------------------------

type Scope = { tensors: Set<Tensor> };
const scopeStack: Scope[] = [];
const kept = new WeakSet<Tensor>();

function trackInCurrentScope(t: Tensor): void {
  const s = scopeStack[scopeStack.length - 1];
  if (s) s.tensors.add(t);
}

/** Exempts a tensor from disposal by every enclosing scope. */
export function keep<T extends Tensor>(t: T): T {
  kept.add(t);
  for (const s of scopeStack) s.tensors.delete(t);
  return t;
}

function collectTensors(value: unknown, out: Set<Tensor>, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== 'object') return;
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, depth + 1);
    return;
  }
  if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
  }
}

function closeScope(s: Scope, result: unknown): void {
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  const parent = scopeStack[scopeStack.length - 1];
  for (const t of s.tensors) {
    if (survivors.has(t)) {
      if (parent) parent.tensors.add(t);
    } else if (!kept.has(t)) {
      t.dispose();
    }
  }
}

/**
 * Runs fn; every tensor created inside and not returned (directly, or inside an array, Map or
 * plain object) nor kept is disposed when fn returns or throws. Synchronous fn only: tensors created
 * after an await would land in whatever scope is open then. For async work use scopeAsync.
 */
export function scope<T>(fn: () => T): T {
  const s: Scope = { tensors: new Set() };
  scopeStack.push(s);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scopeStack.pop();
    closeScope(s, undefined);
    throw e;
  }
  scopeStack.pop();
  if (result instanceof Promise) {
    throw new LrpsegError('BAD_INPUT', 'scope(): fn returned a Promise; use scopeAsync for async work');
  }
  closeScope(s, result);
  return result;
}

/**
 * A scope entered several times with awaits in between (a forward pass that reads batch statistics
 * back, say): tensors created inside `run` belong to the session until `close`, which disposes those
 * not in its result nor kept. Only the synchronous `run` calls are on the scope stack, so nothing
 * created elsewhere during an await lands here.
 */
export class TensorSession {
  private readonly s: Scope = { tensors: new Set() };
  private closed = false;

  run<T>(fn: () => T): T {
    if (this.closed) throw new LrpsegError('BAD_INPUT', 'TensorSession.run: the session was closed');
    scopeStack.push(this.s);
    let result: T;
    try {
      result = fn();
    } finally {
      scopeStack.pop();
    }
    if (result instanceof Promise) throw new LrpsegError('BAD_INPUT', 'TensorSession.run: fn returned a Promise; await outside run');
    return result;
  }

  /** Disposes every tensor of the session except those in `result` (which move to the enclosing scope). */
  close(result?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    closeScope(this.s, result);
  }
}

/**
 * Async variant: tracks tensors explicitly registered through the `track` callback (global stacks
 * cannot follow awaits), and disposes those not returned.
 */
export async function scopeAsync<T>(fn: (track: <U extends Tensor>(t: U) => U) => Promise<T>): Promise<T> {
  const owned = new Set<Tensor>();
  const track = <U extends Tensor>(t: U): U => {
    owned.add(t);
    return t;
  };
  let result: T | undefined;
  try {
    result = await fn(track);
    return result;
  } finally {
    const survivors = new Set<Tensor>();
    collectTensors(result, survivors);
    for (const t of owned) if (!survivors.has(t) && !kept.has(t)) t.dispose();
  }
}

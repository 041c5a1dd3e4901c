/**
 * Reader and writer for NumPy's .npy format, versions 1.0 to 3.0 (FORMATS.md, "Arrays"). Pure
 * TypeScript on Uint8Array. Layout: magic "\x93NUMPY", major and minor version bytes, header
 * length (u16 for 1.0, u32 for 2.0/3.0, little-endian), a header that is a Python dict literal,
 * then the data in C order.
 */
import { LrpsegError, fmtShape } from '../errors.js';
import { copyLittleEndian, decodeFloat16 } from './safetensors.js';

export type NpyDtype = 'f4' | 'f8' | 'u1' | 'b1' | 'i1' | 'i2' | 'i4' | 'i8' | 'u2' | 'u4' | 'f2';

export type NpyData =
  | Float32Array
  | Float64Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint16Array
  | Uint32Array;

export interface NpyArray {
  readonly dtype: NpyDtype;
  readonly shape: readonly number[];
  /** f2 is decoded to Float32Array, i8 to Float64Array (exact up to 2^53), b1 to 0/1 bytes. */
  readonly data: NpyData;
}

interface DtypeInfo {
  readonly size: number;
  readonly name: string;
  readonly decode: (buffer: ArrayBuffer) => NpyData;
}

const DTYPES: Readonly<Record<NpyDtype, DtypeInfo>> = {
  f4: { size: 4, name: 'float32', decode: (b) => new Float32Array(b) },
  f8: { size: 8, name: 'float64', decode: (b) => new Float64Array(b) },
  f2: { size: 2, name: 'float16', decode: (b) => decodeFloat16(new Uint16Array(b)) },
  u1: { size: 1, name: 'uint8', decode: (b) => new Uint8Array(b) },
  b1: { size: 1, name: 'bool', decode: (b) => new Uint8Array(b).map((v) => (v === 0 ? 0 : 1)) },
  i1: { size: 1, name: 'int8', decode: (b) => new Int8Array(b) },
  i2: { size: 2, name: 'int16', decode: (b) => new Int16Array(b) },
  i4: { size: 4, name: 'int32', decode: (b) => new Int32Array(b) },
  i8: { size: 8, name: 'int64', decode: (b) => Float64Array.from(new BigInt64Array(b), (v) => Number(v)) },
  u2: { size: 2, name: 'uint16', decode: (b) => new Uint16Array(b) },
  u4: { size: 4, name: 'uint32', decode: (b) => new Uint32Array(b) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
/** numpy aligns the data to 64 bytes so that files can be memory-mapped. */
const ARRAY_ALIGN = 64;
/** numpy leaves room in the header for the first axis to grow to this many digits. */
const GROWTH_AXIS_MAX_DIGITS = 21;
const MAX_NESTING = 16;

/** Internal failure; the public entry points add the context (".npy file" or the caller's `what`). */
class NpyProblem extends Error {}

function describe(dtype: NpyDtype): string {
  return `${DTYPES[dtype].name} (${dtype})`;
}

// ---------------------------------------------------------------------------------------------
// Reading

export function parseNpy(bytes: Uint8Array): NpyArray {
  return withContext('.npy file', () => readNpy(bytes));
}

/** Reads and validates: dtype must be one of `allowed`, rank must be in `ranks`; errors name what was expected and what was found. */
export function expectNpy(
  bytes: Uint8Array,
  what: string,
  opts: { dtypes?: readonly NpyDtype[]; ranks?: readonly number[] },
): NpyArray {
  return withContext(what, () => {
    const array = readNpy(bytes);
    if (opts.dtypes !== undefined && !opts.dtypes.includes(array.dtype)) {
      throw new NpyProblem(`expected dtype ${opts.dtypes.map(describe).join(' or ')}, found ${describe(array.dtype)}`);
    }
    if (opts.ranks !== undefined && !opts.ranks.includes(array.shape.length)) {
      const ranks = opts.ranks.map((r) => `${r}-d`).join(' or ');
      throw new NpyProblem(`expected a ${ranks} array, found a ${array.shape.length}-d array of shape ${fmtShape(array.shape)}`);
    }
    return array;
  });
}

/** The values as float32; an f4 array's own data is returned as is, not copied. */
export function npyToFloat32(a: NpyArray): Float32Array {
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
}

function withContext<T>(what: string, body: () => T): T {
  try {
    return body();
  } catch (e) {
    if (e instanceof NpyProblem) throw new LrpsegError('BAD_ARRAY_FILE', `${what}: ${e.message}`);
    throw e;
  }
}

function readNpy(bytes: Uint8Array): NpyArray {
  const { headerText, dataStart } = readPreamble(bytes);
  const { dtype, shape } = interpretHeader(new PyLiteralParser(headerText).parseDocument());
  const count = shape.reduce((a, b) => a * b, 1);
  const needed = count * DTYPES[dtype].size;
  const available = bytes.length - dataStart;
  if (needed > available) {
    throw new NpyProblem(`data is ${available} bytes but shape ${fmtShape(shape)} of ${describe(dtype)} needs ${needed}`);
  }
  const buffer = copyLittleEndian(bytes, dataStart, count, DTYPES[dtype].size);
  return { dtype, shape, data: DTYPES[dtype].decode(buffer) };
}

function readPreamble(bytes: Uint8Array): { headerText: string; dataStart: number } {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyProblem('not a .npy file (it does not start with "\\x93NUMPY")');
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (!(major >= 1 && major <= 3 && minor === 0)) {
    throw new NpyProblem(`unsupported format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new NpyProblem('file ends inside the header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = 8 + lengthBytes;
  const dataStart = headerStart + headerLength;
  if (dataStart > bytes.length) {
    throw new NpyProblem(`header length ${headerLength} exceeds the file (${bytes.length - headerStart} bytes follow)`);
  }
  const raw = bytes.subarray(headerStart, dataStart);
  return { headerText: major === 3 ? decodeUtf8(raw) : decodeLatin1(raw), dataStart };
}

function decodeUtf8(raw: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(raw);
  } catch {
    throw new NpyProblem('header is not valid UTF-8');
  }
}

/** Not TextDecoder('latin1'): the Encoding standard maps that label to windows-1252. */
function decodeLatin1(raw: Uint8Array): string {
  let text = '';
  for (let i = 0; i < raw.length; i += 4096) {
    text += String.fromCharCode(...raw.subarray(i, i + 4096));
  }
  return text;
}

function interpretHeader(header: PyValue): { dtype: NpyDtype; shape: number[] } {
  if (!(header instanceof Map)) throw new NpyProblem('header is not a dict');
  for (const key of ['descr', 'fortran_order', 'shape']) {
    if (!header.has(key)) throw new NpyProblem(`header has no '${key}' key`);
  }
  const descr = header.get('descr');
  if (Array.isArray(descr)) throw new NpyProblem('structured dtypes are not supported');
  if (typeof descr !== 'string') throw new NpyProblem("header 'descr' is not a string");
  const dtype = parseDescr(descr);

  const shape = header.get('shape');
  if (!Array.isArray(shape)) throw new NpyProblem("header 'shape' is not a tuple");
  if (!shape.every((d): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new NpyProblem("header 'shape' has a dimension that is not a non-negative integer");
  }

  const fortranOrder = header.get('fortran_order');
  if (typeof fortranOrder !== 'boolean') throw new NpyProblem("header 'fortran_order' is not True or False");
  // With at most one axis, Fortran and C order are the same layout.
  if (fortranOrder && shape.length > 1) {
    throw new NpyProblem('Fortran-order arrays are not supported (save a C-contiguous array)');
  }
  return { dtype, shape };
}

function parseDescr(descr: string): NpyDtype {
  const match = /^([<>|=]?)([a-z])(\d+)$/.exec(descr);
  const key = match === null ? '' : `${match[2]}${match[3]}`;
  if (match === null || !Object.hasOwn(DTYPES, key)) {
    throw new NpyProblem(`unsupported dtype '${descr}' (supported: ${Object.keys(DTYPES).join(', ')})`);
  }
  if (match[1] === '>' && DTYPES[key as NpyDtype].size > 1) {
    throw new NpyProblem(`big-endian arrays are not supported (dtype '${descr}')`);
  }
  return key as NpyDtype;
}

// ---------------------------------------------------------------------------------------------
// The header's Python literal: dicts, tuples, lists, strings, integers, True/False/None.

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

class PyLiteralParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parseDocument(): PyValue {
    const value = this.value(0);
    this.skipSpace();
    if (this.pos < this.text.length) throw this.unexpected();
    return value;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_NESTING) throw new NpyProblem('header is nested too deeply');
    this.skipSpace();
    const c = this.peek();
    if (c === '{') return this.dict(depth);
    if (c === '(' || c === '[') return this.sequence(depth);
    if (c === "'" || c === '"') return this.string();
    if (/^[-+0-9]$/.test(c)) return this.integer();
    if (/^[A-Za-z_]$/.test(c)) return this.keyword();
    throw this.unexpected();
  }

  private dict(depth: number): Map<string, PyValue> {
    const result = new Map<string, PyValue>();
    this.pos++; // '{'
    while (!this.consume('}')) {
      const key = this.value(depth + 1);
      if (typeof key !== 'string') throw new NpyProblem('header dict has a key that is not a string');
      if (!this.consume(':')) throw this.unexpected();
      result.set(key, this.value(depth + 1));
      if (!this.consume(',')) {
        if (!this.consume('}')) throw this.unexpected();
        break;
      }
    }
    return result;
  }

  /** A tuple or list. "(5)" is just 5 in Python, while "(5,)" is a tuple. */
  private sequence(depth: number): PyValue {
    const close = this.peek() === '(' ? ')' : ']';
    this.pos++;
    const items: PyValue[] = [];
    let sawComma = false;
    while (!this.consume(close)) {
      items.push(this.value(depth + 1));
      if (this.consume(',')) {
        sawComma = true;
      } else {
        if (!this.consume(close)) throw this.unexpected();
        break;
      }
    }
    return close === ')' && items.length === 1 && !sawComma ? items[0] : items;
  }

  private string(): string {
    const quote = this.text[this.pos++];
    let result = '';
    for (;;) {
      const c = this.text[this.pos++];
      if (c === undefined) throw new NpyProblem('header ends inside a string');
      if (c === quote) return result;
      if (c === '\\') {
        const escaped = this.text[this.pos++];
        if (escaped === undefined) throw new NpyProblem('header ends inside a string');
        result += escaped === 'n' ? '\n' : escaped === 't' ? '\t' : escaped;
      } else {
        result += c;
      }
    }
  }

  private integer(): number {
    // Python 2 era files may write long integers as "3L".
    const match = /^[-+]?[0-9]+[lL]?/.exec(this.text.slice(this.pos, this.pos + 64));
    if (match === null) throw this.unexpected();
    this.pos += match[0].length;
    if (/^[.eEjJxX0-9]/.test(this.peek())) throw new NpyProblem('header has a number that is not a plain integer');
    return Number(match[0].replace(/[lL]$/, ''));
  }

  private keyword(): PyValue {
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos, this.pos + 64)) as RegExpExecArray;
    const word = match[0];
    this.pos += word.length;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    throw new NpyProblem(`header has an unexpected name '${word}'`);
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /^\s$/.test(this.text[this.pos])) this.pos++;
  }

  private peek(): string {
    return this.text[this.pos] ?? '';
  }

  private consume(c: string): boolean {
    this.skipSpace();
    if (this.peek() !== c) return false;
    this.pos++;
    return true;
  }

  private unexpected(): NpyProblem {
    if (this.pos >= this.text.length) return new NpyProblem('header ends too early');
    return new NpyProblem(`header has an unexpected ${JSON.stringify(this.text[this.pos])} at offset ${this.pos}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

const WRITE_DESCR = { f4: '<f4', f8: '<f8', u1: '|u1', b1: '|b1' } as const;
type WritableDtype = keyof typeof WRITE_DESCR;

/**
 * Writes the bytes `numpy.save` would: version 1.0 (2.0 if the header needs it), header padded
 * so the data starts at a multiple of 64. Float data may be written as either float dtype;
 * u1/b1 need a Uint8Array (b1 stores nonzero as 1).
 */
export function serializeNpy(
  data: Float32Array | Float64Array | Uint8Array,
  shape: readonly number[],
  dtype?: WritableDtype,
): Uint8Array {
  return withContext('cannot write .npy', () => {
    const dt = dtype ?? inferDtype(data);
    if (!Object.hasOwn(WRITE_DESCR, dt)) throw new NpyProblem(`unsupported dtype '${String(dt)}'`);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new NpyProblem(`shape ${fmtShape(shape)} has a dimension that is not a non-negative integer`);
    }
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new NpyProblem(`shape ${fmtShape(shape)} holds ${count} values but data has ${data.length}`);
    }
    const header = wrapHeader(headerDict(WRITE_DESCR[dt], shape));
    const payload = payloadFor(data, dt);
    const out = new Uint8Array(header.length + payload.byteLength);
    out.set(header);
    out.set(payload, header.length);
    return out;
  });
}

function inferDtype(data: Float32Array | Float64Array | Uint8Array): WritableDtype {
  if (data instanceof Float32Array) return 'f4';
  if (data instanceof Float64Array) return 'f8';
  if (data instanceof Uint8Array) return 'u1';
  throw new NpyProblem('data is not a Float32Array, Float64Array or Uint8Array');
}

/** Little-endian bytes of the data in the requested dtype. */
function payloadFor(data: Float32Array | Float64Array | Uint8Array, dtype: WritableDtype): Uint8Array {
  if (dtype === 'u1' || dtype === 'b1') {
    if (!(data instanceof Uint8Array)) throw new NpyProblem(`dtype ${describe(dtype)} needs a Uint8Array`);
    return dtype === 'b1' ? data.map((v) => (v === 0 ? 0 : 1)) : data;
  }
  if (data instanceof Uint8Array) throw new NpyProblem(`dtype ${describe(dtype)} needs a Float32Array or Float64Array`);
  const typed = dtype === 'f4' ? Float32Array.from(data) : Float64Array.from(data);
  // copyLittleEndian is its own inverse: it swaps only on big-endian hosts.
  const raw = new Uint8Array(typed.buffer);
  return new Uint8Array(copyLittleEndian(raw, 0, typed.length, typed.BYTES_PER_ELEMENT));
}

/** numpy's own repr-based text: keys sorted, trailing ", ", then spare room for the first axis. */
function headerDict(descr: string, shape: readonly number[]): string {
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const spare = shape.length > 0 ? GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length : 0;
  return dict + ' '.repeat(spare);
}

/** Magic, version, length, header, spaces and a final newline, padded to ARRAY_ALIGN. */
function wrapHeader(dict: string): Uint8Array {
  const textLength = dict.length + 1; // + '\n'
  let major = 1;
  let prefix = 10;
  let padding = ARRAY_ALIGN - ((prefix + textLength) % ARRAY_ALIGN);
  if (textLength + padding > 0xffff) {
    major = 2;
    prefix = 12;
    padding = ARRAY_ALIGN - ((prefix + textLength) % ARRAY_ALIGN);
  }
  const out = new Uint8Array(prefix + textLength + padding);
  out.set(MAGIC);
  out[6] = major;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, textLength + padding, true);
  else view.setUint32(8, textLength + padding, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  out.fill(0x20, prefix + dict.length, out.length - 1);
  out[out.length - 1] = 0x0a;
  return out;
}

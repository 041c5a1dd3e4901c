/**
 * Reader and writer for the safetensors format (FORMATS.md, "Model files"). Pure TypeScript on
 * Uint8Array, so it runs in browsers too. Layout: u64 little-endian header length N, N bytes of
 * UTF-8 JSON header, then the data section that the header's `data_offsets` point into.
 */
import { LrpsegError } from '../errors.js';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface StoredTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** The values converted to float32, in C order. */
  readonly data: Float32Array;
}

export interface SafetensorsFile {
  readonly tensors: Map<string, StoredTensor>;
  readonly metadata: Record<string, string>;
}

const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};
/** Same limit as the reference implementation: larger headers are refused before decoding. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

function bad(message: string): LrpsegError {
  return new LrpsegError('BAD_MODEL_FILE', `safetensors: ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Byte helpers shared with npy.ts

const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copies `count` elements of `elemSize` bytes starting at `start` into a fresh (hence aligned)
 * buffer in host byte order, ready to be viewed by a typed array. The file is little-endian.
 */
export function copyLittleEndian(bytes: Uint8Array, start: number, count: number, elemSize: number): ArrayBuffer {
  // Not bytes.slice(): on a Node Buffer that returns a view into a shared pool, not a copy.
  const copy = new Uint8Array(count * elemSize);
  copy.set(bytes.subarray(start, start + copy.length));
  if (!HOST_IS_LITTLE_ENDIAN && elemSize > 1) copy.set(swapBytes(copy, elemSize));
  return copy.buffer;
}

/** Writes typed-array contents into `out` at `offset` in little-endian order. */
function writeLittleEndian(out: Uint8Array, offset: number, src: ArrayBufferView, elemSize: number): void {
  const raw = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  out.set(HOST_IS_LITTLE_ENDIAN || elemSize === 1 ? raw : swapBytes(raw, elemSize), offset);
}

function swapBytes(raw: Uint8Array, elemSize: number): Uint8Array {
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += elemSize) {
    for (let j = 0; j < elemSize; j++) out[i + j] = raw[i + elemSize - 1 - j];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// float16 / bfloat16

let f16Table: Float32Array | undefined;

/** IEEE 754 binary16 bits to a number; exact, since every float16 is a float32. */
export function float16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1024 + mantissa) * 2 ** (exponent - 25);
}

/** Decodes float16 bit patterns (via a 64K-entry table built on first use: models are large). */
export function decodeFloat16(bits: Uint16Array): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) f16Table[h] = float16BitsToNumber(h);
  }
  const table = f16Table;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** bfloat16 is the upper half of a float32; going through the bits keeps NaN payloads too. */
function decodeBfloat16(bits: Uint16Array): Float32Array {
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return new Float32Array(words.buffer);
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/**
 * float32 value to float16 bits, rounding to nearest even. Finite values too large for float16
 * come out as infinity (0x7c00 | sign); callers that must stay finite check for that.
 */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13));
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    // Result is subnormal (or zero): the 24-bit significand is shifted right by 14 - halfExponent.
    if (halfExponent < -10) return sign;
    return sign | roundShift(mantissa | 0x800000, 14 - halfExponent);
  }
  // A carry out of the mantissa rightly bumps the exponent (up to infinity).
  return sign | roundShift((halfExponent << 23) | mantissa, 13);
}

function roundShift(value: number, shift: number): number {
  const half = 1 << (shift - 1);
  const rest = value & ((1 << shift) - 1);
  const q = value >>> shift;
  return rest > half || (rest === half && (q & 1) === 1) ? q + 1 : q;
}

// ---------------------------------------------------------------------------------------------
// Reading

interface Entry {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function quote(name: string): string {
  return `'${name.length > 200 ? `${name.slice(0, 200)}…` : name}'`;
}

function isDim(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function parseSafetensors(bytes: Uint8Array, opts: { requireFinite?: boolean } = {}): SafetensorsFile {
  const requireFinite = opts.requireFinite ?? true;
  const { header, dataStart } = readHeader(bytes);
  const dataLength = bytes.length - dataStart;
  const metadata = readMetadata(header[METADATA_KEY]);
  const entries = Object.keys(header)
    .filter((name) => name !== METADATA_KEY)
    .map((name) => readEntry(name, header[name], dataLength));
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkNoOverlap(entries);

  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) {
    const data = decodeTensor(bytes, dataStart + e.begin, e.dtype, product(e.shape));
    if (requireFinite) checkFinite(e.name, data);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

function readHeader(bytes: Uint8Array): { header: JsonObject; dataStart: number } {
  if (bytes.length < 8) throw bad(`file is ${bytes.length} bytes long, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw bad(`header length ${headerLength} is absurd (the limit is ${MAX_HEADER_BYTES} bytes)`);
  }
  const n = Number(headerLength);
  if (8 + n > bytes.length) {
    throw bad(`header length ${n} exceeds the file (${bytes.length - 8} bytes follow the length field)`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw bad('header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw bad(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!isObject(header)) throw bad('header is not a JSON object');
  return { header, dataStart: 8 + n };
}

function readMetadata(raw: unknown): Record<string, string> {
  // The reference implementation reads `"__metadata__": null` as no metadata.
  if (raw === undefined || raw === null) return {};
  if (!isObject(raw)) throw bad(`${METADATA_KEY} is not a map of strings to strings`);
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== 'string') throw bad(`${METADATA_KEY} value for key ${quote(key)} is not a string`);
  }
  // fromEntries defines own properties, so even a key named "__proto__" survives.
  return Object.fromEntries(Object.entries(raw)) as Record<string, string>;
}

function readEntry(name: string, raw: unknown, dataLength: number): Entry {
  const where = `tensor ${quote(name)}`;
  if (!isObject(raw)) throw bad(`${where}: header entry is not an object`);
  const dtype = readDtype(where, raw.dtype);
  const shape = readShape(where, raw.shape);
  const [begin, end] = readOffsets(where, raw.data_offsets, dataLength);
  const expected = product(shape) * DTYPE_SIZE[dtype];
  if (end - begin !== expected) {
    throw bad(
      `${where}: data_offsets span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`,
    );
  }
  return { name, dtype, shape, begin, end };
}

function readDtype(where: string, raw: unknown): SafetensorsDtype {
  if (raw === undefined) throw bad(`${where}: missing dtype`);
  if (typeof raw !== 'string') throw bad(`${where}: dtype is not a string`);
  if (!Object.hasOwn(DTYPE_SIZE, raw)) {
    throw bad(`${where}: unknown dtype ${quote(raw)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  }
  return raw as SafetensorsDtype;
}

function readShape(where: string, raw: unknown): number[] {
  if (raw === undefined) throw bad(`${where}: missing shape`);
  if (!Array.isArray(raw)) throw bad(`${where}: shape is not an array`);
  if (!raw.every(isDim)) throw bad(`${where}: shape has a dimension that is not a non-negative integer`);
  return raw.slice() as number[];
}

function readOffsets(where: string, raw: unknown, dataLength: number): [number, number] {
  if (raw === undefined) throw bad(`${where}: missing data_offsets`);
  if (!Array.isArray(raw) || raw.length !== 2 || !raw.every(isDim)) {
    throw bad(`${where}: data_offsets is not a pair of non-negative integers`);
  }
  const [begin, end] = raw as [number, number];
  if (begin > end) throw bad(`${where}: data_offsets [${begin}, ${end}] are reversed`);
  if (end > dataLength) {
    throw bad(`${where}: data_offsets [${begin}, ${end}] fall outside the data section (${dataLength} bytes)`);
  }
  return [begin, end];
}

/** Expects entries sorted by begin offset. Empty tensors occupy no bytes and overlap nothing. */
function checkNoOverlap(entries: readonly Entry[]): void {
  let previous: Entry | undefined;
  for (const e of entries) {
    if (e.begin === e.end) continue;
    if (previous !== undefined && e.begin < previous.end) {
      throw bad(`tensor ${quote(e.name)}: data_offsets overlap those of tensor ${quote(previous.name)}`);
    }
    if (previous === undefined || e.end > previous.end) previous = e;
  }
}

function decodeTensor(bytes: Uint8Array, start: number, dtype: SafetensorsDtype, count: number): Float32Array {
  const buffer = copyLittleEndian(bytes, start, count, DTYPE_SIZE[dtype]);
  switch (dtype) {
    case 'F32': return new Float32Array(buffer);
    case 'F64': return Float32Array.from(new Float64Array(buffer));
    case 'F16': return decodeFloat16(new Uint16Array(buffer));
    case 'BF16': return decodeBfloat16(new Uint16Array(buffer));
    case 'I64': return Float32Array.from(new BigInt64Array(buffer), (v) => Number(v));
    case 'I32': return Float32Array.from(new Int32Array(buffer));
    case 'I16': return Float32Array.from(new Int16Array(buffer));
    case 'I8': return Float32Array.from(new Int8Array(buffer));
    case 'U8': return Float32Array.from(new Uint8Array(buffer));
    case 'BOOL': return Float32Array.from(new Uint8Array(buffer), (v) => (v === 0 ? 0 : 1));
  }
}

/** F64 values beyond float32's range become infinite on conversion, and are caught here too. */
function checkFinite(name: string, data: Float32Array): void {
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      if (count === 0) first = i;
      count++;
    }
  }
  if (count > 0) {
    throw bad(
      `tensor ${quote(name)} has ${count} non-finite value${count === 1 ? '' : 's'} (NaN or infinity as float32; first at flat index ${first})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

interface TensorToWrite {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/**
 * Writes tensors sorted by name (the reference implementation sorts by dtype, then name; with one
 * dtype per file the layouts agree), header compact JSON padded with spaces to a multiple of 8.
 */
export function serializeSafetensors(
  tensors: Iterable<[string, { shape: readonly number[]; data: Float32Array }]>,
  metadata?: Record<string, string>,
  opts: { dtype?: 'F32' | 'F16' } = {},
): Uint8Array {
  const dtype = opts.dtype ?? 'F32';
  if (dtype !== 'F32' && dtype !== 'F16') throw bad(`cannot write dtype ${quote(String(dtype))} (only F32 and F16)`);
  const list = collectTensors(tensors);
  const size = DTYPE_SIZE[dtype];

  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`${JSON.stringify(METADATA_KEY)}:${metadataJson(metadata)}`);
  let offset = 0;
  const offsets: number[] = [];
  for (const t of list) {
    const end = offset + t.data.length * size;
    const info = { dtype, shape: Array.from(t.shape), data_offsets: [offset, end] };
    parts.push(`${JSON.stringify(t.name)}:${JSON.stringify(info)}`);
    offsets.push(offset);
    offset = end;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const headerLength = json.length + ((8 - (json.length % 8)) % 8);

  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, 8, 8 + headerLength);
  out.set(json, 8);
  list.forEach((t, i) => {
    const payload = dtype === 'F32' ? t.data : encodeFloat16(t.name, t.data);
    writeLittleEndian(out, 8 + headerLength + offsets[i], payload, size);
  });
  return out;
}

function collectTensors(tensors: Iterable<[string, { shape: readonly number[]; data: Float32Array }]>): TensorToWrite[] {
  const list: TensorToWrite[] = [];
  const seen = new Set<string>();
  for (const [name, { shape, data }] of tensors) {
    const where = `cannot write tensor ${quote(String(name))}`;
    if (typeof name !== 'string') throw bad(`${where}: name is not a string`);
    if (name === METADATA_KEY) throw bad(`${where}: the name is reserved`);
    if (seen.has(name)) throw bad(`${where}: duplicate name`);
    if (!(data instanceof Float32Array)) throw bad(`${where}: data is not a Float32Array`);
    if (!Array.isArray(shape) || !shape.every(isDim)) throw bad(`${where}: shape has a dimension that is not a non-negative integer`);
    if (product(shape) !== data.length) {
      throw bad(`${where}: shape [${shape.join(', ')}] holds ${product(shape)} values but data has ${data.length}`);
    }
    seen.add(name);
    list.push({ name, shape, data });
  }
  return list.sort((a, b) => compareCodePoints(a.name, b.name));
}

/** Orders like Rust's str comparison (UTF-8 bytes = code points), unlike JS's UTF-16 `<`. */
function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0) as number);
  const cb = Array.from(b, (c) => c.codePointAt(0) as number);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    if (ca[i] !== cb[i]) return ca[i] - cb[i];
  }
  return ca.length - cb.length;
}

function metadataJson(metadata: Record<string, string>): string {
  if (!isObject(metadata)) throw bad(`cannot write ${METADATA_KEY}: not a map of strings to strings`);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw bad(`cannot write ${METADATA_KEY}: value for key ${quote(key)} is not a string`);
  }
  return JSON.stringify(metadata);
}

/** Finite values must stay finite: the reader refuses non-finite values by default. */
function encodeFloat16(name: string, data: Float32Array): Uint16Array {
  const out = new Uint16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const h = float32ToFloat16Bits(data[i]);
    if ((h & 0x7fff) === 0x7c00 && Number.isFinite(data[i])) {
      throw bad(
        `cannot write tensor ${quote(name)} as F16: value ${data[i]} at flat index ${i} is beyond float16's range (±65504)`,
      );
    }
    out[i] = h;
  }
  return out;
}

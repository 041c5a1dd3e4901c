import { Buffer } from 'node:buffer';
import { mulberry32 } from '../../src/random.js';
import { describe, expect, it } from 'vitest';
import { LrpsegError } from '../../src/errors.js';
import {
  float16BitsToNumber,
  float32ToFloat16Bits,
  parseSafetensors,
  serializeSafetensors,
} from '../../src/io/safetensors.js';

const ascii = (s: string): number[] => Array.from(new TextEncoder().encode(s));

/** A file from a raw header text and data bytes; the header is padded to 8 like the writer does. */
function fileFrom(header: string, data: ArrayLike<number> = [], pad = true): Uint8Array {
  const json = new TextEncoder().encode(header);
  const n = pad ? json.length + ((8 - (json.length % 8)) % 8) : json.length;
  const out = new Uint8Array(8 + n + data.length).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setUint32(0, n, true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + n);
  return out;
}

function entry(dtype: string, shape: number[], begin: number, end: number): string {
  return JSON.stringify({ dtype, shape, data_offsets: [begin, end] });
}

function badFile(bytes: Uint8Array, opts?: { requireFinite?: boolean }): LrpsegError {
  try {
    parseSafetensors(bytes, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(LrpsegError);
    expect((e as LrpsegError).code).toBe('BAD_MODEL_FILE');
    return e as LrpsegError;
  }
  throw new Error('expected parseSafetensors to throw');
}

/** mulberry32: small seeded PRNG so the fuzz sweeps are reproducible. */
const rng = mulberry32;

describe('safetensors: byte layout', () => {
  // What `safetensors.torch.save_file({"weight": torch.tensor([[1., 2.], [3., 4.]]),
  // "bias": torch.tensor([.5, -1.])}, path, metadata={"lrpseg": '{"format_version":1}'})` writes:
  // compact JSON header (metadata first, tensors sorted by name), padded with spaces to a
  // multiple of 8, length as u64 LE, then the data back to back.
  const header =
    '{"__metadata__":{"lrpseg":"{\\"format_version\\":1}"},' +
    '"bias":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"weight":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}';
  const expected = new Uint8Array([
    0xb0, 0, 0, 0, 0, 0, 0, 0, // 176 = 169 header bytes + 7 spaces
    ...ascii(header),
    ...ascii('       '),
    0, 0, 0, 0x3f, 0, 0, 0x80, 0xbf, // bias: 0.5, -1
    0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, // weight: 1, 2, 3, 4
  ]);

  it('writes byte for byte what Python writes', () => {
    expect(header.length).toBe(169);
    const bytes = serializeSafetensors(
      [
        ['weight', { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) }],
        ['bias', { shape: [2], data: new Float32Array([0.5, -1]) }],
      ],
      { lrpseg: '{"format_version":1}' },
    );
    expect(Array.from(bytes)).toEqual(Array.from(expected));
  });

  it('reads what Python writes', () => {
    const file = parseSafetensors(expected);
    expect(file.metadata).toEqual({ lrpseg: '{"format_version":1}' });
    expect([...file.tensors.keys()]).toEqual(['bias', 'weight']);
    expect(file.tensors.get('weight')).toEqual({ dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    expect(file.tensors.get('bias')?.data).toEqual(new Float32Array([0.5, -1]));
  });

  it('reads a Node Buffer from the shared pool (whose slice() does not copy)', () => {
    const pooled = Buffer.from(expected);
    expect(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.length).toBe(true);
    const file = parseSafetensors(pooled);
    expect(file.tensors.get('weight')?.data).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(file.tensors.get('weight')?.data.buffer.byteLength).toBe(16);
  });

  it('omits __metadata__ when none is given and accepts an unpadded header', () => {
    const bytes = serializeSafetensors([['x', { shape: [], data: new Float32Array([7]) }]]);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + bytes[0]));
    expect(text.trimEnd()).toBe('{"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}');
    expect(bytes[0] % 8).toBe(0);
    const unpadded = fileFrom('{"x":' + entry('F32', [], 0, 4) + '}', [0, 0, 0xe0, 0x40], false);
    expect(parseSafetensors(unpadded).tensors.get('x')?.data[0]).toBe(7);
  });

  it('reads tensors at unaligned offsets', () => {
    // "a" is 1 byte, so "b" (F32) starts at data offset 1 and the F64 "c" at offset 9.
    const f64 = new Uint8Array(new Float64Array([-2.5]).buffer);
    const bytes = fileFrom(
      `{"a":${entry('U8', [1], 0, 1)},"b":${entry('F32', [2], 1, 9)},"c":${entry('F64', [1], 9, 17)}}`,
      [200, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, ...f64],
    );
    const file = parseSafetensors(bytes.slice()); // also unaligned relative to the header start
    expect(file.tensors.get('a')?.data).toEqual(new Float32Array([200]));
    expect(file.tensors.get('b')?.data).toEqual(new Float32Array([1, 2]));
    expect(file.tensors.get('c')?.data).toEqual(new Float32Array([-2.5]));
    const view = new Uint8Array(bytes.length + 3);
    view.set(bytes, 3);
    expect(parseSafetensors(view.subarray(3)).tensors.get('b')?.data).toEqual(new Float32Array([1, 2]));
  });
});

describe('safetensors: round trips', () => {
  const shapes: number[][] = [[], [0], [3], [2, 3], [2, 0, 4], [1, 1, 1, 1], [0, 0]];

  for (const dtype of ['F32', 'F16'] as const) {
    it(`${dtype}: every shape, values that are exact in ${dtype}`, () => {
      const tensors = shapes.map((shape, k): [string, { shape: number[]; data: Float32Array }] => {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: n }, (_, i) => (i - 2) * 0.25 + k);
        return [`t${k}`, { shape, data }];
      });
      const file = parseSafetensors(serializeSafetensors(tensors, { k: 'v' }, { dtype }));
      expect(file.metadata).toEqual({ k: 'v' });
      expect(file.tensors.size).toBe(shapes.length);
      for (const [name, t] of tensors) {
        const read = file.tensors.get(name);
        expect(read?.dtype).toBe(dtype);
        expect(read?.shape).toEqual(t.shape);
        expect(read?.data).toEqual(t.data);
      }
    });
  }

  it('F32 keeps arbitrary float32 values bit for bit', () => {
    const random = rng(1);
    const data = Float32Array.from({ length: 1000 }, () => (random() - 0.5) * 10 ** (random() * 60 - 30));
    data[0] = -0;
    data[1] = 3.4028234663852886e38;
    data[2] = 1e-45;
    const back = parseSafetensors(serializeSafetensors([['w', { shape: [10, 100], data }]])).tensors.get('w');
    expect(new Uint32Array(back!.data.buffer)).toEqual(new Uint32Array(data.buffer));
  });

  it('F16 rounds to nearest even, and the reader gets back the rounded value', () => {
    const data = new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 2 ** -25, 3 * 2 ** -26, 2 ** -24, -0, 65519]);
    const back = parseSafetensors(serializeSafetensors([['w', { shape: [8], data }]], undefined, { dtype: 'F16' }));
    expect(Array.from(back.tensors.get('w')!.data)).toEqual([1, 1 + 2 ** -9, 65504, 0, 2 ** -24, 2 ** -24, -0, 65504]);
  });

  it('writes non-finite values as they are; the reader refuses them unless told otherwise', () => {
    const data = new Float32Array([NaN, Infinity, 1]);
    for (const dtype of ['F32', 'F16'] as const) {
      const bytes = serializeSafetensors([['w', { shape: [3], data }]], undefined, { dtype });
      expect(badFile(bytes).message).toMatch(/'w' has 2 non-finite values/);
      const read = parseSafetensors(bytes, { requireFinite: false }).tensors.get('w')!.data;
      expect(Number.isNaN(read[0])).toBe(true);
      expect(read[1]).toBe(Infinity);
      expect(read[2]).toBe(1);
    }
  });

  it('is deterministic: order of the input does not matter', () => {
    const a = new Float32Array([1]);
    const b = new Float32Array([2, 3]);
    const one = serializeSafetensors([['b', { shape: [2], data: b }], ['a', { shape: [1], data: a }]]);
    const two = serializeSafetensors(new Map([['a', { shape: [1], data: a }], ['b', { shape: [2], data: b }]]));
    expect(one).toEqual(two);
  });

  it('keeps odd names and metadata keys', () => {
    const names = ['__proto__', '0', 'ü', '\u{1F600}', '\uFFFF', 'a"b\\c\n'];
    const tensors = names.map((n, i): [string, { shape: number[]; data: Float32Array }] => [
      n,
      { shape: [1], data: new Float32Array([i]) },
    ]);
    const metadata = Object.fromEntries([['__proto__', 'p'], ['k', 'ä"\n']]) as Record<string, string>;
    const file = parseSafetensors(serializeSafetensors(tensors, metadata));
    for (const [n, t] of tensors) expect(file.tensors.get(n)?.data).toEqual(t.data);
    expect(Object.entries(file.metadata)).toEqual([['__proto__', 'p'], ['k', 'ä"\n']]);
    // Code point order, as Rust sorts: U+FFFF comes before U+1F600 (UTF-16 would say otherwise).
    const order = [...file.tensors.keys()];
    expect(order.indexOf('\uFFFF')).toBeLessThan(order.indexOf('\u{1F600}'));
  });
});

describe('safetensors: float16 and bfloat16 decoding', () => {
  const f16: [number, number][] = [
    [0x0000, 0],
    [0x8000, -0],
    [0x3c00, 1],
    [0xbc00, -1],
    [0x4000, 2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];

  it('decodes known F16 bit patterns, and encodes them back', () => {
    for (const [bits, value] of f16) {
      expect(float16BitsToNumber(bits)).toBe(value);
      expect(float32ToFloat16Bits(value)).toBe(bits);
    }
    expect(float16BitsToNumber(0x7e00)).toBeNaN();
    expect(float16BitsToNumber(0xfc01)).toBeNaN();
    expect(float32ToFloat16Bits(NaN) & 0x7e00).toBe(0x7e00);
  });

  it('every F16 bit pattern survives decode then encode', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = float16BitsToNumber(h);
      if (Number.isNaN(v)) continue;
      expect(float32ToFloat16Bits(v)).toBe(h);
    }
  });

  it('reads F16 and BF16 tensors from a file', () => {
    const f16Bytes = f16.flatMap(([bits]) => [bits & 0xff, bits >> 8]);
    // bfloat16: 1.0 = 0x3f80, -2 = 0xc000, pi ~ 0x4049 (3.140625), 1e-40-ish subnormal 0x0001, -inf 0xff80.
    const bf16 = [0x3f80, 0xc000, 0x4049, 0x0001, 0xff80];
    const bf16Bytes = bf16.flatMap((b) => [b & 0xff, b >> 8]);
    const n = f16.length;
    const bytes = fileFrom(
      `{"h":${entry('F16', [n], 0, 2 * n)},"b":${entry('BF16', [5], 2 * n, 2 * n + 10)}}`,
      [...f16Bytes, ...bf16Bytes],
    );
    const file = parseSafetensors(bytes, { requireFinite: false });
    expect(Array.from(file.tensors.get('h')!.data)).toEqual(f16.map(([, v]) => v));
    const bValues = Array.from(file.tensors.get('b')!.data);
    const expectedB = bf16.map((b) => new Float32Array(new Uint32Array([b << 16]).buffer)[0]);
    expect(bValues).toEqual(expectedB);
    expect(bValues.slice(0, 3)).toEqual([1, -2, 3.140625]);
    expect(bValues[4]).toBe(-Infinity);
  });

  it('reads the integer and bool dtypes', () => {
    const i64 = new Uint8Array(new BigInt64Array([-3n, 1n << 40n]).buffer);
    const i32 = new Uint8Array(new Int32Array([-70000, 5]).buffer);
    const i16 = new Uint8Array(new Int16Array([-300, 300]).buffer);
    const bytes = fileFrom(
      `{"a":${entry('I64', [2], 0, 16)},"b":${entry('I32', [2], 16, 24)},"c":${entry('I16', [2], 24, 28)},` +
        `"d":${entry('I8', [2], 28, 30)},"e":${entry('U8', [2], 30, 32)},"f":${entry('BOOL', [3], 32, 35)}}`,
      [...i64, ...i32, ...i16, 0xff, 0x7f, 0xff, 0x7f, 0, 1, 2],
    );
    const t = parseSafetensors(bytes).tensors;
    expect(Array.from(t.get('a')!.data)).toEqual([-3, 2 ** 40]);
    expect(Array.from(t.get('b')!.data)).toEqual([-70000, 5]);
    expect(Array.from(t.get('c')!.data)).toEqual([-300, 300]);
    expect(Array.from(t.get('d')!.data)).toEqual([-1, 127]);
    expect(Array.from(t.get('e')!.data)).toEqual([255, 127]);
    expect(Array.from(t.get('f')!.data)).toEqual([0, 1, 1]);
    expect(t.get('f')!.dtype).toBe('BOOL');
  });

  it('F64 values beyond float32 range count as non-finite', () => {
    const bytes = fileFrom(`{"big":${entry('F64', [1], 0, 8)}}`, new Uint8Array(new Float64Array([1e300]).buffer));
    expect(badFile(bytes).message).toMatch(/'big' has 1 non-finite value/);
  });
});

describe('safetensors: bad files', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty file', new Uint8Array(0), /too short/],
    ['7 bytes', new Uint8Array(7), /too short/],
    ['header length past the end', (() => { const b = fileFrom('{}'); b[0] = 200; return b; })(), /exceeds the file/],
    ['absurd header length', (() => { const b = fileFrom('{}'); b[7] = 1; return b; })(), /absurd/],
    ['header length just over 100 MB', (() => { const b = fileFrom('{}'); new DataView(b.buffer).setUint32(0, 100_000_001, true); return b; })(), /absurd/],
    ['invalid UTF-8', (() => { const b = fileFrom('{"\u00ff":1}'); b[10] = 0xff; return b; })(), /not valid UTF-8/],
    ['not JSON', fileFrom('{"a": '), /not valid JSON/],
    ['JSON array', fileFrom('[]'), /not a JSON object/],
    ['JSON string', fileFrom('"x"'), /not a JSON object/],
    ['JSON null', fileFrom('null'), /not a JSON object/],
    ['entry not an object', fileFrom('{"w":[1]}'), /'w': header entry is not an object/],
    ['missing dtype', fileFrom('{"w":{"shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /'w': missing dtype/],
    ['missing shape', fileFrom('{"w":{"dtype":"F32","data_offsets":[0,4]}}', [0, 0, 0, 0]), /'w': missing shape/],
    ['missing offsets', fileFrom('{"w":{"dtype":"F32","shape":[1]}}', [0, 0, 0, 0]), /'w': missing data_offsets/],
    ['dtype not a string', fileFrom(`{"w":${entry('F32', [1], 0, 4).replace('"F32"', '4')}}`, [0, 0, 0, 0]), /'w': dtype is not a string/],
    ['unknown dtype', fileFrom(`{"w":${entry('F8_E4M3', [4], 0, 4)}}`, [0, 0, 0, 0]), /'w': unknown dtype 'F8_E4M3'/],
    ['dtype from Object.prototype', fileFrom(`{"w":${entry('toString', [4], 0, 4)}}`, [0, 0, 0, 0]), /unknown dtype/],
    ['shape not an array', fileFrom('{"w":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}', new Uint8Array(16)), /'w': shape is not an array/],
    ['negative dim', fileFrom(`{"w":${entry('F32', [-1], 0, 4)}}`, [0, 0, 0, 0]), /'w': shape has a dimension that is not a non-negative integer/],
    ['fractional dim', fileFrom(`{"w":${entry('F32', [0.5, 2], 0, 4)}}`, [0, 0, 0, 0]), /not a non-negative integer/],
    ['string dim', fileFrom('{"w":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /not a non-negative integer/],
    ['huge dim', fileFrom('{"w":{"dtype":"F32","shape":[1e300],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /not a non-negative integer/],
    ['offsets not a pair', fileFrom('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', [0, 0, 0, 0]), /'w': data_offsets is not a pair/],
    ['negative offset', fileFrom(`{"w":${entry('F32', [1], -4, 0)}}`, [0, 0, 0, 0]), /data_offsets is not a pair/],
    ['reversed offsets', fileFrom(`{"w":${entry('F32', [0], 4, 0)}}`, [0, 0, 0, 0]), /'w': data_offsets \[4, 0\] are reversed/],
    ['offsets past the end', fileFrom(`{"w":${entry('F32', [2], 0, 8)}}`, [0, 0, 0, 0]), /'w': data_offsets \[0, 8\] fall outside the data section \(4 bytes\)/],
    ['empty tensor past the end', fileFrom(`{"w":${entry('F32', [0], 9, 9)}}`, [0, 0, 0, 0]), /outside the data section/],
    [
      'overlapping tensors',
      fileFrom(`{"a":${entry('F32', [2], 0, 8)},"b":${entry('F32', [2], 4, 12)}}`, new Uint8Array(12)),
      /'b': data_offsets overlap those of tensor 'a'/,
    ],
    [
      'tensor inside another',
      fileFrom(`{"a":${entry('F32', [4], 0, 16)},"b":${entry('F32', [1], 4, 8)}}`, new Uint8Array(16)),
      /overlap/,
    ],
    [
      'same range twice',
      fileFrom(`{"a":${entry('F32', [1], 0, 4)},"b":${entry('F32', [1], 0, 4)}}`, new Uint8Array(4)),
      /overlap/,
    ],
    ['byte length too small', fileFrom(`{"w":${entry('F32', [2, 2], 0, 12)}}`, new Uint8Array(16)), /'w': data_offsets span 12 bytes but shape \[2, 2\] of F32 needs 16/],
    ['byte length too large', fileFrom(`{"w":${entry('F16', [], 0, 4)}}`, new Uint8Array(4)), /span 4 bytes but shape \[\] of F16 needs 2/],
    ['product overflows', fileFrom(`{"w":${entry('F32', [2 ** 30, 2 ** 30, 2 ** 30], 0, 4)}}`, new Uint8Array(4)), /span 4 bytes/],
    ['metadata not a map', fileFrom('{"__metadata__":[]}'), /__metadata__ is not a map/],
    ['metadata not a string', fileFrom('{"__metadata__":"x"}'), /__metadata__ is not a map/],
    ['metadata value a number', fileFrom('{"__metadata__":{"k":1}}'), /__metadata__ value for key 'k' is not a string/],
    ['metadata value an object', fileFrom('{"__metadata__":{"k":{}}}'), /not a string/],
    ['non-finite F32', fileFrom(`{"w":${entry('F32', [3], 0, 12)}}`, [0, 0, 0xc0, 0x7f, 0, 0, 0x80, 0xff, 0, 0, 0, 0]), /tensor 'w' has 2 non-finite values/],
    ['non-finite BF16', fileFrom(`{"w":${entry('BF16', [1], 0, 2)}}`, [0xc0, 0x7f]), /tensor 'w' has 1 non-finite value/],
    ['deeply nested JSON', fileFrom('{"w":' + '['.repeat(200000) + ']'.repeat(200000) + '}'), /'w'/],
  ];

  for (const [name, bytes, message] of cases) {
    it(name, () => {
      expect(badFile(bytes).message).toMatch(message);
    });
  }

  it('null metadata means none; extra bytes, gaps and empty tensors anywhere are fine', () => {
    const bytes = fileFrom(
      `{"__metadata__":null,"e":${entry('F32', [0, 5], 2, 2)},"w":${entry('F32', [1], 4, 8)}}`,
      [9, 9, 9, 9, 0, 0, 0x80, 0x3f, 1, 2, 3],
    );
    const file = parseSafetensors(bytes);
    expect(file.metadata).toEqual({});
    expect(file.tensors.get('e')).toEqual({ dtype: 'F32', shape: [0, 5], data: new Float32Array(0) });
    expect(file.tensors.get('w')?.data).toEqual(new Float32Array([1]));
    expect(parseSafetensors(fileFrom('{}')).tensors.size).toBe(0);
  });

  it('requireFinite: false reads non-finite values', () => {
    const bytes = fileFrom(`{"w":${entry('F32', [1], 0, 4)}}`, [0, 0, 0xc0, 0x7f]);
    expect(parseSafetensors(bytes, { requireFinite: false }).tensors.get('w')?.data[0]).toBeNaN();
  });

  it('header fields with every wrong type give BAD_MODEL_FILE naming the tensor', () => {
    const weird: unknown[] = [null, true, -1, 1.5, 1e300, 'F32', '', [], [[]], {}, [-1], [1, 2, 3], ['0', '4'], [0, 4, 8]];
    for (const field of ['dtype', 'shape', 'data_offsets']) {
      for (const value of weird) {
        const info: Record<string, unknown> = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
        info[field] = value;
        // The valid combinations: the original, and shape [] (a scalar also holds 4 bytes).
        if (field === 'dtype' && value === 'F32') continue;
        if (field === 'shape' && Array.isArray(value) && value.length === 0) continue;
        const e = badFile(fileFrom(JSON.stringify({ tensor_x: info }), [0, 0, 0x80, 0x3f]));
        expect(e.message).toMatch(/'tensor_x'/);
      }
    }
  });
});

describe('safetensors: writer errors', () => {
  const f = (n: number): Float32Array => new Float32Array(n);

  it('refuses values beyond float16 range, naming tensor and value', () => {
    const data = new Float32Array([1, 65520]);
    expect(() => serializeSafetensors([['big', { shape: [2], data }]], undefined, { dtype: 'F16' })).toThrow(
      /'big' as F16: value 65520 at flat index 1 is beyond float16's range/,
    );
    expect(() => serializeSafetensors([['ok', { shape: [1], data: new Float32Array([-65519]) }]], undefined, { dtype: 'F16' })).not.toThrow();
  });

  it('refuses bad tensors with BAD_MODEL_FILE', () => {
    const bad: [Iterable<[string, { shape: readonly number[]; data: Float32Array }]>, RegExp][] = [
      [[['w', { shape: [2, 2], data: f(3) }]], /shape \[2, 2\] holds 4 values but data has 3/],
      [[['w', { shape: [-1], data: f(0) }]], /not a non-negative integer/],
      [[['w', { shape: [1], data: f(1) }], ['w', { shape: [1], data: f(1) }]], /duplicate name/],
      [[['__metadata__', { shape: [1], data: f(1) }]], /reserved/],
      [[['w', { shape: [1], data: [1] as unknown as Float32Array }]], /not a Float32Array/],
    ];
    for (const [tensors, message] of bad) {
      let error: unknown;
      try {
        serializeSafetensors(tensors);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(LrpsegError);
      expect((error as LrpsegError).code).toBe('BAD_MODEL_FILE');
      expect((error as LrpsegError).message).toMatch(message);
    }
    expect(() => serializeSafetensors([], { k: 1 as unknown as string })).toThrow(/value for key 'k' is not a string/);
  });
});

describe('safetensors: fuzz', () => {
  const valid = serializeSafetensors(
    [
      ['features.0.weight', { shape: [2, 1, 2, 2], data: Float32Array.from({ length: 8 }, (_, i) => i / 8) }],
      ['features.0.bias', { shape: [2], data: new Float32Array([0.5, -0.5]) }],
      ['scalar', { shape: [], data: new Float32Array([3]) }],
    ],
    { lrpseg: '{"format_version":1}' },
  );

  function parsesOrRefuses(bytes: Uint8Array): void {
    try {
      parseSafetensors(bytes);
    } catch (e) {
      if (!(e instanceof LrpsegError) || e.code !== 'BAD_MODEL_FILE') throw e;
    }
  }

  it('every truncation is refused with BAD_MODEL_FILE', () => {
    expect(parseSafetensors(valid).tensors.size).toBe(3);
    for (let n = 0; n < valid.length; n++) badFile(valid.slice(0, n));
  });

  it('random byte flips parse or give BAD_MODEL_FILE, never anything else', () => {
    const random = rng(42);
    for (let trial = 0; trial < 5000; trial++) {
      const bytes = valid.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) {
        // Favour the header and length field, where the structure lives.
        const at = Math.floor(random() * (random() < 0.8 ? Math.min(bytes.length, bytes[0] + 8) : bytes.length));
        bytes[at] = random() < 0.5 ? Math.floor(random() * 256) : bytes[at] ^ (1 << Math.floor(random() * 8));
      }
      parsesOrRefuses(bytes);
    }
  });

  it('random digit edits inside the header parse or give BAD_MODEL_FILE', () => {
    const random = rng(7);
    const digits = [...valid.subarray(8, 8 + valid[0]).keys()].filter((i) => valid[8 + i] >= 0x30 && valid[8 + i] <= 0x39);
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = valid.slice();
      const at = 8 + digits[Math.floor(random() * digits.length)];
      bytes[at] = 0x30 + Math.floor(random() * 10);
      parsesOrRefuses(bytes);
    }
  });
});

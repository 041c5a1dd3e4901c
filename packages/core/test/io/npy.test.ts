import { Buffer } from 'node:buffer';
import { mulberry32 } from '../../src/random.js';
import { describe, expect, it } from 'vitest';
import { LrpsegError } from '../../src/errors.js';
import { expectNpy, npyToFloat32, parseNpy, serializeNpy, type NpyArray } from '../../src/io/npy.js';

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const MAGIC = [0x93, ...ascii('NUMPY')];

/** A .npy file from a raw header text (no padding added) and payload bytes. */
function npyFile(header: string | Uint8Array, payload: ArrayLike<number> = [], version = 1): Uint8Array {
  const text = typeof header === 'string' ? new Uint8Array(ascii(header)) : header;
  const lengthBytes = version === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lengthBytes + text.length + payload.length);
  out.set(MAGIC);
  out[6] = version;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(text, 8 + lengthBytes);
  out.set(Array.from(payload), 8 + lengthBytes + text.length);
  return out;
}

const dict = (descr: string, shape: string, fortran = 'False'): string =>
  `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

const bytesOf = (a: ArrayBufferView): number[] => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

function badArray(run: () => unknown): LrpsegError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(LrpsegError);
    expect((e as LrpsegError).code).toBe('BAD_ARRAY_FILE');
    return e as LrpsegError;
  }
  throw new Error('expected a BAD_ARRAY_FILE error');
}

const rng = mulberry32;

describe('npy: byte layout as numpy.save writes it', () => {
  // numpy.save: magic, version 1.0, u16 header length, the dict repr with keys sorted and a
  // trailing ", ", 21 - len(str(shape[0])) spaces of room to grow, then spaces and "\n" so that
  // the data starts at a multiple of 64.
  const f4Dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  const f4File = new Uint8Array([
    ...MAGIC, 1, 0, 118, 0,
    ...ascii(f4Dict), // 59 bytes
    ...ascii(' '.repeat(20 + 38)), // growth room + padding: 10 + 59 + 58 + 1 = 128
    0x0a,
    0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40, 0, 0, 0xa0, 0x40, 0, 0, 0xc0, 0x40,
  ]);
  const f8Scalar = new Uint8Array([
    ...MAGIC, 1, 0, 118, 0,
    ...ascii("{'descr': '<f8', 'fortran_order': False, 'shape': (), }"), // 55 bytes, no growth room
    ...ascii(' '.repeat(62)),
    0x0a,
    0, 0, 0, 0, 0, 0, 0x04, 0xc0, // -2.5
  ]);
  const b1File = new Uint8Array([
    ...MAGIC, 1, 0, 118, 0,
    ...ascii("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }"), // 57 bytes
    ...ascii(' '.repeat(20 + 40)),
    0x0a,
    1, 0, 1,
  ]);
  const u1Empty = new Uint8Array([
    ...MAGIC, 1, 0, 118, 0,
    ...ascii("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 3), }"),
    ...ascii(' '.repeat(58)),
    0x0a,
  ]);

  it('writes the same bytes', () => {
    expect(f4File.length).toBe(152);
    expect(Array.from(serializeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]))).toEqual(Array.from(f4File));
    expect(Array.from(serializeNpy(new Float64Array([-2.5]), []))).toEqual(Array.from(f8Scalar));
    expect(Array.from(serializeNpy(new Uint8Array([1, 0, 1]), [3], 'b1'))).toEqual(Array.from(b1File));
    expect(Array.from(serializeNpy(new Uint8Array(0), [0, 3]))).toEqual(Array.from(u1Empty));
  });

  it('reads them', () => {
    expect(parseNpy(f4File)).toEqual({ dtype: 'f4', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
    expect(parseNpy(f8Scalar)).toEqual({ dtype: 'f8', shape: [], data: new Float64Array([-2.5]) });
    expect(parseNpy(b1File)).toEqual({ dtype: 'b1', shape: [3], data: new Uint8Array([1, 0, 1]) });
    expect(parseNpy(u1Empty)).toEqual({ dtype: 'u1', shape: [0, 3], data: new Uint8Array(0) });
  });

  it('reads a Node Buffer from the shared pool (whose slice() does not copy)', () => {
    const pooled = Buffer.from(f4File);
    expect(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.length).toBe(true);
    const read = parseNpy(pooled);
    expect(read.data).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    expect(read.data.buffer.byteLength).toBe(24);
  });

  it('aligns data to 64 bytes for every rank and falls back to version 2.0 for huge headers', () => {
    for (const shape of [[], [1], [12345678901], [1, 2, 3, 4, 5, 6, 7, 8]]) {
      const header = serializeNpy(new Float32Array(0), [...shape, 0]);
      expect(header[6]).toBe(1);
      expect(header.length % 64).toBe(0);
      expect(header[header.length - 1]).toBe(0x0a);
    }
    const manyDims = Array.from({ length: 25000 }, () => 1);
    const big = serializeNpy(new Float32Array([4]), manyDims);
    expect(big[6]).toBe(2);
    expect((big.length - 4) % 64).toBe(0);
    const read = parseNpy(big);
    expect(read.shape).toEqual(manyDims);
    expect(read.data).toEqual(new Float32Array([4]));
  });
});

describe('npy: round trips', () => {
  const shapes: number[][] = [[], [0], [5], [2, 3], [2, 0, 3], [1, 2, 1, 3]];
  const filled = (n: number) => Array.from({ length: n }, (_, i) => (i * 37) % 11);

  it('f4, f8, u1, b1 in every shape', () => {
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b, 1);
      const cases: [Float32Array | Float64Array | Uint8Array, 'f4' | 'f8' | 'u1' | 'b1', NpyArray['data']][] = [
        [Float32Array.from(filled(n), (v) => v / 3), 'f4', Float32Array.from(filled(n), (v) => v / 3)],
        [Float64Array.from(filled(n), (v) => v / 3), 'f8', Float64Array.from(filled(n), (v) => v / 3)],
        [Uint8Array.from(filled(n), (v) => v * 23), 'u1', Uint8Array.from(filled(n), (v) => v * 23)],
        [Uint8Array.from(filled(n)), 'b1', Uint8Array.from(filled(n), (v) => (v ? 1 : 0))],
      ];
      for (const [data, dtype, expected] of cases) {
        const read = parseNpy(serializeNpy(data, shape, dtype));
        expect(read).toEqual({ dtype, shape, data: expected });
      }
    }
  });

  it('float data is converted to the requested float dtype', () => {
    expect(parseNpy(serializeNpy(new Float64Array([0.1]), [1], 'f4')).data).toEqual(new Float32Array([0.1]));
    expect(parseNpy(serializeNpy(new Float32Array([0.5]), [1], 'f8')).data).toEqual(new Float64Array([0.5]));
  });

  it('reads every dtype from hand-made files, at any alignment', () => {
    const cases: [string, number[], NpyArray['data'], string][] = [
      ['<f2', [0x00, 0x3c, 0x01, 0x00, 0x00, 0xfc], new Float32Array([1, 2 ** -24, -Infinity]), 'f2'],
      ['|i1', [0xff, 0x80, 0x7f], new Int8Array([-1, -128, 127]), 'i1'],
      ['<i2', bytesOf(new Int16Array([-2, 300, 32767])), new Int16Array([-2, 300, 32767]), 'i2'],
      ['<i4', bytesOf(new Int32Array([-2, 70000, 5])), new Int32Array([-2, 70000, 5]), 'i4'],
      ['<i8', bytesOf(new BigInt64Array([-2n, 1n << 50n, 7n])), new Float64Array([-2, 2 ** 50, 7]), 'i8'],
      ['<u2', bytesOf(new Uint16Array([1, 65535, 2])), new Uint16Array([1, 65535, 2]), 'u2'],
      ['<u4', bytesOf(new Uint32Array([1, 4e9, 2])), new Uint32Array([1, 4e9, 2]), 'u4'],
      ['<f4', bytesOf(new Float32Array([1.5, -0, 3])), new Float32Array([1.5, -0, 3]), 'f4'],
      ['<f8', bytesOf(new Float64Array([0.1, 2, 3])), new Float64Array([0.1, 2, 3]), 'f8'],
      ['|u1', [1, 2, 255], new Uint8Array([1, 2, 255]), 'u1'],
      ['|b1', [0, 1, 7], new Uint8Array([0, 1, 1]), 'b1'],
    ];
    for (const [descr, payload, data, dtype] of cases) {
      // A 1-byte padded header puts the data at an odd offset.
      for (const pad of ['', ' ', '  ', '   ']) {
        const read = parseNpy(npyFile(dict(descr, '(3,)').replace('\n', `${pad}\n`), payload));
        expect(read).toEqual({ dtype, shape: [3], data });
      }
    }
  });

  it('reads versions 2.0 and 3.0 (UTF-8 header)', () => {
    const payload = bytesOf(new Float32Array([1, 2]));
    expect(parseNpy(npyFile(dict('<f4', '(2,)'), payload, 2)).data).toEqual(new Float32Array([1, 2]));
    const utf8 = new TextEncoder().encode(`{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'note': 'π ✓'}\n`);
    expect(parseNpy(npyFile(utf8, payload, 3)).data).toEqual(new Float32Array([1, 2]));
  });

  it('parses header variants numpy accepts', () => {
    const payload = bytesOf(new Float32Array([1, 2, 3, 4, 5, 6]));
    const headers = [
      `{"descr": "<f4", "fortran_order": False, "shape": (2, 3)}`,
      `{'shape': (2,3), 'fortran_order': False, 'descr': '<f4'}`,
      `{ 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , 3 , ) , }    \n`,
      `{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }`,
      `{'descr': 'f4', 'fortran_order': False, 'shape': (2, 3), }`,
      `{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3], 'extra': [None, True, (1,), {'a': -1}, 'it\\'s']}`,
    ];
    for (const h of headers) expect(parseNpy(npyFile(h, payload)).shape).toEqual([2, 3]);
  });

  it('accepts fortran_order True when the layout is the same (rank 0 or 1), and extra bytes', () => {
    const read = parseNpy(npyFile(dict('<f4', '(2,)', 'True'), [...bytesOf(new Float32Array([1, 2])), 9, 9, 9]));
    expect(read.data).toEqual(new Float32Array([1, 2]));
    expect(parseNpy(npyFile(dict('>u1', '(1,)'), [5])).data).toEqual(new Uint8Array([5]));
  });

  it('npyToFloat32 converts every dtype', () => {
    const arrays: NpyArray[] = [
      { dtype: 'f8', shape: [2], data: new Float64Array([0.1, 2]) },
      { dtype: 'u1', shape: [2], data: new Uint8Array([0, 255]) },
      { dtype: 'i2', shape: [2], data: new Int16Array([-5, 5]) },
      { dtype: 'i8', shape: [2], data: new Float64Array([-5, 2 ** 40]) },
    ];
    expect(Array.from(npyToFloat32(arrays[0]))).toEqual([Math.fround(0.1), 2]);
    expect(Array.from(npyToFloat32(arrays[1]))).toEqual([0, 255]);
    expect(Array.from(npyToFloat32(arrays[2]))).toEqual([-5, 5]);
    expect(Array.from(npyToFloat32(arrays[3]))).toEqual([-5, 2 ** 40]);
    const f4 = new Float32Array([1]);
    expect(npyToFloat32({ dtype: 'f4', shape: [1], data: f4 })).toBe(f4);
  });
});

describe('npy: bad files', () => {
  const f4x2 = bytesOf(new Float32Array([1, 2]));
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty', new Uint8Array(0), /not a \.npy file/],
    ['no magic', new Uint8Array(ascii('PK\x03\x04 this is a zip file')), /not a \.npy file/],
    ['version 4.0', (() => { const b = npyFile(dict('<f4', '(2,)'), f4x2); b[6] = 4; return b; })(), /unsupported format version 4\.0/],
    ['version 1.1', (() => { const b = npyFile(dict('<f4', '(2,)'), f4x2); b[7] = 1; return b; })(), /unsupported format version 1\.1/],
    ['ends in the header length', new Uint8Array([...MAGIC, 2, 0, 10, 0]), /ends inside the header length/],
    ['header length past the end', (() => { const b = npyFile(dict('<f4', '(2,)')); b[9] = 1; return b; })(), /header length \d+ exceeds the file/],
    ['header not a dict', npyFile("['descr', '<f4']\n"), /header is not a dict/],
    ['header empty', npyFile(''), /header ends too early/],
    ['header garbage', npyFile('{descr: 1}'), /unexpected name 'descr'/],
    ['header unterminated string', npyFile("{'descr': '<f4"), /ends inside a string/],
    ['header unbalanced', npyFile("{'descr': '<f4', 'shape': (2,"), /ends too early/],
    ['header trailing junk', npyFile(dict('<f4', '(2,)').trimEnd() + ' x', f4x2), /unexpected "x"/],
    ['header float dim', npyFile(dict('<f4', '(2.0,)'), f4x2), /not a plain integer/],
    ['header non-string key', npyFile("{1: 2}"), /key that is not a string/],
    ['header deeply nested', npyFile(`{'descr': ${'('.repeat(5000)}`), /nested too deeply/],
    ['missing descr', npyFile("{'fortran_order': False, 'shape': (2,)}", f4x2), /no 'descr' key/],
    ['missing shape', npyFile("{'descr': '<f4', 'fortran_order': False}", f4x2), /no 'shape' key/],
    ['missing fortran_order', npyFile("{'descr': '<f4', 'shape': (2,)}", f4x2), /no 'fortran_order' key/],
    ['descr not a string', npyFile(dict('<f4', '(2,)').replace("'<f4'", '4'), f4x2), /'descr' is not a string/],
    ['structured dtype', npyFile(dict('<f4', '(2,)').replace("'<f4'", "[('x', '<f4')]"), f4x2), /structured dtypes are not supported/],
    ['complex dtype', npyFile(dict('<c8', '(2,)'), f4x2), /unsupported dtype '<c8'/],
    ['object dtype', npyFile(dict('|O', '(2,)'), f4x2), /unsupported dtype '\|O'/],
    ['string dtype', npyFile(dict('<U3', '(2,)'), f4x2), /unsupported dtype '<U3'/],
    ['big-endian', npyFile(dict('>f4', '(2,)'), f4x2), /big-endian arrays are not supported/],
    ['fortran order', npyFile(dict('<f4', '(1, 2)', 'True'), f4x2), /Fortran-order arrays are not supported/],
    ['fortran_order not a bool', npyFile(dict('<f4', '(2,)', '0'), f4x2), /'fortran_order' is not True or False/],
    ['shape not a tuple', npyFile(dict('<f4', '(2)'), f4x2), /'shape' is not a tuple/],
    ['negative dim', npyFile(dict('<f4', '(-2,)'), f4x2), /'shape' has a dimension that is not a non-negative integer/],
    ['huge dim', npyFile(dict('<f4', '(99999999999999999999,)'), f4x2), /not a non-negative integer/],
    ['data too short', npyFile(dict('<f4', '(3,)'), f4x2), /data is 8 bytes but shape \[3\] of float32 \(f4\) needs 12/],
    ['data too short for a scalar', npyFile(dict('<f8', '()'), f4x2.slice(0, 4)), /needs 8/],
    ['huge shape', npyFile(dict('<f4', '(4294967296, 4294967296, 4294967296)'), f4x2), /data is 8 bytes/],
    ['invalid UTF-8 in a 3.0 header', npyFile(new Uint8Array([...ascii("{'descr': '"), 0xc3, 0x28, 0x27, 0x7d]), [], 3), /not valid UTF-8/],
  ];
  for (const [name, bytes, message] of cases) {
    it(name, () => {
      const e = badArray(() => parseNpy(bytes));
      expect(e.message).toMatch(message);
      expect(e.message).toMatch(/^\.npy file: /);
    });
  }

  it('every truncation is refused with BAD_ARRAY_FILE', () => {
    const valid = serializeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    for (let n = 0; n < valid.length; n++) badArray(() => parseNpy(valid.slice(0, n)));
  });

  it('random byte flips parse or give BAD_ARRAY_FILE, never anything else', () => {
    const random = rng(99);
    const valid = serializeNpy(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    for (let trial = 0; trial < 5000; trial++) {
      const bytes = valid.slice();
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) {
        // Mostly inside magic, length and the dict text, where the structure lives.
        const at = Math.floor(random() * (random() < 0.8 ? 70 : bytes.length));
        bytes[at] = random() < 0.5 ? Math.floor(random() * 256) : bytes[at] ^ (1 << Math.floor(random() * 8));
      }
      try {
        parseNpy(bytes);
      } catch (e) {
        if (!(e instanceof LrpsegError) || e.code !== 'BAD_ARRAY_FILE') throw e;
      }
    }
  });
});

describe('npy: expectNpy', () => {
  const images = serializeNpy(new Uint8Array(12), [1, 3, 2, 2]);

  it('passes a matching array through', () => {
    expect(expectNpy(images, 'images', { dtypes: ['u1', 'f4'], ranks: [4] }).shape).toEqual([1, 3, 2, 2]);
    expect(expectNpy(images, 'images', {}).dtype).toBe('u1');
  });

  it('names expected and found dtype', () => {
    const e = badArray(() => expectNpy(images, "--input 'x.npy'", { dtypes: ['f4', 'f8'] }));
    expect(e.message).toBe("--input 'x.npy': expected dtype float32 (f4) or float64 (f8), found uint8 (u1)");
  });

  it('names expected and found rank', () => {
    const e = badArray(() => expectNpy(images, 'relevance', { ranks: [3] }));
    expect(e.message).toBe('relevance: expected a 3-d array, found a 4-d array of shape [1, 3, 2, 2]');
    const e2 = badArray(() => expectNpy(images, 'images', { ranks: [3, 2] }));
    expect(e2.message).toMatch(/expected a 3-d or 2-d array, found a 4-d array/);
  });

  it('puts `what` in front of parse errors too', () => {
    const e = badArray(() => expectNpy(new Uint8Array(3), 'masks.npy', {}));
    expect(e.message).toMatch(/^masks\.npy: not a \.npy file/);
  });
});

describe('npy: writer errors', () => {
  it('refuses bad arguments with BAD_ARRAY_FILE', () => {
    expect(badArray(() => serializeNpy(new Float32Array(3), [2, 2])).message).toMatch(
      /cannot write \.npy: shape \[2, 2\] holds 4 values but data has 3/,
    );
    expect(badArray(() => serializeNpy(new Float32Array(0), [-1])).message).toMatch(/not a non-negative integer/);
    expect(badArray(() => serializeNpy(new Float32Array(1), [1], 'u1')).message).toMatch(/needs a Uint8Array/);
    expect(badArray(() => serializeNpy(new Uint8Array(1), [1], 'f4')).message).toMatch(/needs a Float32Array or Float64Array/);
    expect(badArray(() => serializeNpy(new Float32Array(1), [1], 'i4' as 'f4')).message).toMatch(/unsupported dtype 'i4'/);
    expect(badArray(() => serializeNpy([1] as unknown as Float32Array, [1])).message).toMatch(/not a Float32Array/);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { backendAvailability } from '../src/backends.js';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeNpy } from '@lrpseg/core';
import { joinSafetensors, lrpseg, oneErrorLine, rawNpy, splitSafetensors, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
const model = path.join(dir, 'm.safetensors');
const x = path.join(dir, 'x.npy');
const out = path.join(dir, 'out.npy');

beforeAll(async () => {
  const r = await lrpseg('make-model', '--arch', 'vgg11-128n', '--width-divisor', '16', '--size', '32', '32', '--out', model, '-q');
  expect(r.code, r.stderr).toBe(0);
  writeFileSync(x, serializeNpy(new Float32Array(2 * 3 * 32 * 32).fill(0.5), [2, 3, 32, 32], 'f4'));
});
afterAll(cleanup);

/** Runs explain with a model and input; expects exit 1 and one clear line; returns it. */
async function explainFails(modelFile: string, input: string, rules = 'ours'): Promise<string> {
  const r = await lrpseg('explain', '--model', modelFile, '--input', input, '--rules', rules, '--out', out);
  expect(r.code).toBe(1);
  return oneErrorLine(r);
}

function writeModelVariant(name: string, edit: (header: Record<string, unknown>, data: Uint8Array) => void): string {
  const { header, data } = splitSafetensors(new Uint8Array(readFileSync(model)));
  const copy = data.slice();
  edit(header, copy);
  const file = path.join(dir, name);
  writeFileSync(file, joinSafetensors(header, copy));
  return file;
}

describe('bad model files give one line and exit 1', () => {
  it('truncated file', async () => {
    const bytes = readFileSync(model);
    const file = path.join(dir, 'truncated.safetensors');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length * 0.7)));
    const line = await explainFails(file, x);
    expect(line).toContain('truncated.safetensors');
    const tiny = path.join(dir, 'tiny.safetensors');
    writeFileSync(tiny, bytes.subarray(0, 5));
    expect(await explainFails(tiny, x)).toContain('tiny.safetensors');
  });

  it('random bytes', async () => {
    const file = path.join(dir, 'random.safetensors');
    let s = 12345;
    writeFileSync(file, Uint8Array.from({ length: 4096 }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24)));
    expect(await explainFails(file, x)).toContain('random.safetensors');
    // a header length that fits but holds garbage
    const junk = new Uint8Array(64).fill(0x7b);
    new DataView(junk.buffer).setBigUint64(0, 32n, true);
    const file2 = path.join(dir, 'junk.safetensors');
    writeFileSync(file2, junk);
    expect(await explainFails(file2, x)).toMatch(/junk\.safetensors: .*JSON/);
  });

  it('shapes that do not match the architecture in the metadata', async () => {
    const file = writeModelVariant('mismatch.safetensors', (header) => {
      const meta = header.__metadata__ as Record<string, string>;
      const m = JSON.parse(meta.lrpseg) as { arch: { features: (number | string)[] } };
      m.arch.features[0] = 5; // conv1_1 declared with 5 filters, stored with 4
      meta.lrpseg = JSON.stringify(m);
    });
    const line = await explainFails(file, x);
    expect(line).toContain('mismatch.safetensors');
    expect(line).toMatch(/features\.0\.weight/);
    expect((await lrpseg('info', file)).code).toBe(1);
  });

  it('non-finite weights', async () => {
    const file = writeModelVariant('nan.safetensors', (header, data) => {
      const entry = header['features.3.weight'] as { data_offsets: [number, number] };
      new DataView(data.buffer, data.byteOffset).setFloat32(entry.data_offsets[0] + 8, NaN, true);
    });
    const line = await explainFails(file, x);
    expect(line).toContain('nan.safetensors');
    expect(line).toMatch(/features\.3\.weight/);
    expect(line).toMatch(/finite|NaN/i);
  });

  it('a model file that does not exist', async () => {
    expect(await explainFails(path.join(dir, 'nope.safetensors'), x)).toContain('nope.safetensors');
  });
});

describe('bad arrays and rule specs give one line and exit 1', () => {
  it('an int32 .npy', async () => {
    const file = path.join(dir, 'int.npy');
    writeFileSync(file, rawNpy('<i4', [2, 3, 32, 32], new Uint8Array(2 * 3 * 32 * 32 * 4)));
    const line = await explainFails(model, file);
    expect(line).toContain('int.npy');
    expect(line).toMatch(/int32/);
  });

  it('a 3-d .npy, and 4-d of the wrong size', async () => {
    const file = path.join(dir, 'rank3.npy');
    writeFileSync(file, serializeNpy(new Float32Array(3 * 32 * 32), [3, 32, 32], 'f4'));
    const line = await explainFails(model, file);
    expect(line).toContain('rank3.npy');
    expect(line).toMatch(/4-d/);
    const big = path.join(dir, 'big.npy');
    writeFileSync(big, serializeNpy(new Float32Array(3 * 64 * 64), [1, 3, 64, 64], 'f4'));
    expect(await explainFails(model, big)).toMatch(/big\.npy: .*\(N, 3, 32, 32\)/);
  });

  it('a truncated .npy and non-finite values', async () => {
    const bytes = readFileSync(x);
    const cut = path.join(dir, 'cut.npy');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    expect(await explainFails(model, cut)).toContain('cut.npy');
    const nan = path.join(dir, 'nanx.npy');
    const v = new Float32Array(3 * 32 * 32);
    v[17] = NaN;
    writeFileSync(nan, serializeNpy(v, [1, 3, 32, 32], 'f4'));
    expect(await explainFails(model, nan)).toMatch(/nanx\.npy: .*non-finite/);
  });

  it('a custom rule list of the wrong length says how many parameter layers there are', async () => {
    const line = await explainFails(model, x, 'zbox,gamma,epsilon,zero');
    expect(line).toMatch(/4 rules/);
    expect(line).toMatch(/11 parameter layers/);
  });

  it('an unknown rule name, an unknown composite, two composites, a misplaced zbox', async () => {
    const spec = 'zbox,gamma,gamma,gamma,epsilon,epsilon,epsilon,bogus,zero,zero,zero';
    expect(await explainFails(model, x, spec)).toMatch(/bogus.*unknown rule/);
    expect(await explainFails(model, x, 'fancy')).toMatch(/unknown composite "fancy"/);
    // eval's way of naming two rule sets, given to a command that explains with one
    expect(await explainFails(model, x, 'ours,montavon')).toMatch(/"ours" in "ours,montavon" is a composite, not a rule/);
    expect(await explainFails(model, x, 'zero,zbox,gamma,gamma,epsilon,epsilon,epsilon,epsilon,zero,zero,zero')).toMatch(/zbox/);
    const r = await lrpseg('info', model, '--rules', 'nope');
    expect(r.code).toBe(1);
    oneErrorLine(r);
  });

  it('an unavailable backend', async () => {
    // whichever GPU backends this machine lacks (WebGPU is available wherever SwiftShader is installed)
    const missing: string[] = [];
    for (const b of ['cuda', 'webgpu'] as const) if (!(await backendAvailability(b)).available) missing.push(b);
    for (const b of missing) {
      const r = await lrpseg('explain', '--model', model, '--input', x, '--rules', 'ours', '--backend', b, '--out', out);
      expect(r.code).toBe(1);
      expect(oneErrorLine(r)).toContain(b);
    }
  });
});

describe('usage errors exit 2', () => {
  const cases: [string, string[], RegExp][] = [
    ['no arguments', [], /Usage: lrpseg/],
    ['unknown command', ['explian'], /unknown command/],
    ['missing --model', ['explain', '--input', 'x.npy', '--rules', 'ours', '--out', 'o.npy'], /--model/],
    ['missing --rules', ['explain', '--model', 'm', '--input', 'x.npy', '--out', 'o.npy'], /--rules/],
    ['no input', ['explain', '--model', 'm', '--rules', 'ours', '--out', 'o.npy'], /no input/],
    ['bad --batch-size', ['explain', '--model', 'm', '-i', 'x.npy', '--rules', 'ours', '--batch-size', 'many', '--out', 'o.npy'], /batch-size/],
    ['bad --pool', ['explain', '--model', 'm', '-i', 'x.npy', '--rules', 'ours', '--pool', 'max', '--out', 'o.npy'], /wta, avg/],
    ['bad --tta', ['explain', '--model', 'm', '-i', 'x.npy', '--rules', 'ours', '--tta', 'mirror', '--out', 'o.npy'], /none, flips, dihedral/],
    ['bad --backend', ['explain', '--model', 'm', '-i', 'x.npy', '--rules', 'ours', '--backend', 'tpu', '--out', 'o.npy'], /cpu, cuda, webgpu/],
    ['.npy mixed with images', ['explain', '--model', 'm', '-i', 'x.npy', '-i', 'a.jpg', '--rules', 'ours', '--out', 'o.npy'], /only input/],
    ['.npy into a folder', ['explain', '--model', 'm', '-i', 'x.npy', '--rules', 'ours', '--out', 'dir'], /\.npy file/],
    ['unknown option', ['info', 'm', '--colour'], /unknown option/],
    ['make-model without --arch', ['make-model', '--out', 'm.safetensors'], /--arch/],
    ['make-model bad --size', ['make-model', '--arch', 'vgg11-128n', '--size', '1', '2', '3', '--out', 'm.safetensors'], /--size/],
  ];
  for (const [name, argv, pattern] of cases) {
    it(name, async () => {
      const r = await lrpseg(...argv);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(pattern);
      if (argv.length > 0) oneErrorLine(r);
    });
  }

  it('--help and --version exit 0 on stdout', async () => {
    const h = await lrpseg('explain', '--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('--rules <spec>');
    expect(h.stdout).toContain('--batch-size <n>');
    const v = await lrpseg('--version');
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('every command with --backend picks the GPU with --device', () => {
  // device-study.sh passed --device to eval on the GPU machine, which then knew no such option
  for (const argv of [['explain'], ['segment'], ['eval'], ['calibrate'], ['bench'], ['train', 'classifier'], ['train', 'unet'], ['reproduce', 'magnetic-tile']]) {
    it(argv.join(' '), async () => {
      const h = await lrpseg(...argv, '--help');
      expect(h.code).toBe(0);
      expect(h.stdout).toContain('--backend');
      expect(h.stdout).toContain('--device <n>');
    });
  }
});

describe('unexpected errors', () => {
  it('become one line, with the stack only under --debug', async () => {
    const { reportError } = await import('../src/cli.js');
    let err = '';
    const io = { stdout: () => undefined, stderr: (s: string) => void (err += s), env: {} };
    expect(reportError(new TypeError('boom'), io, false)).toBe(1);
    expect(err).toBe('lrpseg: internal error: boom (rerun with --debug for the stack trace)\n');
    err = '';
    expect(reportError(new TypeError('boom'), io, true)).toBe(1);
    expect(err.split('\n')[0]).toBe('lrpseg: internal error: boom');
    expect(err).toContain('TypeError: boom');
    expect(err.split('\n').length).toBeGreaterThan(2);
  });
});

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lrpseg, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir();
const m128 = path.join(dir, 'm128.safetensors');
const mOne = path.join(dir, 'mone.safetensors');

beforeAll(async () => {
  for (const [arch, out] of [
    ['vgg11-128n', m128],
    ['vgg11-onefc', mOne],
  ]) {
    const r = await lrpseg('make-model', '--arch', arch, '--width-divisor', '16', '--size', '32', '32', '--out', out);
    expect(r.code, r.stderr).toBe(0);
  }
});
afterAll(cleanup);

const CONVS = ['conv1_1', 'conv2_1', 'conv3_1', 'conv3_2', 'conv4_1', 'conv4_2', 'conv5_1', 'conv5_2'];
const MONTAVON_CONV = ['zbox', 'gamma:0.25', 'gamma:0.25', 'gamma:0.25', 'epsilon:0.25', 'epsilon:0.25', 'epsilon:0.25', 'epsilon:0.25'];
const OURS_CONV = ['zbox', 'alphabeta:2:1', 'alphabeta:2:1', 'gamma:0.25', 'gamma:0.25', 'gamma:0.25', 'gamma:0.25', 'gamma:0.25'];

interface InfoJson {
  architecture: { variant: string; conv_layers: number; linear_layers: number; features: unknown[]; classifier: number[] };
  input_size: number[];
  classes: string[];
  parameters: number;
  composites: Record<string, string>;
  layers: { name: string; label: string; kind: string; weight_shape: number[]; rules: Record<string, string> }[];
}

describe('make-model', () => {
  it('is deterministic for a seed, and differs across seeds', async () => {
    const again = path.join(dir, 'again.safetensors');
    const other = path.join(dir, 'other.safetensors');
    expect((await lrpseg('make-model', '--arch', 'vgg11-128n', '--width-divisor', '16', '--size', '32x32', '--out', again, '-q')).code).toBe(0);
    expect((await lrpseg('make-model', '--arch', 'vgg11-128n', '--width-divisor', '16', '--size', '32', '--seed', '7', '--out', other, '-q')).code).toBe(0);
    expect(Buffer.compare(readFileSync(m128), readFileSync(again))).toBe(0);
    expect(Buffer.compare(readFileSync(m128), readFileSync(other))).not.toBe(0);
  });

  it('writes F16 on request (about half the size)', async () => {
    const f16 = path.join(dir, 'f16.safetensors');
    const r = await lrpseg('make-model', '--arch', 'vgg11-128n', '--width-divisor', '16', '--size', '32', '32', '--dtype', 'F16', '--out', f16);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(f16).length).toBeLessThan(readFileSync(m128).length * 0.6);
    expect((await lrpseg('info', f16)).code).toBe(0);
  });

  it('refuses sizes too small for five max-pools (usage error)', async () => {
    const r = await lrpseg('make-model', '--arch', 'vgg11-128n', '--size', '16', '16', '--out', path.join(dir, 'x.safetensors'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('at least 32×32');
  });
});

describe('info', () => {
  it('lists the 8 convolutions and 3 FC layers of VGG-A 128N with the rules of Table 1', async () => {
    const r = await lrpseg('info', m128, '--json');
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as InfoJson;
    expect(info.architecture.variant).toBe('VGG-A 128N');
    expect(info.architecture.conv_layers).toBe(8);
    expect(info.input_size).toEqual([32, 32]);
    expect(info.classes).toEqual(['defect-free', 'defect']);
    const convs = info.layers.filter((l) => l.kind === 'conv2d');
    expect(convs.map((l) => l.label)).toEqual(CONVS);
    expect(convs.map((l) => l.name)).toEqual(['features.0', 'features.3', 'features.6', 'features.8', 'features.11', 'features.13', 'features.16', 'features.18']);
    expect(convs.map((l) => l.rules.montavon)).toEqual(MONTAVON_CONV);
    expect(convs.map((l) => l.rules.ours)).toEqual(OURS_CONV);
    const fcs = info.layers.filter((l) => l.kind === 'linear');
    expect(fcs.map((l) => [l.name, l.label])).toEqual([
      ['classifier.0', 'fc1'],
      ['classifier.3', 'fc2'],
      ['classifier.6', 'fc3'],
    ]);
    expect(fcs.map((l) => l.rules.montavon)).toEqual(['zero', 'zero', 'zero']);
    expect(fcs.map((l) => l.rules.ours)).toEqual(['epsilon:0.25', 'epsilon:0.25', 'epsilon:0.25']);
    expect(convs[0].weight_shape).toEqual([4, 3, 3, 3]);
    expect(fcs[0].weight_shape).toEqual([128, 32]);
    const total = info.layers.reduce((s, l) => s + l.weight_shape.reduce((a, b) => a * b, 1) + l.weight_shape[0], 0);
    expect(info.parameters).toBe(total);
  });

  it('names the one-FC variant and gives its single FC layer the FC rule', async () => {
    const info = JSON.parse((await lrpseg('info', mOne, '--json')).stdout) as InfoJson;
    expect(info.architecture.variant).toBe('VGG-A one FC');
    expect(info.architecture.classifier).toEqual([]);
    expect(info.layers).toHaveLength(9);
    expect(info.layers[8]).toMatchObject({ name: 'classifier.0', label: 'fc1', rules: { montavon: 'zero', ours: 'epsilon:0.25' } });
  });

  it('prints a table, with a --rules column when given', async () => {
    const spec = 'zbox,gamma,gamma,gamma,epsilon,epsilon,epsilon,epsilon,zero,zero,zero';
    const r = await lrpseg('info', m128, '--rules', spec);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('VGG-A 128N');
    expect(r.stdout).toMatch(/montavon\s+ours\s+--rules/);
    const row = r.stdout.split('\n').find((l) => l.includes('conv4_1'))!;
    expect(row).toMatch(/features\.11\s+conv4_1\s+conv\s+32×16×3×3\s+4,640\s+epsilon:0.25\s+gamma:0.25\s+epsilon:0.25/);
    const json = JSON.parse((await lrpseg('info', m128, '--rules', spec, '--json')).stdout) as InfoJson;
    expect(json.layers.map((l) => l.rules.custom)).toEqual([
      'zbox', 'gamma:0.25', 'gamma:0.25', 'gamma:0.25', 'epsilon:0.25', 'epsilon:0.25', 'epsilon:0.25', 'epsilon:0.25', 'zero', 'zero', 'zero',
    ]);
  });
});

describe('bench', () => {
  it('times forward and both composites on the CPU, lists unavailable backends, writes JSON', async () => {
    const out = path.join(dir, 'bench.json');
    const r = await lrpseg('bench', '--arch', 'vgg11-onefc', '--size', '32', '--width-divisor', '16', '--iters', '1', '--warmup', '0', '--batch-size', '2', '--backend', 'all', '--json', out, '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cpu\s+forward/);
    expect(r.stdout).toMatch(/cpu\s+lrp montavon/);
    expect(r.stdout).toMatch(/cpu\s+lrp ours/);
    expect(r.stdout).toMatch(/node v\d+/);
    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      machine: { cpu: string; cores: number };
      backends: { backend: string; available: boolean; reason?: string; threads?: number; gemm_sweep?: string; results: { task: string; images_per_s: number }[] }[];
    };
    expect(report.machine.cores).toBeGreaterThan(0);
    const cpu = report.backends.find((b) => b.backend === 'cpu')!;
    expect(cpu.available).toBe(true);
    expect(cpu.threads).toBe(1);
    expect(cpu.gemm_sweep).toBe('simd');
    expect(r.stdout).toMatch(/threads 1, simd/);
    expect(cpu.results.map((t) => t.task)).toEqual(['forward', 'lrp montavon', 'lrp ours']);
    for (const t of cpu.results) expect(t.images_per_s).toBeGreaterThan(0);
    for (const b of report.backends.filter((x) => !x.available)) {
      expect(b.reason).toBeTruthy();
      expect(r.stdout).toContain(b.reason!);
    }
    expect(report.backends.map((b) => b.backend)).toEqual(['cpu', 'cuda', 'webgpu']);
  });

  it('times a model file; --model and --arch are exclusive', async () => {
    const r = await lrpseg('bench', '--model', m128, '--iters', '1', '--warmup', '0', '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('VGG-A 128N');
    expect((await lrpseg('bench', '--model', m128, '--arch', 'vgg11-128n')).code).toBe(2);
    expect((await lrpseg('bench')).code).toBe(2);
  });
});

describe('convert', () => {
  it('rewrites a model as F16: half the bytes, same names and metadata, every value the nearest F16', async () => {
    const half = path.join(dir, 'half.safetensors');
    const r = await lrpseg('convert', m128, '-o', half);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/F16/);
    const { parseSafetensors } = await import('@lrpseg/core');
    const a = parseSafetensors(readFileSync(m128));
    const b = parseSafetensors(readFileSync(half));
    expect(b.metadata.lrpseg).toBe(a.metadata.lrpseg);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    expect(readFileSync(half).length).toBeLessThan(0.55 * readFileSync(m128).length);
    for (const [name, t] of a.tensors) {
      const h = b.tensors.get(name)!;
      expect(h.shape).toEqual(t.shape);
      for (let i = 0; i < t.data.length; i += 97) {
        // F16 keeps 11 significant bits: the relative error of a normal value is at most 2^-11
        expect(Math.abs(h.data[i] - t.data[i]), name).toBeLessThanOrEqual(Math.max(Math.abs(t.data[i]) * 2 ** -11, 2 ** -24));
      }
    }
    // and back to F32 reproduces the F16 values exactly
    const back = path.join(dir, 'back.safetensors');
    expect((await lrpseg('convert', half, '--dtype', 'F32', '-o', back, '-q')).code).toBe(0);
    const c = parseSafetensors(readFileSync(back));
    for (const [name, t] of b.tensors) expect(Array.from(c.tensors.get(name)!.data), name).toEqual(Array.from(t.data));
    expect((await lrpseg('convert', half, '-o', half)).code).toBe(2);
  });
});

import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend, loadModel, loadUNet } from '@lrpseg/core';
import { serializeManifest, type Manifest, type ManifestEntry } from '@lrpseg/datasets';
import { SHARED_DIR, lrpseg, tempDir } from './helpers.js';

const MT = path.join(SHARED_DIR, 'datasets', 'magnetic-tile');
const have = existsSync(MT);

/** A small manifest over real tiles: n blowholes and n defect-free tiles per subset. */
function smallManifest(n: number): Manifest {
  const stems = (cls: string) => readdirSync(path.join(MT, `MT_${cls}`, 'Imgs')).filter((f) => f.endsWith('.jpg')).sort().map((f) => f.slice(0, -4));
  const entries = (cls: string, label: number, from: number): ManifestEntry[] =>
    stems(cls).slice(from, from + n).map((s, i) => ({ image: `MT_${cls}/Imgs/${s}.jpg`, mask: `MT_${cls}/Imgs/${s}.png`, label, class: cls, group: `${cls}-${from + i}` }));
  const subset = (from: number) => [...entries('Blowhole', 1, from), ...entries('Free', 0, from)];
  const counts = { Blowhole: n, Free: n };
  return {
    format: 'lrpseg-split', version: 1, dataset: 'magnetic-tile', root: MT, seed: 0, ratios: { train: 0.6, val: 0.2, test: 0.2 },
    classes: ['Blowhole', 'Free'], labels: ['defect-free', 'defect'], grouping: { method: 'none' }, evalViews: ['identity'],
    counts: { train: counts, val: counts, test: counts },
    subsets: { train: subset(0), val: subset(n), test: subset(2 * n) },
  };
}

describe.skipIf(!have)('lrpseg train', () => {
  const { dir, cleanup } = tempDir('lrpseg-train-');
  afterAll(cleanup);
  const manifest = path.join(dir, 'manifest.json');
  writeFileSync(manifest, have ? serializeManifest(smallManifest(6)) : '');
  const common = ['--manifest', manifest, '--size', '64', '--batch-size', '4', '--steps-per-epoch', '3', '--workers', '0', '-q'];

  it('trains a classifier, keeps the best weights and a log, and resumes where it stopped', async () => {
    const out = path.join(dir, 'clf');
    const first = await lrpseg('train', 'classifier', ...common, '--arch', 'vgg11-onefc', '--width-divisor', '16', '--epochs', '2', '--out', out);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    for (const f of ['model.safetensors', 'best.ckpt.safetensors', 'last.ckpt.safetensors', 'curves.svg', 'curves.png']) expect(existsSync(path.join(out, f)), f).toBe(true);
    const log = () => readFileSync(path.join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; val: { balancedAccuracy: number } });
    expect(log().map((r) => r.epoch)).toEqual([0, 1]);
    const model = loadModel(new CpuBackend(), readFileSync(path.join(out, 'model.safetensors')));
    expect(model.meta.input_size).toEqual([64, 64]);
    expect(model.paramLayers()).toHaveLength(9);

    const again = await lrpseg('train', 'classifier', ...common, '--arch', 'vgg11-onefc', '--width-divisor', '16', '--epochs', '3', '--out', out, '--resume');
    expect(again.code).toBe(0);
    expect(log().map((r) => r.epoch)).toEqual([0, 1, 2]);
  });

  it('trains the U-Net baseline', async () => {
    const out = path.join(dir, 'unet');
    const r = await lrpseg('train', 'unet', ...common, '--base-channels', '4', '--depth', '2', '--epochs', '1', '--out', out);
    expect(r.code).toBe(0);
    const unet = loadUNet(new CpuBackend(), readFileSync(path.join(out, 'unet.safetensors')));
    expect(unet.meta.arch.base_channels).toBe(4);
  });

  it('reports a missing manifest and a missing checkpoint on one line', async () => {
    const r = await lrpseg('train', 'classifier', '--manifest', path.join(dir, 'nope.json'), '--out', path.join(dir, 'x'), '-q');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const resume = await lrpseg('train', 'classifier', ...common, '--out', path.join(dir, 'fresh'), '--resume');
    expect(resume.code).toBe(1);
    expect(resume.stderr).toMatch(/last\.ckpt\.safetensors/);
  });
});

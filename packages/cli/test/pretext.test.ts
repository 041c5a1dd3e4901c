import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend, buildVgg, loadFeatureWeights, loadModel, parseSafetensors, rotateSquareBatch } from '@lrpseg/core';
import { rotate90, serializeManifest, type Manifest, type ManifestEntry } from '@lrpseg/datasets';
import { SHARED_DIR, lrpseg, tempDir } from './helpers.js';

const MT = path.join(SHARED_DIR, 'datasets', 'magnetic-tile');
const have = existsSync(MT);

function entries(cls: string, label: number, from: number, n: number): ManifestEntry[] {
  const stems = readdirSync(path.join(MT, `MT_${cls}`, 'Imgs')).filter((f) => f.endsWith('.jpg')).sort().map((f) => f.slice(0, -4));
  return stems.slice(from, from + n).map((s, i) => ({ image: `MT_${cls}/Imgs/${s}.jpg`, mask: `MT_${cls}/Imgs/${s}.png`, label, class: cls, group: `${cls}-${from + i}` }));
}

/** Blowhole + Free tiles; `missingHeldOut` points val and test at files that do not exist (a read of them fails). */
function manifest(n: number, missingHeldOut: boolean): Manifest {
  const subset = (from: number): ManifestEntry[] => {
    const es = [...entries('Blowhole', 1, from, n), ...entries('Free', 0, from, n)];
    return missingHeldOut && from > 0 ? es.map((e) => ({ ...e, image: `missing/${e.image}`, mask: `missing/${e.mask}` })) : es;
  };
  const counts = { total: 2 * n, Blowhole: n, Free: n };
  return {
    format: 'lrpseg-split', version: 1, dataset: 'magnetic-tile', root: MT, seed: 0, ratios: { train: 0.6, val: 0.2, test: 0.2 },
    classes: ['Blowhole', 'Free'], labels: ['defect-free', 'defect'], grouping: { method: 'none' }, evalViews: ['identity'],
    counts: { train: counts, val: counts, test: counts }, subsets: { train: subset(0), val: subset(n), test: subset(2 * n) },
  };
}

describe('rotateSquareBatch', () => {
  it('turns every sample like the datasets package rotate90, each by its own k', () => {
    const n = 4, c = 2, s = 5;
    const x = Float32Array.from({ length: n * c * s * s }, (_, i) => i);
    const ks = [0, 1, 2, 3];
    const out = rotateSquareBatch(x, n, c, s, ks);
    for (let i = 0; i < n; i++) {
      const one = { width: s, height: s, channels: c, data: x.slice(i * c * s * s, (i + 1) * c * s * s) };
      expect(Array.from(out.slice(i * c * s * s, (i + 1) * c * s * s)), `k=${ks[i]}`).toEqual(Array.from(rotate90(one, ks[i]).data));
    }
  });
});

describe.skipIf(!have)('lrpseg train pretext', () => {
  const { dir, cleanup } = tempDir('lrpseg-pretext-');
  afterAll(cleanup);
  const pretextSplit = path.join(dir, 'pretext.json');
  const split = path.join(dir, 'split.json');
  if (have) {
    writeFileSync(pretextSplit, serializeManifest(manifest(6, true)));
    writeFileSync(split, serializeManifest(manifest(6, false)));
  }
  const small = ['--size', '32', '--width-divisor', '16', '--batch-size', '4', '--workers', '0', '-q'];

  it('trains on the train images only, writes features.safetensors, and train classifier --init starts from it', async () => {
    const out = path.join(dir, 'pretext');
    const r = await lrpseg('train', 'pretext', '--manifest', pretextSplit, ...small, '--epochs', '2', '--steps-per-epoch', '2', '--hold-out', '0.25', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/held-out accuracy/);
    // the same manifest fails where val images are read, so the success above means pretext never read them
    const leak = await lrpseg('train', 'classifier', '--manifest', pretextSplit, ...small, '--epochs', '1', '--steps-per-epoch', '1', '--out', path.join(dir, 'leak'));
    expect(leak.code).toBe(1);
    expect(leak.stderr).toMatch(/missing/);
    const log = readFileSync(path.join(out, 'pretext-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; trainLoss: number; heldOutAccuracy: number; heldOutSamples: number });
    expect(log.map((l) => l.epoch)).toEqual([0, 1]);
    // 3 of the 12 train images held out, each at four turns
    expect(log[1].heldOutSamples).toBe(12);
    expect(Number.isFinite(log[1].trainLoss)).toBe(true);
    expect(log[1].heldOutAccuracy).toBeGreaterThanOrEqual(0);

    const features = parseSafetensors(readFileSync(path.join(out, 'features.safetensors')));
    const names = [...features.tensors.keys()].sort();
    expect(names.every((n) => /^features\.\d+\.(weight|bias)$/.test(n))).toBe(true);
    expect(names).toHaveLength(16); // 8 convolutions
    expect(features.metadata.lrpseg).toBeUndefined();
    expect(JSON.parse(features.metadata.lrpseg_pretext!)).toMatchObject({ task: 'rotation', trainImages: 9, heldOutImages: 3 });

    // --lr-conv 0: the convolutions stay where --init put them, so model.safetensors shows the start
    const clf = path.join(dir, 'clf');
    const c = await lrpseg(
      'train', 'classifier', '--manifest', split, ...small, '--epochs', '1', '--steps-per-epoch', '2', '--seed', '1', '--lr-conv', '0',
      '--init', path.join(out, 'features.safetensors'), '--out', clf,
    );
    expect(c.code).toBe(0);
    expect(c.stderr).toMatch(/8 convolutions initialised from/);
    const model = loadModel(new CpuBackend(), readFileSync(path.join(clf, 'model.safetensors')));
    const params = model.parameters();
    for (const name of names) expect(Array.from(await params.get(name)!.read()), name).toEqual(Array.from(features.tensors.get(name)!.data));

    // a model.safetensors written by lrpseg seeds another model's convolutions just as well
    const other = buildVgg(new CpuBackend(), model.meta, { seed: 7 });
    const copied = await loadFeatureWeights(other, readFileSync(path.join(clf, 'model.safetensors')));
    expect(copied).toHaveLength(16);
    const otherParams = other.parameters();
    for (const name of names) expect(Array.from(await otherParams.get(name)!.read()), name).toEqual(Array.from(features.tensors.get(name)!.data));
  });

  it('--task cutpaste trains on the defect-free train images only, three classes', async () => {
    // the defect images of this manifest do not exist: reading one would fail the run
    const m = manifest(6, true);
    const noDefects = path.join(dir, 'cutpaste.json');
    const train = m.subsets.train.map((e) => (e.label === 1 ? { ...e, image: `missing/${e.image}`, mask: `missing/${e.mask}` } : e));
    writeFileSync(noDefects, serializeManifest({ ...m, subsets: { ...m.subsets, train } }));
    const out = path.join(dir, 'cutpaste');
    const r = await lrpseg('train', 'pretext', '--task', 'cutpaste', '--manifest', noDefects, ...small, '--epochs', '2', '--steps-per-epoch', '2', '--hold-out', '0.34', '--out', out);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/pretext \(cutpaste\).*held-out accuracy/);
    const log = readFileSync(path.join(out, 'pretext-log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; heldOutSamples: number });
    // 2 of the 6 defect-free images held out, each as the three classes
    expect(log[1].heldOutSamples).toBe(6);
    // 4 training images make one batch of 4 per pass; --steps-per-epoch 2 takes two passes per epoch
    expect(log.map((l) => l.step)).toEqual([2, 4]);
    const features = parseSafetensors(readFileSync(path.join(out, 'features.safetensors')));
    expect(JSON.parse(features.metadata.lrpseg_pretext!)).toMatchObject({ task: 'cutpaste', trainImages: 4, heldOutImages: 2 });
    // one step learns nothing: without -q the run says so (and still writes the file)
    const loud = small.filter((a) => a !== '-q');
    const untrained = await lrpseg('train', 'pretext', '--task', 'cutpaste', '--manifest', noDefects, ...loud, '--epochs', '1', '--steps-per-epoch', '1', '--hold-out', '0.34', '--out', path.join(dir, 'cutpaste-1'));
    expect(untrained.code, untrained.stderr).toBe(0);
    expect(untrained.stderr).toMatch(/warning: the pretext task was not learnt \(held-out accuracy \d+\.\d%, chance 33\.3% for 3 classes, 6 samples\): .*features\.safetensors is written/);
    expect(existsSync(path.join(dir, 'cutpaste-1', 'features.safetensors'))).toBe(true);
    // the same manifest with rotation reads the defect images too, and fails on them
    const rot = await lrpseg('train', 'pretext', '--manifest', noDefects, ...small, '--epochs', '1', '--steps-per-epoch', '2', '--out', path.join(dir, 'rot'));
    expect(rot.code).toBe(1);
    expect(rot.stderr).toMatch(/missing/);
  });

  it('--task cutpaste refuses a train subset without a defect-free image', async () => {
    const m = manifest(6, true);
    const defectsOnly = path.join(dir, 'defects-only.json');
    writeFileSync(defectsOnly, serializeManifest({ ...m, subsets: { ...m.subsets, train: m.subsets.train.filter((e) => e.label === 1) } }));
    const r = await lrpseg('train', 'pretext', '--task', 'cutpaste', '--manifest', defectsOnly, ...small, '--epochs', '1', '--out', path.join(dir, 'no-free'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no defect-free image/);
  });

  it('offers no early stopping, which it has no validation for', async () => {
    const help = await lrpseg('train', 'pretext', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).not.toMatch(/--patience|--min-epochs|per label/);
    expect(help.stdout).toMatch(/--limit <n> +at most n train images/);
    const r = await lrpseg('train', 'pretext', '--manifest', pretextSplit, ...small, '--patience', '2', '--out', path.join(dir, 'stop'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--patience'/);
  });

  it('refuses a manifest whose train subset is empty', async () => {
    const empty = path.join(dir, 'empty.json');
    const m = manifest(2, false);
    writeFileSync(empty, serializeManifest({ ...m, counts: { ...m.counts, train: { total: 0 } }, subsets: { ...m.subsets, train: [] } }));
    const r = await lrpseg('train', 'pretext', '--manifest', empty, ...small, '--epochs', '1', '--out', path.join(dir, 'none'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/"train" subset is empty/);
  });
});

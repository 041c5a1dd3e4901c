import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend, evaluateClassifier, loadModel, loadUNet, parseSafetensors, type CalibrationRecord } from '@lrpseg/core';
import { DataLoader, parseManifest, serializeManifest, type Manifest, type ManifestEntry } from '@lrpseg/datasets';
import { classifierAugment, splitDecisionAndExtra } from '../src/commands/train.js';
import { run } from '../src/cli.js';
import { SHARED_DIR, lrpseg, tempDir } from './helpers.js';

const MT = path.join(SHARED_DIR, 'datasets', 'magnetic-tile');
const have = existsSync(MT);

/** A small manifest over real tiles: n blowholes and n defect-free tiles per subset (and n breaks with `withBreak`). */
function smallManifest(n: number, withBreak = false): Manifest {
  const stems = (cls: string) => readdirSync(path.join(MT, `MT_${cls}`, 'Imgs')).filter((f) => f.endsWith('.jpg')).sort().map((f) => f.slice(0, -4));
  const entries = (cls: string, label: number, from: number): ManifestEntry[] =>
    stems(cls).slice(from, from + n).map((s, i) => ({ image: `MT_${cls}/Imgs/${s}.jpg`, mask: `MT_${cls}/Imgs/${s}.png`, label, class: cls, group: `${cls}-${from + i}` }));
  const subset = (from: number) => [...entries('Blowhole', 1, from), ...entries('Free', 0, from), ...(withBreak ? entries('Break', 1, from) : [])];
  const counts = { total: (withBreak ? 3 : 2) * n, Blowhole: n, Free: n, ...(withBreak ? { Break: n } : {}) };
  return {
    format: 'lrpseg-split', version: 1, dataset: 'magnetic-tile', root: MT, seed: 0, ratios: { train: 0.6, val: 0.2, test: 0.2 },
    classes: withBreak ? ['Blowhole', 'Free', 'Break'] : ['Blowhole', 'Free'], labels: ['defect-free', 'defect'], grouping: { method: 'none' }, evalViews: ['identity'],
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

  it('Ctrl-C stops at the next step with a checkpoint (exit 130), and --resume ends with the weights of an uninterrupted run', async () => {
    const args = [...common.filter((a) => a !== '-q'), '--arch', 'vgg11-onefc', '--width-divisor', '16', '--epochs', '3'];
    const whole = path.join(dir, 'whole');
    const w = await lrpseg('train', 'classifier', ...args, '--out', whole);
    expect(w.code, w.stderr).toBe(0);

    const cut = path.join(dir, 'cut');
    let stderr = '';
    let sent = 0;
    const code = await run(['train', 'classifier', ...args, '--out', cut], {
      io: {
        stdout: () => undefined,
        stderr: (s) => {
          stderr += s;
          // as if Ctrl-C were pressed while epoch 1's record is written
          if (s.startsWith('epoch 1:') && sent++ === 0) process.emit('SIGINT');
        },
        progressStream: undefined,
        env: { LRPSEG_THREADS: '1' },
      },
    });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/train: stopping after this step/);
    expect(stderr).toMatch(/train: interrupted at epoch 2, step 0 of 3; the same command with --resume continues/);
    expect(process.listenerCount('SIGINT')).toBe(0);
    const epochs = (d: string) => readFileSync(path.join(d, 'train-log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch);
    expect(epochs(cut)).toEqual([0]);
    expect(existsSync(path.join(cut, 'model.safetensors'))).toBe(true);

    const resumed = await lrpseg('train', 'classifier', ...args, '--out', cut, '--resume');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(epochs(cut)).toEqual([0, 1, 2]);
    const b = new CpuBackend();
    const weights = async (d: string) => {
      const m = loadModel(b, readFileSync(path.join(d, 'last.ckpt.safetensors')));
      return Promise.all([...m.parameters()].map(async ([name, t]) => [name, Array.from(await t.read())]));
    };
    expect(await weights(cut)).toEqual(await weights(whole));
  });

  it('calibrates the decision threshold on validation: lrpseg calibrate and train --calibrate', async () => {
    const out = path.join(dir, 'cal');
    const r = await lrpseg('train', 'classifier', ...common, '--arch', 'vgg11-onefc', '--width-divisor', '16', '--epochs', '2', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const calibrated = path.join(out, 'calibrated.safetensors');
    const c = await lrpseg('calibrate', path.join(out, 'model.safetensors'), '--manifest', manifest, '--workers', '0', '-o', calibrated);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/decision threshold -?\d+\.\d+ on the margin .* from 18 defect and 18 defect-free views: balanced accuracy/);
    const b = new CpuBackend();
    const model = loadModel(b, readFileSync(calibrated));
    const record = model.meta.calibration as CalibrationRecord;
    expect(record.samples).toEqual({ positive: 18, negative: 18 });
    expect(record.balanced_accuracy!.after).toBeGreaterThanOrEqual(record.balanced_accuracy!.before);
    // the calibrated model's own argmax on the same views gives the recorded balanced accuracy
    const loader = new DataLoader({ root: MT, entries: smallManifest(6).subsets.val, mode: 'eval', batchSize: 8, size: [64, 64], evalCrop: 'defect', workers: 0 });
    const counts = await evaluateClassifier(model, (async function* () {
      for await (const x of loader.epoch(0)) yield { x: x.x, labels: Array.from(x.labels) };
    })());
    await loader.close();
    expect(((counts.tp / (counts.tp + counts.fn) + counts.tn / (counts.tn + counts.fp)) / 2)).toBeCloseTo(record.balanced_accuracy!.after, 12);

    const inTraining = path.join(dir, 'cal-train');
    const t = await lrpseg('train', 'classifier', ...common.filter((a) => a !== '-q'), '--arch', 'vgg11-onefc', '--width-divisor', '16', '--epochs', '2', '--calibrate', '--out', inTraining);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stderr).toMatch(/train: decision threshold/);
    expect(loadModel(b, readFileSync(path.join(inTraining, 'model.safetensors'))).meta.calibration).toEqual({ ...record, source: 'val' });
    expect((await lrpseg('info', calibrated)).stdout).toMatch(/decision +calibrated: threshold -?\d.* folded into classifier\.0\.bias; chosen on manifest\.json:val/);
    const bad = await lrpseg('calibrate', calibrated, '--manifest', manifest, '-o', calibrated);
    expect(bad.code).toBe(2);
    expect((await lrpseg('calibrate', calibrated, '-o', path.join(out, 'x.safetensors'))).stderr).toMatch(/either --manifest .* or --threshold/);
    expect((await lrpseg('calibrate', calibrated, '--threshold', 'abc', '-o', path.join(out, 'x.safetensors'))).code).toBe(2);
    // the recorded threshold, given by hand, makes the same model file's weights
    const given = path.join(out, 'given.safetensors');
    const g = await lrpseg('calibrate', path.join(out, 'model.safetensors'), '--threshold', String(record.threshold), '-o', given);
    expect(g.code, g.stderr).toBe(0);
    const gm = loadModel(b, readFileSync(given));
    expect((gm.meta.calibration as CalibrationRecord).source).toBe('given');
    for (const [name, t] of model.parameters()) expect(Array.from(await gm.parameters().get(name)!.read()), name).toEqual(Array.from(await t.read()));
  });

  it('trains the U-Net baseline', async () => {
    const out = path.join(dir, 'unet');
    const r = await lrpseg('train', 'unet', ...common, '--base-channels', '4', '--depth', '2', '--epochs', '1', '--out', out);
    expect(r.code).toBe(0);
    const unet = loadUNet(new CpuBackend(), readFileSync(path.join(out, 'unet.safetensors')));
    expect(unet.meta.arch.base_channels).toBe(4);
    // BCE + soft Dice: another loss, so other weights from the same seed and data
    const dice = path.join(dir, 'unet-dice');
    const d = await lrpseg('train', 'unet', ...common, '--base-channels', '4', '--depth', '2', '--epochs', '1', '--dice', '1', '--out', dice);
    expect(d.code, d.stderr).toBe(0);
    const withDice = loadUNet(new CpuBackend(), readFileSync(path.join(dice, 'unet.safetensors')));
    const a = await [...unet.params.values()][0].read();
    const c = await [...withDice.params.values()][0].read();
    expect(Array.from(c)).not.toEqual(Array.from(a));
    const logLine = JSON.parse(readFileSync(path.join(dice, 'train-log.jsonl'), 'utf8').trim().split('\n')[0]) as { trainLoss: number };
    expect(Number.isFinite(logLine.trainLoss)).toBe(true);
  });

  it('levers: extra classes, rotations, brightness, contrast, hide-and-seek, label smoothing; the saved model is a plain two-class one that eval takes', async () => {
    const withBreak = path.join(dir, 'six.json');
    writeFileSync(withBreak, serializeManifest(smallManifest(4, true)));
    const out = path.join(dir, 'levers');
    const r = await lrpseg(
      'train', 'classifier', '--manifest', withBreak, '--size', '32', '--batch-size', '4', '--steps-per-epoch', '2', '--workers', '0', '-q',
      '--width-divisor', '16', '--epochs', '1', '--out', out,
      '--extra-classes', 'break', '--rot90', '--brightness', '0.2', '--contrast', '0.2', '--hide-patches', '0.3', '--hide-cell', '8', '--label-smoothing', '0.1',
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const b = new CpuBackend();
    const ckpt = loadModel(b, readFileSync(path.join(out, 'best.ckpt.safetensors')));
    expect(ckpt.meta.classes).toEqual(['defect-free', 'defect', 'Break']);
    const model = loadModel(b, readFileSync(path.join(out, 'model.safetensors')));
    expect(model.meta.classes).toEqual(['defect-free', 'defect']);
    const x = b.fromArray(new Float32Array(3 * 32 * 32).fill(0.4), [1, 3, 32, 32]);
    expect(Array.from(await model.forward(x).read())).toEqual(Array.from(await ckpt.forward(x).read()).slice(0, 2));
    // the decision classes' manifest, its root relative to --out
    const evalSplit = path.join(out, 'eval-split.json');
    const m = parseManifest(readFileSync(evalSplit, 'utf8'), evalSplit);
    expect(m.classes).toEqual(['Blowhole', 'Free']);
    expect(m.subsets.test.map((e) => e.class).sort()).toEqual([...new Array(4).fill('Blowhole'), ...new Array(4).fill('Free')]);
    expect(path.resolve(out, m.root)).toBe(path.resolve(MT));
    const ev = await lrpseg('eval', '--model', path.join(out, 'model.safetensors'), '--rules', 'ours', '--methods', 'bmm', '--data', evalSplit, '--no-flips', '--out', path.join(out, 'eval'), '-q');
    expect(ev.stderr).toBe('');
    expect(ev.code).toBe(0);
    const metrics = JSON.parse(readFileSync(path.join(out, 'eval', 'metrics.json'), 'utf8')) as { classification: { views: number }[] };
    expect(metrics.classification[0].views).toBe(8);
  });

  it('--batch-norm trains with batch norms and saves them folded: a plain model; --resume keeps the choice; a checkpoint without refuses it', async () => {
    const out = path.join(dir, 'bn');
    const args = [...common, '--arch', 'vgg11-onefc', '--width-divisor', '16', '--out', out];
    const r = await lrpseg('train', 'classifier', ...args, '--epochs', '1', '--batch-norm');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const b = new CpuBackend();
    const model = loadModel(b, readFileSync(path.join(out, 'model.safetensors')));
    expect(model.paramLayers()).toHaveLength(9);
    const ckpt = parseSafetensors(readFileSync(path.join(out, 'last.ckpt.safetensors')));
    expect([...ckpt.tensors.keys()]).toContain('batchnorm.features.0.running_var');
    expect([...ckpt.tensors.keys()]).toContain('unfolded.features.0.weight');
    const again = await lrpseg('train', 'classifier', ...args, '--epochs', '2', '--resume');
    expect(again.code, again.stderr).toBe(0);
    const log = readFileSync(path.join(out, 'train-log.jsonl'), 'utf8').trim().split('\n');
    expect(log).toHaveLength(2);
    expect(parseSafetensors(readFileSync(path.join(out, 'last.ckpt.safetensors'))).tensors.has('batchnorm.features.0.weight')).toBe(true);

    const plain = path.join(dir, 'no-bn');
    expect((await lrpseg('train', 'classifier', ...common, '--width-divisor', '16', '--epochs', '1', '--out', plain)).code).toBe(0);
    const refused = await lrpseg('train', 'classifier', ...common, '--width-divisor', '16', '--epochs', '2', '--out', plain, '--resume', '--batch-norm');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/trained without batch norms; resume it without --batch-norm/);
  });

  it('--ema saves the weights\' moving average, trains the same weights as without it, and --resume keeps it', async () => {
    const args = [...common, '--arch', 'vgg11-onefc', '--width-divisor', '16'];
    const b = new CpuBackend();
    const plain = path.join(dir, 'ema-plain');
    expect((await lrpseg('train', 'classifier', ...args, '--epochs', '2', '--out', plain)).code).toBe(0);
    const out = path.join(dir, 'ema');
    const r = await lrpseg('train', 'classifier', ...args, '--epochs', '1', '--out', out, '--ema', '0.9');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const again = await lrpseg('train', 'classifier', ...args, '--epochs', '2', '--out', out, '--resume');
    expect(again.code, again.stderr).toBe(0);
    const ckpt = parseSafetensors(readFileSync(path.join(out, 'last.ckpt.safetensors')));
    expect(JSON.parse(ckpt.metadata.lrpseg_train).ema).toBe(0.9);
    const trained = Array.from(ckpt.tensors.get('trained.features.0.weight')!.data);
    const plainLast = parseSafetensors(readFileSync(path.join(plain, 'last.ckpt.safetensors')));
    expect(trained).toEqual(Array.from(plainLast.tensors.get('features.0.weight')!.data));
    const averaged = Array.from(ckpt.tensors.get('features.0.weight')!.data);
    expect(averaged).not.toEqual(trained);
    // model.safetensors is the best epoch's average, a plain model
    const best = parseSafetensors(readFileSync(path.join(out, 'best.ckpt.safetensors')));
    const model = loadModel(b, readFileSync(path.join(out, 'model.safetensors')));
    expect(Array.from(await model.parameters().get('features.0.weight')!.read())).toEqual(Array.from(best.tensors.get('features.0.weight')!.data));
    expect([...parseSafetensors(readFileSync(path.join(out, 'model.safetensors'))).tensors.keys()].some((k) => k.startsWith('trained.'))).toBe(false);

    const refused = await lrpseg('train', 'classifier', ...args, '--epochs', '3', '--out', out, '--resume', '--ema', '0.5');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/decay 0.9, not 0.5/);
    const bad = await lrpseg('train', 'classifier', ...args, '--epochs', '1', '--out', path.join(dir, 'ema-bad'), '--ema', '1');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--ema must be a number in \(0, 1\)/);
  });

  it('--scale-jitter reaches the training crops: 1 trains bit for bit as without it, 2 gives other weights', async () => {
    const run = async (name: string, ...extra: string[]): Promise<number[]> => {
      const out = path.join(dir, name);
      const r = await lrpseg('train', 'classifier', ...common, '--width-divisor', '16', '--epochs', '1', '--out', out, ...extra);
      expect(r.code, r.stderr).toBe(0);
      const model = loadModel(new CpuBackend(), readFileSync(path.join(out, 'model.safetensors')));
      return Array.from(await model.parameters().get('features.0.weight')!.read());
    };
    const plain = await run('sj-plain');
    expect(await run('sj-one', '--scale-jitter', '1')).toEqual(plain);
    const both = await run('sj-two', '--scale-jitter', '2');
    expect(both).not.toEqual(plain);
    expect(await run('sj-two-both', '--scale-jitter', '2', '--scale-range', 'both')).toEqual(both);
    const enlarge = await run('sj-two-enlarge', '--scale-jitter', '2', '--scale-range', 'enlarge');
    expect(enlarge).not.toEqual(plain);
    expect(enlarge).not.toEqual(both);
  });

  it('the decision classes and the extra ones: relabelled, training only, never both', () => {
    const m = smallManifest(2, true);
    const { decision, extraTrain, extraNames } = splitDecisionAndExtra(m, undefined, ['Break']);
    expect(extraNames).toEqual(['Break']);
    expect(decision.classes).toEqual(['Blowhole', 'Free']);
    for (const s of ['train', 'val', 'test'] as const) expect(decision.subsets[s].every((e) => e.class !== 'Break')).toBe(true);
    expect(decision.counts.val).toEqual({ total: 4, Blowhole: 2, Free: 2 });
    expect(extraTrain.map((e) => [e.class, e.label])).toEqual([['Break', 2], ['Break', 2]]);
    expect(extraTrain.map((e) => e.image)).toEqual(m.subsets.train.filter((e) => e.class === 'Break').map((e) => e.image));
    // no extra classes: the manifest as it is; --classes alone cuts it
    expect(splitDecisionAndExtra(m, undefined, undefined).decision).toBe(m);
    expect(splitDecisionAndExtra(m, ['free', 'BLOWHOLE'], undefined).decision.classes).toEqual(['Blowhole', 'Free']);
    expect(() => splitDecisionAndExtra(m, ['Free', 'Break'], ['Break'])).toThrow(/both decided on and extra/);
    expect(() => splitDecisionAndExtra(m, undefined, ['Fray'])).toThrow(/no class "Fray"/);
  });

  it('the augmentation levers reach the training crops: each only when on, hide-and-seek with 16-pixel cells unless told', () => {
    expect(classifierAugment({})).toEqual({ flips: true, warp: null });
    expect(classifierAugment({ brightness: 0, contrast: 0, scaleJitter: 1, hidePatches: 0 })).toEqual({ flips: true, warp: null });
    expect(classifierAugment({ hidePatches: 0.5 }).hide).toEqual({ probability: 0.5, cell: 16 });
    expect(classifierAugment({ hidePatches: 0.25, hideCell: 8 }).hide).toEqual({ probability: 0.25, cell: 8 });
    expect(classifierAugment({ rot90: true, brightness: 0.2, scaleJitter: 1.5, scaleRange: 'enlarge' })).toEqual({
      flips: true, warp: null, rot90: true, brightness: 0.2, scale: 1.5, scaleRange: 'enlarge',
    });
  });

  it('refuses bad lever values as usage errors', async () => {
    for (const [opt, value, msg] of [
      ['--brightness', '1', /--brightness must be a number in \[0, 1\)/],
      ['--contrast', '-0.1', /--contrast must be/],
      ['--label-smoothing', 'x', /--label-smoothing must be/],
      ['--scale-jitter', '0.9', /--scale-jitter must be a number in \[1, 4\]/],
      ['--scale-jitter', '5', /--scale-jitter must be/],
      ['--scale-range', 'enlarge', /--scale-range enlarge needs --scale-jitter above 1/],
      ['--scale-range', 'shrink', /--scale-range/],
      ['--hide-patches', '1', /--hide-patches must be a number in \[0, 1\)/],
      ['--hide-cell', '8', /--hide-cell needs --hide-patches above 0/],
      ['--hide-cell', '0', /--hide-cell/],
      ['--extra-classes', 'Nope', /no class "Nope"/],
    ] as const) {
      const r = await lrpseg('train', 'classifier', ...common, '--out', path.join(dir, 'bad'), opt, value);
      expect(r.code, opt).toBe(2);
      expect(r.stderr, opt).toMatch(msg);
    }
  });

  it('--patience stops early, --min-epochs holds it back; both refused where they cannot apply', async () => {
    // learning rates 0: the validation figure never changes, so the best stays epoch 1
    const frozen = [...common, '--arch', 'vgg11-onefc', '--width-divisor', '16', '--lr-conv', '0', '--lr-fc', '0', '--epochs', '4', '--patience', '1'];
    const epochs = async (name: string, ...more: string[]) => {
      const out = path.join(dir, name);
      const r = await lrpseg('train', 'classifier', ...frozen, ...more, '--out', out);
      expect(r.code, r.stderr).toBe(0);
      return readFileSync(path.join(out, 'train-log.jsonl'), 'utf8').trim().split('\n').length;
    };
    expect(await epochs('patience')).toBe(2);
    expect(await epochs('min-epochs', '--min-epochs', '3')).toBe(3);
    for (const [args, msg] of [
      [['train', 'classifier', ...common, '--min-epochs', '2'], /--min-epochs restrains early stopping: it needs --patience/],
      [['train', 'classifier', ...common, '--epochs', '3', '--patience', '1', '--min-epochs', '4'], /--min-epochs 4 is more than --epochs 3/],
      [['train', 'unet', ...common, '--min-epochs', '2'], /needs --patience/],
    ] as const) {
      const r = await lrpseg(...args, '--out', path.join(dir, 'bad-stop'));
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
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

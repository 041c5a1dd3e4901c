/**
 * scripts/device-study-import.sh: what comes back from the GPU study (a model in F16 parts, its sha256, the
 * threshold chosen on val) made into a calibrated model, the study's eval split and a paired evaluation
 * against the bundled model, here with tiny models on a few real Magnetic Tile images of each class.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_MT, miniMagneticTile, tempDir } from './helpers.js';

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
const cli = path.join(root, 'packages/cli/dist/main.js');
const script = path.join(root, 'scripts/device-study-import.sh');

/** What the study returns: the F16 model cut in two parts, its sha256 line, and results.tgz with calibration.json. */
async function studyOutput(dir: string, model: Buffer, threshold: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const cut = Math.floor(model.length / 2);
  writeFileSync(path.join(dir, 'model-f16.safetensors.part-00'), model.subarray(0, cut));
  writeFileSync(path.join(dir, 'model-f16.safetensors.part-01'), model.subarray(cut));
  const sha = createHash('sha256').update(model).digest('hex');
  writeFileSync(path.join(dir, 'model-f16.sha256'), `${sha}  /tmp/lrpseg-study.x/model-f16.safetensors\n`);
  const results = path.join(dir, 'results');
  mkdirSync(results);
  writeFileSync(path.join(results, 'calibration.json'), JSON.stringify({ file: 'model-cal.safetensors', calibration: { threshold, bias: 'classifier.0.bias', source: 'eval-split.json:val' } }));
  writeFileSync(path.join(results, 'train-log.jsonl'), '{"epoch":1}\n');
  await exec('tar', ['czf', path.join(dir, 'results.tgz'), '-C', results, '.']);
  rmSync(results, { recursive: true });
}

describe.skipIf(!HAVE_MT)('scripts/device-study-import.sh', () => {
  const tmp = tempDir('lrpseg-import-');
  afterAll(() => tmp.cleanup());
  const data = path.join(tmp.dir, 'mt');
  const returned = path.join(tmp.dir, 'model-returned.safetensors');
  const bundled = path.join(tmp.dir, 'bundled.safetensors');
  const env = { ...process.env, DATA: data, BUNDLED: bundled, THREADS: '1' };

  beforeAll(async () => {
    miniMagneticTile(data, 12);
    const make = ['make-model', '--arch', 'vgg11-onefc', '--size', '32', '--width-divisor', '16', '--dtype', 'F16'];
    await exec('node', [cli, ...make, '--seed', '1', '--out', returned]);
    await exec('node', [cli, ...make, '--seed', '2', '--out', bundled]);
  }, 60_000);

  it('joins and checks the parts, folds the threshold in, writes the split and evaluates the pair on val', async () => {
    const out = path.join(tmp.dir, 'ok');
    await studyOutput(out, readFileSync(returned), 0.25);
    const r = await exec('bash', [script, out], { env, cwd: tmp.dir, timeout: 240_000 });
    expect(r.stdout).toMatch(/2 part\(s\) joined, sha256 [0-9a-f]{64} matches/);
    expect(r.stdout).toContain('results.tgz: calibration.json train-log.jsonl');
    expect(readFileSync(path.join(out, 'model-f16.safetensors')).equals(readFileSync(returned))).toBe(true);
    const info = JSON.parse((await exec('node', [cli, 'info', '--json', path.join(out, 'model-f16-cal.safetensors')])).stdout);
    expect(info.calibration.threshold).toBe(0.25);
    const split = JSON.parse(readFileSync(path.join(out, 'split', 'eval-split.json'), 'utf8'));
    const entries = Object.values(split.subsets as Record<string, { class: string; image: string }[]>).flat();
    expect(new Set(entries.map((e) => e.class))).toEqual(new Set(['Crack', 'Blowhole', 'Free']));
    expect(entries.length).toBe(36);
    // the split's root leads to the data from where the manifest lies
    expect(existsSync(path.join(out, 'split', split.root, entries[0].image))).toBe(true);
    const metrics = readFileSync(path.join(out, 'eval-val', 'metrics.json'), 'utf8');
    expect(metrics).toContain('bundled');
    expect(metrics).toContain('model-f16-cal');
    expect(r.stdout).toContain('paired evaluation on val');
  }, 300_000);

  it('refuses parts that do not match the sha256, and an unknown subset', async () => {
    const out = path.join(tmp.dir, 'damaged');
    const model = Buffer.from(readFileSync(returned));
    await studyOutput(out, model, 0.25);
    const part = path.join(out, 'model-f16.safetensors.part-01');
    const bytes = readFileSync(part);
    bytes[10] ^= 0xff;
    writeFileSync(part, bytes);
    const r = exec('bash', [script, out], { env: { ...env, EVAL: '0' }, cwd: tmp.dir, timeout: 60_000 });
    await expect(r).rejects.toMatchObject({ code: 1 });
    await r.catch((e: { stderr: string }) => expect(e.stderr).toContain('do not match model-f16.sha256'));
    expect(existsSync(path.join(out, 'model-f16.safetensors'))).toBe(false);
    const s = exec('bash', [script, out, 'train'], { env, cwd: tmp.dir, timeout: 60_000 });
    await expect(s).rejects.toMatchObject({ code: 2 });
  }, 120_000);
});

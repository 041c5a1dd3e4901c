/**
 * scripts/cross-validate.sh (docs/levers.md): a paired group k-fold comparison of two training
 * configurations, run at a tiny size on a few real Magnetic Tile images of each of the six classes.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { HAVE_MT, miniMagneticTile, tempDir } from './helpers.js';

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');

describe.skipIf(!HAVE_MT)('scripts/cross-validate.sh', () => {
  const tmp = tempDir('lrpseg-cv-');
  afterAll(() => tmp.cleanup());
  const data = path.join(tmp.dir, 'mt');
  const out = path.join(tmp.dir, 'cv');
  const env = {
    ...process.env,
    DATA: data,
    OUT: out,
    FOLDS: '3',
    SEEDS: '3',
    A: '',
    B: '--label-smoothing 0.1',
    COMMON: '--arch vgg11-onefc --size 32 --width-divisor 16 --batch-size 8 --epochs 1 --limit 6 --lr-conv 1e-3 --lr-fc 1e-3',
    PARALLEL: '1',
  };
  const script = path.join(root, 'scripts/cross-validate.sh');

  it('trains both configurations per fold, evaluates them side by side and pools the folds', async () => {
    miniMagneticTile(data, 12);
    await exec('bash', [script], { env, timeout: 240_000 });
    for (const f of [0, 1, 2]) {
      expect(existsSync(path.join(out, 'splits', `fold-${f}.json`))).toBe(true);
      for (const c of ['a', 'b']) expect(existsSync(path.join(out, 's3', `${c}-f${f}`, 'model.safetensors'))).toBe(true);
      const m = JSON.parse(readFileSync(path.join(out, 's3', `eval-f${f}`, 'metrics.json'), 'utf8'));
      expect(JSON.stringify(m)).toContain('b-f');
    }
    // every fold's test subset is disjoint and together they are every paper-class image
    const tests = [0, 1, 2].map((f) => JSON.parse(readFileSync(path.join(out, 'splits', `fold-${f}.json`), 'utf8')).subsets.test as { image: string; class: string }[]);
    const paper = tests.flat().filter((e) => ['Crack', 'Blowhole', 'Free'].includes(e.class)).map((e) => e.image);
    expect(new Set(paper).size).toBe(paper.length);
    expect(paper.length).toBe(36);
    const pooled = readFileSync(path.join(out, 's3', 'pooled', 'pooled.md'), 'utf8');
    expect(pooled).toMatch(/a-f0|a-f1/);
    expect(pooled).toMatch(/b-f0|b-f1/);
    expect(readFileSync(path.join(out, 'config.txt'), 'utf8')).toContain('B: --label-smoothing 0.1');
  }, 300_000);

  it('a second run finds everything done and trains nothing again', async () => {
    const model = path.join(out, 's3', 'a-f0', 'model.safetensors');
    const before = statSync(model).mtimeMs;
    const r = await exec('bash', [script], { env, timeout: 120_000 });
    expect(r.stderr).not.toContain('eval A and B');
    expect(statSync(model).mtimeMs).toBe(before);
  }, 150_000);

  it('refuses an output folder that holds a comparison of other settings', async () => {
    const r = exec('bash', [script], { env: { ...env, B: '--batch-norm' }, timeout: 60_000 });
    await expect(r).rejects.toMatchObject({ code: 2 });
    await r.catch((e: { stderr: string }) => expect(e.stderr).toContain('holds a comparison of other settings'));
  }, 90_000);
});

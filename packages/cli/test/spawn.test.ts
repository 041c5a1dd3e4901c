import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const MAIN = path.resolve(import.meta.dirname, '../dist/main.js');
const { dir, cleanup } = tempDir();
afterAll(cleanup);

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, LRPSEG_THREADS: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the built lrpseg binary', () => {
  it('exists (build the package first: pnpm turbo run build --filter=@lrpseg/cli...)', () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it.runIf(existsSync(MAIN))('prints help with exit 0', () => {
    const r = cli('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('explain');
    expect(r.stdout).toContain('make-model');
  });

  it.runIf(existsSync(MAIN))('exits 1 with one line for a bad model file, 2 for bad usage, and does not hang', () => {
    const bad = path.join(dir, 'bad.safetensors');
    writeFileSync(bad, 'this is not a model');
    const r = cli('info', bad);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^lrpseg: .*bad\.safetensors/);
    expect(cli().status).toBe(2);
    expect(cli('explain', '--model', bad).status).toBe(2);
  });

  it.runIf(existsSync(MAIN))('makes a model, describes it and explains an array end to end, with worker threads', () => {
    const m = path.join(dir, 'm.safetensors');
    expect(cli('make-model', '--arch', 'vgg11-onefc', '--width-divisor', '16', '--size', '32', '32', '--out', m).status).toBe(0);
    const info = cli('info', m);
    expect(info.status).toBe(0);
    expect(info.stdout).toContain('VGG-A one FC');
    const r = spawnSync(process.execPath, [MAIN, 'bench', '--model', m, '--iters', '1', '--warmup', '0', '--threads', '2', '-q'], { encoding: 'utf8', timeout: 60000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/threads 2/);
  });
});

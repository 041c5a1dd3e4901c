/**
 * The offline bundle (`pnpm bundle:offline`, scripts/bundle-offline.mjs) is what a lent GPU machine runs,
 * and such a machine is lent rarely and briefly: a bundle that broke since the last one must show here, not
 * there. Builds it into a temporary folder and runs each of its programs at a small size, CUDA through the
 * host emulation and WebGPU on SwiftShader.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { brotliDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blowholeJpegs, HAVE_BLOWHOLE, tempDir } from './helpers.js';

const exec = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../../..');
const addon = path.join(root, 'packages/native-cuda/dist/native/lrpseg_cuda.node');
const why = existsSync(addon) ? '' : 'the CUDA addon is not built here (no nvcc), and the bundle needs it';

async function node(args: string[], env: Record<string, string> = {}, timeout = 120_000): Promise<{ stdout: string; stderr: string }> {
  return exec(process.execPath, args, { env: { ...process.env, ...env }, timeout, maxBuffer: 64 * 2 ** 20 });
}

describe.skipIf(why !== '')(`offline bundle${why ? ` (skipped: ${why})` : ''}`, () => {
  const tmp = tempDir('lrpseg-offline-');
  const out = path.join(tmp.dir, 'offline');
  const app = path.join(out, 'lrpseg');
  const emulate = { LRPSEG_CUDA_EMULATE: '1' };
  beforeAll(async () => {
    await node([path.join(root, 'scripts/bundle-offline.mjs')], { LRPSEG_OFFLINE_OUT: out }, 180_000);
  }, 200_000);
  afterAll(() => tmp.cleanup());

  it('holds every program the device scripts run, and Dawn compressed', () => {
    for (const f of ['cli.mjs', 'bench.mjs', 'conformance.mjs', 'conformance-webgpu.mjs', 'fidelity.mjs', 'precision-probe.mjs', 'layer-profile.mjs', 'sample-worker.js', 'native/lrpseg_cuda.node', 'native/lrpseg_cuda_emu.node']) {
      expect(existsSync(path.join(app, f)), f).toBe(true);
    }
    expect(existsSync(path.join(app, 'node_modules/webgpu/dist/linux-x64/dawn.node.br'))).toBe(true);
    expect(existsSync(path.join(app, 'node_modules/webgpu/dist/linux-x64/dawn.node'))).toBe(false);
    expect(existsSync(path.join(out, 'segment/index.js'))).toBe(true);
  });

  it('cli.mjs runs a command that decodes nothing (info on the bundled model)', async () => {
    const r = await node([path.join(app, 'cli.mjs'), 'info', path.join(root, 'models/mt-vgg11-onefc-w8.safetensors')]);
    expect(r.stdout).toContain('VGG-A one FC');
  });

  it('bench.mjs times the emulated CUDA backend', async () => {
    const json = path.join(tmp.dir, 'bench.json');
    await node([path.join(app, 'bench.mjs'), '--backend', 'cuda', '--arch', 'vgg11-onefc', '--size', '32', '--width-divisor', '16', '--iters', '1', '--warmup', '0', '--json', json, '-q'], emulate);
    const rep = JSON.parse(readFileSync(json, 'utf8'));
    expect(rep.backends[0].available).toBe(true);
    expect(rep.backends[0].results.map((t: { task: string }) => t.task)).toContain('lrp montavon');
  });

  it('conformance.mjs passes on the emulated CUDA backend', async () => {
    const r = await node([path.join(app, 'conformance.mjs'), '--emulate']);
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed/m);
  });

  it('precision-probe.mjs and layer-profile.mjs print their tables', async () => {
    const probe = await node([path.join(app, 'precision-probe.mjs')], { ...emulate, PROBE_SCALE: '16' });
    expect(probe.stdout).toMatch(/conv8 \| lrp alphabeta \| [\d.e+-]+ \| [\d.e+-]+ \| [\d.e+-]+ \| [\d.e+-]+/);
    expect(probe.stdout).toMatch(/fc1 \(K \d+\) \| forward/);
    const profile = await node([path.join(app, 'layer-profile.mjs')], { ...emulate, PROFILE_SCALE: '28', PROFILE_BATCH: '1', PROFILE_BACKENDS: 'cuda-fast' });
    expect(profile.stdout).toMatch(/conv8 +forward [\d.]+ ms/);
    expect(profile.stdout).toMatch(/all +forward/);
  });

  it.skipIf(!HAVE_BLOWHOLE)('fidelity.mjs compares fast and accurate masks on real images', async () => {
    const images = path.join(tmp.dir, 'images');
    mkdirSync(images);
    for (const f of blowholeJpegs(2)) copyFileSync(f, path.join(images, path.basename(f)));
    const r = await node([path.join(app, 'fidelity.mjs'), path.join(root, 'models/mt-vgg11-onefc-w8.safetensors'), images], { ...emulate, FIDELITY_FULL: '0' });
    expect(r.stdout).toMatch(/montavon: fast vs accurate heatmaps: relative L2 [\d.e+-]+; masks agree on [\d.]+ % \(Simple\)/);
    expect(r.stdout).toContain('fidelity: passed');
  });

  it.skipIf(!process.env.VK_ICD_FILENAMES)('conformance-webgpu.mjs passes on SwiftShader once Dawn is unpacked', async () => {
    const dawn = path.join(app, 'node_modules/webgpu/dist/linux-x64/dawn.node');
    writeFileSync(dawn, brotliDecompressSync(readFileSync(`${dawn}.br`))); // as device-check.sh does
    const r = await node([path.join(app, 'conformance-webgpu.mjs')], {}, 300_000);
    expect(r.stdout).toMatch(/^\d+ passed, 0 failed/m);
  }, 320_000);
});

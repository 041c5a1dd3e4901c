/**
 * The package in a real browser: headless Chromium (Debian's, never a downloaded one) with WebGPU on
 * SwiftShader loads a page bundled from the browser entry, runs LRP for a small VGG on a real Magnetic
 * Tile image (decoded here in Node with @lrpseg/datasets and handed to the page), and the heatmaps
 * match the CPU reference backend's.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend, buildVgg, explain, parseComposite, saveModel, vgg11Meta } from '@lrpseg/core';
import { prepareForModel, readImageFile } from '@lrpseg/datasets';
import { SHARED_DIR, relL2 } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const TILE_DIR = path.join(SHARED_DIR, 'datasets', 'magnetic-tile', 'MT_Blowhole', 'Imgs');
const here = path.dirname(fileURLToPath(import.meta.url));

const missing = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed (Debian package chromium)` : !existsSync(TILE_DIR) ? `no Magnetic Tile images at ${TILE_DIR}` : '';

describe.skipIf(missing !== '')('webgpu in headless Chromium', () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  let browser: BrowserContext;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'lrpseg-webgpu-page-'));
    // platform 'browser': a Node built-in anywhere in the browser entry's imports fails the build
    await build({ entryPoints: [path.join(here, 'browser', 'page.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outfile: path.join(dir, 'page.js'), logLevel: 'silent' });
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><meta charset="utf-8"><title>lrpseg webgpu</title><script type="module" src="page.js"></script>');
    const files: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/page.js': 'page.js' };
    server = http.createServer((req, res) => {
      const f = files[req.url ?? ''];
      if (!f) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': f.endsWith('.js') ? 'text/javascript' : 'text/html' });
      res.end(readFileSync(path.join(dir, f)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    // a fresh profile in the temp folder (launchPersistentContext passes it as --user-data-dir)
    browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--enable-unsafe-webgpu',
        '--use-webgpu-adapter=swiftshader',
        // as the Node entry does: skip zeroing workgroup memory, which every kernel writes before it reads
        // (SwiftShader compiles the zeroing of a 32 KiB tile for seconds)
        '--enable-dawn-features=disable_workgroup_init',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('explains a Magnetic Tile image with a small VGG; heatmaps match the CPU reference', async () => {
    const meta = vgg11Meta('onefc', { inputSize: [64, 64], widthDivisor: 8 });
    const cpu = new CpuBackend();
    const model = buildVgg(cpu, meta, { seed: 11, biasStd: 0.05 });
    const file = readdirSync(TILE_DIR).filter((f) => f.endsWith('.jpg')).sort()[0];
    const img = prepareForModel(await readImageFile(path.join(TILE_DIR, file)), [64, 64], 3);
    const shape = [1, 3, 64, 64];
    const composites = ['ours', 'montavon'];
    const want: Record<string, Float32Array> = {};
    for (const c of composites) want[c] = await explain(model, cpu.fromArray(img.data, shape), { composite: parseComposite(c, meta) }).read();
    const modelBase64 = Buffer.from(await saveModel(model)).toString('base64');

    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => 'lrpseg' in globalThis);
    const result = await page.evaluate(
      ([m, x, s, cs]) => (globalThis as unknown as { lrpseg: { runLrp: (...a: unknown[]) => Promise<{ adapter: string; gemm: string; heatmaps: Record<string, number[]>; ms: number }> } }).lrpseg.runLrp(m, x, s, cs),
      [modelBase64, Array.from(img.data), shape, composites] as const,
    );
    expect(errors).toEqual([]);
    expect(result.adapter).toMatch(/swiftshader/i);
    console.log(`browser: ${file} on ${result.adapter}, ${result.gemm}, ${result.ms.toFixed(0)} ms in the page`);
    for (const c of composites) {
      const got = result.heatmaps[c];
      expect(got).toHaveLength(64 * 64);
      const err = relL2(got, want[c]);
      console.log(`browser: ${c} heatmap relative L2 vs CPU ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
    }
    await page.close();
  }, 300_000);
});

if (missing !== '') {
  describe('webgpu in headless Chromium', () => {
    it.skip(`skipped: ${missing}`, () => {});
  });
}

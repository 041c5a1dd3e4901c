/**
 * End to end: build the page (vite), serve the built folder on 127.0.0.1, drive Debian's headless
 * Chromium with WebGPU on SwiftShader, load the sample image, download the mask PNG the page offers,
 * and compare it with the mask `lrpseg segment --no-gate` writes for the same image, model and settings.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '@lrpseg/datasets';

const CHROMIUM = '/usr/bin/chromium';
const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '..');
const SAMPLE = path.resolve(pkg, '../../samples/synthetic-tile-blowhole.png');
const ARTIFACTS = path.join(pkg, 'test-artifacts');
const CLI_MAIN = path.join(path.dirname(createRequire(import.meta.url).resolve('@lrpseg/cli')), 'main.js');

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png' };

const missing = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed (Debian package chromium)` : '';

/** Channel 0 of a 0/255 mask PNG as 0/1 bytes. */
function maskBits(png: Uint8Array, name: string): { bits: Uint8Array; width: number; height: number } {
  const img = decodeImage(png, name);
  return { bits: Uint8Array.from(img.data.subarray(0, img.width * img.height), (v) => (v > 0.5 ? 1 : 0)), width: img.width, height: img.height };
}

describe.skipIf(missing !== '')('the web page in headless Chromium', () => {
  let dir: string;
  let server: http.Server;
  let url: string;
  let browser: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  let sampleLoaded = false;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'lrpseg-web-'));
    const site = path.join(dir, 'site');
    await build({ root: pkg, configFile: path.join(pkg, 'vite.config.ts'), logLevel: 'silent', build: { outDir: site, emptyOutDir: true } });
    server = http.createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '') || 'index.html';
      const file = path.resolve(site, rel);
      if (!file.startsWith(site + path.sep) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
    browser = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--no-sandbox',
        '--enable-unsafe-webgpu',
        '--use-webgpu-adapter=swiftshader',
        '--enable-dawn-features=disable_workgroup_init',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (server ? server.close(r) : r(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the CLI on the sample with the page's default model; its mask and classifier score. */
  function cliMask(composite: string, method: string, pool: string, tta: string): { bits: Uint8Array; score: number } {
    const out = path.join(dir, `cli-${composite}-${method}-${pool}-${tta}`);
    const r = spawnSync(process.execPath, [CLI_MAIN, 'segment', '--model', path.join(dir, 'site', 'models', 'default.safetensors'), '--rules', composite, '--method', method, '--pool', pool, '--tta', tta, '--no-gate', '--backend', 'cpu', '--quiet', '--out', out, SAMPLE], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8')) as { images: { score: number }[] };
    return { bits: maskBits(readFileSync(path.join(out, 'synthetic-tile-blowhole.png')), 'cli mask').bits, score: summary.images[0].score };
  }

  it('runs on WebGPU (SwiftShader), says what the default model is', async () => {
    expect(await page.textContent('#status')).toMatch(/Backend: WebGPU \(.*swiftshader/i);
    expect(await page.textContent('#model-note')).toMatch(/interim model, trained on a 2-core CPU/);
  });

  for (const [composite, method, pool, tta] of [
    // composites, methods, max-pool rules and heatmap TTAs whose masks of the sample are neither empty nor full
    ['ours', 'bmm', 'wta', 'none'],
    ['montavon', 'simple', 'wta', 'none'],
    ['ours', 'bmm', 'avg', 'none'],
    ['ours', 'bmm', 'avg', 'flips'],
  ] as const) {
    it(`the sample's mask (${composite}, ${method}, pool ${pool}, TTA ${tta}) equals the CLI's`, async () => {
      await page.selectOption('#composite', composite);
      await page.selectOption('#method', method);
      await page.selectOption('#pool', pool);
      await page.selectOption('#tta', tta);
      if (!sampleLoaded) await page.click('#sample');
      sampleLoaded = true;
      const card = page.locator(`.card[data-composite="${composite}"][data-method="${method}"][data-pool="${pool}"][data-tta="${tta}"]`);
      await card.waitFor({ timeout: 60_000 });
      await page.waitForSelector('body[data-state="done"]');
      expect(await page.locator('.card').count()).toBe(1);
      const [download] = await Promise.all([page.waitForEvent('download'), card.locator('a.download', { hasText: 'mask PNG' }).click()]);
      expect(download.suggestedFilename()).toBe('synthetic-tile-blowhole.mask.png');
      const got = maskBits(readFileSync((await download.path())!), 'page mask');
      expect([got.width, got.height]).toEqual([224, 224]);
      const want = cliMask(composite, method, pool, tta);
      let area = 0;
      let differ = 0;
      for (let i = 0; i < want.bits.length; i++) {
        area += want.bits[i];
        differ += want.bits[i] !== got.bits[i] ? 1 : 0;
      }
      console.log(`web: ${composite}/${method}/${pool}/${tta}: mask ${area} px, ${differ} px differ from the CLI's; score page ${await card.getAttribute('data-score')} CLI ${want.score}`);
      expect(area).toBeGreaterThan(0);
      expect(area).toBeLessThan(want.bits.length);
      expect(differ).toBe(0);
      expect(Number(await card.getAttribute('data-score'))).toBeCloseTo(want.score, 4);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS, `page-${composite}-${method}-${pool}-${tta}.png`), fullPage: true });
      expect(pageErrors).toEqual([]);
    });
  }

  it('falls back to the CPU backend (?backend=cpu), says so, and gives the same mask', async () => {
    const cpuPage = await browser.newPage();
    try {
      await cpuPage.goto(`${url}?backend=cpu`);
      await cpuPage.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
      expect(await cpuPage.textContent('#status')).toMatch(/Backend: CPU, single thread \(WebAssembly SIMD\)/);
      await cpuPage.selectOption('#method', 'bmm');
      await cpuPage.click('#sample');
      const card = cpuPage.locator('.card[data-composite="ours"][data-method="bmm"]');
      await card.waitFor({ timeout: 60_000 });
      const [download] = await Promise.all([cpuPage.waitForEvent('download'), card.locator('a.download', { hasText: 'mask PNG' }).click()]);
      const got = maskBits(readFileSync((await download.path())!), 'page mask (cpu)');
      expect(Buffer.from(got.bits).equals(Buffer.from(cliMask('ours', 'bmm', 'wta', 'none').bits))).toBe(true);
    } finally {
      await cpuPage.close();
    }
  });
});

if (missing !== '') {
  describe('the web page in headless Chromium', () => {
    it.skip(`skipped: ${missing}`, () => {});
  });
}

import { chromium } from 'playwright-core';
import http from 'node:http';
const srv = http.createServer((q,r)=>{r.setHeader('content-type','text/html');r.end('<html><body>hi</body></html>')}).listen(0,'127.0.0.1');
await new Promise(r=>srv.on('listening',r));
const url='http://127.0.0.1:'+srv.address().port+'/';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const flagsets = {
  a: ['--enable-unsafe-webgpu', '--use-angle=swiftshader', '--enable-features=Vulkan', '--use-vulkan=swiftshader'],
  b: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'],
  c: ['--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader'],
  d: ['--enable-unsafe-webgpu'],
  e: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--disable-vulkan-surface'],
};
for (const [k, flags] of Object.entries(flagsets)) {
  const ctx = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chr-')), {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...flags],
  });
  const page = await ctx.newPage();
  await page.goto(url);
  const r = await page.evaluate(async () => {
    if (!navigator.gpu) return 'no navigator.gpu';
    const a = await navigator.gpu.requestAdapter();
    if (!a) return 'no adapter';
    return JSON.stringify({ v: a.info.vendor, arch: a.info.architecture, d: a.info.description, inv: a.limits.maxComputeInvocationsPerWorkgroup, f16: a.features.has('shader-f16') });
  });
  console.log(k, r);
  await ctx.close();
}

srv.close();

#!/usr/bin/env node
// `pnpm bundle:offline`: lrpseg for a machine with Node but no registry (the lent GPU machine), in
// build/offline/ (ignored by git; carry it with the device tool together with .device):
//   lrpseg/cli.mjs          the CLI, bundled by esbuild (webgpu left out; images decoded by the pure-JS
//                           decoders instead of sharp, whose libvips binaries are not carried)
//   lrpseg/sample-worker.js  the data loader's worker thread (train), likewise
//   lrpseg/bench.mjs        `lrpseg bench` alone (what scripts/device-check.sh runs; no other command's assets)
//   lrpseg/conformance.mjs  the shared conformance suites on CUDA, with a minimal vitest stand-in
//   lrpseg/fidelity.mjs     CUDA fast vs accurate on a trained model and real images; a full-size heatmap vs the CPU
//   lrpseg/precision-probe.mjs  single ops at full size: CUDA and a float32 CPU against the float64 reference
//   lrpseg/layer-profile.mjs  per-layer times and TFLOP/s of CUDA (fast, accurate) and WebGPU
//   lrpseg/conformance-webgpu.mjs  the same suites on WebGPU through Dawn (f32, and f16 where the adapter has it)
//   lrpseg/node_modules/webgpu  Dawn for this platform only, dawn.node brotli-compressed (device-check.sh unpacks it)
//   lrpseg/native/*.node    the CUDA addon (and its host emulation), linux-x64
//   lrpseg/native-deps/     native addons of bundled dependencies, this platform's only
//   lrpseg/node_modules/dejavu-fonts-ttf  the two fonts the plots use
//   segment/index.js        core's segmentation, for the segment pool's workers (eval, segment)
//   anchors/pytorch_lrp_bench.py  the PyTorch baseline from ../shared/anchors, to run in the same command
// Build the workspace first (pnpm exec turbo run build), on a machine with nvcc for the CUDA addon.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// LRPSEG_OFFLINE_OUT: another output folder (the offline-bundle test builds into a temporary one)
const out = process.env.LRPSEG_OFFLINE_OUT ? path.resolve(process.env.LRPSEG_OFFLINE_OUT) : path.join(root, 'build', 'offline');
const app = path.join(out, 'lrpseg');
const nativeSrc = path.join(root, 'packages', 'native-cuda', 'dist', 'native');
const shared = process.env.LRPSEG_SHARED ?? path.join(root, '..', 'shared');
const fail = (msg) => {
  process.stderr.write(`bundle:offline: ${msg}\n`);
  process.exit(1);
};

for (const f of ['packages/cli/dist/main.js', 'packages/core/dist/testing/index.js', 'packages/native-cuda/dist/index.js']) {
  if (!existsSync(path.join(root, f))) fail(`${f} is missing: build the workspace first (pnpm exec turbo run build)`);
}
if (!existsSync(path.join(nativeSrc, 'lrpseg_cuda.node'))) fail('packages/native-cuda/dist/native/lrpseg_cuda.node is missing: build native-cuda where nvcc is installed');

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(app, 'native'), { recursive: true });

// Native addons that bundled packages require (e.g. the SVG renderer of the report commands) are copied,
// for this platform only (linux-x64 when built here), to lrpseg/native-deps/ and required from there.
const copyNativeAddons = {
  name: 'copy-native-addons',
  setup(b) {
    b.onLoad({ filter: /\.node$/ }, (args) => {
      const name = path.basename(args.path);
      mkdirSync(path.join(app, 'native-deps'), { recursive: true });
      copyFileSync(args.path, path.join(app, 'native-deps', name));
      // A non-literal require: esbuild leaves it to run time (relative to the bundle's directory).
      return { contents: `const load = require; module.exports = load(globalThis.__dirname + ${JSON.stringify(`/native-deps/${name}`)});`, loader: 'js' };
    });
  },
};

// Data sets decode through @lrpseg/datasets' decode-sharp module; here it is swapped for decode-js, the same
// API on jpeg-js and pngjs (PNG values identical, JPEG within 2 grey levels: packages/datasets/test).
const pureJsDecoding = {
  name: 'pure-js-decoding',
  setup(b) {
    b.onResolve({ filter: /\/decode-sharp\.js$/ }, (args) => ({ path: path.join(args.resolveDir, 'decode-js.js') }));
  },
};

const common = {
  plugins: [copyNativeAddons, pureJsDecoding],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'warning',
  external: ['webgpu'],
  alias: { sharp: path.join(root, 'scripts/offline/sharp-stub.mjs') },
  // CommonJS dependencies inside an ES module bundle still call require() and read __dirname.
  banner: {
    js: [
      "import { createRequire as __lrpsegCreateRequire } from 'node:module';",
      "import { fileURLToPath as __lrpsegFileURLToPath } from 'node:url';",
      'const require = __lrpsegCreateRequire(import.meta.url);',
      'globalThis.__filename ??= __lrpsegFileURLToPath(import.meta.url);',
      "globalThis.__dirname ??= __lrpsegFileURLToPath(new URL('.', import.meta.url));",
    ].join(' '),
  },
};
// The whole CLI (best effort: other commands may need files that are not carried) and bench alone (what
// the device check runs).
try {
  await build({ ...common, entryPoints: [path.join(root, 'packages/cli/dist/main.js')], outfile: path.join(app, 'cli.mjs') });
} catch (e) {
  process.stderr.write(`bundle:offline: the whole CLI did not bundle (${String(e.message).split('\n')[0]}); bench.mjs is unaffected\n`);
}
await build({ ...common, entryPoints: [path.join(root, 'scripts/offline/bench-entry.mjs')], outfile: path.join(app, 'bench.mjs') });
// The report plots (train's curves, eval's figures) render text with DejaVu Sans, which render.ts finds
// through require.resolve from the bundle's folder.
{
  const require = createRequire(path.join(root, 'packages/cli/package.json'));
  const fontDir = path.join(app, 'node_modules', 'dejavu-fonts-ttf');
  mkdirSync(path.join(fontDir, 'ttf'), { recursive: true });
  writeFileSync(path.join(fontDir, 'package.json'), '{ "name": "dejavu-fonts-ttf" }\n');
  for (const f of ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf']) copyFileSync(require.resolve(`dejavu-fonts-ttf/ttf/${f}`), path.join(fontDir, 'ttf', f));
}
// core's segment pool starts workers that import the compiled segment module at ../segment/index.js
// from its own module, i.e. from lrpseg/cli.mjs: build/offline/segment/index.js.
mkdirSync(path.join(out, 'segment'), { recursive: true });
writeFileSync(path.join(out, 'segment', 'package.json'), '{ "type": "module" }\n');
await build({ ...common, entryPoints: [path.join(root, 'packages/core/dist/segment/index.js')], outfile: path.join(out, 'segment', 'index.js') });
// The loader looks for its worker beside itself (import.meta.url of the bundle); an ES module named .js.
writeFileSync(path.join(app, 'package.json'), '{ "type": "module" }\n');
await build({ ...common, entryPoints: [path.join(root, 'packages/datasets/dist/sample-worker.js')], outfile: path.join(app, 'sample-worker.js') });
// core's worker pools start workers from the source text of functions (eval workers, which have a plain
// `require`); esbuild renames their require() calls to its __require helper, which workers lack.
const plainRequire = (file) => writeFileSync(file, readFileSync(file, 'utf8').replace(/\b__require\(/g, 'require('));
for (const f of ['cli.mjs', 'bench.mjs', 'sample-worker.js']) if (existsSync(path.join(app, f))) plainRequire(path.join(app, f));
// The device check's own programs (scripts/offline/NAME-entry.mjs → lrpseg/NAME.mjs): the conformance suites
// need vitest's stand-in and the workspace's testing entries; the rest import compiled packages by path.
const suiteAlias = {
  sharp: path.join(root, 'scripts/offline/sharp-stub.mjs'),
  vitest: path.join(root, 'scripts/offline/vitest-shim.mjs'),
  '@lrpseg/core/testing': path.join(root, 'packages/core/dist/testing/index.js'),
  '@lrpseg/core': path.join(root, 'packages/core/dist/index.js'),
  '@lrpseg/native-cuda': path.join(root, 'packages/native-cuda/dist/index.js'),
  '@lrpseg/webgpu/node': path.join(root, 'packages/webgpu/dist/node.js'),
};
async function bundleTool(name, alias = common.alias) {
  await build({ ...common, alias, entryPoints: [path.join(root, `scripts/offline/${name}-entry.mjs`)], outfile: path.join(app, `${name}.mjs`) });
  plainRequire(path.join(app, `${name}.mjs`));
}
await bundleTool('conformance', suiteAlias); // the shared suites on CUDA
// WebGPU through Dawn: the suites on the GPU's Vulkan adapter (conformance-webgpu.mjs), and the `webgpu`
// package for bench.mjs and cli.mjs, which leave it external. Only this platform's dawn.node travels,
// brotli-compressed (21.5 → 5.7 MB): scripts/device-check.sh unpacks it there with Node's zlib before use.
await bundleTool('conformance-webgpu', suiteAlias);
await bundleTool('fidelity'); // fast against accurate on a trained model and real images; a full-size heatmap against the CPU
await bundleTool('precision-probe'); // single ops at full size: CUDA and a float32-accumulating CPU against float64
await bundleTool('layer-profile'); // per-layer times and TFLOP/s of CUDA and WebGPU
{
  const require = createRequire(path.join(root, 'packages/webgpu/package.json'));
  const pkgDir = path.dirname(require.resolve('webgpu/package.json'));
  const platform = `${process.platform}-${process.arch}`;
  const dawn = path.join(pkgDir, 'dist', platform, 'dawn.node');
  if (!existsSync(dawn)) {
    process.stderr.write(`bundle:offline: no Dawn build for ${platform} in the webgpu package; WebGPU will be unavailable there\n`);
  } else {
    const dest = path.join(app, 'node_modules', 'webgpu');
    mkdirSync(path.join(dest, 'dist', platform), { recursive: true });
    for (const f of ['package.json', 'index.js', 'LICENSE.md']) if (existsSync(path.join(pkgDir, f))) copyFileSync(path.join(pkgDir, f), path.join(dest, f));
    // brotli through Node's own zlib, so that neither this machine nor the GPU machine needs another tool
    const packed = brotliCompressSync(readFileSync(dawn), { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 9, [zlibConstants.BROTLI_PARAM_LGWIN]: 24 } });
    writeFileSync(path.join(dest, 'dist', platform, 'dawn.node.br'), packed);
  }
}
for (const f of readdirSync(nativeSrc)) if (f.endsWith('.node')) copyFileSync(path.join(nativeSrc, f), path.join(app, 'native', f));

const anchor = path.join(shared, 'anchors', 'pytorch_lrp_bench.py');
if (existsSync(anchor)) {
  mkdirSync(path.join(out, 'anchors'), { recursive: true });
  copyFileSync(anchor, path.join(out, 'anchors', 'pytorch_lrp_bench.py'));
} else {
  process.stderr.write(`bundle:offline: ${anchor} not found; the device check will run without the PyTorch baseline\n`);
}

function du(p) {
  const s = statSync(p);
  return s.isDirectory() ? readdirSync(p).reduce((t, f) => t + du(path.join(p, f)), 0) : s.size;
}
for (const f of ['lrpseg/cli.mjs', 'lrpseg/bench.mjs', 'lrpseg/sample-worker.js', 'lrpseg/conformance.mjs', 'lrpseg/conformance-webgpu.mjs', 'lrpseg/fidelity.mjs', 'lrpseg/precision-probe.mjs', 'lrpseg/layer-profile.mjs', 'lrpseg/native', 'lrpseg/native-deps', 'lrpseg/node_modules', 'segment', 'anchors']) {
  const p = path.join(out, f);
  if (existsSync(p)) process.stdout.write(`  ${f.padEnd(24)} ${(du(p) / 2 ** 20).toFixed(2)} MiB\n`);
}
process.stdout.write(`bundle:offline: build/offline is ${(du(out) / 2 ** 20).toFixed(2)} MiB\n`);

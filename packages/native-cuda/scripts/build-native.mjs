#!/usr/bin/env node
// Builds the native addons of @lrpseg/native-cuda into dist/native/ with cmake-js, offline:
//   lrpseg_cuda.node      the CUDA backend (only when nvcc is found; otherwise one line says it was skipped)
//   lrpseg_cuda_emu.node  the host emulation used by tests on machines without a GPU (needs cmake and g++)
// Node-API headers come from Node's own include dir (npm's nodedir) and the node-api-headers package that
// cmake-js ships with: nothing is downloaded. LRPSEG_SKIP_NATIVE=1 skips both.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(pkgDir, 'dist', 'native');
const log = (s) => process.stdout.write(`native-cuda: ${s}\n`);

if (process.env.LRPSEG_SKIP_NATIVE === '1') {
  log('LRPSEG_SKIP_NATIVE=1: native addons not built');
  process.exit(0);
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function findNvcc() {
  if (process.env.CUDACXX && existsSync(process.env.CUDACXX)) return process.env.CUDACXX;
  return which('nvcc') ?? ['/usr/local/cuda/bin/nvcc'].find((p) => existsSync(p)) ?? null;
}

/** Node's own headers: npm's nodedir (set up on these machines), else next to the running node. */
function nodeInclude() {
  const candidates = [];
  const r = spawnSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' });
  const nodedir = r.status === 0 ? r.stdout.trim() : '';
  if (nodedir && nodedir !== 'undefined' && nodedir !== 'null') candidates.push(path.join(nodedir, 'include', 'node'));
  candidates.push(path.join(path.dirname(path.dirname(process.execPath)), 'include', 'node'));
  return candidates.find((d) => existsSync(path.join(d, 'node_api.h'))) ?? null;
}

const cmakeJs = createRequire(import.meta.url).resolve('cmake-js/bin/cmake-js');

function build(name, buildDir, defines) {
  const args = [cmakeJs, 'build', '--directory', pkgDir, '--out', buildDir, '--config', 'Release', '--parallel', '2', '--log-level', 'warn'];
  for (const d of defines) args.push(`--CD${d}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, { cwd: pkgDir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env } });
  if (r.status !== 0) {
    process.stderr.write(r.stdout + r.stderr);
    throw new Error(`building ${name} failed (cmake-js exit ${r.status})`);
  }
  const built = [path.join(buildDir, 'Release', `${name}.node`), path.join(buildDir, `${name}.node`)].find((p) => existsSync(p));
  if (!built) throw new Error(`cmake-js finished but ${name}.node is not in ${buildDir}`);
  mkdirSync(outDir, { recursive: true });
  copyFileSync(built, path.join(outDir, `${name}.node`));
  log(`built dist/native/${name}.node (${(statSync(built).size / 1e6).toFixed(1)} MB) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

if (!which('cmake')) {
  log('cmake not found: native addons skipped (the TypeScript part is built; cudaAvailability() says why)');
  process.exit(0);
}
const include = nodeInclude();
const common = include ? [`LRPSEG_NODE_INCLUDE=${include}`] : [];
try {
  if (!which('c++') && !which('g++')) log('no C++ compiler: host emulation addon skipped (its tests will say so)');
  else if (process.env.LRPSEG_SKIP_EMULATION !== '1') build('lrpseg_cuda_emu', path.join(pkgDir, 'build', 'emu'), ['LRPSEG_EMULATE=ON', ...common]);
  const nvcc = findNvcc();
  if (!nvcc) {
    log('nvcc not found: CUDA addon skipped (the TypeScript part is built; cudaAvailability() says why)');
  } else {
    build('lrpseg_cuda', path.join(pkgDir, 'build', 'cuda'), ['LRPSEG_EMULATE=OFF', `CMAKE_CUDA_COMPILER=${nvcc}`, ...common]);
  }
} catch (e) {
  process.stderr.write(`native-cuda: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}

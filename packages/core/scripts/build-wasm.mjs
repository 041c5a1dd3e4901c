// Assembles src/cpu/kernels/gemm-sweep.wat (WebAssembly text) into src/cpu/kernels/gemm-sweep-wasm.ts, the bytes
// as a TS module, so that the build and the browser need no assembler. Run after editing the .wat; the test
// test/cpu/gemm-wasm.test.ts fails while the committed bytes differ from the source's.
//   node packages/core/scripts/build-wasm.mjs [--check]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { assembleGemmSweep, gemmSweepModuleSource } from './wasm-source.mjs';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src/cpu/kernels');
const out = path.join(dir, 'gemm-sweep-wasm.ts');
const text = gemmSweepModuleSource(await assembleGemmSweep(readFileSync(path.join(dir, 'gemm-sweep.wat'), 'utf8')));
if (process.argv.includes('--check')) {
  const same = readFileSync(out, 'utf8') === text;
  console.log(same ? 'gemm-sweep-wasm.ts is up to date' : 'gemm-sweep-wasm.ts differs from gemm-sweep.wat: run node packages/core/scripts/build-wasm.mjs');
  process.exit(same ? 0 : 1);
}
writeFileSync(out, text);
console.log(`wrote ${path.relative(process.cwd(), out)}`);

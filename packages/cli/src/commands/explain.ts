/**
 * `lrpseg explain`: LRP heatmaps of a .npy batch or of image files/folders (FORMATS.md).
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  LrpsegError,
  classifyAndExplainTta,
  expectNpy,
  fmtShape,
  parseComposite,
  serializeNpy,
  type Composite,
  type Model,
  type NpyArray,
  type HeatmapTta,
  type PoolRule,
} from '@lrpseg/core';
import { heatmapToPng, listImageInputs, prepareForModel, readImageFile } from '@lrpseg/datasets';
import { createBackend, resolveThreads, type BackendName } from '../backends.js';
import { CliError, UsageError, fsError, oneLine, withFile } from '../errors.js';
import { Progress, ensureDir, writeFileAtomic, type CliIo } from '../io.js';
import { openModel } from '../model.js';

export type OutputFormat = 'png' | 'npy' | 'both';

export interface ExplainOptions {
  readonly model: string;
  readonly inputs: readonly string[];
  readonly rules: string;
  readonly target: string;
  readonly pool: PoolRule;
  /** Heatmap test-time augmentation (core lrp/tta.ts; the spec's default is none). */
  readonly tta: HeatmapTta;
  readonly backend: BackendName;
  readonly threads?: number;
  /** GPU index for the cuda backend. */
  readonly device?: number;
  readonly batchSize: number;
  readonly out: string;
  /** undefined: png for a folder. */
  readonly format?: OutputFormat;
  readonly failFast: boolean;
  readonly quiet: boolean;
}

const isNpy = (p: string): boolean => p.toLowerCase().endsWith('.npy');
const isPng = (p: string): boolean => p.toLowerCase().endsWith('.png');

/** Resolves --target: a class index or a class name of the model. */
export function resolveTarget(text: string, model: Model): number {
  const classes = model.meta.classes;
  const k = model.meta.arch.num_classes;
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const t = Number(s);
    if (t >= k) {
      throw new LrpsegError('BAD_INPUT', `--target ${t} is out of range: the model has ${k} classes (${classes.map((c, i) => `${i} ${c}`).join(', ')})`);
    }
    return t;
  }
  const idx = classes.findIndex((c) => c.toLowerCase() === s.toLowerCase());
  if (idx < 0 || idx >= k) {
    throw new LrpsegError('BAD_INPUT', `--target "${text}" is neither a class index nor a class name (${classes.map((c, i) => `${i} ${c}`).join(', ')})`);
  }
  return idx;
}

interface Job {
  readonly model: Model;
  readonly composite: Composite;
  readonly target: number;
  readonly pool: PoolRule;
  readonly tta: HeatmapTta;
}

/** Heatmaps (n, H, W) of n images (n, C, H, W) given as one flat array. */
async function heatmapsOf(job: Job, data: Float32Array, n: number): Promise<Float32Array> {
  return (await classifyAndExplainTta(job.model, data, n, { composite: job.composite, target: job.target, pool: job.pool, tta: job.tta })).heatmaps;
}

export async function explainCommand(o: ExplainOptions, io: CliIo): Promise<number> {
  if (o.inputs.length === 0) throw new UsageError('explain: no input given (use --input FILE|FOLDER, repeatable, or list them after the options)');
  const npyInputs = o.inputs.filter(isNpy);
  if (npyInputs.length > 0 && o.inputs.length > 1) {
    throw new UsageError('explain: a .npy input must be the only input (stack the images into one array, or pass image files and folders)');
  }
  const npyMode = npyInputs.length === 1;
  if (npyMode && !isNpy(o.out)) throw new UsageError(`explain: with a .npy input, --out must be a .npy file (got "${o.out}")`);
  if (o.format !== undefined && (isNpy(o.out) || isPng(o.out))) {
    throw new UsageError('explain: --format applies only when --out is a folder');
  }

  const threads = resolveThreads(o.threads, io.env);
  const backend = await createBackend(o.backend, { ...(threads !== undefined ? { threads } : {}), ...(o.device !== undefined ? { device: o.device } : {}) });
  let model: Model | undefined;
  try {
    model = await openModel(backend, o.model);
    const composite = parseComposite(o.rules, model.meta);
    const job: Job = { model, composite, target: resolveTarget(o.target, model), pool: o.pool, tta: o.tta };
    return npyMode ? await explainNpy(job, npyInputs[0], o, io) : await explainImages(job, o, io);
  } finally {
    model?.dispose();
    await backend.destroy();
  }
}

// ---- .npy in, .npy out ----------------------------------------------------------------------

function checkedImagesArray(file: string, a: NpyArray, model: Model, io: CliIo, quiet: boolean): { data: Float32Array; n: number } {
  const [N, C, H, W] = a.shape;
  const c = model.meta.arch.in_channels;
  const [h, w] = model.meta.input_size;
  if (H !== h || W !== w || (C !== c && C !== 1)) {
    throw new LrpsegError(
      'BAD_INPUT',
      `${file}: images of shape ${fmtShape(a.shape)} do not fit the model, which takes (N, ${c}, ${h}, ${w})${c !== 1 ? ` or (N, 1, ${h}, ${w})` : ''}`,
    );
  }
  const src = a.data;
  const scale = a.dtype === 'u1' ? 1 / 255 : 1;
  const hw = h * w;
  const data = new Float32Array(N * c * hw);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < c; k++) {
      const s0 = (i * C + (C === 1 ? 0 : k)) * hw;
      const d0 = (i * c + k) * hw;
      for (let p = 0; p < hw; p++) {
        const v = src[s0 + p] * scale;
        if (!Number.isFinite(v)) {
          throw new LrpsegError('BAD_INPUT', `${file}: image ${i} has a non-finite value (${v}) at channel ${C === 1 ? 0 : k}, pixel ${p}`);
        }
        if (v < min) min = v;
        if (v > max) max = v;
        data[d0 + p] = v;
      }
    }
  }
  if (!quiet && N > 0 && (min < 0 || max > 1)) {
    io.stderr(`lrpseg: warning: ${file} has values in [${min}, ${max}]; the model expects raw intensities in [0, 1]\n`);
  }
  return { data, n: N };
}

async function explainNpy(job: Job, file: string, o: ExplainOptions, io: CliIo): Promise<number> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw fsError('read', file, e);
  }
  let arr: NpyArray;
  try {
    arr = expectNpy(bytes, file, { dtypes: ['f4', 'f8', 'u1'], ranks: [4] });
  } catch (e) {
    throw withFile(file, e);
  }
  const { data, n } = checkedImagesArray(file, arr, job.model, io, o.quiet);
  const [h, w] = job.model.meta.input_size;
  const c = job.model.meta.arch.in_channels;
  const per = c * h * w;
  const out = new Float32Array(n * h * w);
  const steps = Math.ceil(n / o.batchSize);
  const progress = new Progress(io, 'explain', n, 'images', { quiet: o.quiet, steps });
  const t0 = Date.now();
  try {
    for (let start = 0; start < n; start += o.batchSize) {
      const m = Math.min(o.batchSize, n - start);
      const maps = await heatmapsOf(job, data.subarray(start * per, (start + m) * per), m);
      out.set(maps, start * h * w);
      progress.advance(m);
    }
  } finally {
    progress.stop();
  }
  await writeFileAtomic(o.out, serializeNpy(out, [n, h, w], 'f4'));
  if (!o.quiet) io.stderr(`explain: ${n} image${n === 1 ? '' : 's'} → ${o.out} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return 0;
}

// ---- images in, PNG/.npy out ------------------------------------------------------------------

/** Output base names: the input's stem, or its full name (then "-2", "-3", …) where stems collide. */
export function outputStems(files: readonly string[]): string[] {
  const stem = (f: string): string => path.basename(f, path.extname(f));
  const count = new Map<string, number>();
  for (const f of files) count.set(stem(f).toLowerCase(), (count.get(stem(f).toLowerCase()) ?? 0) + 1);
  const used = new Set<string>();
  return files.map((f) => {
    let base = count.get(stem(f).toLowerCase())! > 1 ? path.basename(f) : stem(f);
    let k = 2;
    const first = base;
    while (used.has(base.toLowerCase())) base = `${first}-${k++}`;
    used.add(base.toLowerCase());
    return base;
  });
}

type OutputPlan =
  | { kind: 'stack'; file: string }
  | { kind: 'single-png'; file: string }
  | { kind: 'folder'; dir: string; png: boolean; npy: boolean };

async function explainImages(job: Job, o: ExplainOptions, io: CliIo): Promise<number> {
  const files = await listImageInputs(o.inputs);
  let plan: OutputPlan;
  if (isNpy(o.out)) plan = { kind: 'stack', file: o.out };
  else if (isPng(o.out)) {
    if (files.length !== 1) throw new UsageError(`explain: --out ${o.out} is one PNG but there are ${files.length} input images (give a folder)`);
    plan = { kind: 'single-png', file: o.out };
  } else {
    const f = o.format ?? 'png';
    plan = { kind: 'folder', dir: o.out, png: f !== 'npy', npy: f !== 'png' };
    await ensureDir(o.out);
  }
  const stems = outputStems(files);
  const { model } = job;
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const per = c * h * w;
  const stack = plan.kind === 'stack' ? new Float32Array(files.length * h * w) : null;
  let stacked = 0;
  let failed = 0;
  let stopped = false;
  const steps = Math.ceil(files.length / o.batchSize);
  const progress = new Progress(io, 'explain', files.length, 'images', { quiet: o.quiet, steps });
  const t0 = Date.now();
  const report = (e: unknown): void => {
    failed++;
    progress.message(`lrpseg: ${oneLine(e instanceof Error ? e.message : String(e))}`);
  };
  try {
    for (let start = 0; start < files.length; start += o.batchSize) {
      const batchFiles = files.slice(start, start + o.batchSize);
      // decode and prepare; a bad image is reported and skipped
      const good: number[] = [];
      const data = new Float32Array(batchFiles.length * per);
      for (let j = 0; j < batchFiles.length; j++) {
        try {
          const img = await readImageFile(batchFiles[j]);
          const prepared = prepareForModel(img, [h, w], c);
          data.set(prepared.data, good.length * per);
          good.push(start + j);
        } catch (e) {
          // anything that goes wrong with one image (decoding, memory for a huge one) is that image's failure
          const named = e instanceof LrpsegError || e instanceof CliError ? e : new Error(`${batchFiles[j]}: ${e instanceof Error ? e.message : String(e)}`);
          report(named);
          if (o.failFast) {
            stopped = true;
            break;
          }
        }
      }
      if (stopped) break;
      if (good.length > 0) {
        const maps = await heatmapsOf(job, data.subarray(0, good.length * per), good.length);
        for (let j = 0; j < good.length; j++) {
          const map = maps.subarray(j * h * w, (j + 1) * h * w);
          const stem = stems[good[j]];
          if (plan.kind === 'stack') {
            stack!.set(map, stacked * h * w);
            stacked++;
          } else if (plan.kind === 'single-png') {
            await writeFileAtomic(plan.file, heatmapToPng(map, w, h));
          } else {
            if (plan.png) await writeFileAtomic(path.join(plan.dir, `${stem}.png`), heatmapToPng(map, w, h));
            if (plan.npy) await writeFileAtomic(path.join(plan.dir, `${stem}.npy`), serializeNpy(new Float32Array(map), [h, w], 'f4'));
          }
        }
      }
      progress.advance(batchFiles.length);
    }
  } finally {
    progress.stop();
  }
  if (stopped) {
    if (!o.quiet) io.stderr('explain: stopped at the first bad input (--fail-fast)\n');
    return 1;
  }
  const done = files.length - failed;
  if (plan.kind === 'stack' && (done > 0 || failed === 0)) {
    await writeFileAtomic(plan.file, serializeNpy(stack!.slice(0, stacked * h * w), [stacked, h, w], 'f4'));
  }
  if (!o.quiet) {
    const where = plan.kind === 'folder' ? plan.dir : plan.file;
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    io.stderr(
      failed === 0
        ? `explain: ${done} image${done === 1 ? '' : 's'} → ${where} (${secs} s)\n`
        : `explain: ${done} of ${files.length} images → ${where}; ${failed} failed (${secs} s)\n`,
    );
  }
  return failed === 0 ? 0 : 1;
}

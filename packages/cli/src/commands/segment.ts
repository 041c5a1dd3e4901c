/**
 * `lrpseg segment`: heatmaps to masks (FORMATS.md, SEGMENTATION.md).
 *
 *   segment --relevance R.npy --method simple|gmm|bmm --out MASKS.npy [--score-out S.npy]
 *   segment --model M.safetensors --rules SPEC --method … [--backend …] --out DIR IMAGES…
 *
 * The second form is the main job: classifier gate (section 3.1: an image called defect-free gets an
 * empty mask and is not explained), LRP, then the method, on worker threads so that segmentation runs
 * while the next batch is explained.
 */
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import {
  LrpsegError,
  SEGMENT_METHODS,
  argmaxRow,
  classifyAndExplainTta,
  HEATMAP_TTAS,
  type HeatmapTta,
  expectNpy,
  parseComposite,
  serializeNpy,
  type Composite,
  type Model,
  type NpyArray,
  type PoolRule,
  type SegmentMethod,
  type Segmentation,
} from '@lrpseg/core';
import { createSegmentPool, type SegmentPool } from '@lrpseg/core/node';
import { heatmapToPng, listImageInputs, prepareForModel, readImageFile, type PreparedImage } from '@lrpseg/datasets';
import { intArg } from '../args.js';
import { BACKEND_NAMES, createBackend, resolveThreads, type BackendName } from '../backends.js';
import { CliError, UsageError, fsError, oneLine, withFile } from '../errors.js';
import { Progress, ensureDir, writeFileAtomic, type CliIo } from '../io.js';
import { TTA_HELP } from '../rule-sets.js';
import { openModel, variantName } from '../model.js';
import { maskToOriginal, maskToPng, overlayPng, planarToRgb } from '../report/masks.js';
import { parseShard, shardPositions, summaryName, type Shard } from '../report/shard.js';
import { outputStems, resolveTarget } from './explain.js';

const isNpy = (p: string): boolean => p.toLowerCase().endsWith('.npy');

/** Segmentation worker threads: all cores but one (that one runs the pipeline), at least 1. */
export function defaultSegmentThreads(env: Readonly<Record<string, string | undefined>>): number {
  const cores = resolveThreads(undefined, env) ?? availableParallelism();
  return Math.max(1, Math.min(8, cores - 1));
}

// ---- .npy in, .npy out ----------------------------------------------------------------------

export interface SegmentNpyOptions {
  readonly relevance: string;
  readonly method: SegmentMethod;
  readonly out: string;
  readonly scoreOut?: string;
  readonly segmentThreads?: number;
  readonly failFast: boolean;
  readonly quiet: boolean;
}

export async function segmentNpyCommand(o: SegmentNpyOptions, io: CliIo): Promise<number> {
  if (!isNpy(o.out)) throw new UsageError(`segment: with --relevance, --out must be a .npy file (got "${o.out}")`);
  if (o.scoreOut !== undefined && !isNpy(o.scoreOut)) throw new UsageError(`segment: --score-out must be a .npy file (got "${o.scoreOut}")`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(o.relevance);
  } catch (e) {
    throw fsError('read', o.relevance, e);
  }
  let arr: NpyArray;
  try {
    arr = expectNpy(bytes, o.relevance, { dtypes: ['f4', 'f8'], ranks: [2, 3] });
  } catch (e) {
    throw withFile(o.relevance, e);
  }
  const shape = arr.shape;
  const [n, h, w] = shape.length === 2 ? [1, shape[0], shape[1]] : [shape[0], shape[1], shape[2]];
  if (h === 0 || w === 0) throw new LrpsegError('BAD_INPUT', `${o.relevance}: maps of ${h}×${w} pixels cannot be segmented`);
  const data = arr.data as Float32Array | Float64Array;
  const hw = h * w;
  const masks = new Uint8Array(n * hw);
  const scores = o.scoreOut !== undefined ? new Float32Array(n * hw) : null;
  const pool = createSegmentPool({ threads: o.segmentThreads ?? defaultSegmentThreads(io.env) });
  const progress = new Progress(io, 'segment', n, 'maps', { quiet: o.quiet, steps: n });
  const t0 = Date.now();
  const failures: { index: number; message: string }[] = [];
  try {
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        try {
          const s = await pool.segment(o.method, { data: data.subarray(i * hw, (i + 1) * hw), height: h, width: w });
          masks.set(s.mask, i * hw);
          scores?.set(s.score, i * hw);
        } catch (e) {
          failures.push({ index: i, message: e instanceof Error ? e.message : String(e) });
        }
        progress.advance(1);
      }),
    );
  } finally {
    progress.stop();
    await pool.close();
  }
  failures.sort((a, b) => a.index - b.index);
  for (const f of failures) io.stderr(`lrpseg: ${oneLine(`${o.relevance}: map ${f.index}: ${f.message.replace(/^segment \w+: /, '')}`)}\n`);
  if (failures.length > 0 && o.failFast) {
    if (!o.quiet) io.stderr('segment: nothing written (--fail-fast)\n');
    return 1;
  }
  await writeFileAtomic(o.out, serializeNpy(masks, shape, 'u1'));
  if (scores && o.scoreOut !== undefined) await writeFileAtomic(o.scoreOut, serializeNpy(scores, shape, 'f4'));
  if (!o.quiet) {
    const secs = ((Date.now() - t0) / 1000).toFixed(1);
    const bad = failures.length > 0 ? `; ${failures.length} map${failures.length === 1 ? '' : 's'} refused (written as empty masks)` : '';
    io.stderr(`segment: ${n} map${n === 1 ? '' : 's'} (${o.method}) → ${o.out}${scores ? ` and ${o.scoreOut}` : ''}${bad} (${secs} s)\n`);
  }
  return failures.length === 0 ? 0 : 1;
}

// ---- images in, mask PNGs out -----------------------------------------------------------------

export type MaskSize = 'input' | 'original';

export interface SegmentImagesOptions {
  readonly model: string;
  readonly inputs: readonly string[];
  readonly rules: string;
  readonly method: SegmentMethod;
  readonly target: string;
  readonly pool: PoolRule;
  /** Heatmap test-time augmentation (core lrp/tta.ts; the spec's default is none). */
  readonly tta: HeatmapTta;
  readonly backend: BackendName;
  readonly threads?: number;
  /** GPU index for the cuda backend (default 0). */
  readonly device?: number;
  readonly segmentThreads?: number;
  readonly batchSize: number;
  readonly out: string;
  /** The classifier gate of section 3.1 (default on). */
  readonly gate: boolean;
  readonly heatmaps: boolean;
  readonly overlays: boolean;
  readonly scores: boolean;
  readonly maskSize: MaskSize;
  readonly resume: boolean;
  readonly shard?: Shard;
  readonly failFast: boolean;
  readonly quiet: boolean;
}

export type Verdict = 'defect' | 'defect-free';

/** One input's line in the summary. */
export interface ImageRecord {
  readonly input: string;
  readonly stem: string;
  /** not-run: stopped (--fail-fast, Ctrl-C) before this image's turn. */
  status: 'done' | 'failed' | 'not-run';
  /** Outputs existed already and were kept (--resume). */
  resumed?: boolean;
  verdict?: Verdict;
  /** The classifier's score: softmax probability of the target class. */
  score?: number;
  /** Whether LRP ran (false when the gate called the image defect-free). */
  explained?: boolean;
  mask_area?: number;
  mask_fraction?: number;
  /** Output files, relative to the output folder. */
  outputs?: Record<string, string>;
  /** Per image: decode, its share of the batch's forward pass and LRP, segmentation, writing. */
  timings_ms?: Record<string, number>;
  error?: string;
}

export interface SegmentSummary {
  readonly format: 'lrpseg-segment-summary';
  readonly version: 1;
  readonly model: string;
  readonly variant: string;
  readonly rules: string;
  readonly method: SegmentMethod;
  readonly target: { readonly index: number; readonly name: string };
  readonly gate: boolean;
  readonly pool: PoolRule;
  readonly tta: HeatmapTta;
  readonly backend: BackendName;
  readonly input_size: readonly [number, number];
  readonly mask_size: MaskSize;
  readonly shard: Shard | null;
  readonly counts: {
    readonly inputs: number;
    readonly processed: number;
    readonly resumed: number;
    readonly failed: number;
    readonly defect: number;
    readonly defect_free: number;
    readonly explained: number;
  };
  readonly interrupted: boolean;
  readonly started: string;
  readonly seconds: number;
  readonly images: readonly ImageRecord[];
}

/** Where each output of an image goes, relative to the output folder. */
function outputPaths(stem: string, o: SegmentImagesOptions): Record<string, string> {
  const out: Record<string, string> = { mask: `${stem}.png` };
  if (o.heatmaps) out.heatmap = `heatmaps/${stem}.png`;
  if (o.overlays) out.overlay = `overlays/${stem}.png`;
  if (o.scores) out.score = `scores/${stem}.npy`;
  return out;
}

async function readPreviousSummary(file: string): Promise<Map<string, ImageRecord>> {
  const out = new Map<string, ImageRecord>();
  try {
    const s = JSON.parse(await readFile(file, 'utf8')) as Partial<SegmentSummary>;
    for (const r of s.images ?? []) if (r && r.status === 'done' && typeof r.stem === 'string') out.set(r.stem, r);
  } catch {
    // no summary, or an unreadable one: records of resumed images then only say "resumed"
  }
  return out;
}

const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

function softmaxAt(logits: Float32Array, row: number, k: number, target: number): number {
  let mx = -Infinity;
  for (let j = 0; j < k; j++) mx = Math.max(mx, logits[row * k + j]);
  let s = 0;
  for (let j = 0; j < k; j++) s += Math.exp(logits[row * k + j] - mx);
  return Math.exp(logits[row * k + target] - mx) / s;
}

interface Job {
  readonly model: Model;
  readonly composite: Composite;
  readonly target: number;
  readonly pool: PoolRule;
  readonly tta: HeatmapTta;
}

/** Logits (and, if asked, heatmaps) of n prepared images. */
async function runModel(job: Job, data: Float32Array, n: number, explain: boolean): Promise<{ logits: Float32Array; heatmaps: Float32Array | null }> {
  const { model } = job;
  if (explain) return classifyAndExplainTta(model, data, n, { composite: job.composite, target: job.target, pool: job.pool, tta: job.tta });
  return { logits: await model.forwardHost(data, n), heatmaps: null };
}

export async function segmentImagesCommand(o: SegmentImagesOptions, io: CliIo): Promise<number> {
  if (o.inputs.length === 0) throw new UsageError('segment: no input images (list image files or folders after the options)');
  if (isNpy(o.out) || o.out.toLowerCase().endsWith('.png')) {
    throw new UsageError(`segment: --out must be a folder for image inputs (got "${o.out}"); a .npy output goes with --relevance`);
  }
  const started = new Date();
  const t0 = Date.now();
  const threads = resolveThreads(o.threads, io.env);
  const backend = await createBackend(o.backend, { ...(threads !== undefined ? { threads } : {}), ...(o.device !== undefined ? { device: o.device } : {}) });
  let model: Model | undefined;
  let pool: SegmentPool | undefined;
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
  };
  process.once('SIGINT', onSigint);
  try {
    model = await openModel(backend, o.model);
    const composite = parseComposite(o.rules, model.meta);
    const job: Job = { model, composite, target: resolveTarget(o.target, model), pool: o.pool, tta: o.tta };
    const files = await listImageInputs(o.inputs);
    const stems = outputStems(files);
    const positions = shardPositions(files.length, o.shard);
    await ensureDir(o.out);
    const summaryFile = path.join(o.out, summaryName(o.shard));
    const previous = o.resume ? await readPreviousSummary(summaryFile) : new Map<string, ImageRecord>();

    const [h, w] = model.meta.input_size;
    const c = model.meta.arch.in_channels;
    const k = model.meta.arch.num_classes;
    const hw = h * w;
    const records: ImageRecord[] = positions.map((i) => ({ input: files[i], stem: stems[i], status: 'not-run' }));
    const todo: number[] = [];
    for (let r = 0; r < records.length; r++) {
      const rec = records[r];
      const outs = outputPaths(rec.stem, o);
      // the mask is written last: if it exists, so do the image's other outputs
      if (o.resume && existsSync(path.join(o.out, outs.mask))) {
        const prev = previous.get(rec.stem);
        records[r] = { ...(prev ?? {}), input: rec.input, stem: rec.stem, status: 'done', resumed: true, outputs: prev?.outputs ?? outs };
      } else todo.push(r);
    }

    pool = createSegmentPool({ threads: o.segmentThreads ?? defaultSegmentThreads(io.env) });
    const progress = new Progress(io, 'segment', records.length, 'images', { quiet: o.quiet, steps: records.length });
    progress.advance(records.length - todo.length);
    let failed = 0;
    let stopped = false;
    const fail = (r: number, e: unknown): void => {
      failed++;
      const msg = oneLine(e instanceof Error ? e.message : String(e));
      const named = msg.includes(records[r].input) ? msg : `${records[r].input}: ${msg}`;
      records[r].status = 'failed';
      records[r].error = named;
      progress.message(`lrpseg: ${named}`);
      if (o.failFast) stopped = true;
    };

    /** Writes an image's outputs (the mask last, so that a present mask means a finished image). */
    const writeOutputs = async (r: number, prep: PreparedImage, mask: Uint8Array, score: Float32Array | null, heatmap: Float32Array | null): Promise<void> => {
      const rec = records[r];
      const outs = outputPaths(rec.stem, o);
      // an image the gate stopped has no heatmap (it was not explained)
      if (heatmap === null) delete outs.heatmap;
      const tw = Date.now();
      if (outs.heatmap !== undefined) await writeFileAtomic(path.join(o.out, outs.heatmap), heatmapToPng(heatmap!, w, h));
      if (o.overlays) await writeFileAtomic(path.join(o.out, outs.overlay), overlayPng(planarToRgb(prep.data, prep.channels, w, h), mask, w, h));
      if (o.scores) await writeFileAtomic(path.join(o.out, outs.score), serializeNpy(score ?? new Float32Array(hw), [h, w], 'f4'));
      const m = o.maskSize === 'original' ? maskToOriginal(mask, prep.geometry) : { data: mask, width: w, height: h };
      await writeFileAtomic(path.join(o.out, outs.mask), maskToPng(m.data, m.width, m.height));
      let area = 0;
      for (let i = 0; i < mask.length; i++) area += mask[i];
      rec.status = 'done';
      rec.outputs = outs;
      rec.mask_area = area;
      rec.mask_fraction = round6(area / mask.length);
      rec.timings_ms = { ...(rec.timings_ms ?? {}), write: Date.now() - tw };
    };

    // Batches: decode → gate → LRP on the defective ones → segmentation on the pool. Segmentation and
    // writing of a batch overlap with the next batch; at most two batches are in flight.
    const inFlight: Promise<void>[] = [];
    for (let start = 0; start < todo.length && !stopped && !interrupted; start += o.batchSize) {
      const batch = todo.slice(start, start + o.batchSize);
      const good: number[] = [];
      const preps: PreparedImage[] = [];
      const data = new Float32Array(batch.length * c * hw);
      for (const r of batch) {
        const td = Date.now();
        try {
          const prep = prepareForModel(await readImageFile(records[r].input), [h, w], c);
          data.set(prep.data, good.length * c * hw);
          good.push(r);
          preps.push(prep);
          records[r].timings_ms = { decode: Date.now() - td };
        } catch (e) {
          fail(r, e instanceof LrpsegError || e instanceof CliError ? e : new Error(`${records[r].input}: ${e instanceof Error ? e.message : String(e)}`));
          progress.advance(1);
          if (stopped) break;
        }
      }
      if (stopped || good.length === 0) continue;
      const n = good.length;
      const tf = Date.now();
      const first = await runModel(job, data.subarray(0, n * c * hw), n, !o.gate);
      const forwardMs = Date.now() - tf;
      let heatmaps = first.heatmaps;
      const explained: number[] = []; // indices into good
      const verdicts: Verdict[] = [];
      for (let j = 0; j < n; j++) {
        const defect = argmaxRow(first.logits, j, k) === job.target;
        verdicts.push(defect ? 'defect' : 'defect-free');
        if (!o.gate || defect) explained.push(j);
      }
      let lrpMs = 0;
      if (o.gate && explained.length > 0) {
        const sub = new Float32Array(explained.length * c * hw);
        explained.forEach((j, q) => sub.set(data.subarray(j * c * hw, (j + 1) * c * hw), q * c * hw));
        const tl = Date.now();
        heatmaps = (await runModel(job, sub, explained.length, true)).heatmaps;
        lrpMs = Date.now() - tl;
      } else if (!o.gate) {
        lrpMs = forwardMs; // one pass did both
      }
      const batchJobs: Promise<void>[] = [];
      for (let j = 0; j < n; j++) {
        const r = good[j];
        const rec = records[r];
        rec.verdict = verdicts[j];
        rec.score = round6(softmaxAt(first.logits, j, k, job.target));
        const q = explained.indexOf(j);
        rec.explained = q >= 0;
        rec.timings_ms = {
          ...rec.timings_ms,
          forward: Math.round(((o.gate ? forwardMs : 0) / n) * 10) / 10,
          lrp: q >= 0 ? Math.round((lrpMs / explained.length) * 10) / 10 : 0,
        };
        if (q < 0) {
          batchJobs.push(
            writeOutputs(r, preps[j], new Uint8Array(hw), null, null).then(
              () => progress.advance(1),
              (e) => {
                fail(r, e);
                progress.advance(1);
              },
            ),
          );
          continue;
        }
        const map = heatmaps!.slice(q * hw, (q + 1) * hw);
        const ts = Date.now();
        batchJobs.push(
          pool
            .segment(o.method, { data: map, height: h, width: w })
            .then(async (s: Segmentation) => {
              rec.timings_ms = { ...rec.timings_ms, segment: Date.now() - ts };
              await writeOutputs(r, preps[j], s.mask, s.score, map);
            })
            .then(
              () => progress.advance(1),
              (e) => {
                fail(r, e);
                progress.advance(1);
              },
            ),
        );
      }
      inFlight.push(Promise.all(batchJobs).then(() => undefined));
      if (inFlight.length >= 2) await inFlight.shift();
    }
    await Promise.all(inFlight);
    progress.stop();

    const done = records.filter((r) => r.status === 'done');
    const summary: SegmentSummary = {
      format: 'lrpseg-segment-summary',
      version: 1,
      model: o.model,
      variant: variantName(model.meta),
      rules: o.rules,
      method: o.method,
      target: { index: job.target, name: model.meta.classes[job.target] ?? String(job.target) },
      gate: o.gate,
      pool: o.pool,
      tta: o.tta,
      backend: o.backend,
      input_size: [h, w],
      mask_size: o.maskSize,
      shard: o.shard ?? null,
      counts: {
        inputs: records.length,
        processed: done.length,
        resumed: done.filter((r) => r.resumed).length,
        failed: records.filter((r) => r.status === 'failed').length,
        defect: done.filter((r) => r.verdict === 'defect').length,
        defect_free: done.filter((r) => r.verdict === 'defect-free').length,
        explained: done.filter((r) => r.explained).length,
      },
      interrupted: interrupted || stopped,
      started: started.toISOString(),
      seconds: Math.round((Date.now() - t0) / 100) / 10,
      images: records,
    };
    await writeFileAtomic(summaryFile, new TextEncoder().encode(JSON.stringify(summary, null, 1) + '\n'));
    if (!o.quiet) {
      const c2 = summary.counts;
      const notRun = records.length - c2.processed - c2.failed;
      io.stderr(
        `segment: ${c2.processed} of ${records.length} image${records.length === 1 ? '' : 's'} → ${o.out} ` +
          `(${o.method}; ${c2.defect} defect, ${c2.defect_free} defect-free${o.gate ? '' : ', gate off'}` +
          `${c2.resumed > 0 ? `; ${c2.resumed} already done` : ''}${failed > 0 ? `; ${failed} failed` : ''}` +
          `${notRun > 0 ? `; ${notRun} not run` : ''}; ${summary.seconds} s); summary ${summaryFile}\n`,
      );
      if (stopped) io.stderr('segment: stopped at the first bad input (--fail-fast)\n');
      if (interrupted) io.stderr('segment: interrupted; run again with --resume to finish\n');
    }
    if (interrupted) return 130;
    return failed === 0 && !stopped && summary.counts.processed === records.length ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    await pool?.close();
    model?.dispose();
    await backend.destroy();
  }
}

// ---- command-line wiring ------------------------------------------------------------------------

const RULES_HELP =
  "composite: 'montavon', 'ours', or one rule per parameter layer in forward order, comma-separated";

/** Registers `lrpseg segment` on the program; `setResult` receives its exit status. */
export function registerSegment(program: Command, io: CliIo, setResult: (code: number) => void): void {
  program
    .command('segment')
    .summary('masks from heatmaps (.npy) or from images with a model')
    .description(
      'Turns LRP heatmaps into masks with Simple, GMM or BMM (SEGMENTATION.md).\n\n' +
        'From heatmaps: --relevance R.npy (float32/float64 (N, H, W) or (H, W)) --out MASKS.npy writes uint8 0/1 ' +
        'masks of the same shape, and --score-out S.npy float32 scores (GMM/BMM: damage posterior; Simple: ' +
        'normalize01(R)). A map that cannot be segmented (NaN, ±Inf) is reported by index and written as an empty mask.\n\n' +
        'From images: --model M --rules SPEC --out DIR IMAGES… runs the classifier gate (an image called ' +
        'defect-free gets an empty mask and is not explained; --no-gate explains every image), LRP and the ' +
        'method, and writes DIR/<stem>.png masks (0/255, the model\'s input size unless --mask-size original), ' +
        'optional heatmaps/, overlays/ and scores/ subfolders, and DIR/summary.json (per image: verdict, ' +
        'classifier score, mask area, timings; overall counts). With --shard K/N only the inputs at positions ' +
        'i ≡ K (mod N) of the sorted input list run, and the summary is summary.shard-K-of-N.json. ' +
        '--resume skips images whose mask exists (it is written last). Exit status: 0 when every input was processed, 1 ' +
        'when some failed (each reported by name), 2 for usage errors, 130 when interrupted (Ctrl-C ends ' +
        'after the current batch; files are written atomically).',
    )
    .argument('[images...]', 'image files or folders (image form)')
    .option('--relevance <file>', 'heatmaps .npy (npy form)')
    .addOption(new Option('--method <method>', 'segmentation method').choices([...SEGMENT_METHODS]).makeOptionMandatory())
    .requiredOption('-o, --out <path>', 'MASKS.npy (npy form) or an output folder (image form)')
    .option('--score-out <file>', 'scores .npy (npy form)')
    .option('--model <file>', 'model (.safetensors) (image form)')
    .option('--rules <spec>', RULES_HELP)
    .option('--target <class>', 'class to explain and to gate on: index or name', '1')
    .addOption(new Option('--pool <rule>', 'max-pool relevance rule').choices(['wta', 'avg']).default('wta'))
    .addOption(new Option('--tta <how>', TTA_HELP).choices([...HEATMAP_TTAS]).default('none'))
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]).default('cpu'))
    .addOption(new Option('--threads <n>', 'CPU backend worker threads (default: LRPSEG_THREADS, else all cores)').argParser(intArg(1, 1024)))
    .addOption(new Option('--device <n>', 'GPU index for the cuda backend (default 0)').argParser(intArg(0, 1023)))
    .addOption(new Option('--segment-threads <n>', 'segmentation worker threads (default: cores − 1; 0 runs on the main thread)').argParser(intArg(0, 256)))
    .option('--batch-size <n>', 'images per batch', intArg(1, 65536), 8)
    .option('--no-gate', 'explain and segment every image, whatever the classifier says')
    .option('--heatmaps', 'also write heatmaps/<stem>.png (of the explained images)')
    .option('--overlays', 'also write overlays/<stem>.png (the input with the mask in red)')
    .option('--scores', 'also write scores/<stem>.npy (float32 per-pixel scores, for lrpseg eval)')
    .addOption(new Option('--mask-size <size>', "mask PNG size: the model's input crop or the original image").choices(['input', 'original']).default('input'))
    .option('--resume', 'skip images whose mask already exists')
    .option('--shard <K/N>', 'process the K-th of N parts of the input list (K from 0)')
    .option('--fail-fast', 'stop at the first bad input')
    .option('-q, --quiet', 'no progress or summary on stderr (errors are still reported)')
    .option('--debug', 'print stack traces of unexpected errors')
    .action(async (images: string[], opts: Record<string, unknown>) => {
      const method = opts.method as SegmentMethod;
      const quiet = Boolean(opts.quiet);
      const segmentThreads = opts.segmentThreads as number | undefined;
      if (opts.relevance !== undefined) {
        const imageOnly = ['model', 'rules', 'shard', 'resume', 'heatmaps', 'overlays', 'scores'].filter((k) => opts[k] !== undefined);
        // --pool and --tta have defaults: a value other than the default means the user meant them
        if (opts.pool !== 'wta') imageOnly.push('pool');
        if (opts.tta !== 'none') imageOnly.push('tta');
        if (images.length > 0 || imageOnly.length > 0) {
          throw new UsageError(`segment: --relevance takes no images and no ${imageOnly.length > 0 ? imageOnly.map((k) => `--${k}`).join(', ') : 'image arguments'}`);
        }
        setResult(
          await segmentNpyCommand(
            {
              relevance: opts.relevance as string,
              method,
              out: opts.out as string,
              ...(opts.scoreOut !== undefined ? { scoreOut: opts.scoreOut as string } : {}),
              ...(segmentThreads !== undefined ? { segmentThreads } : {}),
              failFast: Boolean(opts.failFast),
              quiet,
            },
            io,
          ),
        );
        return;
      }
      if (opts.model === undefined || opts.rules === undefined) {
        throw new UsageError('segment: give --relevance R.npy, or --model M.safetensors --rules SPEC with images');
      }
      if (opts.scoreOut !== undefined) throw new UsageError('segment: --score-out goes with --relevance; for images use --scores');
      setResult(
        await segmentImagesCommand(
          {
            model: opts.model as string,
            inputs: images,
            rules: opts.rules as string,
            method,
            target: opts.target as string,
            pool: opts.pool as PoolRule,
            tta: opts.tta as HeatmapTta,
            backend: opts.backend as BackendName,
            ...(opts.threads !== undefined ? { threads: opts.threads as number } : {}),
            ...(opts.device !== undefined ? { device: opts.device as number } : {}),
            ...(segmentThreads !== undefined ? { segmentThreads } : {}),
            batchSize: opts.batchSize as number,
            out: opts.out as string,
            gate: opts.gate !== false,
            heatmaps: Boolean(opts.heatmaps),
            overlays: Boolean(opts.overlays),
            scores: Boolean(opts.scores),
            maskSize: opts.maskSize as MaskSize,
            resume: Boolean(opts.resume),
            ...(opts.shard !== undefined ? { shard: parseShard(opts.shard as string) } : {}),
            failFast: Boolean(opts.failFast),
            quiet,
          },
          io,
        ),
      );
    });
}

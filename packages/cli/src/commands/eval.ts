/**
 * `lrpseg eval`: scores segmentations against ground truth (SEGMENTATION.md, "Scores") and writes a
 * report folder: metrics.json, metrics.md (Table 3 layout), PR curves (SVG + PNG, as Figures 4–7) and
 * example panels (as Figure 9).
 *
 *   eval --model M.safetensors [--model M2 …] --rules ours,montavon --methods simple,gmm,bmm --data D --out R
 *   eval --pred DIR [--pred DIR2 …] --data D --out R
 *
 * The model form runs the whole pipeline on every view (the image and its flips, section 3.4): the
 * classifier on every view (TPR/TNR), LRP and each method on the defective ones, and reports the
 * metrics with the classifier gate (section 3.1) and without it. The prediction form scores masks (and
 * scores/<stem>.npy, if present) written by `lrpseg segment --out DIR`.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Command, Option } from 'commander';
import {
  LrpsegError,
  PooledScores,
  SEGMENT_METHODS,
  averagePrecision,
  balancedAccuracyInterval,
  classificationScores,
  pairedBalancedAccuracyDifference,
  pairedIoUDifference,
  pooledIoUInterval,
  type DecisionCounts,
  type IoUCounts,
  type PairedDifference,
  classifyAndExplainTta,
  HEATMAP_TTAS,
  type HeatmapTta,
  countPixels,
  loadUNet,
  expectNpy,
  isSegmentMethod,
  noSkillPrecision,
  argmaxRow,
  parseComposite,
  prPoints,
  segmentationScores,
  type ClassificationScores,
  type Composite,
  type Model,
  type PixelCounts,
  type PoolRule,
  type PrPoint,
  type SegmentMethod,
  type SegmentationScores,
  type UNet,
} from '@lrpseg/core';
import { createSegmentPool, type SegmentPool } from '@lrpseg/core/node';
import { cropRegion, prepareForModel, readImageFile } from '@lrpseg/datasets';
import { collect, intArg } from '../args.js';
import { BACKEND_NAMES, createBackend, resolveThreads, type BackendName } from '../backends.js';
import { UsageError, oneLine } from '../errors.js';
import { Progress, ensureDir, writeFileAtomic, type CliIo } from '../io.js';
import { openModel, readModelBytes, variantName } from '../model.js';
import { ALL_VIEWS, binarizeTruth, flipPlanar, prepareItem, readEvalData, readTruth, resamplingUnit, type EvalCrop, type EvalItem, type EvalView } from '../report/eval-data.js';
import { planarToRgb } from '../report/masks.js';
import type { PanelRow } from '../report/panels.js';
import type { PrSeries } from '../report/plots.js';
import { areaTerciles, stratify, type StratumScores, type ViewStratumInfo } from '../report/strata.js';
import { reportMarkdown, tallyByClass, type ClassificationRow, type ComparisonRow, type ConfigRow, type RuleSetComparisonRow, type ScoreCells } from '../report/table.js';
import { defaultSegmentThreads } from './segment.js';
import { resolveTarget } from './explain.js';
import { TTA_HELP, collectRuleSets, withExplainChoices, type ExplainedRuleSet, type RuleSet } from '../rule-sets.js';

export interface EvalOptions {
  readonly models: readonly string[];
  readonly rules: readonly RuleSet[];
  readonly methods: readonly SegmentMethod[];
  readonly preds: readonly string[];
  /** U-Net models (score = sigmoid output, mask = score > 0.5), scored beside the model form or alone. */
  readonly unets?: readonly string[];
  readonly data: readonly string[];
  readonly truth?: string;
  readonly subset: string;
  readonly views: readonly EvalView[];
  /** Model-sized window: 'defect' (default) centres it on the defect; 'center' is the paper's crop. */
  readonly crop?: EvalCrop;
  readonly out: string;
  readonly target: string;
  /** Max-pool relevance rules: each rule set is explained with each (names get @wta / @avg with two). */
  readonly pools: readonly PoolRule[];
  /** Heatmap TTAs (core lrp/tta.ts): each rule set × pool rule is explained with each (names get @none / @flips with two). */
  readonly ttas: readonly HeatmapTta[];
  readonly backend: BackendName;
  readonly threads?: number;
  /** GPU index for the cuda backend (default 0). */
  readonly device?: number;
  readonly segmentThreads?: number;
  readonly batchSize: number;
  readonly examples: number;
  readonly failFast: boolean;
  readonly quiet: boolean;
}

/** Metrics of one configuration in one mode (gate on or off). */
export interface ModeMetrics {
  readonly images: number;
  readonly pooled: PixelCounts;
  readonly iou: number;
  readonly precision: number;
  readonly recall: number;
  readonly mean_image_iou: number;
  readonly mean_image_iou_count: number;
  readonly ap: number | null;
  /** Thinned PR curve, highest threshold first: [recall, precision, threshold]. */
  readonly pr_curve: readonly (readonly [number, number, number])[] | null;
  /** IoU of each evaluated view ("<id>" or "<id>/<view>"); null where undefined. */
  readonly per_view_iou: Readonly<Record<string, number | null>>;
  /** Pixel counts [TP, FP, FN] of each evaluated view, keyed as per_view_iou (lrpseg pool sums them across folds). */
  readonly per_view_counts?: Readonly<Record<string, readonly [number, number, number]>>;
  /** 95 % percentile bootstrap interval of the pooled IoU, resampling images (an image's views together; a manifest's groups together). */
  readonly iou_ci95: readonly [number, number] | null;
  /** Pooled scores of the views of each manifest class (where the data names classes). */
  readonly by_class?: readonly StratumScores[];
  /** Pooled scores of each third of the views by damage area (the same cuts for every row of a report). */
  readonly by_area?: readonly StratumScores[];
}

export interface ConfigMetrics {
  readonly network: string;
  readonly model: string;
  readonly rules: string;
  readonly method: string;
  readonly gated: ModeMetrics;
  readonly ungated: ModeMetrics | null;
}

export interface EvalReport {
  readonly format: 'lrpseg-eval-report';
  readonly version: 1;
  readonly created: string;
  readonly data: {
    readonly sources: readonly string[];
    readonly items: number;
    readonly defective_items: number;
    readonly views: readonly EvalView[];
    readonly defective_views: number;
    readonly failed: readonly string[];
  };
  /** What each segmentation row's `rules` name stands for: its LRP rules, max-pool rule and heatmap TTA. */
  readonly rule_sets?: readonly { readonly name: string; readonly rules: string; readonly pool: PoolRule; readonly tta: HeatmapTta }[];
  readonly pixels: number;
  readonly damage_pixels: number;
  readonly no_skill_precision: number;
  readonly classification: readonly (ClassificationScores & {
    readonly network: string;
    readonly model: string;
    readonly views: number;
    /** 95 % percentile bootstrap interval, resampling defective and defect-free images separately. */
    readonly balanced_accuracy_ci95: readonly [number, number] | null;
    /** Each view's decision, keyed as per_view_iou: for finding which defects a classifier misses. */
    readonly per_view?: Readonly<Record<string, ViewDecision>>;
  })[];
  readonly segmentation: readonly ConfigMetrics[];
  /** With two or more --model: each later model against the first, on the same views (paired bootstrap). */
  readonly comparisons?: readonly ModelComparison[];
  /** With two or more rule sets: each later one against the first, per model and method (paired bootstrap). */
  readonly rule_comparisons?: readonly RuleSetComparison[];
}

/** One view's classification: what the gate decided and how surely. */
export interface ViewDecision {
  /** 1 defective, 0 defect-free (the truth). */
  readonly label: 0 | 1;
  /** The classifier's decision: the target class has the largest logit (the segmentation gate). */
  readonly defect: boolean;
  /** Target logit minus the largest other logit: > 0 is a defect decision; its size is the confidence. */
  readonly margin: number;
  /** Damage pixels of the view's ground truth at the model's input size (what the classifier saw). */
  readonly damage_pixels: number;
  /** The manifest's class and group, where it names them. */
  readonly class?: string;
  readonly group?: string;
}

/** Target logit minus the largest other logit of row `i` (k logits a row). */
function decisionMargin(logits: Float32Array, i: number, k: number, target: number): number {
  let other = -Infinity;
  for (let j = 0; j < k; j++) if (j !== target) other = Math.max(other, logits[i * k + j]);
  return logits[i * k + target] - other;
}

/** A later model minus the first: balanced accuracy and every rules × method pooled IoU, gate on and off. */
export interface ModelComparison {
  readonly reference: string;
  readonly network: string;
  readonly balanced_accuracy: PairedDifference;
  readonly segmentation: readonly { readonly rules: string; readonly method: string; readonly gated: PairedDifference; readonly ungated: PairedDifference }[];
}

/** For one model and method, a later rule set minus the first, on the same views (paired bootstrap). */
export interface RuleSetComparison {
  readonly network: string;
  readonly reference: string;
  readonly rules: string;
  readonly method: string;
  readonly gated: PairedDifference;
  readonly ungated: PairedDifference;
}

const roundDifference = (d: PairedDifference): PairedDifference => ({ difference: r6(d.difference), ci95: d.ci95 ? [r6(d.ci95[0]), r6(d.ci95[1])] : null });

/** One configuration's per-unit pixel counts, gate on and off. */
export interface ModeUnits {
  readonly gated: ReadonlyMap<string, IoUCounts>;
  readonly ungated: ReadonlyMap<string, IoUCounts>;
}
/** b − a of one configuration's pooled IoU, gate on and off, on the same units. */
const pairedModes = (a: ModeUnits, b: ModeUnits): { gated: PairedDifference; ungated: PairedDifference } => ({
  gated: roundDifference(pairedIoUDifference(a.gated, b.gated)),
  ungated: roundDifference(pairedIoUDifference(a.ungated, b.ungated)),
});

export function compareRuns(reference: { name: string; units: RunUnits }, other: { name: string; units: RunUnits }): ModelComparison {
  const segmentation: ModelComparison['segmentation'][number][] = [];
  for (const [key, b] of other.units.segmentation) {
    const a = reference.units.segmentation.get(key);
    if (!a) continue;
    const [rules, method] = key.split('\u0000');
    segmentation.push({ rules, method, ...pairedModes(a, b) });
  }
  return {
    reference: reference.name,
    network: other.name,
    balanced_accuracy: roundDifference(pairedBalancedAccuracyDifference(reference.units.classification, other.units.classification)),
    segmentation,
  };
}

export function compareRuleSets(network: string, ruleNames: readonly string[], methods: readonly string[], units: RunUnits): RuleSetComparison[] {
  const out: RuleSetComparison[] = [];
  const [reference, ...later] = ruleNames;
  for (const rules of later) {
    for (const method of methods) {
      const a = units.segmentation.get(`${reference}\u0000${method}`);
      const b = units.segmentation.get(`${rules}\u0000${method}`);
      if (!a || !b) continue;
      out.push({ network, reference, rules, method, ...pairedModes(a, b) });
    }
  }
  return out;
}

const r6 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x);
const roundInterval = (ci: [number, number] | null): [number, number] | null => (ci ? [r6(ci[0]), r6(ci[1])] : null);

/** Decision counts per resampling unit, from each view's unit, decision and label. */
export function decisionUnits(units: readonly string[], predicted: readonly boolean[], actual: readonly boolean[]): Map<string, DecisionCounts> {
  const by = new Map<string, { tp: number; fn: number; tn: number; fp: number }>();
  units.forEach((id, i) => {
    const c = by.get(id) ?? { tp: 0, fn: 0, tn: 0, fp: 0 };
    if (actual[i]) predicted[i] ? c.tp++ : c.fn++;
    else predicted[i] ? c.fp++ : c.tn++;
    by.set(id, c);
  });
  return by;
}

/** Accumulates one configuration's per-view counts and pooled scores. */
class ModeAccumulator {
  private readonly counts: PixelCounts[] = [];
  /** Per resampling unit of the interval (a manifest group, else an image): its views' counts summed. */
  private readonly byUnit = new Map<string, IoUCounts>();
  private readonly ious: Record<string, number | null> = {};
  private readonly viewCounts: Record<string, [number, number, number]> = {};
  private readonly scores: PooledScores | null;
  constructor(withScores: boolean) {
    this.scores = withScores ? new PooledScores() : null;
  }
  add(view: Pick<View, 'key' | 'item'>, mask: Uint8Array, truth: Uint8Array, score: Float32Array | null): void {
    const key = view.key;
    const c = countPixels(mask, truth);
    this.counts.push(c);
    const unit = resamplingUnit(view.item);
    const img = this.byUnit.get(unit) ?? { tp: 0, fp: 0, fn: 0 };
    this.byUnit.set(unit, { tp: img.tp + c.tp, fp: img.fp + c.fp, fn: img.fn + c.fn });
    const u = c.tp + c.fp + c.fn;
    this.ious[key] = u > 0 ? r6(c.tp / u) : null;
    this.viewCounts[key] = [c.tp, c.fp, c.fn];
    if (this.scores && score) this.scores.add(score, truth);
  }
  /** The per-unit counts (for paired comparisons between models). */
  units(): ReadonlyMap<string, IoUCounts> {
    return this.byUnit;
  }
  result(): ModeMetrics {
    const s: SegmentationScores = segmentationScores(this.counts);
    let ap: number | null = null;
    let curve: [number, number, number][] | null = null;
    if (this.scores && this.scores.total > 0) {
      const c = this.scores.curve();
      ap = r6(averagePrecision(c));
      curve = prPoints(c, 0.002).map((p: PrPoint) => [r6(p.recall), r6(p.precision), p.threshold] as [number, number, number]);
    }
    return {
      images: s.images,
      pooled: s.pooled,
      iou: r6(s.iou),
      precision: r6(s.precision),
      recall: r6(s.recall),
      mean_image_iou: r6(s.meanImageIoU),
      mean_image_iou_count: s.meanImageIoUCount,
      ap,
      pr_curve: curve,
      per_view_iou: this.ious,
      per_view_counts: this.viewCounts,
      iou_ci95: roundInterval(pooledIoUInterval([...this.byUnit.values()])),
    };
  }
}

interface View {
  readonly item: EvalItem;
  readonly view: EvalView;
  readonly key: string;
  readonly label: number;
  readonly truth: Uint8Array;
}

function viewKey(item: EvalItem, view: EvalView, views: readonly EvalView[]): string {
  return views.length === 1 && view === 'identity' ? item.id : `${item.id}/${view}`;
}

/**
 * Unique network names: the variant; where models share it, the variant and the file's name; where
 * files share their name too (runs/a/model.safetensors, runs/b/model.safetensors), its path as given;
 * and where even that repeats (one file twice), a number.
 */
export function networkNames(models: readonly string[], variants: readonly string[]): string[] {
  const count = <T>(xs: readonly T[], x: T): number => xs.filter((y) => y === x).length;
  const named = variants.map((v, i) => (count(variants, v) > 1 ? `${v} (${path.basename(models[i])})` : v));
  const pathed = named.map((n, i) => (count(named, n) > 1 ? `${variants[i]} (${models[i]})` : n));
  return pathed.map((n, i) => (count(pathed, n) > 1 ? `${n} #${pathed.slice(0, i + 1).filter((x) => x === n).length}` : n));
}

interface RunState {
  readonly failed: string[];
  stopped: boolean;
}

function reportFailure(state: RunState, progress: Progress | null, io: CliIo, name: string, e: unknown, failFast: boolean): void {
  const msg = oneLine(e instanceof Error ? e.message : String(e));
  const line = msg.includes(name) ? msg : `${name}: ${msg}`;
  if (!state.failed.includes(line)) state.failed.push(line);
  if (progress) progress.message(`lrpseg: ${line}`);
  else io.stderr(`lrpseg: ${line}\n`);
  if (failFast) state.stopped = true;
}

// ---- model form ---------------------------------------------------------------------------------

type NamedClassification = EvalReport['classification'][number];

/** Per-unit counts of one model's results, kept (not written) for the paired comparisons. */
export interface RunUnits {
  readonly classification: ReadonlyMap<string, DecisionCounts>;
  /** By "rules\u0000method". */
  readonly segmentation: ReadonlyMap<string, ModeUnits>;
}

interface ModelRun {
  readonly classification: NamedClassification;
  readonly configs: ConfigMetrics[];
  readonly units: RunUnits;
  readonly panels: { rules: string; rows: PanelRow[] }[];
  /** PR series per rule set, with and without the gate. */
  readonly series: { rules: string; gated: PrSeries[]; ungated: PrSeries[] }[];
  readonly views: View[];
}

async function evalModel(
  file: string,
  network: string,
  model: Model,
  items: readonly EvalItem[],
  o: EvalOptions,
  ruleSets: readonly ExplainedRuleSet[],
  pool: SegmentPool,
  state: RunState,
  progress: Progress,
  io: CliIo,
): Promise<ModelRun> {
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const hw = h * w;
  const target = resolveTarget(o.target, model);
  const composites: Composite[] = ruleSets.map((r) => parseComposite(r.spec, model.meta));
  const views: View[] = [];
  const verdicts: boolean[] = [];
  const decisions: Record<string, ViewDecision> = {};
  /** heatmaps[ruleIndex][defectiveViewIndex] */
  const heatmaps: Float32Array[][] = ruleSets.map(() => []);
  const defectiveViews: number[] = []; // indices into views
  const exampleInputs = new Map<number, Uint8Array>(); // view index → RGB, for the panels
  const k = model.meta.arch.num_classes;

  for (let start = 0; start < items.length && !state.stopped; start += o.batchSize) {
    const batch = items.slice(start, start + o.batchSize);
    const batchViews: { v: View; data: Float32Array }[] = [];
    for (const item of batch) {
      try {
        const p = await prepareItem(item, [h, w], c, o.crop ?? 'defect');
        for (const view of o.views) {
          batchViews.push({
            v: { item, view, key: viewKey(item, view, o.views), label: p.label, truth: flipPlanar(p.truth, 1, h, w, view) },
            data: flipPlanar(p.image.data, c, h, w, view),
          });
        }
      } catch (e) {
        reportFailure(state, progress, io, item.image, e, o.failFast);
        if (state.stopped) break;
      }
    }
    if (state.stopped) break;
    /** Logits (and heatmaps per rule set) of some of the batch's views, at most batchSize views per pass. */
    const run = async (idx: number[], explain: boolean): Promise<{ logits: Float32Array; maps: Float32Array[] }> => {
      if (idx.length > o.batchSize) {
        const parts: { logits: Float32Array; maps: Float32Array[] }[] = [];
        for (let s = 0; s < idx.length; s += o.batchSize) parts.push(await run(idx.slice(s, s + o.batchSize), explain));
        return { logits: concat(parts.map((p) => p.logits)), maps: composites.map((_, ri) => concat(parts.map((p) => p.maps[ri] ?? new Float32Array(0)))) };
      }
      const data = concat(idx.map((i) => batchViews[i].data));
      if (!explain) return { logits: await model.forwardHost(data, idx.length), maps: [] };
      let logits: Float32Array | null = null;
      const maps: Float32Array[] = [];
      for (let ci = 0; ci < composites.length; ci++) {
        const r = await classifyAndExplainTta(model, data, idx.length, { composite: composites[ci], target, pool: ruleSets[ci].pool, tta: ruleSets[ci].tta });
        logits ??= r.logits;
        maps.push(r.heatmaps);
      }
      return { logits: logits!, maps };
    };
    const defIdx = batchViews.map((b, i) => (b.v.label === 1 ? i : -1)).filter((i) => i >= 0);
    const freeIdx = batchViews.map((b, i) => (b.v.label === 1 ? -1 : i)).filter((i) => i >= 0);
    const logits = new Float32Array(batchViews.length * k);
    if (defIdx.length > 0) {
      const r = await run(defIdx, true);
      defIdx.forEach((i, q) => {
        logits.set(r.logits.subarray(q * k, (q + 1) * k), i * k);
        r.maps.forEach((m, ri) => heatmaps[ri].push(m.slice(q * hw, (q + 1) * hw)));
      });
    }
    if (freeIdx.length > 0) {
      const r = await run(freeIdx, false);
      freeIdx.forEach((i, q) => logits.set(r.logits.subarray(q * k, (q + 1) * k), i * k));
    }
    batchViews.forEach((b, i) => {
      const vi = views.length;
      views.push(b.v);
      const defect = argmaxRow(logits, i, k) === target;
      verdicts.push(defect);
      decisions[b.v.key] = {
        label: b.v.label === 1 ? 1 : 0,
        defect,
        margin: r6(decisionMargin(logits, i, k, target)),
        damage_pixels: b.v.truth.reduce((a, t) => a + t, 0),
        ...(b.v.item.class !== undefined ? { class: b.v.item.class } : {}),
        ...(b.v.item.group !== undefined ? { group: b.v.item.group } : {}),
      };
      if (b.v.label === 1) {
        defectiveViews.push(vi);
        if (b.v.view === 'identity' && exampleInputs.size < o.examples) exampleInputs.set(vi, planarToRgb(b.data, c, w, h));
      }
    });
    progress.advance(batch.length);
  }

  const classUnits = decisionUnits(views.map((v) => resamplingUnit(v.item)), verdicts, views.map((v) => v.label === 1));
  const classification = {
    network,
    model: file,
    views: views.length,
    ...classificationScores(verdicts, views.map((v) => v.label === 1)),
    balanced_accuracy_ci95: roundInterval(balancedAccuracyInterval([...classUnits.values()])),
    per_view: decisions,
  };
  const configs: ConfigMetrics[] = [];
  const segUnits = new Map<string, ModeUnits>();
  const panels: { rules: string; rows: PanelRow[] }[] = [];
  const series: { rules: string; gated: PrSeries[]; ungated: PrSeries[] }[] = [];
  for (let ri = 0; ri < ruleSets.length; ri++) {
    const exampleMasks = new Map<number, (Uint8Array | null)[]>();
    const gatedSeries: PrSeries[] = [];
    const ungatedSeries: PrSeries[] = [];
    for (const method of o.methods) {
      const gated = new ModeAccumulator(true);
      const ungated = new ModeAccumulator(true);
      const results = await Promise.allSettled(heatmaps[ri].map((m) => pool.segment(method, { data: m, height: h, width: w })));
      results.forEach((res, q) => {
        const vi = defectiveViews[q];
        const v = views[vi];
        if (res.status === 'rejected') {
          reportFailure(state, null, io, `${v.item.image} (${v.view}, ${ruleSets[ri].name}, ${method})`, res.reason, false);
          return;
        }
        const s = res.value;
        ungated.add(v, s.mask, v.truth, s.score);
        const pass = verdicts[vi];
        gated.add(v, pass ? s.mask : new Uint8Array(hw), v.truth, pass ? s.score : new Float32Array(hw));
        if (exampleInputs.has(vi)) {
          const list = exampleMasks.get(vi) ?? [];
          list.push(s.mask);
          exampleMasks.set(vi, list);
        }
      });
      const g = gated.result();
      const u = ungated.result();
      configs.push({ network, model: file, rules: ruleSets[ri].name, method, gated: g, ungated: u });
      segUnits.set(`${ruleSets[ri].name}\u0000${method}`, { gated: gated.units(), ungated: ungated.units() });
      const toPoints = (m: ModeMetrics): PrPoint[] => (m.pr_curve ?? []).map(([recall, precision, threshold]) => ({ recall, precision, threshold }));
      gatedSeries.push({ name: `${network} ${methodLabel(method)} (AP ${fmt(g.ap)})`, points: toPoints(g) });
      ungatedSeries.push({ name: `${network} ${methodLabel(method)} (AP ${fmt(u.ap)})`, points: toPoints(u) });
    }
    series.push({ rules: ruleSets[ri].name, gated: gatedSeries, ungated: ungatedSeries });
    const rows: PanelRow[] = [];
    for (const [vi, rgb] of exampleInputs) {
      const q = defectiveViews.indexOf(vi);
      const v = views[vi];
      rows.push({
        label: `${v.item.id}${verdicts[vi] ? '' : ' (classifier: defect-free; masks shown without the gate)'}`,
        inputRgb: rgb,
        truth: v.truth,
        heatmap: heatmaps[ri][q],
        masks: exampleMasks.get(vi) ?? [],
      });
    }
    panels.push({ rules: ruleSets[ri].name, rows });
  }
  return { classification, configs, units: { classification: classUnits, segmentation: segUnits }, panels, series, views };
}

// ---- U-Net form ---------------------------------------------------------------------------------

/** U-Net rows appear under every rule set in the tables, as in the paper's Table 3. */
export const UNET_NETWORK = 'U-Net';
export const UNET_METHOD = 'unet';

interface UNetRun {
  readonly config: ConfigMetrics;
  readonly series: PrSeries;
  readonly panel: PanelRow[];
  readonly views: View[];
}

/**
 * Scores a U-Net on the same views as the model form: its sigmoid output is the per-pixel score (PR
 * curve, AP) and score > 0.5 the mask. There is no classifier, so no gate: both modes are the same.
 */
async function evalUNet(file: string, unet: UNet, items: readonly EvalItem[], o: EvalOptions, state: RunState, progress: Progress, io: CliIo): Promise<UNetRun> {
  const [h, w] = unet.meta.input_size;
  const c = unet.meta.arch.in_channels;
  const hw = h * w;
  const acc = new ModeAccumulator(true);
  const views: View[] = [];
  const panel: PanelRow[] = [];
  for (let start = 0; start < items.length && !state.stopped; start += o.batchSize) {
    const batch = items.slice(start, start + o.batchSize);
    const defective: { v: View; data: Float32Array }[] = [];
    for (const item of batch) {
      try {
        const p = await prepareItem(item, [h, w], c, o.crop ?? 'defect');
        for (const view of o.views) {
          const v: View = { item, view, key: viewKey(item, view, o.views), label: p.label, truth: flipPlanar(p.truth, 1, h, w, view) };
          views.push(v);
          if (v.label === 1) defective.push({ v, data: flipPlanar(p.image.data, c, h, w, view) });
        }
      } catch (e) {
        reportFailure(state, progress, io, item.image, e, o.failFast);
        if (state.stopped) break;
      }
    }
    if (state.stopped) break;
    if (defective.length > 0) {
      const x = unet.backend.fromArray(concat(defective.map((d) => d.data)), [defective.length, c, h, w]);
      let scores: Float32Array;
      try {
        const pr = unet.predict(x);
        try {
          scores = await pr.read();
        } finally {
          pr.dispose();
        }
      } finally {
        x.dispose();
      }
      defective.forEach((d, q) => {
        const score = scores.slice(q * hw, (q + 1) * hw);
        const mask = Uint8Array.from(score, (s) => (s > 0.5 ? 1 : 0));
        acc.add(d.v, mask, d.v.truth, score);
        if (d.v.view === 'identity' && panel.length < o.examples) {
          panel.push({ label: d.v.item.id, inputRgb: planarToRgb(d.data, c, w, h), truth: d.v.truth, heatmap: score, masks: [mask] });
        }
      });
    }
    progress.advance(batch.length);
  }
  const m = acc.result();
  const points = (m.pr_curve ?? []).map(([recall, precision, threshold]) => ({ recall, precision, threshold }));
  return {
    config: { network: UNET_NETWORK, model: file, rules: '-', method: UNET_METHOD, gated: m, ungated: m },
    series: { name: `${UNET_NETWORK} (AP ${fmt(m.ap)})`, points },
    panel,
    views,
  };
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const methodLabel = (m: string): string => (m === 'simple' ? 'Simple' : m === UNET_METHOD ? 'U-Net' : m.toUpperCase());
const fmt = (x: number | null): string => (x === null || Number.isNaN(x) ? '—' : x.toFixed(3));
const safeName = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'x';

// ---- prediction form ----------------------------------------------------------------------------

interface PredInfo {
  readonly network: string;
  readonly rules: string;
  readonly method: string;
  readonly verdicts: Map<string, boolean>;
}

async function readPredInfo(dir: string): Promise<PredInfo> {
  const verdicts = new Map<string, boolean>();
  let meta: { variant?: string; rules?: string; method?: string } = {};
  let names: string[] = [];
  try {
    names = (await readdir(dir)).filter((n) => /^summary(\.shard-\d+-of-\d+)?\.json$/.test(n)).sort();
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${dir}: cannot list the predictions folder (${(e as Error).message})`, { cause: e });
  }
  for (const n of names) {
    try {
      const s = JSON.parse(await readFile(path.join(dir, n), 'utf8')) as { variant?: string; rules?: string; method?: string; images?: { stem?: string; verdict?: string }[] };
      meta = { variant: s.variant ?? meta.variant, rules: s.rules ?? meta.rules, method: s.method ?? meta.method };
      for (const r of s.images ?? []) if (typeof r.stem === 'string' && r.verdict) verdicts.set(r.stem, r.verdict === 'defect');
    } catch {
      // an unreadable summary only costs the classification metrics
    }
  }
  return { network: meta.variant ?? path.basename(path.resolve(dir)), rules: meta.rules ?? '-', method: meta.method ?? '-', verdicts };
}

async function evalPredictions(
  dir: string,
  items: readonly EvalItem[],
  o: EvalOptions,
  state: RunState,
  progress: Progress,
  io: CliIo,
): Promise<{ config: ConfigMetrics; classification: NamedClassification | null; panel: PanelRow[]; panelSize: [number, number]; series: PrSeries; views: View[] }> {
  const info = await readPredInfo(dir);
  const acc = new ModeAccumulator(true);
  const views: View[] = [];
  const verdicts: boolean[] = [];
  const labelsWithVerdict: boolean[] = [];
  const imagesWithVerdict: string[] = [];
  let allScores = true;
  const panel: PanelRow[] = [];
  let panelSize: [number, number] = [0, 0];
  let defective = 0;
  for (const item of items) {
    if (state.stopped) break;
    try {
      const maskFile = path.join(dir, `${item.id}.png`);
      if (!existsSync(maskFile)) throw new LrpsegError('BAD_INPUT', `${item.image}: no prediction ${maskFile}`);
      const pm = await readImageFile(maskFile);
      const [ph, pw] = [pm.height, pm.width];
      const mask = binarizeTruth(pm.channels === 1 ? pm.data : pm.data.subarray(0, ph * pw));
      let img = await readImageFile(item.image);
      let truthImg = await readTruth(item, [img.height, img.width]);
      if (item.region) {
        const r = item.region;
        img = cropRegion(img, r.top, r.left, r.height, r.width);
        truthImg = cropRegion(truthImg, r.top, r.left, r.height, r.width);
      }
      // masks at the image's own size compare directly; others are the model's input crop
      const same = truthImg.height === ph && truthImg.width === pw;
      const truth = binarizeTruth(same ? truthImg.data : prepareForModel(truthImg, [ph, pw], 1).data);
      const label = item.label ?? (truth.some((v) => v === 1) ? 1 : 0);
      const v: View = { item, view: 'identity', key: item.id, label, truth };
      views.push(v);
      const verdict = info.verdicts.get(item.id);
      if (verdict !== undefined) {
        verdicts.push(verdict);
        labelsWithVerdict.push(label === 1);
        imagesWithVerdict.push(resamplingUnit(item));
      }
      if (label === 1) {
        defective++;
        const scoreFile = path.join(dir, 'scores', `${item.id}.npy`);
        let score: Float32Array | null = null;
        if (existsSync(scoreFile)) {
          const a = expectNpy(await readFile(scoreFile), scoreFile, { dtypes: ['f4', 'f8'], ranks: [2] });
          if (a.shape[0] !== ph || a.shape[1] !== pw) throw new LrpsegError('BAD_INPUT', `${scoreFile}: scores of ${a.shape.join('×')} for a ${ph}×${pw} mask`);
          score = Float32Array.from(a.data as Float32Array);
        } else allScores = false;
        acc.add(v, mask, truth, allScores ? score : null);
        if (panel.length < o.examples && (panel.length === 0 || (panelSize[0] === ph && panelSize[1] === pw))) {
          panelSize = [ph, pw];
          const input = same ? img : prepareForModel(img, [ph, pw], img.channels);
          panel.push({ label: item.id, inputRgb: planarToRgb(input.data, input.channels, pw, ph), truth, heatmap: null, masks: [mask] });
        }
      }
    } catch (e) {
      reportFailure(state, progress, io, item.image, e, o.failFast);
    }
    progress.advance(1);
  }
  const result = acc.result();
  const gated: ModeMetrics = allScores && defective > 0 ? result : { ...result, ap: null, pr_curve: null };
  const config: ConfigMetrics = { network: info.network, model: dir, rules: info.rules, method: info.method, gated, ungated: null };
  const classification =
    verdicts.length > 0
      ? {
        network: info.network, model: dir, views: verdicts.length, ...classificationScores(verdicts, labelsWithVerdict),
        balanced_accuracy_ci95: roundInterval(balancedAccuracyInterval([...decisionUnits(imagesWithVerdict, verdicts, labelsWithVerdict).values()])),
      }
      : null;
  const points = (gated.pr_curve ?? []).map(([recall, precision, threshold]) => ({ recall, precision, threshold }));
  return { config, classification, panel, panelSize, series: { name: `${info.network} ${info.method} (AP ${fmt(gated.ap)})`, points }, views };
}

// ---- the command --------------------------------------------------------------------------------

export async function evalCommand(o: EvalOptions, io: CliIo): Promise<number> {
  const unets = o.unets ?? [];
  if (o.preds.length > 0 && (o.models.length > 0 || unets.length > 0)) throw new UsageError('eval: --pred cannot be combined with --model or --unet');
  if (o.models.length === 0 && o.preds.length === 0 && unets.length === 0) throw new UsageError('eval: give --model (with --rules), --unet, or --pred');
  if (o.models.length > 0 && o.rules.length === 0) throw new UsageError('eval: --model needs --rules (e.g. --rules ours,montavon)');
  const ruleSets = withExplainChoices(o.rules, o.pools, o.ttas);
  const twice = ruleSets.map((r) => r.name).find((n, i, all) => all.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`eval: rule set "${twice}" given twice (name custom lists with NAME=LIST)`);
  const data = await readEvalData(o.data, o.truth, o.subset);
  const views = o.preds.length === 0 ? (o.views.length === ALL_VIEWS.length && data.views ? data.views : o.views) : (['identity'] as EvalView[]);
  await ensureDir(o.out);
  const state: RunState = { failed: [], stopped: false };
  const progress = new Progress(io, 'eval', data.items.length * Math.max(o.models.length + unets.length, o.preds.length), 'images', { quiet: o.quiet, steps: 2 });
  const configs: ConfigMetrics[] = [];
  const classification: NamedClassification[] = [];
  const figures: { name: string; title: string; series: PrSeries[] }[] = [];
  const panels: { name: string; title: string; methods: string[]; rows: PanelRow[]; size: [number, number] }[] = [];
  let evaluatedViews: View[] = [];
  const comparisons: ModelComparison[] = [];
  const ruleComparisons: RuleSetComparison[] = [];

  const eo: EvalOptions = { ...o, views };
  if (o.preds.length === 0) {
    const threads = resolveThreads(o.threads, io.env);
    const backend = await createBackend(o.backend, { ...(threads !== undefined ? { threads } : {}), ...(o.device !== undefined ? { device: o.device } : {}) });
    const pool = createSegmentPool({ threads: o.segmentThreads ?? defaultSegmentThreads(io.env) });
    try {
      const loaded: Model[] = [];
      try {
        for (const m of o.models) loaded.push(await openModel(backend, m));
        const names = networkNames(o.models, loaded.map((m) => variantName(m.meta)));
        const figureSeries = new Map<string, PrSeries[]>();
        let first: { name: string; units: RunUnits } | undefined;
        for (let mi = 0; mi < loaded.length && !state.stopped; mi++) {
          const run = await evalModel(o.models[mi], names[mi], loaded[mi], data.items, eo, ruleSets, pool, state, progress, io);
          if (first) comparisons.push(compareRuns(first, { name: names[mi], units: run.units }));
          else first = { name: names[mi], units: run.units };
          ruleComparisons.push(...compareRuleSets(names[mi], ruleSets.map((r) => r.name), o.methods, run.units));
          configs.push(...run.configs);
          classification.push(run.classification);
          if (mi === 0) evaluatedViews = run.views;
          for (const s of run.series) {
            figureSeries.set(s.rules, [...(figureSeries.get(s.rules) ?? []), ...s.gated]);
            figureSeries.set(`${s.rules}\u0000ungated`, [...(figureSeries.get(`${s.rules}\u0000ungated`) ?? []), ...s.ungated]);
          }
          const [h, w] = loaded[mi].meta.input_size;
          for (const p of run.panels) {
            panels.push({ name: `examples-${safeName(names[mi])}-${safeName(p.rules)}`, title: `${names[mi]}, rules ${p.rules}`, methods: o.methods.map(methodLabel), rows: p.rows, size: [h, w] });
          }
        }
        const unetSeries: PrSeries[] = [];
        for (const file of unets) {
          if (state.stopped) break;
          const unet = loadUNet(backend, await readModelBytes(file));
          try {
            const run = await evalUNet(file, unet, data.items, eo, state, progress, io);
            configs.push(run.config);
            if (evaluatedViews.length === 0) evaluatedViews = run.views;
            if (run.series.points.length > 0) unetSeries.push(run.series);
            const [h, w] = unet.meta.input_size;
            panels.push({ name: `examples-unet-${safeName(path.basename(file, path.extname(file)))}`, title: `U-Net ${path.basename(file)} (score, mask = score > 0.5)`, methods: ['U-Net'], rows: run.panel, size: [h, w] });
          } finally {
            unet.dispose();
          }
        }
        for (const { name: r } of ruleSets) {
          figureSeries.set(r, [...(figureSeries.get(r) ?? []), ...unetSeries]);
          figureSeries.set(`${r}\u0000ungated`, [...(figureSeries.get(`${r}\u0000ungated`) ?? []), ...unetSeries]);
        }
        if (o.rules.length === 0 && unetSeries.length > 0) figures.push({ name: 'pr-unet', title: 'Precision-recall, U-Net', series: unetSeries });
        for (const { name: r } of ruleSets) {
          figures.push({ name: `pr-${safeName(r)}`, title: `Precision-recall, LRP rules "${r}" (gate on)`, series: figureSeries.get(r) ?? [] });
          figures.push({ name: `pr-${safeName(r)}-ungated`, title: `Precision-recall, LRP rules "${r}" (no gate)`, series: figureSeries.get(`${r}\u0000ungated`) ?? [] });
        }
      } finally {
        for (const m of loaded) m.dispose();
      }
    } finally {
      await pool.close();
      await backend.destroy();
    }
  } else {
    const allSeries: PrSeries[] = [];
    for (const dir of o.preds) {
      if (state.stopped) break;
      const r = await evalPredictions(dir, data.items, o, state, progress, io);
      configs.push(r.config);
      if (r.classification) classification.push(r.classification);
      if (r.series.points.length > 0) allSeries.push(r.series);
      if (evaluatedViews.length === 0) evaluatedViews = r.views;
      if (r.panel.length > 0) {
        panels.push({ name: `examples-${safeName(path.basename(path.resolve(dir)))}`, title: `${r.config.network}, ${r.config.method}`, methods: [methodLabel(r.config.method)], rows: r.panel, size: r.panelSize });
      }
    }
    if (allSeries.length > 0) figures.push({ name: 'pr', title: 'Precision-recall', series: allSeries });
  }
  progress.stop();

  // by class and by damage area: every row scores the same defective views, so one set of area cuts
  const stratumInfo = new Map<string, ViewStratumInfo>();
  for (const v of evaluatedViews) {
    if (v.label !== 1) continue;
    stratumInfo.set(v.key, { ...(v.item.class !== undefined ? { class: v.item.class } : {}), damagePixels: v.truth.reduce((a, t) => a + t, 0) });
  }
  const cuts = areaTerciles([...stratumInfo.values()].map((v) => v.damagePixels));
  const withStrata = (m: ModeMetrics): ModeMetrics => {
    if (!m.per_view_counts) return m;
    const st = stratify(m.per_view_counts, stratumInfo, cuts);
    return { ...m, ...(st.by_class.length > 0 ? { by_class: st.by_class } : {}), ...(st.by_area.length > 0 ? { by_area: st.by_area } : {}) };
  };
  const scored: ConfigMetrics[] = configs.map((c) => ({ ...c, gated: withStrata(c.gated), ungated: c.ungated ? withStrata(c.ungated) : null }));

  // Pixels and damage pixels of the evaluated (defective) views: the no-skill precision.
  const defViews = evaluatedViews.filter((v) => v.label === 1);
  const pixels = defViews.reduce((s, v) => s + v.truth.length, 0);
  const damage = defViews.reduce((s, v) => s + v.truth.reduce((a, b) => a + b, 0), 0);
  const noSkill = noSkillPrecision({ positives: damage, total: pixels });
  const report: EvalReport = {
    format: 'lrpseg-eval-report',
    version: 1,
    created: new Date().toISOString(),
    data: {
      sources: data.sources,
      items: data.items.length,
      defective_items: new Set(defViews.map((v) => v.item.id)).size,
      views,
      defective_views: defViews.length,
      failed: state.failed,
    },
    ...(o.models.length > 0 ? { rule_sets: ruleSets.map((r) => ({ name: r.name, rules: r.spec, pool: r.pool, tta: r.tta })) } : {}),
    pixels,
    damage_pixels: damage,
    no_skill_precision: r6(noSkill),
    classification,
    segmentation: scored,
    ...(comparisons.length > 0 ? { comparisons } : {}),
    ...(ruleComparisons.length > 0 ? { rule_comparisons: ruleComparisons } : {}),
  };
  await writeFileAtomic(path.join(o.out, 'metrics.json'), new TextEncoder().encode(JSON.stringify(report, null, 1) + '\n'));

  const cells = (m: ModeMetrics): ScoreCells => ({ iou: m.iou, precision: m.precision, recall: m.recall, meanImageIoU: m.mean_image_iou, ap: m.ap, iouCi95: m.iou_ci95 });
  // a U-Net row has no rule set: it is shown under each one (as the paper's Table 3 does)
  const rowRules = (cfg: ConfigMetrics): readonly string[] => (cfg.method === UNET_METHOD && ruleSets.length > 0 ? ruleSets.map((r) => r.name) : [cfg.rules]);
  const rows: ConfigRow[] = scored.flatMap((cfg) =>
    rowRules(cfg).map((rules) => ({
      network: cfg.network,
      rules,
      method: methodLabel(cfg.method),
      gated: cells(cfg.gated),
      ungated: cfg.ungated ? cells(cfg.ungated) : null,
      ...(cfg.gated.by_class || cfg.gated.by_area ? { strata: { by_class: cfg.gated.by_class ?? [], by_area: cfg.gated.by_area ?? [] } } : {}),
    })),
  );
  const classRows: ClassificationRow[] = classification.map((c) => ({
    network: c.network, views: c.views, tpr: c.tpr, tnr: c.tnr, balancedAccuracy: c.balancedAccuracy, balancedAccuracyCi95: c.balanced_accuracy_ci95,
    byClass: tallyByClass(Object.values(c.per_view ?? {})),
  }));
  const notes = [
    `Data: ${data.sources.join(', ')}; ${data.items.length} images, ${report.data.defective_items} defective; views ${views.join(', ')} (${defViews.length} defective views scored).`,
    'Ground truth: mask pixels ≥ 128 are damage. IoU, precision and recall pool TP, FP and FN over every pixel of every scored view.',
    ...(unets.length > 0 ? ['U-Net: its sigmoid output is the per-pixel score (PR curve, AP), score > 0.5 the mask; it has no classifier gate.'] : []),
    o.preds.length === 0
      ? 'Gate on: a view the classifier calls defect-free gets an empty mask (and zero scores in the PR curves). Simple\'s PR curve uses normalize01(R).'
      : 'Predictions as written by lrpseg segment (its gate, if it was on, is already in the masks).',
    ...(state.failed.length > 0 ? [`${state.failed.length} input(s) could not be evaluated (see metrics.json, data.failed).`] : []),
  ];
  const comparisonRows: ComparisonRow[] = comparisons.map((c) => ({
    reference: c.reference, network: c.network, balancedAccuracy: c.balanced_accuracy,
    segmentation: c.segmentation.map((x) => ({ rules: x.rules, method: methodLabel(x.method), gated: x.gated, ungated: x.ungated })),
  }));
  const ruleComparisonRows: RuleSetComparisonRow[] = ruleComparisons.map((c) => ({ ...c, method: methodLabel(c.method) }));
  const md = reportMarkdown({
    title: 'lrpseg evaluation', notes, rows, classification: classRows, noSkill, defectiveViews: defViews.length,
    comparisons: comparisonRows, ruleComparisons: ruleComparisonRows,
  });
  await writeFileAtomic(path.join(o.out, 'metrics.md'), new TextEncoder().encode(md));

  // the figure code (Vega, resvg, the font) is loaded only now
  const { renderPrFigure } = await import('../report/plots.js');
  const { renderPanel } = await import('../report/panels.js');
  for (const f of figures) {
    if (f.series.every((s) => s.points.length === 0)) continue;
    const { svg, png } = await renderPrFigure({ title: f.title, series: f.series, noSkill: Number.isFinite(noSkill) ? noSkill : 0 });
    await writeFileAtomic(path.join(o.out, `${f.name}.svg`), new TextEncoder().encode(svg));
    await writeFileAtomic(path.join(o.out, `${f.name}.png`), png);
  }
  for (const p of panels) {
    if (p.rows.length === 0 || p.size[0] === 0) continue;
    const png = await renderPanel({ title: p.title, height: p.size[0], width: p.size[1], methods: p.methods, rows: p.rows });
    await writeFileAtomic(path.join(o.out, `${p.name}.png`), png);
  }
  if (!o.quiet) {
    const best = scored.length > 0 ? scored.reduce((a, b) => (b.gated.iou > a.gated.iou ? b : a)) : null;
    io.stderr(
      `eval: ${configs.length} configuration${configs.length === 1 ? '' : 's'} on ${defViews.length} defective view${defViews.length === 1 ? '' : 's'} → ${o.out}` +
        (best ? ` (best IoU ${fmt(best.gated.iou)}: ${best.network}, ${best.rules}, ${best.method})` : '') +
        (state.failed.length > 0 ? `; ${state.failed.length} failed` : '') +
        '\n',
    );
    if (state.stopped) io.stderr('eval: stopped at the first bad input (--fail-fast)\n');
  }
  return state.failed.length === 0 && !state.stopped ? 0 : 1;
}

// ---- command-line wiring ------------------------------------------------------------------------

/** A comma-separated --pool or --tta: each choice once, each one allowed. */
function parseChoices<T extends string>(flag: string, v: string, allowed: readonly T[], takes: string): T[] {
  const got = v.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0);
  if (got.length === 0 || got.some((g) => !(allowed as readonly string[]).includes(g))) throw new UsageError(`eval: ${flag} takes ${takes} (got "${v}")`);
  if (new Set(got).size !== got.length) throw new UsageError(`eval: ${flag} names a choice twice ("${v}")`);
  return got as T[];
}

function splitList(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), ...v.split(',').map((s) => s.trim()).filter((s) => s.length > 0)];
}

/** Registers `lrpseg eval` on the program; `setResult` receives its exit status. */
export function registerEval(program: Command, io: CliIo, setResult: (code: number) => void): void {
  program
    .command('eval')
    .summary('score segmentations against ground truth; write a report')
    .description(
      'Scores segmentations (SEGMENTATION.md, "Scores") and writes a report folder: metrics.json, metrics.md ' +
        '(the layout of the paper\'s Table 3, and Table 2 for classification), pr-<rules>.svg/.png ' +
        '(precision-recall curves with the no-skill line, as Figures 4–7) and examples-*.png (input, ground ' +
        'truth, heatmap, masks, as Figure 9).\n\n' +
        'With --model (repeatable) and --rules: runs the classifier, LRP and each method on every image of the ' +
        'data and its horizontal and vertical flips (--no-flips: the image only), and reports every network × ' +
        'rule set × method with the classifier gate and without it. With --pred DIR (repeatable): scores the ' +
        'masks DIR/<stem>.png (and DIR/scores/<stem>.npy for PR curves) written by lrpseg segment.\n\n' +
        'Data (--data, repeatable): a folder with <stem>.jpg images and <stem>.png masks side by side (the ' +
        'Magnetic Tile layout, e.g. MT_Blowhole/Imgs), a folder of images with --truth DIR, or a split ' +
        'manifest .json (its --subset, default test). Damage is mask value ≥ 128. Segmentation metrics use the ' +
        'defective images; classification uses all.',
    )
    .option('--model <file>', 'model to evaluate (repeatable)', collect)
    .option('--rules <specs>', 'rule sets: named composites, comma-separated (ours,montavon), or one custom list with a rule per parameter layer, optionally named (NAME=zbox,gamma:0.25,…); repeatable', collectRuleSets)
    .option('--methods <list>', 'methods, comma-separated (default simple,gmm,bmm)', splitList)
    .option('--pred <dir>', 'a folder of predicted masks from lrpseg segment (repeatable)', collect)
    .option('--unet <file>', 'a U-Net (lrpseg train unet) to score beside --model, or alone: sigmoid score per pixel, mask = score > 0.5 (repeatable)', collect)
    .option('--data <path>', 'images and masks: a folder or a manifest .json (repeatable)', collect)
    .option('--truth <dir>', 'ground-truth masks <stem>.png, when not beside the images')
    .option('--subset <name>', "the manifest's subset", 'test')
    .option('--no-flips', 'score each image only, not its flipped copies')
    .addOption(
      new Option('--crop <how>', "model-sized window: 'defect' centres it on the defect (default; the paper's images were hand-cropped so that any crop holds it), 'center' is the paper's literal centre crop")
        .choices(['defect', 'center'])
        .default('defect'),
    )
    .requiredOption('-o, --out <dir>', 'report folder')
    .option('--target <class>', 'the defect class: index or name', '1')
    .option('--pool <rules>', "max-pool relevance rule: wta or avg, or both (wta,avg: each rule set explained with each, named ours@wta, ours@avg, and paired)", 'wta')
    .option('--tta <choices>', `${TTA_HELP} Several, comma-separated (none,flips): each rule set explained with each, named ours@none, ours@flips, and paired.`, 'none')
    .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]).default('cpu'))
    .addOption(new Option('--threads <n>', 'CPU backend worker threads').argParser(intArg(1, 1024)))
    .addOption(new Option('--device <n>', 'GPU index for the cuda backend (default 0)').argParser(intArg(0, 1023)))
    .addOption(new Option('--segment-threads <n>', 'segmentation worker threads (0: main thread)').argParser(intArg(0, 256)))
    .option('--batch-size <n>', 'images per batch', intArg(1, 65536), 8)
    .option('--examples <n>', 'example rows per panel', intArg(0, 64), 4)
    .option('--fail-fast', 'stop at the first bad input')
    .option('-q, --quiet', 'no progress or summary on stderr (errors are still reported)')
    .option('--debug', 'print stack traces of unexpected errors')
    .action(async (opts: Record<string, unknown>) => {
      const methods = (opts.methods as string[] | undefined) ?? [...SEGMENT_METHODS];
      const bad = methods.filter((m) => !isSegmentMethod(m));
      if (bad.length > 0) throw new UsageError(`eval: unknown method ${bad.join(', ')} (simple, gmm, bmm)`);
      if (opts.data === undefined) throw new UsageError('eval: --data is required (a folder of images and masks, or a manifest .json)');
      setResult(
        await evalCommand(
          {
            models: (opts.model as string[] | undefined) ?? [],
            rules: (opts.rules as RuleSet[] | undefined) ?? [],
            methods: methods as SegmentMethod[],
            preds: (opts.pred as string[] | undefined) ?? [],
            unets: (opts.unet as string[] | undefined) ?? [],
            data: opts.data as string[],
            ...(opts.truth !== undefined ? { truth: opts.truth as string } : {}),
            subset: opts.subset as string,
            views: opts.flips === false ? ['identity'] : [...ALL_VIEWS],
            crop: opts.crop as EvalCrop,
            out: opts.out as string,
            target: opts.target as string,
            pools: parseChoices<PoolRule>('--pool', opts.pool as string, ['wta', 'avg'], 'wta, avg or wta,avg'),
            ttas: parseChoices('--tta', opts.tta as string, HEATMAP_TTAS, `${HEATMAP_TTAS.join(', ')}, or several comma-separated`),
            backend: opts.backend as BackendName,
            ...(opts.threads !== undefined ? { threads: opts.threads as number } : {}),
            ...(opts.device !== undefined ? { device: opts.device as number } : {}),
            ...(opts.segmentThreads !== undefined ? { segmentThreads: opts.segmentThreads as number } : {}),
            batchSize: opts.batchSize as number,
            examples: opts.examples as number,
            failFast: Boolean(opts.failFast),
            quiet: Boolean(opts.quiet),
          },
          io,
        ),
      );
    });
}


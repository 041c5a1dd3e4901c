/**
 * Pools `lrpseg eval` reports of disjoint test sets (the K folds of a group k-fold split) into one set
 * of figures: summed decision and pixel counts, bootstrap intervals over every fold's resampling
 * units together, and paired comparisons between the models evaluated side by side in each fold.
 * Pure: reports in, pooled report out.
 */
import { LrpsegError, balancedAccuracyInterval, pooledIoUInterval, type ClassificationScores, type DecisionCounts, type IoUCounts } from '@lrpseg/core';
import { compareRuleSets, compareRuns, decisionUnits, type EvalReport, type ModeUnits, type ModelComparison, type RuleSetComparison, type RunUnits } from '../commands/eval.js';
import { resamplingUnit } from './eval-data.js';
import { areaTerciles, pooledPixelScores, stratify, type PooledPixelScores, type StratumScores, type ViewStratumInfo } from './strata.js';
import { comparisonSection, ruleSetComparisonSection, strataSection } from './table.js';

/** A classifier's pooled decisions, laid out as eval's classification rows. */
export type PooledClassification = ClassificationScores & {
  readonly network: string;
  readonly views: number;
  readonly balanced_accuracy_ci95: readonly [number, number] | null;
  /** Each fold's own balanced accuracy, in the order of the reports. */
  readonly per_fold: readonly number[];
};

export interface PooledMode extends PooledPixelScores {
  readonly views: number;
  readonly iou_ci95: readonly [number, number] | null;
  readonly per_fold: readonly number[];
  /** As eval's: by the manifest's classes and by thirds of the damage areas of all folds' views (cuts over all folds). */
  readonly by_class?: readonly StratumScores[];
  readonly by_area?: readonly StratumScores[];
}

export interface PooledSegmentation {
  readonly network: string;
  readonly rules: string;
  readonly method: string;
  readonly gated: PooledMode;
  readonly ungated: PooledMode | null;
}

export interface PooledReport {
  readonly format: 'lrpseg-pooled-report';
  readonly version: 1;
  readonly reports: readonly string[];
  readonly units: number;
  readonly classification: readonly PooledClassification[];
  readonly segmentation: readonly PooledSegmentation[];
  readonly comparisons: readonly ModelComparison[];
  /** Each later rule set against the first, per classifier and method, on all folds' units. */
  readonly rule_comparisons: readonly RuleSetComparison[];
}

const poolError = (msg: string): LrpsegError => new LrpsegError('BAD_INPUT', msg);

/** A figure read back from JSON, where NaN was written as null. */
const fromJson = (x: number | null): number => (x === null ? Number.NaN : x);
const ratio = (a: number, b: number): number => (b > 0 ? a / b : Number.NaN);
const r6 = (x: number): number => (Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : x);
const r6ci = (ci: [number, number] | null): [number, number] | null => (ci ? [r6(ci[0]), r6(ci[1])] : null);

/** The resampling unit of a view key ("id" or "id/view"): as eval's, from the group its decision record names. */
const unitOf = (key: string, groups: ReadonlyMap<string, string>): string => resamplingUnit({ id: key.split('/')[0], group: groups.get(key) });

/** A network's place across the reports: classifiers by position; others (U-Net, --pred folders) by name. */
function slotKeys(r: EvalReport, name: string): Map<string, string> {
  const slots = new Map<string, string>();
  r.classification.forEach((c, i) => {
    if (slots.has(c.network)) throw poolError(`${name}: two models are both named "${c.network}" (evaluate again with this lrpseg, which names them apart)`);
    slots.set(c.network, `model ${i + 1}`);
  });
  for (const s of r.segmentation) if (!slots.has(s.network)) slots.set(s.network, s.network);
  return slots;
}

interface Slot {
  name: string;
  decisions: Map<string, DecisionCounts>;
  perFold: number[];
  views: number;
}

interface SegSlot {
  network: string;
  slot: string;
  rules: string;
  method: string;
  modes: { gated: Map<string, IoUCounts>; ungated: Map<string, IoUCounts> | null };
  /** Every fold's per-view counts, by view key (the folds' views are disjoint). */
  viewCounts: { gated: Record<string, readonly [number, number, number]>; ungated: Record<string, readonly [number, number, number]> };
  views: { gated: number; ungated: number };
  perFold: { gated: number[]; ungated: number[] };
}

/** Adds a view's pixel counts to its unit's. */
function addIoU(map: Map<string, IoUCounts>, unit: string, tp: number, fp: number, fn: number): void {
  const prev = map.get(unit) ?? { tp: 0, fp: 0, fn: 0 };
  map.set(unit, { tp: prev.tp + tp, fp: prev.fp + fp, fn: prev.fn + fn });
}

function mode(units: ReadonlyMap<string, IoUCounts>, views: number, perFold: readonly number[]): PooledMode {
  let tp = 0, fp = 0, fn = 0;
  for (const u of units.values()) {
    tp += u.tp;
    fp += u.fp;
    fn += u.fn;
  }
  return {
    views,
    ...pooledPixelScores(tp, fp, fn),
    iou_ci95: r6ci(pooledIoUInterval([...units.values()])),
    per_fold: perFold,
  };
}

/**
 * Pools reports whose test sets are disjoint. Every report must hold the same networks (classifiers
 * in the same order, matched by position since each fold has its own model files) with the same
 * rules × methods, and per-view records (made by an eval that writes `per_view` and `per_view_counts`).
 */
export function poolReports(reports: readonly { readonly name: string; readonly report: EvalReport }[]): PooledReport {
  if (reports.length < 2) throw poolError('pooling needs at least two reports (one per fold)');
  const owner = new Map<string, string>(); // unit → report that tested it
  const classSlots = new Map<string, Slot>();
  const segSlots = new Map<string, SegSlot>();
  const stratumInfo = new Map<string, ViewStratumInfo>(); // the defective views' class and damage, from the decision records
  let shape: string | null = null;

  for (const { name, report } of reports) {
    if (report.format !== 'lrpseg-eval-report') throw poolError(`${name}: not an lrpseg eval report`);
    const slots = slotKeys(report, name);
    const here = [...slots.values()].join(', ') + ' | ' + report.segmentation.map((s) => `${slots.get(s.network)} ${s.rules} ${s.method}`).join(', ');
    if (shape === null) shape = here;
    else if (here !== shape) throw poolError(`${name}: holds other networks or rules × methods than ${reports[0].name} (${here} against ${shape})`);

    // units: from the decision records' groups; any view's record will do (every model sees the same views)
    const groups = new Map<string, string>();
    for (const c of report.classification) {
      for (const [k, d] of Object.entries(c.per_view ?? {})) {
        if (d.group !== undefined) groups.set(k, d.group);
        if (d.label === 1) stratumInfo.set(k, { ...(d.class !== undefined ? { class: d.class } : {}), damagePixels: d.damage_pixels });
      }
    }
    const unitsHere = new Set<string>();

    for (const c of report.classification) {
      if (!c.per_view) throw poolError(`${name}: ${c.network} has no per-view decisions (evaluate again with this lrpseg)`);
      const slotKey = slots.get(c.network)!;
      const slot: Slot = classSlots.get(slotKey) ?? { name: c.network, decisions: new Map(), perFold: [], views: 0 };
      const views = Object.entries(c.per_view);
      const units = views.map(([k]) => unitOf(k, groups));
      // the folds' units are disjoint (checked below), so one fold's per-unit counts are the pooled ones
      for (const [u, d] of decisionUnits(units, views.map(([, d]) => d.defect), views.map(([, d]) => d.label === 1))) {
        unitsHere.add(u);
        slot.decisions.set(u, d);
      }
      slot.perFold.push(r6(fromJson(c.balancedAccuracy)));
      slot.views += c.views;
      classSlots.set(slotKey, slot);
    }
    for (const s of report.segmentation) {
      const slotKey = slots.get(s.network)!;
      const key = `${slotKey}\u0000${s.rules}\u0000${s.method}`;
      const seg: SegSlot = segSlots.get(key) ?? {
        network: s.network, slot: slotKey, rules: s.rules, method: s.method,
        modes: { gated: new Map(), ungated: s.ungated ? new Map() : null },
        viewCounts: { gated: {}, ungated: {} },
        views: { gated: 0, ungated: 0 },
        perFold: { gated: [], ungated: [] },
      };
      for (const m of ['gated', 'ungated'] as const) {
        const metrics = s[m];
        const target = seg.modes[m];
        if (!metrics || !target) continue;
        if (!metrics.per_view_counts) throw poolError(`${name}: ${s.network} ${s.rules} ${s.method} has no per-view pixel counts (evaluate again with this lrpseg)`);
        for (const [k, [tp, fp, fn]] of Object.entries(metrics.per_view_counts)) {
          const unit = unitOf(k, groups);
          unitsHere.add(unit);
          addIoU(target, unit, tp, fp, fn);
          seg.viewCounts[m][k] = [tp, fp, fn];
        }
        seg.views[m] += Object.keys(metrics.per_view_counts).length;
        seg.perFold[m].push(fromJson(metrics.iou));
      }
      segSlots.set(key, seg);
    }
    for (const u of unitsHere) {
      const prev = owner.get(u);
      if (prev !== undefined) throw poolError(`${name} and ${prev} both test ${u.replace(/^(group|item):/, '$1 ')}: pooling needs disjoint test sets (one report per fold)`);
      owner.set(u, name);
    }
  }

  const classification: PooledClassification[] = [...classSlots.values()].map((s) => {
    let tp = 0, fn = 0, tn = 0, fp = 0;
    for (const d of s.decisions.values()) {
      tp += d.tp;
      fn += d.fn;
      tn += d.tn;
      fp += d.fp;
    }
    const tpr = ratio(tp, tp + fn);
    const tnr = ratio(tn, tn + fp);
    return {
      network: s.name, views: s.views, tp, fn, tn, fp,
      tpr: r6(tpr), tnr: r6(tnr), balancedAccuracy: r6((tpr + tnr) / 2),
      balanced_accuracy_ci95: r6ci(balancedAccuracyInterval([...s.decisions.values()])),
      per_fold: s.perFold,
    };
  });
  const cuts = areaTerciles([...stratumInfo.values()].map((v) => v.damagePixels));
  const withStrata = (m: PooledMode, counts: Record<string, readonly [number, number, number]>): PooledMode => {
    const st = stratify(counts, stratumInfo, cuts);
    return { ...m, ...(st.by_class.length > 0 ? { by_class: st.by_class } : {}), ...(st.by_area.length > 0 ? { by_area: st.by_area } : {}) };
  };
  const segmentation: PooledSegmentation[] = [...segSlots.values()].map((s) => ({
    network: s.network, rules: s.rules, method: s.method,
    gated: withStrata(mode(s.modes.gated, s.views.gated, s.perFold.gated), s.viewCounts.gated),
    ungated: s.modes.ungated ? withStrata(mode(s.modes.ungated, s.views.ungated, s.perFold.ungated), s.viewCounts.ungated) : null,
  }));

  // paired: every later classifier against the first, on all folds' units
  const runUnits = (slotKey: string): RunUnits => {
    const seg = new Map<string, ModeUnits>();
    for (const s of segSlots.values()) if (s.slot === slotKey) seg.set(`${s.rules}\u0000${s.method}`, { gated: s.modes.gated, ungated: s.modes.ungated ?? new Map() });
    return { classification: classSlots.get(slotKey)!.decisions, segmentation: seg };
  };
  const classifierSlots = [...classSlots.keys()];
  const comparisons = classifierSlots.slice(1).map((k) =>
    compareRuns({ name: classSlots.get(classifierSlots[0])!.name, units: runUnits(classifierSlots[0]) }, { name: classSlots.get(k)!.name, units: runUnits(k) }),
  );
  const segOf = (k: string) => [...segSlots.values()].filter((s) => s.slot === k);
  const rule_comparisons = classifierSlots.flatMap((k) => {
    const here = segOf(k);
    const ruleNames = [...new Set(here.map((s) => s.rules))];
    const methods = [...new Set(here.map((s) => s.method))];
    return compareRuleSets(classSlots.get(k)!.name, ruleNames, methods, runUnits(k));
  });
  return { format: 'lrpseg-pooled-report', version: 1, reports: reports.map((r) => r.name), units: owner.size, classification, segmentation, comparisons, rule_comparisons };
}

const pct = (x: number | null): string => (x === null || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
const f3 = (x: number | null): string => (x === null || Number.isNaN(x) ? '—' : x.toFixed(3));
const span = (ci: readonly [number, number] | null, f: (x: number) => string): string => (ci ? `${f(ci[0])}–${f(ci[1])}` : '—');
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const methodLabel = (m: string): string => (m === 'simple' ? 'Simple' : m === 'unet' ? 'U-Net' : m.toUpperCase());

/** The pooled report as Markdown: pooled figures with their intervals, each fold's figure, paired differences. */
export function pooledMarkdown(p: PooledReport): string {
  const out = [
    `# Pooled over ${p.reports.length} folds`,
    '',
    `- Reports: ${p.reports.join(', ')}; ${p.units} resampling units (manifest groups, else images), each tested in exactly one fold.`,
    '- Counts summed over the folds; 95 % percentile bootstrap intervals resample the units of all folds together (2,000 resamples).',
    '',
  ];
  if (p.classification.length > 0) {
    out.push('## Classification', '', row(['Network', 'Balanced accuracy', '95 % interval', 'TPR', 'TNR', 'Views', 'Per fold']), row(['---', '---:', '---:', '---:', '---:', '---:', '---']));
    for (const c of p.classification) {
      out.push(row([c.network, pct(c.balancedAccuracy), span(c.balanced_accuracy_ci95, pct), pct(c.tpr), pct(c.tnr), String(c.views), c.per_fold.map(pct).join(', ')]));
    }
    out.push('');
  }
  out.push(
    '## Segmentation (pooled IoU)',
    '',
    row(['Network', 'Rules', 'Method', 'IoU, gate on', '95 % interval', 'Per fold', 'IoU, no gate', '95 % interval']),
    row(['---', '---', '---', '---:', '---:', '---', '---:', '---:']),
  );
  for (const s of p.segmentation) {
    out.push(
      row([
        s.network, s.rules, methodLabel(s.method), f3(s.gated.iou), span(s.gated.iou_ci95, f3), s.gated.per_fold.map(f3).join(', '),
        s.ungated ? f3(s.ungated.iou) : '—', s.ungated ? span(s.ungated.iou_ci95, f3) : '—',
      ]),
    );
  }
  out.push('');
  out.push(
    ...strataSection(
      p.segmentation.map((s) => ({
        network: s.network, rules: s.rules, method: methodLabel(s.method),
        ...(s.gated.by_class || s.gated.by_area ? { strata: { by_class: s.gated.by_class ?? [], by_area: s.gated.by_area ?? [] } } : {}),
      })),
    ),
  );
  if (p.comparisons.length > 0) {
    out.push(
      ...comparisonSection(
        p.comparisons.map((c) => ({
          reference: c.reference,
          network: c.network,
          balancedAccuracy: c.balanced_accuracy,
          segmentation: c.segmentation.map((s) => ({ rules: s.rules, method: methodLabel(s.method), gated: s.gated, ungated: s.ungated })),
        })),
      ),
    );
  }
  if (p.rule_comparisons.length > 0) out.push(...ruleSetComparisonSection(p.rule_comparisons.map((c) => ({ ...c, method: methodLabel(c.method) }))));
  return out.join('\n');
}

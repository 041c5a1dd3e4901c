/**
 * The study's report: the classification and segmentation tables with the paper's figures in the same
 * rows (report.md), and the same figures machine-readable (metrics.json). Data-set independent: the
 * paper's figures and the data set's own lines come in a PaperReference and a ReportContext.
 */
import type { Manifest } from '@lrpseg/datasets';
import { UNET_METHOD, type EvalReport } from '../commands/eval.js';
import type { ReproduceOptions, StudySettings } from './settings.js';
import { tallyByClass } from '../report/table.js';

/** [IoU, precision, recall] as the paper prints them. */
export type PaperTriple = readonly [number, number, number];

export interface PaperClassification {
  readonly balanced_accuracy: number;
  readonly tpr: number;
  readonly tnr: number;
}

/** The paper's figures for one data set, and where they are printed. */
export interface PaperReference {
  /** e.g. 'Table 2'. */
  readonly classificationTable: string;
  /** e.g. 'Table 3'. */
  readonly segmentationTable: string;
  /** The PR-curve figures (Montavon rules, then ours), e.g. 'Figures 4 and 5'. */
  readonly prFigures: string;
  /** The example-panel figure, e.g. 'Figure 9'. */
  readonly examplesFigure: string;
  /** network → balanced accuracy, TPR, TNR. */
  readonly classification: Readonly<Record<string, PaperClassification>>;
  /** network → rule set → method → [IoU, precision, recall]. */
  readonly segmentation: Readonly<Record<string, Readonly<Record<string, Readonly<Record<string, PaperTriple>>>>>>;
  readonly unet: PaperTriple;
  readonly noSkillPrecision: number;
}

export interface StudyRow {
  readonly network: string;
  readonly rules: string;
  readonly method: string;
  readonly iou: number;
  readonly precision: number;
  readonly recall: number;
  readonly ap: number | null;
  readonly mean_image_iou: number;
  /** 95 % bootstrap interval of the IoU over test images (eval's `iou_ci95`). */
  readonly iou_ci95: readonly [number, number] | null;
  readonly ungated: { readonly iou: number; readonly precision: number; readonly recall: number; readonly ap: number | null } | null;
  readonly paper: { readonly iou: number; readonly precision: number; readonly recall: number } | null;
}

/** Segmentation rows, ours beside the paper's: every network × rule set × method, and the U-Net. */
export function studyRows(ev: EvalReport, paper: PaperReference): StudyRow[] {
  return ev.segmentation.map((c) => {
    const p = c.method === UNET_METHOD ? paper.unet : paper.segmentation[c.network]?.[c.rules]?.[c.method];
    return {
      network: c.network,
      rules: c.rules,
      method: c.method,
      iou: c.gated.iou,
      precision: c.gated.precision,
      recall: c.gated.recall,
      ap: c.gated.ap,
      mean_image_iou: c.gated.mean_image_iou,
      iou_ci95: c.gated.iou_ci95 ?? null,
      ungated: c.ungated ? { iou: c.ungated.iou, precision: c.ungated.precision, recall: c.ungated.recall, ap: c.ungated.ap } : null,
      paper: p ? { iou: p[0], precision: p[1], recall: p[2] } : null,
    };
  });
}

export const f3 = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(3));
export const pct = (x: number | null | undefined): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
const mdRow = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const span = (ci: readonly [number, number] | null | undefined, f: (x: number) => string): string => (ci ? `${f(ci[0])}–${f(ci[1])}` : '—');
const methodName = (m: string): string => (m === 'simple' ? 'Simple' : m === UNET_METHOD ? 'U-Net' : m.toUpperCase());

/** What the report needs beyond the evaluation: the run, its data, and the data set's own lines. */
export interface ReportContext {
  readonly options: ReproduceOptions;
  readonly settings: StudySettings;
  /** e.g. 'Magnetic Tile'. */
  readonly title: string;
  readonly paper: PaperReference;
  /** The "- Data: …" line (how the data was split). */
  readonly dataLine: string;
  /** What one evaluated item is ('images', 'patches'). */
  readonly unit: string;
  /** Lines after the run's settings (how the setup differs from the paper's). */
  readonly notes: readonly string[];
  /** Lines of the Files section beyond the common ones. */
  readonly extraFiles: readonly string[];
  readonly manifest: Manifest;
  /** Counts of the evaluated test subset. */
  readonly evaluated: Readonly<Record<string, number>>;
  readonly seconds: Readonly<Record<string, number>>;
}

export function reportMd(c: ReportContext, ev: EvalReport, rows: readonly StudyRow[]): string {
  const { options: o, settings: s, paper } = c;
  const out: string[] = [`# Reproduction: ${c.title}${o.quick ? ' (quick scale — a pipeline check, not the paper\'s setup)' : ''}`, ''];
  out.push(
    c.dataLine,
    `- Evaluated: ${c.evaluated.total} test ${c.unit}${s.testPerLabel !== undefined ? ` (at most ${s.testPerLabel} per label, seeded)` : ''}, views ${ev.data.views.join(', ')}; ${ev.data.defective_views} defective views scored; no-skill precision ${f3(ev.no_skill_precision)} (paper ${paper.noSkillPrecision}).`,
    `- Classifiers: VGG-11 (VGG-A) 128N and one FC, ${o.init !== undefined ? `convolutions initialised from ${o.init}` : 'from scratch (no ImageNet weights)'}, ${s.size}×${s.size}, conv widths /${s.widthDivisor}, ${s.epochs} epochs${s.stepsPerEpoch ? ` × ${s.stepsPerEpoch} steps` : ''}, batch ${s.batchSize}${s.limit ? `, at most ${s.limit} training images per label` : ''}, Adam, lr conv ${s.lrConv}, FC ${s.lrFc}.`,
    `- U-Net: base ${s.unetBaseChannels} channels, depth ${s.unetDepth}, ${s.unetEpochs} epochs${s.unetStepsPerEpoch ? ` × ${s.unetStepsPerEpoch} steps` : ''}, lr ${s.unetLr}, damage-pixel weight ${s.unetPosWeight}; score = sigmoid output, mask = score > 0.5.`,
    `- Backend ${o.backend}; time ${Object.entries(c.seconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}.`,
    ...c.notes,
    '',
    `## ${paper.classificationTable}: classification on the test split`,
    '',
    mdRow(['Network', 'Balanced accuracy', '95 % interval', 'TPR', 'TNR', 'Views', 'Paper: balanced accuracy', 'Paper: TPR', 'Paper: TNR']),
    mdRow(['---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']),
  );
  for (const r of ev.classification) {
    const p = paper.classification[r.network];
    out.push(mdRow([r.network, pct(r.balancedAccuracy), span(r.balanced_accuracy_ci95, pct), pct(r.tpr), pct(r.tnr), String(r.views), pct(p?.balanced_accuracy), pct(p?.tpr), pct(p?.tnr)]));
  }
  const tallies = ev.classification.map((r) => ({ network: r.network, byClass: tallyByClass(Object.values(r.per_view ?? {})) })).filter((t) => t.byClass.length > 0);
  if (tallies.length > 0) {
    out.push('', 'Views decided correctly, by class (defect classes: called defective; defect-free: called defect-free):', '');
    for (const t of tallies) out.push(`- ${t.network}: ${t.byClass.map((b) => `${b.class} ${b.correct}/${b.views} (${pct(b.correct / b.views)})`).join(', ')}`);
  }
  out.push('', `## ${paper.segmentationTable}: segmentation on the test split (gate on; pooled over all pixels)`, '');
  out.push(mdRow(['Network', 'Rules', 'Method', 'IoU', 'IoU 95 % interval', 'Precision', 'Recall', 'AP', 'Paper: IoU', 'Paper: Precision', 'Paper: Recall']));
  out.push(mdRow(['---', '---', '---', '---:', '---:', '---:', '---:', '---:', '---:', '---:', '---:']));
  for (const r of rows) {
    out.push(mdRow([r.network, r.rules, methodName(r.method), f3(r.iou), span(r.iou_ci95, f3), f3(r.precision), f3(r.recall), f3(r.ap), f3(r.paper?.iou), f3(r.paper?.precision), f3(r.paper?.recall)]));
  }
  out.push('', '95 % intervals: percentile bootstrap over the test images (an image and its flips together, and the images of one split group together; defective and defect-free units separately for the balanced accuracy; 2,000 resamples), i.e. how far a figure could move with another test draw of the same size.');
  out.push(
    '',
    '## Files',
    '',
    '- `metrics.json`: every figure above, machine-readable; `eval/metrics.json` and `eval/metrics.md`: the full evaluation (with and without the gate, per-view IoU, PR curves).',
    `- \`eval/pr-montavon.png\`, \`eval/pr-ours.png\` (${paper.prFigures}; \`-ungated\` without the gate), \`eval/examples-*.png\` (as ${paper.examplesFigure}).`,
    '- `models/vgg-128n/model.safetensors`, `models/vgg-onefc/model.safetensors`, `models/unet/unet.safetensors`, with their training logs and curves.',
    ...c.extraFiles,
    '',
  );
  return out.join('\n');
}

/** metrics.json: the report's figures, machine-readable (format lrpseg-reproduce-report, version 1). */
export function metricsJson(c: ReportContext, ev: EvalReport, rows: readonly StudyRow[], training: Record<string, unknown>, totalSeconds: number): Record<string, unknown> {
  const o = c.options;
  return {
    format: 'lrpseg-reproduce-report',
    version: 1,
    dataset: o.dataset,
    quick: o.quick,
    created: new Date().toISOString(),
    data: o.data,
    seed: o.seed,
    init: o.init ?? null,
    backend: o.backend,
    settings: c.settings,
    split: c.manifest.counts,
    evaluated: { test_images: c.evaluated.total, views: ev.data.views, defective_views: ev.data.defective_views, failed: ev.data.failed },
    no_skill_precision: ev.no_skill_precision,
    training,
    classification: ev.classification.map((r) => ({
      network: r.network,
      views: r.views,
      balanced_accuracy: r.balancedAccuracy,
      balanced_accuracy_ci95: r.balanced_accuracy_ci95 ?? null,
      tpr: r.tpr,
      tnr: r.tnr,
      by_class: tallyByClass(Object.values(r.per_view ?? {})),
      paper: c.paper.classification[r.network] ?? null,
    })),
    segmentation: rows,
    paper: { no_skill_precision: c.paper.noSkillPrecision },
    seconds: { ...c.seconds, total: totalSeconds },
  };
}

/**
 * The report's Markdown: segmentation metrics in the layout of the paper's Table 3 (networks × methods
 * down, rule sets across, IoU / precision / recall under each), average precision, and image-level
 * classification as in Table 2.
 */

import type { Strata, StratumScores } from './strata.js';

export interface ScoreCells {
  readonly iou: number;
  readonly precision: number;
  readonly recall: number;
  readonly meanImageIoU: number;
  readonly ap: number | null;
  /** 95 % bootstrap interval of the pooled IoU (resampling images). */
  readonly iouCi95?: readonly [number, number] | null;
}

export interface ConfigRow {
  readonly network: string;
  readonly rules: string;
  readonly method: string;
  readonly gated: ScoreCells;
  readonly ungated: ScoreCells | null;
  /** The gated scores by defect class and by damage area (absent where no view carries either). */
  readonly strata?: Strata;
}

export interface ClassificationRow {
  readonly network: string;
  readonly views: number;
  readonly tpr: number;
  readonly tnr: number;
  readonly balancedAccuracy: number;
  readonly balancedAccuracyCi95?: readonly [number, number] | null;
  /** Views decided correctly per manifest class (defect classes: called defective; others: called defect-free). */
  readonly byClass?: readonly ClassTally[];
}

export interface ClassTally {
  readonly class: string;
  readonly correct: number;
  readonly views: number;
}

/** Per-class tallies of views decided correctly, classes in order of first appearance. */
export function tallyByClass(views: Iterable<{ readonly class?: string; readonly label: 0 | 1; readonly defect: boolean }>): ClassTally[] {
  const by = new Map<string, { correct: number; views: number }>();
  for (const v of views) {
    if (v.class === undefined) continue;
    const t = by.get(v.class) ?? { correct: 0, views: 0 };
    t.views++;
    if (v.defect === (v.label === 1)) t.correct++;
    by.set(v.class, t);
  }
  return [...by].map(([c, t]) => ({ class: c, ...t }));
}

const num = (x: number | null | undefined, digits = 3): string => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(digits));
const pct = (x: number): string => (Number.isNaN(x) ? '—' : `${(100 * x).toFixed(1)}%`);
const uniq = <T>(xs: readonly T[]): T[] => [...new Set(xs)];
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;

function scoreTable(rows: readonly ConfigRow[], cells: (r: ConfigRow | null) => string[], heads: readonly string[]): string {
  const rules = uniq(rows.map((r) => r.rules));
  const networks = uniq(rows.map((r) => r.network));
  const methods = uniq(rows.map((r) => r.method));
  const lines = [
    row(['Network', 'Method', ...rules.flatMap((ru) => heads.map((h) => `${ru}: ${h}`))]),
    row(['---', '---', ...rules.flatMap(() => heads.map(() => '---:'))]),
  ];
  for (const n of networks) {
    methods.forEach((m, i) => {
      const present = rows.some((r) => r.network === n && r.method === m);
      if (!present) return;
      const cols = rules.flatMap((ru) => {
        const r = rows.find((x) => x.network === n && x.rules === ru && x.method === m);
        return cells(r ?? null);
      });
      lines.push(row([i === 0 ? n : '', m, ...cols]));
    });
  }
  return lines.join('\n');
}

/** A later model minus the reference, on the same views (eval's `comparisons`). */
export interface ComparisonRow {
  readonly reference: string;
  readonly network: string;
  readonly balancedAccuracy: Difference;
  readonly segmentation: readonly { readonly rules: string; readonly method: string; readonly gated: Difference; readonly ungated: Difference }[];
}
/** For one network and method, a later rule set minus the first (eval's `rule_comparisons`). */
export interface RuleSetComparisonRow {
  readonly network: string;
  readonly reference: string;
  readonly rules: string;
  readonly method: string;
  readonly gated: Difference;
  readonly ungated: Difference;
}
export interface Difference {
  readonly difference: number;
  readonly ci95: readonly [number, number] | null;
}

export interface ReportTables {
  readonly title: string;
  readonly notes: readonly string[];
  readonly rows: readonly ConfigRow[];
  readonly classification: readonly ClassificationRow[];
  readonly noSkill: number;
  readonly defectiveViews: number;
  readonly comparisons?: readonly ComparisonRow[];
  readonly ruleComparisons?: readonly RuleSetComparisonRow[];
}

const signed = (x: number, f: (v: number) => string): string => (Number.isNaN(x) ? '—' : `${x >= 0 ? '+' : '−'}${f(Math.abs(x))}`);

const d3 = (d: Difference): string => `${signed(d.difference, (v) => v.toFixed(3))} (${d.ci95 ? `${signed(d.ci95[0], (v) => v.toFixed(3))} to ${signed(d.ci95[1], (v) => v.toFixed(3))}` : '—'})`;

export function comparisonSection(rows: readonly ComparisonRow[]): string[] {
  const pts = (d: Difference): string =>
    `${signed(100 * d.difference, (v) => v.toFixed(1))} points (${d.ci95 ? `${signed(100 * d.ci95[0], (v) => v.toFixed(1))} to ${signed(100 * d.ci95[1], (v) => v.toFixed(1))}` : '—'})`;
  const out = [
    `## Paired differences against ${rows[0].reference} (same views; 95 % paired bootstrap)`,
    '',
    'Each later model minus the first, scored on the same images: each resample draws the units once and scores both models on ' +
      'them, so what is hard or easy for both cancels out. An interval that excludes 0 is a difference this test set shows.',
    '',
    row(['Network', 'Balanced accuracy']),
    row(['---', '---:']),
    ...rows.map((c) => row([c.network, pts(c.balancedAccuracy)])),
    '',
    row(['Network', 'Rules', 'Method', 'IoU, gate on', 'IoU, no gate']),
    row(['---', '---', '---', '---:', '---:']),
  ];
  for (const c of rows) for (const s of c.segmentation) out.push(row([c.network, s.rules, s.method, d3(s.gated), d3(s.ungated)]));
  out.push('');
  return out;
}

/** Gated IoU (precision / recall) per defect class and per third of the damage areas; empty without strata. */
export function strataSection(rows: readonly Pick<ConfigRow, 'network' | 'rules' | 'method' | 'strata'>[]): string[] {
  const withStrata = rows.filter((r) => r.strata && (r.strata.by_class.length > 0 || r.strata.by_area.length > 0));
  if (withStrata.length === 0) return [];
  // every row scores the same views, so the first row's strata name the columns and their view counts
  const heads = uniq(withStrata.flatMap((r) => [...r.strata!.by_class, ...r.strata!.by_area].map((s) => s.name)));
  const viewsOf = (name: string): number => {
    for (const r of withStrata) {
      const s = [...r.strata!.by_class, ...r.strata!.by_area].find((x) => x.name === name);
      if (s) return s.views;
    }
    return 0;
  };
  const cell = (s: StratumScores | undefined): string => (s && s.views > 0 ? `${num(s.iou)} (${num(s.precision, 2)} / ${num(s.recall, 2)})` : '—');
  const out = [
    '## Segmentation by defect class and by damage area (gate on)',
    '',
    'Pooled IoU (precision / recall) of the views of each defect class, and of each third of the views by damage area ' +
      '(ground-truth pixels at the scored size): low precision on small defects means masks larger than the defect; low recall on large ones, ' +
      'masks that cover only a part of it.',
    '',
    row(['Network', 'Rules', 'Method', ...heads.map((h) => `${h} (${viewsOf(h)})`)]),
    row(['---', '---', '---', ...heads.map(() => '---:')]),
  ];
  for (const r of withStrata) {
    const all = [...r.strata!.by_class, ...r.strata!.by_area];
    out.push(row([r.network, r.rules, r.method, ...heads.map((h) => cell(all.find((x) => x.name === h)))]));
  }
  out.push('');
  return out;
}

export function ruleSetComparisonSection(rows: readonly RuleSetComparisonRow[]): string[] {
  return [
    `## Paired differences between rule sets, against ${rows[0].reference} (same views; 95 % paired bootstrap)`,
    '',
    'Each later rule set minus the first, for the same network and method on the same images, resampled together as above.',
    '',
    row(['Network', 'Rules', 'Method', 'IoU, gate on', 'IoU, no gate']),
    row(['---', '---', '---', '---:', '---:']),
    ...rows.map((c) => row([c.network, c.rules, c.method, d3(c.gated), d3(c.ungated)])),
    '',
  ];
}

/** The metrics Markdown (tables plus the paper's Magnetic Tile figures for comparison). */
export function reportMarkdown(t: ReportTables): string {
  const iouPr = (s: ScoreCells | null): string[] => (s ? [num(s.iou), num(s.precision), num(s.recall)] : ['', '', '']);
  const extra = (s: ScoreCells | null): string[] => (s ? [num(s.ap), num(s.meanImageIoU)] : ['', '']);
  const out: string[] = [`# ${t.title}`, ''];
  for (const n of t.notes) out.push(`- ${n}`);
  out.push('');
  out.push('## Segmentation (pooled over all pixels; classifier gate on, as in section 3.1)', '');
  out.push(scoreTable(t.rows, (r) => iouPr(r?.gated ?? null), ['IoU', 'Precision', 'Recall']), '');
  const withUngated = t.rows.some((r) => r.ungated);
  if (withUngated) {
    out.push('## Segmentation without the gate (every defective image explained)', '');
    out.push(scoreTable(t.rows, (r) => iouPr(r?.ungated ?? null), ['IoU', 'Precision', 'Recall']), '');
  }
  out.push(`## Average precision and mean per-image IoU (gate on; no-skill precision ${num(t.noSkill, 4)})`, '');
  out.push(scoreTable(t.rows, (r) => extra(r?.gated ?? null), ['AP', 'mean IoU']), '');
  if (t.classification.length > 0) {
    out.push('## Classification (as Table 2)', '');
    out.push(row(['Network', 'Balanced accuracy', 'TPR', 'TNR', 'Views']));
    out.push(row(['---', '---:', '---:', '---:', '---:']));
    for (const c of t.classification) out.push(row([c.network, pct(c.balancedAccuracy), pct(c.tpr), pct(c.tnr), String(c.views)]));
    out.push('');
    const classes = uniq(t.classification.flatMap((c) => (c.byClass ?? []).map((b) => b.class)));
    if (classes.length > 0) {
      out.push(
        '### Views decided correctly, by class',
        '',
        'Defect classes: called defective (their TPR); defect-free classes: called defect-free (their TNR). Where a network misses defects.',
        '',
        row(['Network', ...classes]),
        row(['---', ...classes.map(() => '---:')]),
      );
      for (const c of t.classification) {
        const cell = (name: string): string => {
          const b = c.byClass?.find((x) => x.class === name);
          return b ? `${b.correct}/${b.views} (${pct(b.correct / b.views)})` : '—';
        };
        out.push(row([c.network, ...classes.map(cell)]));
      }
      out.push('');
    }
  }
  if (t.rows.some((r) => r.gated.iouCi95 !== undefined) || t.classification.some((c) => c.balancedAccuracyCi95 !== undefined)) {
    out.push(
      '## 95 % intervals (percentile bootstrap over images or their groups, 2,000 resamples)',
      '',
      'How far each figure could move with another draw of as many test images: an image and its flips are resampled together, ' +
        'and so are the images of one manifest group (a captured region, a photo), which are not independent; defective and ' +
        'defect-free units separately for the balanced accuracy. Two runs whose intervals overlap widely are not told apart by this test set.',
      '',
    );
    const span = (ci: readonly [number, number] | null | undefined): string => (ci ? `${num(ci[0])}–${num(ci[1])}` : '—');
    const heads = withUngated ? ['IoU, gate on', 'IoU, no gate'] : ['IoU'];
    out.push(scoreTable(t.rows, (r) => (withUngated ? [span(r?.gated.iouCi95), span(r?.ungated?.iouCi95)] : [span(r?.gated.iouCi95)]), heads), '');
    if (t.classification.length > 0) {
      out.push(row(['Network', 'Balanced accuracy', '95 % interval']), row(['---', '---:', '---:']));
      const spanPct = (ci: readonly [number, number] | null | undefined): string => (ci ? `${pct(ci[0])}–${pct(ci[1])}` : '—');
      for (const c of t.classification) out.push(row([c.network, pct(c.balancedAccuracy), spanPct(c.balancedAccuracyCi95)]));
      out.push('');
    }
  }
  out.push(...strataSection(t.rows));
  if (t.comparisons && t.comparisons.length > 0) out.push(...comparisonSection(t.comparisons));
  if (t.ruleComparisons && t.ruleComparisons.length > 0) out.push(...ruleSetComparisonSection(t.ruleComparisons));
  out.push(
    '## The paper, for comparison (Magnetic Tile, Table 3; ImageNet-pretrained convolutions, 190 defect images)',
    '',
    '| Network | Method | ours: IoU | ours: Precision | ours: Recall | montavon: IoU | montavon: Precision | montavon: Recall |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    '| VGG-A 128N | Simple | 0.349 | 0.352 | 0.976 | 0.466 | 0.497 | 0.897 |',
    '|  | GMM | 0.129 | 0.129 | 0.993 | 0.216 | 0.216 | 0.996 |',
    '|  | BMM | 0.462 | 0.638 | 0.679 | 0.332 | 0.703 | 0.448 |',
    '| VGG-A one FC | Simple | 0.386 | 0.404 | 0.944 | 0.425 | 0.491 | 0.808 |',
    '|  | GMM | 0.168 | 0.169 | 0.991 | 0.238 | 0.246 | 0.947 |',
    '|  | BMM | 0.402 | 0.669 | 0.614 | 0.317 | 0.686 | 0.470 |',
    '| U-Net | | 0.461 | 0.578 | 0.699 | 0.461 | 0.578 | 0.699 |',
    '',
    'Paper, Table 2: balanced accuracy 96.1% (VGG-A 128N), 98.5% (VGG-A one FC); no-skill precision 0.006.',
    '',
  );
  return out.join('\n');
}

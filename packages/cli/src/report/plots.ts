/**
 * Precision-recall figures in the manner of the paper's Figures 4–7: one figure per rule set, a curve
 * per network and method, and the no-skill line (the damage-pixel fraction). Drawn with Vega-Lite
 * (rendered headless by Vega to SVG), rasterised to PNG with resvg.
 *
 * A curve is drawn as the step function that average precision integrates: each threshold's precision
 * held from the previous threshold's recall to its own, starting at recall 0. So a GMM curve whose
 * highest threshold already reaches a large recall (posteriors of exactly 1, section 4 of the paper)
 * starts with the horizontal line the paper describes.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { PrPoint } from '@lrpseg/core';
import { FONT_FAMILY, svgToPng } from './render.js';

export interface PrSeries {
  /** Legend entry, e.g. "VGG-A 128N BMM (AP 0.41)". */
  readonly name: string;
  readonly points: readonly PrPoint[];
}

export interface PrFigure {
  readonly title: string;
  readonly series: readonly PrSeries[];
  readonly noSkill: number;
}

export function prFigureSpec(fig: PrFigure): TopLevelSpec {
  const values: { series: string; recall: number; precision: number; order: number }[] = [];
  for (const s of fig.series) {
    if (s.points.length === 0) continue;
    let order = 0;
    values.push({ series: s.name, recall: 0, precision: s.points[0].precision, order: order++ });
    for (const p of s.points) values.push({ series: s.name, recall: p.recall, precision: p.precision, order: order++ });
  }
  const noSkillName = `no skill (${fig.noSkill.toPrecision(3)})`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: fig.title,
    width: 460,
    height: 340,
    config: { font: FONT_FAMILY, legend: { labelLimit: 360, orient: 'bottom', direction: 'vertical', columns: 2 } },
    layer: [
      {
        data: { values },
        mark: { type: 'line', interpolate: 'step-before', strokeWidth: 1.6 },
        encoding: {
          x: { field: 'recall', type: 'quantitative', scale: { domain: [0, 1] }, title: 'Recall' },
          y: { field: 'precision', type: 'quantitative', scale: { domain: [0, 1] }, title: 'Precision' },
          color: { field: 'series', type: 'nominal', title: null, sort: fig.series.map((s) => s.name) },
          order: { field: 'order', type: 'quantitative' },
        },
      },
      {
        data: { values: [{ y: fig.noSkill, name: noSkillName }] },
        mark: { type: 'rule', color: 'black', strokeDash: [4, 3] },
        encoding: { y: { field: 'y', type: 'quantitative' }, tooltip: { field: 'name' } },
      },
      {
        data: { values: [{ y: fig.noSkill, x: 1, name: noSkillName }] },
        mark: { type: 'text', align: 'right', dy: -6, fontSize: 10 },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, text: { field: 'name' } },
      },
    ],
  } as TopLevelSpec;
}

/** The figure as SVG text and PNG bytes. */
export async function renderPrFigure(fig: PrFigure): Promise<{ svg: string; png: Uint8Array }> {
  // loaded here, not at import: the rest of the CLI does not need Vega
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const view = new vega.View(vega.parse(compile(prFigureSpec(fig)).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { svg, png: await svgToPng(svg) };
  } finally {
    view.finalize();
  }
}

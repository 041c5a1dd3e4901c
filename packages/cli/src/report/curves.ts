/** Training curves: loss and validation score per epoch, as SVG and PNG (Vega-Lite, resvg). */
import type { TopLevelSpec } from 'vega-lite';
import { FONT_FAMILY, svgToPng } from './render.js';

export interface CurvePoint {
  readonly epoch: number;
  readonly series: string;
  readonly value: number;
}

export function curvesSpec(title: string, points: readonly CurvePoint[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 460,
    height: 260,
    config: { font: FONT_FAMILY, legend: { orient: 'bottom', labelLimit: 320 } },
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'Epoch' },
      y: { field: 'value', type: 'quantitative', title: null },
      color: { field: 'series', type: 'nominal', title: null },
    },
  } as TopLevelSpec;
}

export async function renderCurves(title: string, points: readonly CurvePoint[]): Promise<{ svg: string; png: Uint8Array }> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const view = new vega.View(vega.parse(compile(curvesSpec(title, points)).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { svg, png: await svgToPng(svg) };
  } finally {
    view.finalize();
  }
}

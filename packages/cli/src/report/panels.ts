/**
 * Example panels in the manner of the paper's Figure 9: one row per example, columns input, ground
 * truth, LRP heatmap, and the mask of each method. Composed as SVG (images embedded as PNG, column
 * titles as text) and rasterised with resvg.
 */
import { encodePngGrey, encodePngRgb, heatmapToRgb } from '@lrpseg/datasets';
import { FONT_FAMILY, svgToPng } from './render.js';

export interface PanelRow {
  readonly label: string;
  /** Interleaved RGB of the model input. */
  readonly inputRgb: Uint8Array;
  readonly truth: Uint8Array;
  /** null: no heatmap column (predictions evaluated without a model). */
  readonly heatmap: Float32Array | null;
  /** One mask per method column, in column order (null: the classifier gated the image out). */
  readonly masks: readonly (Uint8Array | null)[];
}

export interface Panel {
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly methods: readonly string[];
  readonly rows: readonly PanelRow[];
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const dataUri = (png: Uint8Array): string => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

function binaryPng(mask: Uint8Array, w: number, h: number): Uint8Array {
  return encodePngGrey(Uint8Array.from(mask, (v) => (v ? 255 : 0)), w, h);
}

/** Cells are drawn at least this wide (small model inputs are scaled up, pixel by pixel). */
const MIN_CELL = 168;

export function panelSvg(p: Panel): string {
  const zoom = Math.max(1, Math.ceil(MIN_CELL / p.width));
  const w = p.width * zoom;
  const h = p.height * zoom;
  const gap = 8;
  const labelH = 22;
  const titleH = 30;
  const rowLabelH = 18;
  const withHeatmap = p.rows.some((r) => r.heatmap !== null);
  const cols = ['Input', 'Ground truth', ...(withHeatmap ? ['LRP heatmap'] : []), ...p.methods.map((m) => `${m} mask`)];
  const totalW = cols.length * w + (cols.length + 1) * gap;
  const rowH = h + rowLabelH + gap;
  const totalH = titleH + labelH + p.rows.length * rowH + gap;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${totalW}" height="${totalH}" viewBox="0 0 ${totalW} ${totalH}" font-family="${FONT_FAMILY}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${gap}" y="20" font-size="15" font-weight="bold">${esc(p.title)}</text>`,
  ];
  cols.forEach((c, i) => parts.push(`<text x="${gap + i * (w + gap) + w / 2}" y="${titleH + 14}" font-size="13" text-anchor="middle">${esc(c)}</text>`));
  p.rows.forEach((r, k) => {
    const y = titleH + labelH + k * rowH;
    const [pw, ph] = [p.width, p.height];
    const cells: (Uint8Array | null)[] = [
      encodePngRgb(r.inputRgb, pw, ph),
      binaryPng(r.truth, pw, ph),
      ...(withHeatmap ? [r.heatmap ? encodePngRgb(heatmapToRgb(r.heatmap, pw, ph), pw, ph) : null] : []),
      ...r.masks.map((m) => (m ? binaryPng(m, pw, ph) : null)),
    ];
    cells.forEach((png, i) => {
      const x = gap + i * (w + gap);
      if (png) parts.push(`<image x="${x}" y="${y}" width="${w}" height="${h}" image-rendering="optimizeSpeed" preserveAspectRatio="none" href="${dataUri(png)}"/>`);
      else parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="black"/><text x="${x + w / 2}" y="${y + h / 2}" fill="white" font-size="11" text-anchor="middle">gated out (defect-free)</text>`);
      parts.push(`<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="#888" stroke-width="1"/>`);
    });
    parts.push(`<text x="${gap}" y="${y + h + 13}" font-size="11" fill="#333">${esc(r.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function renderPanel(p: Panel): Promise<Uint8Array> {
  return svgToPng(panelSvg(p), 1);
}

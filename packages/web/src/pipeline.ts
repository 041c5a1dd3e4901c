/**
 * One image through the model: preparation (as the CLI: scale up if smaller, centre crop), one forward
 * pass that gives logits and the LRP heatmap of the defect class, and the segmentation method. Every
 * image is explained whatever the verdict (the CLI's --no-gate). `tta` is the CLI's --tta.
 */
import { classifyAndExplain, classifyAndExplainTta, parseComposite, segmentMap, type HeatmapTta, type Model, type PoolRule, type SegmentMethod, type Segmentation, type Tensor } from '@lrpseg/core';
import { prepareForModel, type PlanarImage, type PreparedImage } from '@lrpseg/datasets/browser';

export const DEFECT_CLASS = 1;

export interface Analysis {
  readonly prepared: PreparedImage;
  readonly heatmap: Float32Array;
  readonly segmentation: Segmentation;
  readonly logits: Float32Array;
  /** softmax(logits)[DEFECT_CLASS] */
  readonly score: number;
  readonly verdict: 'defect' | 'defect-free';
  readonly timingsMs: Record<string, number>;
}

export function softmax(logits: Float32Array): Float64Array {
  let mx = -Infinity;
  for (const v of logits) mx = Math.max(mx, v);
  const e = Float64Array.from(logits, (v) => Math.exp(v - mx));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export interface ExplainChoice {
  readonly pool: PoolRule;
  readonly tta: HeatmapTta;
}

export async function analyse(model: Model, image: PlanarImage, composite: string, method: SegmentMethod, { pool, tta }: ExplainChoice): Promise<Analysis> {
  const timingsMs: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    timingsMs[name] = now - t;
    t = now;
  };
  const [h, w] = model.meta.input_size;
  const c = model.meta.arch.in_channels;
  const prepared = prepareForModel(image, [h, w], c);
  lap('prepare');
  const opts = { composite: parseComposite(composite, model.meta), target: DEFECT_CLASS, pool };
  const { logits, heatmap } = tta === 'none' ? await explainOne(model, prepared.data, opts) : await explainTta(model, prepared.data, { ...opts, tta });
  lap(tta === 'none' ? 'forward + LRP' : `forward + LRP × ${tta === 'flips' ? 4 : 8} (${tta})`);
  const segmentation = segmentMap(method, { data: heatmap, height: h, width: w });
  lap(`segment (${method})`);
  let best = 0;
  for (let j = 1; j < logits.length; j++) if (logits[j] > logits[best]) best = j;
  return {
    prepared,
    heatmap,
    segmentation,
    logits,
    score: softmax(logits)[DEFECT_CLASS],
    verdict: best === DEFECT_CLASS ? 'defect' : 'defect-free',
    timingsMs,
  };
}

type Explained = { logits: Float32Array; heatmap: Float32Array };

async function explainOne(model: Model, data: Float32Array, opts: Parameters<typeof classifyAndExplain>[2]): Promise<Explained> {
  const [h, w] = model.meta.input_size;
  const x = model.backend.fromArray(data, [1, model.meta.arch.in_channels, h, w]);
  let logitsT: Tensor | undefined;
  let heatmapT: Tensor | undefined;
  try {
    ({ logits: logitsT, heatmaps: heatmapT } = classifyAndExplain(model, x, opts));
    return { logits: await logitsT.read(), heatmap: await heatmapT.read() };
  } finally {
    logitsT?.dispose();
    heatmapT?.dispose();
    x.dispose();
  }
}

async function explainTta(model: Model, data: Float32Array, opts: Parameters<typeof classifyAndExplainTta>[3]): Promise<Explained> {
  const r = await classifyAndExplainTta(model, data, 1, opts);
  return { logits: r.logits, heatmap: r.heatmaps };
}

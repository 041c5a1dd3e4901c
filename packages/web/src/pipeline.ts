/**
 * One image through the model: preparation (as the CLI: scale up if smaller, centre crop), one forward
 * pass that gives logits and the LRP heatmap of the defect class, and the segmentation method. Every
 * image is explained whatever the verdict (the CLI's --no-gate). `tta` is the CLI's --tta.
 */
import { classifyAndExplainTta, parseComposite, segmentMap, ttaTransforms, type HeatmapTta, type Model, type PoolRule, type SegmentMethod, type Segmentation } from '@lrpseg/core';
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
  const { logits, heatmaps: heatmap } = await classifyAndExplainTta(model, prepared.data, 1, { composite: parseComposite(composite, model.meta), target: DEFECT_CLASS, pool, tta });
  lap(tta === 'none' ? 'forward + LRP' : `forward + LRP × ${ttaTransforms(tta).length} (${tta})`);
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

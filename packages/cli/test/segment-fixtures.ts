/** A small fixed model whose classifier gate passes some real images and stops others, and what it should do with them. */
import { writeFileSync } from 'node:fs';
import {
  CpuBackend,
  buildVgg,
  classifyAndExplain,
  classifyAndExplainTta,
  parseComposite,
  saveModel,
  segmentMap,
  vgg11Meta,
  type HeatmapTta,
  type Model,
  type SegmentMethod,
  type Tensor,
} from '@lrpseg/core';
import { prepareForModel, readImageFile } from '@lrpseg/datasets';

export const SIZE = 64;

async function preparedBatch(model: Model, files: readonly string[]): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const f of files) parts.push(prepareForModel(await readImageFile(f), [SIZE, SIZE], 3).data);
  const out = new Float32Array(parts.length * 3 * SIZE * SIZE);
  parts.forEach((p, i) => out.set(p, i * p.length));
  return out;
}

async function logitsOf(model: Model, data: Float32Array, n: number): Promise<Float32Array> {
  const x = model.backend.fromArray(data, [n, 3, SIZE, SIZE]);
  const y = model.forward(x);
  const v = await y.read();
  x.dispose();
  y.dispose();
  return v;
}

/**
 * Writes a VGG-11 one-FC (widths ÷8, 64×64, seed 0) whose class-1 bias is shifted so that the
 * classifier calls the first half of `files` (by logit margin) defective and the rest defect-free.
 * Returns the verdicts (true = defect) in file order.
 */
export async function writeGateModel(file: string, files: readonly string[]): Promise<boolean[]> {
  const backend = new CpuBackend();
  const model = buildVgg(backend, vgg11Meta('onefc', { inputSize: [SIZE, SIZE], widthDivisor: 8 }), { seed: 0 });
  const data = await preparedBatch(model, files);
  const logits = await logitsOf(model, data, files.length);
  const margins = files.map((_, i) => logits[2 * i + 1] - logits[2 * i]);
  const sorted = [...margins].sort((a, b) => b - a);
  const cut = sorted.length > 1 ? (sorted[Math.floor((sorted.length - 1) / 2)] + sorted[Math.floor((sorted.length - 1) / 2) + 1]) / 2 : sorted[0] - 1;
  const last = model.paramLayers().at(-1)! as unknown as { bias: Tensor };
  const bias = await last.bias.read();
  bias[1] -= cut;
  last.bias.dispose();
  last.bias = backend.fromArray(bias, [2]).keep();
  writeFileSync(file, await saveModel(model));
  const check = await logitsOf(model, data, files.length);
  model.dispose();
  return files.map((_, i) => check[2 * i + 1] > check[2 * i]);
}

/** What lrpseg segment should produce for these files: verdicts, and the mask of each defective one. */
export async function expectedSegmentation(
  modelFile: string,
  files: readonly string[],
  rules: string,
  method: SegmentMethod,
  tta: HeatmapTta = 'none',
): Promise<{ verdicts: boolean[]; masks: (Uint8Array | null)[]; heatmaps: (Float32Array | null)[] }> {
  const { loadModel } = await import('@lrpseg/core');
  const { readFileSync } = await import('node:fs');
  const backend = new CpuBackend();
  const model = loadModel(backend, readFileSync(modelFile));
  const data = await preparedBatch(model, files);
  const n = files.length;
  const hw = SIZE * SIZE;
  // as the CLI does it (one batch): the forward pass for the verdicts, then LRP of the defective ones
  const logits = await logitsOf(model, data, n);
  const verdicts = files.map((_, i) => logits[2 * i + 1] > logits[2 * i]);
  const defective = verdicts.flatMap((v, i) => (v ? [i] : []));
  const heatmaps: (Float32Array | null)[] = verdicts.map(() => null);
  if (defective.length > 0) {
    const sub = new Float32Array(defective.length * 3 * hw);
    defective.forEach((i, q) => sub.set(data.subarray(i * 3 * hw, (i + 1) * 3 * hw), q * 3 * hw));
    const composite = parseComposite(rules, model.meta);
    let maps: Float32Array;
    if (tta === 'none') {
      const x = model.backend.fromArray(sub, [defective.length, 3, SIZE, SIZE]);
      const r = classifyAndExplain(model, x, { composite, target: 1 });
      maps = await r.heatmaps.read();
      r.logits.dispose();
      r.heatmaps.dispose();
      x.dispose();
    } else {
      maps = (await classifyAndExplainTta(model, sub, defective.length, { composite, target: 1, tta })).heatmaps;
    }
    defective.forEach((i, q) => (heatmaps[i] = maps.slice(q * hw, (q + 1) * hw)));
  }
  model.dispose();
  const masks = heatmaps.map((m) => (m ? segmentMap(method, { data: m, height: SIZE, width: SIZE }).mask : null));
  return { verdicts, masks, heatmaps };
}

import type { VggArch } from './arch.js';
import { LrpsegError } from '../errors.js';

/** One entry of a VGG's layer plan: what buildVgg and loadModel instantiate, in forward order. */
export type VggPlanEntry =
  | { kind: 'conv2d'; name: string; label: string; inChannels: number; outChannels: number; kernel: 3; padding: 1 }
  | { kind: 'relu'; name: string }
  | { kind: 'maxpool'; name: string }
  | { kind: 'flatten'; name: string }
  | { kind: 'linear'; name: string; label: string; inFeatures: number; outFeatures: number }
  | { kind: 'dropout'; name: string };

/**
 * The torchvision layout: `features.k` indexes the features Sequential (conv, ReLU, pool each take one
 * index); the classifier is Linear/ReLU/Dropout triplets, so its linears sit at 0, 3, 6, …
 * There is no adaptive pooling: the first linear takes C·H'·W' inputs.
 */
export function vggPlan(arch: VggArch, inputSize: readonly [number, number]): VggPlanEntry[] {
  const plan: VggPlanEntry[] = [];
  let idx = 0;
  let c = arch.in_channels;
  let [h, w] = inputSize;
  let block = 1;
  let inBlock = 0;
  for (const f of arch.features) {
    if (f === 'M') {
      if (h < 2 || w < 2) throw new LrpsegError('BAD_INPUT', `input size ${inputSize.join('×')} is too small for ${arch.features.filter((x) => x === 'M').length} max-pools`);
      plan.push({ kind: 'maxpool', name: `features.${idx++}` });
      h = Math.floor(h / 2);
      w = Math.floor(w / 2);
      block++;
      inBlock = 0;
    } else {
      inBlock++;
      plan.push({ kind: 'conv2d', name: `features.${idx++}`, label: `conv${block}_${inBlock}`, inChannels: c, outChannels: f, kernel: 3, padding: 1 });
      plan.push({ kind: 'relu', name: `features.${idx++}` });
      c = f;
    }
  }
  plan.push({ kind: 'flatten', name: 'flatten' });
  let inF = c * h * w;
  const widths = [...arch.classifier, arch.num_classes];
  widths.forEach((outF, i) => {
    const base = 3 * i;
    plan.push({ kind: 'linear', name: `classifier.${base}`, label: `fc${i + 1}`, inFeatures: inF, outFeatures: outF });
    if (i < widths.length - 1) {
      plan.push({ kind: 'relu', name: `classifier.${base + 1}` });
      plan.push({ kind: 'dropout', name: `classifier.${base + 2}` });
    }
    inF = outF;
  });
  return plan;
}

/** Names and shapes of every parameter tensor a VGG of this architecture has. */
export function vggParameterShapes(arch: VggArch, inputSize: readonly [number, number]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const e of vggPlan(arch, inputSize)) {
    if (e.kind === 'conv2d') {
      out.set(`${e.name}.weight`, [e.outChannels, e.inChannels, e.kernel, e.kernel]);
      out.set(`${e.name}.bias`, [e.outChannels]);
    } else if (e.kind === 'linear') {
      out.set(`${e.name}.weight`, [e.outFeatures, e.inFeatures]);
      out.set(`${e.name}.bias`, [e.outFeatures]);
    }
  }
  return out;
}

/** "VGG-A 128N", "VGG-A one FC" or a generic description. */
export function vggVariantName(arch: VggArch): string {
  const convs = arch.features.filter((f) => f !== 'M').length;
  const base = convs === 8 ? 'VGG-A' : `VGG (${convs} conv)`;
  if (arch.classifier.length === 0) return `${base} one FC`;
  if (arch.classifier.every((w) => w === arch.classifier[0])) return `${base} ${arch.classifier[0]}N${arch.classifier.length === 2 ? '' : ` ×${arch.classifier.length}`}`;
  return `${base} FC ${arch.classifier.join('-')}-${arch.num_classes}`;
}

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { vgg11Meta } from '../../src/nn/arch.js';
import { buildVgg, loadFeatureWeights, loadModel, saveModel } from '../../src/nn/model.js';
import { vggParameterShapes } from '../../src/nn/vgg.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { LrpsegError } from '../../src/errors.js';

const backend = new CpuBackend();
const meta = vgg11Meta('128n', { inputSize: [32, 32], widthDivisor: 16 });

function expectModelError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LrpsegError);
    expect((e as LrpsegError).code).toBe('BAD_MODEL_FILE');
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a BAD_MODEL_FILE error');
}

describe('VGG models', () => {
  it('VGG-11 128N and one FC have the paper\'s layers and torchvision parameter names', () => {
    const full = vggParameterShapes(vgg11Meta('128n').arch, [224, 224]);
    expect(full.get('features.0.weight')).toEqual([64, 3, 3, 3]);
    expect(full.get('features.18.weight')).toEqual([512, 512, 3, 3]);
    expect(full.get('classifier.0.weight')).toEqual([128, 512 * 7 * 7]);
    expect(full.get('classifier.3.weight')).toEqual([128, 128]);
    expect(full.get('classifier.6.weight')).toEqual([2, 128]);
    const onefc = vggParameterShapes(vgg11Meta('onefc').arch, [224, 224]);
    expect(onefc.get('classifier.0.weight')).toEqual([2, 512 * 7 * 7]);
    expect(onefc.has('classifier.3.weight')).toBe(false);
    const m = buildVgg(backend, vgg11Meta('128n', { widthDivisor: 8 }), { seed: 1 });
    expect(m.paramLayers().map((l) => l.label)).toEqual(['conv1_1', 'conv2_1', 'conv3_1', 'conv3_2', 'conv4_1', 'conv4_2', 'conv5_1', 'conv5_2', 'fc1', 'fc2', 'fc3']);
    m.dispose();
  });

  it('building is deterministic for a seed', async () => {
    const a = buildVgg(backend, meta, { seed: 3 });
    const b = buildVgg(backend, meta, { seed: 3 });
    const c = buildVgg(backend, meta, { seed: 4 });
    const wa = await a.paramLayers()[2].weight.read();
    expect(Array.from(await b.paramLayers()[2].weight.read())).toEqual(Array.from(wa));
    expect(Array.from(await c.paramLayers()[2].weight.read())).not.toEqual(Array.from(wa));
  });

  it('forwardHost gives the logits of forward on the same host data, and refuses the wrong length', async () => {
    const m = buildVgg(backend, meta, { seed: 3 });
    const n = 2;
    const data = Float32Array.from({ length: n * 3 * 32 * 32 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const x = backend.fromArray(data, [n, 3, 32, 32]);
    const y = m.forward(x);
    const expected = await y.read();
    y.dispose();
    x.dispose();
    const got = await m.forwardHost(data, n);
    expect(got.length).toBe(n * 2);
    expect(Array.from(got)).toEqual(Array.from(expected));
    await expect(m.forwardHost(data.subarray(1), n)).rejects.toThrow();
    m.dispose();
  });

  it('saves and loads (F32 exactly, F16 approximately), keeping unknown metadata keys', async () => {
    const model = buildVgg(backend, { ...meta, provenance: { note: 'kept' } }, { seed: 2, biasStd: 0.1 });
    const bytes = await saveModel(model);
    const back = loadModel(backend, bytes);
    expect(back.meta.provenance).toEqual({ note: 'kept' });
    for (const [name, t] of model.parameters()) {
      expect(Array.from(await back.parameters().get(name)!.read())).toEqual(Array.from(await t.read()));
    }
    const half = loadModel(backend, await saveModel(model, { dtype: 'F16' }));
    const w = await model.paramLayers()[0].weight.read();
    const wh = await half.paramLayers()[0].weight.read();
    for (let i = 0; i < w.length; i++) expect(Math.abs(wh[i] - w[i])).toBeLessThanOrEqual(Math.abs(w[i]) * 1e-3 + 1e-7);
    const x = backend.fromArray(new Float32Array(3 * 32 * 32).fill(0.5), [1, 3, 32, 32]);
    expect(Array.from(await back.forward(x).read())).toEqual(Array.from(await model.forward(x).read()));
  });

  it('refuses files that do not match their architecture', async () => {
    const model = buildVgg(backend, meta, { seed: 2 });
    const file = parseSafetensors(await saveModel(model));
    const tensors = new Map([...file.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
    const rewrite = (edit: (t: typeof tensors, m: Record<string, string>) => void) => {
      const t = new Map(tensors);
      const m = { ...file.metadata };
      edit(t, m);
      return serializeSafetensors(t, m);
    };
    expectModelError(() => loadModel(backend, rewrite((t) => t.delete('features.3.weight'))), /no tensor "features.3.weight"/);
    expectModelError(() => loadModel(backend, rewrite((t) => t.set('features.0.weight', { shape: [4, 3, 5, 1], data: new Float32Array(60) }))), /"features.0.weight" has shape \[4, 3, 5, 1\]/);
    expectModelError(() => loadModel(backend, rewrite((t) => t.set('classifier.9.weight', { shape: [1], data: new Float32Array(1) }))), /classifier.9.weight/);
    expectModelError(() => loadModel(backend, rewrite((_, m) => delete m.lrpseg)), /no "lrpseg" metadata/);
    expectModelError(() => loadModel(backend, rewrite((_, m) => (m.lrpseg = '{"format_version": 1, "arch": {"type": "resnet"}}'))), /not supported/);
    expectModelError(() => loadModel(backend, rewrite((_, m) => (m.lrpseg = m.lrpseg.replace('"classifier":[128,128]', '"classifier":[128]')))), /does not belong|has shape/);
    expectModelError(() => loadModel(backend, rewrite((_, m) => (m.lrpseg = 'not json'))), /not valid JSON/);
    const nan = tensors.get('features.6.weight')!.data.slice();
    nan[5] = Number.NaN;
    expectModelError(() => loadModel(backend, rewrite((t) => t.set('features.6.weight', { shape: tensors.get('features.6.weight')!.shape, data: nan }))), /features.6.weight/);
  });

  it('takes convolution weights from a torchvision-style state dict, keeping its own classifier', async () => {
    const donor = buildVgg(backend, meta, { seed: 11 });
    const entries: [string, { shape: readonly number[]; data: Float32Array }][] = [];
    for (const [name, t] of donor.parameters()) {
      // a torchvision state dict has a classifier of another shape: it must be ignored
      entries.push(name.startsWith('classifier.') ? [name, { shape: [7], data: new Float32Array(7) }] : [name, { shape: t.shape, data: await t.read() }]);
    }
    const target = buildVgg(backend, meta, { seed: 12 });
    const fc = await target.paramLayers()[8].weight.read();
    const copied = await loadFeatureWeights(target, serializeSafetensors(entries));
    expect(copied).toHaveLength(16);
    expect(Array.from(await target.paramLayers()[4].weight.read())).toEqual(Array.from(await donor.paramLayers()[4].weight.read()));
    expect(Array.from(await target.paramLayers()[8].weight.read())).toEqual(Array.from(fc));
  });
});

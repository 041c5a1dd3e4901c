import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { SeededRng, mulberry32 } from '../../src/random.js';
import { buildUNet, loadUNet, saveUNet, unetMeta, unetParameterShapes } from '../../src/nn/unet.js';
import { Tape } from '../../src/train/tape.js';
import { createUNetOptimizer, trainUNetStep } from '../../src/train/unet.js';
import { softDiceWithLogits } from '../../src/train/loss.js';
import { blobBatch } from './synthetic.js';

const b = new CpuBackend();

describe('U-Net', () => {
  it('has the Ronneberger layout: 64 base channels, 4 down-steps, output the input size', () => {
    const shapes = unetParameterShapes(unetMeta().arch);
    expect(shapes.get('enc.4.conv2.weight')).toEqual([1024, 1024, 3, 3]);
    expect(shapes.get('up.0.weight')).toEqual([128, 64, 2, 2]);
    expect(shapes.get('dec.0.conv1.weight')).toEqual([64, 128, 3, 3]);
    expect(shapes.get('head.weight')).toEqual([1, 64, 1, 1]);
    const small = buildUNet(b, unetMeta({ baseChannels: 2, depth: 2, inputSize: [16, 12] }), 1);
    expect(small.forward(b.zeros([2, 3, 16, 12])).shape).toEqual([2, 1, 16, 12]);
    expect(() => small.forward(b.zeros([1, 3, 10, 12]))).toThrow(/multiples of 4/);
  });

  it('gradients match central finite differences', async () => {
    const unet = buildUNet(b, unetMeta({ baseChannels: 2, depth: 1, inputSize: [4, 4] }), 3);
    const r = mulberry32(4);
    const x = b.fromArray(Float32Array.from({ length: 2 * 3 * 16 }, () => r()), [2, 3, 4, 4]);
    const t = b.fromArray(Float32Array.from({ length: 2 * 16 }, () => (r() > 0.7 ? 1 : 0)), [2, 1, 4, 4]);
    const params = [...unet.params.values()];
    const tape = new Tape(b, params);
    const logits = unet.forward(x, tape);
    const grads = tape.backward(logits, b.bceWithLogits(logits, t).dLogits, params);
    const loss = async () => (await b.bceWithLogits(unet.forward(x), t).loss.read())[0];
    const rng = new SeededRng(5);
    let num = 0, den = 0;
    for (const p of params) {
      const g = await grads.get(p)!.read();
      const data = (p as unknown as { data: Float32Array }).data;
      for (let s = 0; s < 3; s++) {
        const i = rng.int(p.size);
        const keep = data[i];
        // a small step: this tiny net has many pre-activations near ReLU's kink
        const h = 1e-3;
        data[i] = keep + h;
        const up = await loss();
        data[i] = keep - h;
        const down = await loss();
        data[i] = keep;
        num += ((up - down) / (2 * h) - g[i]) ** 2;
        den += ((up - down) / (2 * h)) ** 2;
      }
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-2);
  });

  it('saves and loads', async () => {
    const unet = buildUNet(b, unetMeta({ baseChannels: 2, depth: 2, inputSize: [16, 16] }), 6);
    const back = loadUNet(b, await saveUNet(unet));
    const x = b.fromArray(new Float32Array(3 * 256).fill(0.3), [1, 3, 16, 16]);
    expect(Array.from(await back.predict(x).read())).toEqual(Array.from(await unet.predict(x).read()));
  });

  it.each([
    ['BCE', {}],
    ['BCE + Dice', { diceWeight: 1 }],
  ] as const)('learns to segment bright blobs (IoU > 0.5) from pixel labels with %s', async (_name, loss) => {
    const unet = buildUNet(b, unetMeta({ baseChannels: 4, depth: 2, inputSize: [32, 32] }), 0);
    const opt = createUNetOptimizer(unet, { kind: 'adam' }, 1e-2);
    const rng = new SeededRng(2);
    for (let step = 0; step < 60; step++) {
      const batch = blobBatch(rng, 8, 32);
      await trainUNetStep(unet, opt, b.fromArray(batch.x, [8, 3, 32, 32]), b.fromArray(Float32Array.from(batch.masks), [8, 1, 32, 32]), { posWeight: 5, ...loss });
    }
    const test = blobBatch(new SeededRng(99), 20, 32);
    const p = await unet.predict(b.fromArray(test.x, [20, 3, 32, 32])).read();
    let tp = 0, fp = 0, fn = 0;
    p.forEach((v, i) => {
      const pred = v > 0.5, gt = test.masks[i] === 1;
      if (pred && gt) tp++;
      else if (pred) fp++;
      else if (gt) fn++;
    });
    expect(tp / (tp + fp + fn)).toBeGreaterThan(0.5);
  });

  it('soft Dice: the loss is the per-image definition, and its gradient the central differences of it', async () => {
    const n = 3, h = 4, w = 5, hw = h * w;
    const r = mulberry32(11);
    const z = Float64Array.from({ length: n * hw }, () => 4 * r() - 2);
    // image 2 has no damage: Dice then only asks for Σ p → 0
    const y = Float64Array.from({ length: n * hw }, (_, i) => (i < 2 * hw && r() > 0.6 ? 1 : 0));
    const dice = (zz: Float64Array, s = 1): number => {
      let total = 0;
      for (let k = 0; k < n; k++) {
        let P = 0, I = 0, Y = 0;
        for (let i = k * hw; i < (k + 1) * hw; i++) {
          const p = 1 / (1 + Math.exp(-zz[i]));
          P += p;
          I += p * y[i];
          Y += y[i];
        }
        total += 1 - (2 * I + s) / (P + Y + s);
      }
      return total / n;
    };
    const logits = b.fromArray(Float32Array.from(z), [n, 1, h, w]);
    const got = await softDiceWithLogits(b, logits, b.fromArray(Float32Array.from(y), [n, 1, h, w]));
    expect((await got.loss.read())[0]).toBeCloseTo(dice(Float64Array.from(Float32Array.from(z))), 6);
    const g = await got.dLogits.read();
    const eps = 1e-5;
    for (let i = 0; i < n * hw; i++) {
      const up = Float64Array.from(z), down = Float64Array.from(z);
      up[i] += eps;
      down[i] -= eps;
      expect(g[i], `dL/dz[${i}]`).toBeCloseTo((dice(up) - dice(down)) / (2 * eps), 6);
    }
    await expect(softDiceWithLogits(b, b.zeros([1, 2, 2, 2]), b.zeros([1, 2, 2, 2]))).rejects.toThrow(/\(N, 1, H, W\)/);
  });
});

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { SeededRng } from '../../src/random.js';
import { buildVgg, loadModel, modelFromParameters, type Model } from '../../src/nn/model.js';
import { parseSafetensors } from '../../src/io/safetensors.js';
import { emaDecayAt, trainedName, WeightAverage } from '../../src/train/ema.js';
import {
  evaluateClassifier, resumeFromCheckpoint, trainClassifier, type ClassifierTrainingConfig, type TrainingHooks,
} from '../../src/train/trainer.js';
import { BLOB_VGG_META, blobBatch, blobTrainingHooks } from './synthetic.js';

const b = new CpuBackend();
const meta = BLOB_VGG_META;
const config: ClassifierTrainingConfig = {
  epochs: 2, stepsPerEpoch: 6, optimizer: { kind: 'adam' }, lrs: { conv: 3e-3, fc: 3e-3 },
  schedule: { kind: 'cosine', warmupSteps: 3 }, patience: 0, seed: 7,
};
const val = blobBatch(new SeededRng(500), 40, 32);

function hooks(saved: Map<string, Uint8Array>): TrainingHooks {
  return blobTrainingHooks(val, (bytes, kind) => void saved.set(kind, bytes));
}

async function weights(m: Model): Promise<Map<string, number[]>> {
  return new Map(await Promise.all([...m.parameters()].map(async ([n, t]) => [n, Array.from(await t.read())] as const)));
}

/** The average as the backend computes it: each product and the sum rounded to float32. */
function averageOnHost(avg: Map<string, number[]>, w: Map<string, number[]>, d: number): Map<string, number[]> {
  return new Map([...avg].map(([n, a]) => [n, a.map((v, i) => Math.fround(Math.fround(v * d) + Math.fround(w.get(n)![i] * (1 - d))))]));
}

describe('moving average of the weights', () => {
  it('the decay ramps up as (1 + t) / (10 + t) to its ceiling', () => {
    expect([0, 1, 8, 90, 1000].map((t) => emaDecayAt(0.99, t))).toEqual([0.1, 2 / 11, 0.5, 0.91, 0.99]);
    expect(() => WeightAverage.of(buildVgg(b, meta, { seed: 1 }), 1)).toThrow(/decay in \(0, 1\)/);
  });

  it('trains the same weights, and validates and checkpoints their average step by step', async () => {
    const plain = buildVgg(b, meta, { seed: 1 });
    await trainClassifier(plain, { ...config, schedule: { kind: 'constant', warmupSteps: 0 } }, hooks(new Map()));

    const model = buildVgg(b, meta, { seed: 1 });
    let expected = await weights(model);
    const snapshots: Promise<void>[] = [];
    const saved = new Map<string, Uint8Array>();
    // validated on blobs faded towards the background (contrast (i + 1) / 256 for image i): where the
    // decision flips moves with small changes of the weights, so the raw weights' counts differ from the
    // average's (checked below), unlike on the easy full-contrast images
    const faded = blobBatch(new SeededRng(501), 256, 32);
    const plane = 3 * 32 * 32;
    const fadedBatch = {
      x: faded.x.map((v, k) => 0.4 + ((Math.floor(k / plane) + 1) / 256) * (v - 0.4)),
      labels: faded.labels,
    };
    const validationBatches = async function* () {
      yield fadedBatch;
    };
    let differs = 0;
    let step = 0;
    const { history } = await trainClassifier(model, { ...config, ema: 0.9, schedule: { kind: 'constant', warmupSteps: 0 } }, {
      ...hooks(saved),
      validationBatches,
      onStep: () => {
        // read before the next step changes the weights: the CPU backend's read copies synchronously
        const t = ++step;
        snapshots.push(weights(model).then((w) => void (expected = averageOnHost(expected, w, emaDecayAt(0.9, t)))));
      },
      onEpoch: async (r) => {
        await Promise.all(snapshots);
        const averaged = modelFromParameters(b, meta, (n) => Float32Array.from(expected.get(n)!));
        const { tp, tn, fp, fn } = r.val;
        expect({ tp, tn, fp, fn }, `epoch ${r.epoch}`).toEqual(await evaluateClassifier(averaged, validationBatches()));
        const raw = await evaluateClassifier(model, validationBatches());
        if (raw.tp !== tp || raw.tn !== tn) differs++;
      },
    });
    expect(differs).toBeGreaterThan(0);
    expect(history).toHaveLength(2);
    // the training itself is unchanged by the average
    expect(await weights(model)).toEqual(await weights(plain));
    // the checkpoint's model is the average (what was validated); the trained weights are beside it
    const last = saved.get('last')!;
    expect(await weights(loadModel(b, last))).toEqual(expected);
    const file = parseSafetensors(last);
    for (const [n, w] of await weights(model)) expect(Array.from(file.tensors.get(trainedName(n))!.data), n).toEqual(w);
    expect(JSON.parse(file.metadata.lrpseg_train).ema).toBe(0.9);
    expect(await weights(model)).not.toEqual(expected);
  });

  it('a run stopped mid-epoch resumes to the uninterrupted weights and average', async () => {
    const ema = { ...config, ema: 0.8 };
    const saved = new Map<string, Uint8Array>();
    const whole = buildVgg(b, meta, { seed: 1 });
    const reference = await trainClassifier(whole, ema, hooks(saved));
    const wholeLast = saved.get('last')!;

    const partSaved = new Map<string, Uint8Array>();
    let steps = 0;
    const first = await trainClassifier(buildVgg(b, meta, { seed: 1 }), ema, { ...hooks(partSaved), onStep: () => void steps++, stopRequested: () => steps >= 4 });
    expect(first.stopped).toEqual({ epoch: 0, step: 4 });
    const { model: resumed, resume } = resumeFromCheckpoint(b, partSaved.get('last')!);
    expect(resume.average?.decay).toBe(0.8);
    const restSaved = new Map<string, Uint8Array>();
    const rest = await trainClassifier(resumed, ema, hooks(restSaved), resume);
    const strip = (rs: readonly { seconds: number }[]) => rs.map(({ seconds: _, ...r }) => r);
    expect(strip(rest.history)).toEqual(strip(reference.history));
    expect(await weights(resumed)).toEqual(await weights(whole));
    expect(await weights(loadModel(b, restSaved.get('last')!))).toEqual(await weights(loadModel(b, wholeLast)));

    // resuming needs the same choice
    await expect(trainClassifier(resumeFromCheckpoint(b, partSaved.get('last')!).model, config, hooks(new Map()), resumeFromCheckpoint(b, partSaved.get('last')!).resume))
      .rejects.toThrow(/with a moving average.*with --ema 0.8/);
    const again = resumeFromCheckpoint(b, partSaved.get('last')!);
    await expect(trainClassifier(again.model, { ...config, ema: 0.9 }, hooks(new Map()), again.resume)).rejects.toThrow(/decay 0.8, not 0.9/);
  });

  it('is refused with batch norms', async () => {
    await expect(trainClassifier(buildVgg(b, meta, { seed: 1 }), { ...config, ema: 0.9, batchNorm: true }, hooks(new Map())))
      .rejects.toThrow(/not available with batch norms/);
  });
});

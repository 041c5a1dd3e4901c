import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/cpu/backend.js';
import { SeededRng } from '../../src/random.js';
import { buildVgg } from '../../src/nn/model.js';
import { lrScaleAt } from '../../src/train/schedule.js';
import { resumeFromCheckpoint, trainClassifier, type ClassifierTrainingConfig, type TrainingHooks } from '../../src/train/trainer.js';
import { BLOB_VGG_META, blobBatch, blobTrainingHooks } from './synthetic.js';

const b = new CpuBackend();
const meta = BLOB_VGG_META;
const config: ClassifierTrainingConfig = {
  epochs: 3, stepsPerEpoch: 20, optimizer: { kind: 'adam' }, lrs: { conv: 3e-3, fc: 3e-3 },
  schedule: { kind: 'cosine', warmupSteps: 5 }, patience: 0, seed: 7,
};

function hooks(saved: Map<string, Uint8Array>): TrainingHooks {
  return blobTrainingHooks(blobBatch(new SeededRng(500), 40, 32), (bytes, kind) => {
    saved.set(kind, bytes);
    if (!saved.has('epoch1')) saved.set('epoch1', bytes);
  });
}

describe('trainer', () => {
  it('warm-up then cosine decay', () => {
    const s = { kind: 'cosine' as const, warmupSteps: 4, totalSteps: 14 };
    expect([0, 3, 4, 9, 14].map((t) => lrScaleAt(s, t))).toEqual([0.25, 1, 1, 0.5, 0].map((v) => expect.closeTo(v, 10)));
  });

  it('validates each epoch, keeps the best, and a run resumed from a checkpoint ends where an uninterrupted one does', async () => {
    const saved = new Map<string, Uint8Array>();
    const model = buildVgg(b, meta, { seed: 1 });
    const { history } = await trainClassifier(model, config, hooks(saved));
    expect(history).toHaveLength(3);
    expect(history[history.length - 1].val.balancedAccuracy).toBeGreaterThan(0.8);
    expect(history.filter((r) => r.best).length).toBeGreaterThanOrEqual(1);

    const { model: resumed, resume } = resumeFromCheckpoint(b, saved.get('epoch1')!);
    expect(resume.epoch).toBe(1);
    const again = await trainClassifier(resumed, config, hooks(new Map()), resume);
    expect(again.history.map((r) => r.val)).toEqual(history.map((r) => r.val));
    for (const [name, t] of model.parameters()) {
      expect(Array.from(await resumed.parameters().get(name)!.read()), name).toEqual(Array.from(await t.read()));
    }
  });

  it('stops early after --patience epochs without a better validation figure, not before --min-epochs', async () => {
    // learning rates 0: the weights and so the validation figure never change, the best stays epoch 1
    const frozen: ClassifierTrainingConfig = { ...config, epochs: 6, stepsPerEpoch: 1, lrs: { conv: 0, fc: 0 } };
    const epochs = async (c: ClassifierTrainingConfig) => (await trainClassifier(buildVgg(b, meta, { seed: 1 }), c, hooks(new Map()))).history.length;
    expect(await epochs({ ...frozen, patience: 2 })).toBe(3);
    expect(await epochs({ ...frozen, patience: 2, minEpochs: 5 })).toBe(5);
    expect(await epochs({ ...frozen, patience: 0, minEpochs: 5 })).toBe(6);
  });

  it('a run stopped on request, mid-epoch or between epochs, resumes to the uninterrupted weights and records', async () => {
    const short: ClassifierTrainingConfig = { ...config, epochs: 2, stepsPerEpoch: 6 };
    const whole = buildVgg(b, meta, { seed: 1 });
    const reference = await trainClassifier(whole, short, hooks(new Map()));
    const weights = async (m: typeof whole) => new Map(await Promise.all([...m.parameters()].map(async ([n, t]) => [n, Array.from(await t.read())] as const)));
    const expected = await weights(whole);
    const strip = (rs: readonly { seconds: number }[]) => rs.map(({ seconds: _, ...r }) => r);

    // stop after global step 3 (mid-epoch 0), then after step 6 (the end of epoch 0: stops before epoch 1), then after 9
    for (const stopAfter of [3, 6, 9]) {
      const saved = new Map<string, Uint8Array>();
      const first = buildVgg(b, meta, { seed: 1 });
      let steps = 0;
      const h = hooks(saved);
      const stoppedRun = await trainClassifier(first, short, { ...h, onStep: () => void steps++, stopRequested: () => steps >= stopAfter });
      expect(stoppedRun.stopped, `stop after ${stopAfter}`).toEqual({ epoch: Math.floor(stopAfter / 6), step: stopAfter % 6 });
      const { model: resumed, resume } = resumeFromCheckpoint(b, saved.get('last')!);
      expect(resume.optimizer.step).toBe(stopAfter);
      expect(resume.partial?.steps ?? 0).toBe(stopAfter % 6);
      const starts: number[] = [];
      const rest = await trainClassifier(resumed, short, {
        ...hooks(new Map()),
        trainBatches: (epoch, rng, startStep) => (starts.push(startStep), h.trainBatches(epoch, rng, startStep)),
      }, resume);
      expect(rest.stopped).toBeUndefined();
      expect(starts[0]).toBe(stopAfter % 6);
      expect(strip(rest.history)).toEqual(strip(reference.history));
      expect(await weights(resumed)).toEqual(expected);
    }
  });
});

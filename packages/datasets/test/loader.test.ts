import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@lrpseg/core';
import { CLASSIFIER_AUGMENT, DataLoader, UNET_AUGMENT, encodePngGrey, type Batch, type ManifestEntry } from '../src/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lrpseg-loader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Synthetic images (blobs) whose mask PNG is their own content thresholded at 128. */
function writeSynthetic(n: number): ManifestEntry[] {
  mkdirSync(path.join(dir, 'img'), { recursive: true });
  const entries: ManifestEntry[] = [];
  for (let k = 0; k < n; k++) {
    const rand = mulberry32(k + 1);
    const h = 40 + Math.floor(rand() * 40);
    const w = 40 + Math.floor(rand() * 60);
    const spots = Array.from({ length: 3 }, () => ({ y: rand() * h, x: rand() * w, r: 3 + rand() * 6 }));
    const img = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let v = 0.1;
        for (const s of spots) v += Math.exp(-((y - s.y) ** 2 + (x - s.x) ** 2) / (2 * s.r * s.r));
        img[y * w + x] = Math.round(255 * Math.min(1, v));
      }
    }
    writeFileSync(path.join(dir, 'img', `${k}.png`), encodePngGrey(img, w, h));
    writeFileSync(path.join(dir, 'img', `${k}_mask.png`), encodePngGrey(img.map((v) => (v >= 128 ? 255 : 0)), w, h));
    entries.push({ image: `img/${k}.png`, mask: `img/${k}_mask.png`, label: k % 2, class: k % 2 ? 'a' : 'b', group: `g${k}` });
  }
  return entries;
}

async function collect(loader: DataLoader, epoch: number, fromBatch = 0): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch, fromBatch)) out.push(b);
  return out;
}

describe('DataLoader', () => {
  let entries: ManifestEntry[];
  beforeAll(() => {
    entries = writeSynthetic(10);
  });

  it('evaluation: NCHW batches of every image and its two flips, masks aligned', async () => {
    const loader = new DataLoader({ root: dir, entries, mode: 'eval', batchSize: 4, size: [32, 32], channels: 3, workers: 2 });
    try {
      expect(loader.samples).toBe(30);
      expect(loader.batchesPerEpoch).toBe(8);
      const batches = await collect(loader, 0);
      expect(batches.map((b) => b.shape[0])).toEqual([4, 4, 4, 4, 4, 4, 4, 2]);
      const b0 = batches[0];
      expect(b0.shape).toEqual([4, 3, 32, 32]);
      expect(b0.x.length).toBe(4 * 3 * 32 * 32);
      expect(b0.masks.length).toBe(4 * 32 * 32);
      expect(b0.items.slice(0, 3)).toEqual([{ entry: 0, view: 'identity' }, { entry: 0, view: 'hflip' }, { entry: 0, view: 'vflip' }]);
      expect(Array.from(b0.labels)).toEqual([0, 0, 0, 1]);
      // the hflip view is the identity view mirrored, channel by channel, and so is its mask
      const hw = 32 * 32;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) expect(b0.x[3 * hw + y * 32 + x]).toBe(b0.x[y * 32 + 31 - x]);
      // aligned: mask = thresholded image (up to interpolated edge pixels)
      for (const b of batches) {
        for (let i = 0; i < b.shape[0]; i++) {
          let bad = 0;
          for (let p = 0; p < hw; p++) if ((b.x[i * 3 * hw + p] >= 0.5 ? 1 : 0) !== b.masks[i * hw + p]) bad++;
          expect(bad / hw).toBeLessThan(0.03);
        }
      }
    } finally {
      await loader.close();
    }
  });

  it('training: seeded, shuffled per epoch, the same with 0 or 3 workers', async () => {
    const opts = { root: dir, entries, mode: 'train' as const, batchSize: 3, size: [32, 32] as const, channels: 1, seed: 42, augment: UNET_AUGMENT };
    const inProcess = new DataLoader({ ...opts, workers: 0 });
    const pooled = new DataLoader({ ...opts, workers: 3, prefetch: 1 });
    try {
      const a = await collect(inProcess, 0);
      const b = await collect(pooled, 0);
      expect(b.map((x) => x.items)).toEqual(a.map((x) => x.items));
      for (let k = 0; k < a.length; k++) {
        expect(Array.from(b[k].x)).toEqual(Array.from(a[k].x));
        expect(Array.from(b[k].masks)).toEqual(Array.from(a[k].masks));
      }
      const e1 = await collect(pooled, 1);
      expect(e1.map((x) => x.items)).not.toEqual(a.map((x) => x.items));
      // every training crop keeps the defect (flips only: a warp may move it out)
      const plain = new DataLoader({ ...opts, augment: CLASSIFIER_AUGMENT, workers: 0 });
      for (let epoch = 0; epoch < 3; epoch++) {
        for (const batch of await collect(plain, epoch)) {
          for (let i = 0; i < batch.shape[0]; i++) expect(batch.masks.subarray(i * 1024, (i + 1) * 1024).includes(1)).toBe(true);
        }
      }
    } finally {
      await inProcess.close();
      await pooled.close();
    }
  });

  it('an epoch started at a later batch gives the same batches as the rest of a full pass', async () => {
    const opts = { root: dir, entries, mode: 'train' as const, batchSize: 3, size: [32, 32] as const, channels: 1, seed: 9, augment: UNET_AUGMENT };
    const loader = new DataLoader({ ...opts, workers: 2, prefetch: 1 });
    try {
      const full = await collect(loader, 2);
      expect(full).toHaveLength(4);
      for (const from of [1, 3, 4]) {
        const rest = await collect(loader, 2, from);
        expect(rest.map((x) => x.items), `from ${from}`).toEqual(full.slice(from).map((x) => x.items));
        rest.forEach((x, k) => expect(Array.from(x.x)).toEqual(Array.from(full[from + k].x)));
      }
      // a training epoch of 10 steps takes 3 passes (epochs 3·1 … 3·1 + 2) and stops after 10 batches
      const drain = async (fromStep: number) => {
        const out: Batch[] = [];
        for await (const x of loader.trainingEpoch(1, 10, fromStep)) out.push(x);
        return out;
      };
      const passes = [...(await collect(loader, 3)), ...(await collect(loader, 4)), ...(await collect(loader, 5))];
      const epoch = await drain(0);
      expect(epoch.map((x) => x.items)).toEqual(passes.slice(0, 10).map((x) => x.items));
      for (const from of [2, 4, 9, 10]) expect((await drain(from)).map((x) => x.items), `step ${from}`).toEqual(epoch.slice(from).map((x) => x.items));
    } finally {
      await loader.close();
    }
  });

  it('a file that fails to load rejects the epoch with its name', async () => {
    writeFileSync(path.join(dir, 'img', 'broken.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    const bad = [...entries.slice(0, 2), { ...entries[2], image: 'img/broken.png' }];
    const loader = new DataLoader({ root: dir, entries: bad, mode: 'eval', batchSize: 2, size: [32, 32], workers: 1 });
    try {
      await expect(collect(loader, 0)).rejects.toThrow(/broken\.png: corrupt or truncated PNG/);
    } finally {
      await loader.close();
    }
  });
});

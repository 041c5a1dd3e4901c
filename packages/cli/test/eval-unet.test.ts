import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend, buildUNet, countPixels, saveUNet, segmentationScores, unetMeta } from '@lrpseg/core';
import type { EvalReport } from '../src/commands/eval.js';
import { prepareItem } from '../src/report/eval-data.js';
import { BLOWHOLE_DIR, HAVE_BLOWHOLE, blowholeJpegs, lrpseg, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('lrpseg-eval-unet-');
afterAll(cleanup);

describe.skipIf(!HAVE_BLOWHOLE)('eval --unet', () => {
  it('scores a U-Net: sigmoid output as the score, mask = score > 0.5, the same numbers as computed directly', async () => {
    const data = path.join(dir, 'data');
    mkdirSync(data, { recursive: true });
    const stems = blowholeJpegs(3).map((f) => path.basename(f, '.jpg'));
    for (const s of stems) for (const ext of ['.jpg', '.png']) copyFileSync(path.join(BLOWHOLE_DIR, s + ext), path.join(data, s + ext));
    const backend = new CpuBackend();
    const unet = buildUNet(backend, unetMeta({ baseChannels: 4, depth: 2, inputSize: [32, 32] }), 3);
    const file = path.join(dir, 'unet.safetensors');
    writeFileSync(file, await saveUNet(unet));

    const out = path.join(dir, 'report');
    const r = await lrpseg('eval', '--unet', file, '--data', data, '--out', out, '--no-flips', '-q');
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')) as EvalReport;
    expect(rep.segmentation).toHaveLength(1);
    const cfg = rep.segmentation[0];
    expect([cfg.network, cfg.method]).toEqual(['U-Net', 'unet']);
    expect(cfg.gated.ap).not.toBeNull();
    expect(cfg.gated.pr_curve!.length).toBeGreaterThan(1);

    const counts = [];
    for (const s of [...stems].sort()) {
      const p = await prepareItem({ id: s, image: path.join(data, `${s}.jpg`), mask: path.join(data, `${s}.png`) }, [32, 32], 3, 'defect');
      const x = backend.fromArray(p.image.data, [1, 3, 32, 32]);
      const score = await unet.predict(x).read();
      counts.push(countPixels(Uint8Array.from(score, (v) => (v > 0.5 ? 1 : 0)), p.truth));
    }
    const direct = segmentationScores(counts);
    expect(cfg.gated.pooled).toEqual(direct.pooled);
    expect(cfg.gated.iou).toBeCloseTo(direct.iou, 5);
    const md = readFileSync(path.join(out, 'metrics.md'), 'utf8');
    expect(md).toMatch(/\| U-Net \| U-Net \|/);
  });
});

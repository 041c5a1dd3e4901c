/** What both `reproduce` tests check of a study's metrics.json: every cell of the paper's tables is there. */
import { expect } from 'vitest';

export interface SegmentationRow {
  network: string;
  rules: string;
  method: string;
  iou: number;
  precision: number;
  recall: number;
  ap: number | null;
  paper: unknown;
}

export interface ClassificationRow {
  network: string;
  views: number;
  balanced_accuracy: number;
  tpr: number;
  tnr: number;
  paper: unknown;
}

/** network/rules/method of every LRP cell of the paper's segmentation tables (the U-Net's row aside). */
export const LRP_CELLS: readonly string[] = ['VGG-A 128N', 'VGG-A one FC'].flatMap((n) =>
  ['montavon', 'ours'].flatMap((r) => ['simple', 'gmm', 'bmm'].map((me) => `${n}/${r}/${me}`)),
);

/** Both networks and every network × rule set × method plus the U-Net, each beside the paper's figures. */
export function expectEveryCell(m: { classification: readonly ClassificationRow[]; segmentation: readonly SegmentationRow[] }): void {
  expect(m.classification.map((c) => c.network).sort()).toEqual(['VGG-A 128N', 'VGG-A one FC']);
  for (const c of m.classification) expect(c.paper, c.network).not.toBeNull();
  const keys = m.segmentation.map((s) => `${s.network}/${s.rules}/${s.method}`).sort();
  expect(keys).toEqual([...LRP_CELLS, 'U-Net/-/unet'].sort());
  for (const s of m.segmentation) {
    expect(s.paper, `${s.network} ${s.rules} ${s.method}`).not.toBeNull();
    for (const x of [s.iou, s.precision, s.recall]) expect(x).toBeGreaterThanOrEqual(0);
    expect(s.ap).not.toBeNull();
  }
}

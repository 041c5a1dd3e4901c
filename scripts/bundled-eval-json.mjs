#!/usr/bin/env node
// models/<name>.eval.json from an `lrpseg eval` metrics.json of the bundled model on the grouped test
// split (one model; rules ours,montavon; methods simple,gmm,bmm): the counts that
// packages/cli/test/bundled-model.test.ts checks against a fresh evaluation.
// Usage: node scripts/bundled-eval-json.mjs EVAL_DIR/metrics.json MODEL_FILE_NAME > models/NAME.eval.json
import { readFileSync } from 'node:fs';

const [metricsFile, modelName] = process.argv.slice(2);
if (!metricsFile || !modelName) {
  console.error('usage: node scripts/bundled-eval-json.mjs METRICS.json MODEL_FILE_NAME');
  process.exit(2);
}
const m = JSON.parse(readFileSync(metricsFile, 'utf8'));
if (m.format !== 'lrpseg-eval-report' || m.classification.length !== 1) {
  console.error(`${metricsFile}: not an lrpseg eval report of one model`);
  process.exit(1);
}
const c = m.classification[0];
const mode = (x) => ({ pooled: x.pooled, iou: x.iou, ...(x.iou_ci95 ? { iou_ci95: x.iou_ci95 } : {}) });
const out = {
  format: 'lrpseg-bundled-model-evaluation',
  version: 1,
  model: modelName,
  data: {
    dataset: 'magnetic-tile',
    split: 'lrpseg data split DATA --classes Crack,Blowhole,Free,Break,Fray,Uneven (seed 0, grouped), cut to Crack,Blowhole,Free',
    subset: 'test',
    items: m.data.items,
    defective_items: m.data.defective_items,
    views: m.data.views,
  },
  classification: {
    views: c.views, tp: c.tp, fn: c.fn, tn: c.tn, fp: c.fp, balancedAccuracy: c.balancedAccuracy,
    ...(c.balanced_accuracy_ci95 ? { balancedAccuracyCi95: c.balanced_accuracy_ci95 } : {}),
  },
  segmentation: m.segmentation.map((s) => ({ rules: s.rules, method: s.method, gated: mode(s.gated), ungated: mode(s.ungated) })),
};
process.stdout.write(JSON.stringify(out, null, 1) + '\n');

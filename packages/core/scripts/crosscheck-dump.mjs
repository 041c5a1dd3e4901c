// Dumps what lrpseg's GMM and PR code compute on relevance maps, for crosscheck_sklearn.py to compare
// with scikit-learn. Development tool (needs a built core and, for the Python side, scikit-learn).
//   node packages/core/scripts/crosscheck-dump.mjs R.npy OUT_DIR [scale]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseNpy, serializeNpy, mean5, fitGmm1d, gmmPosterior, damageComponent, segmentGmm, precisionRecallCurve, averagePrecision, mulberry32 } from '../dist/index.js';

const [file, out, scaleText] = process.argv.slice(2);
const scale = Number(scaleText ?? '1');
mkdirSync(out, { recursive: true });
const a = parseNpy(readFileSync(file));
const [n, h, w] = a.shape;
const results = [];
const f64 = new Float64Array(n * h * w);
const post = new Float64Array(n * h * w);
for (let i = 0; i < n; i++) {
  const R = Float64Array.from(a.data.subarray(i * h * w, (i + 1) * h * w), (v) => v * scale);
  const f = mean5(R, h, w);
  f64.set(f, i * h * w);
  const fit = fitGmm1d(f);
  const seg = segmentGmm({ data: R, height: h, width: w });
  post.set(gmmPosterior(fit, f, damageComponent(fit, Math.max(...f))), i * h * w);
  results.push({ weights: fit.weights, means: fit.means, variances: fit.variances, rounds: fit.rounds, kmeansRounds: fit.kmeansRounds, damage: seg.damage, area: seg.mask.reduce((s, v) => s + v, 0) });
}
writeFileSync(path.join(out, 'f.npy'), serializeNpy(f64, [n, h, w], 'f8'));
writeFileSync(path.join(out, 'posterior.npy'), serializeNpy(post, [n, h, w], 'f8'));
// PR: scores with many ties (rounded to 2 decimals) against seeded labels
const rnd = mulberry32(7);
const m = 20000;
const scores = Float64Array.from({ length: m }, () => Math.round(rnd() * 100) / 100);
const labels = Uint8Array.from(scores, (s) => (rnd() < s * s ? 1 : 0));
const curve = precisionRecallCurve(scores, labels);
writeFileSync(path.join(out, 'pr-scores.npy'), serializeNpy(scores, [m], 'f8'));
writeFileSync(path.join(out, 'pr-labels.npy'), serializeNpy(labels, [m], 'u1'));
writeFileSync(path.join(out, 'ours.json'), JSON.stringify({ gmm: results, ap: averagePrecision(curve), precision: Array.from(curve.precision), recall: Array.from(curve.recall), thresholds: Array.from(curve.thresholds) }));
console.log(`wrote ${out}`);

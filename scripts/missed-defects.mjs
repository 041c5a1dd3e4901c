#!/usr/bin/env node
// Which defects a classifier misses, from the per-view decisions of `lrpseg eval` (metrics.json):
// defect views caught by class, by damage area (thirds), by image, and the images with a missed view,
// with their group, class, damage pixels and each view's margin (defect − defect-free logit); and the
// false alarms (defect-free views called defective) by group, as they cluster in a few regions.
//
// Usage: node scripts/missed-defects.mjs REPORT/metrics.json
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/missed-defects.mjs REPORT/metrics.json');
  process.exit(2);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const pct = (a, n) => (n > 0 ? `${((100 * a) / n).toFixed(0)} %` : '—');
const caught = (views) => `${views.filter((d) => d.defect).length}/${views.length} caught (${pct(views.filter((d) => d.defect).length, views.length)})`;

for (const c of report.classification) {
  if (!c.per_view) {
    console.log(`${c.network}: no per-view decisions in this report (made before they were recorded)`);
    continue;
  }
  const entries = Object.entries(c.per_view);
  const defect = entries.filter(([, d]) => d.label === 1);
  console.log(`${c.network}: balanced accuracy ${(100 * c.balancedAccuracy).toFixed(1)} %, TPR ${(100 * c.tpr).toFixed(1)} %, TNR ${(100 * c.tnr).toFixed(1)} %`);
  const classes = [...new Set(defect.map(([, d]) => d.class ?? '(no class)'))];
  for (const k of classes) console.log(`  ${k}: ${caught(defect.filter(([, d]) => (d.class ?? '(no class)') === k).map(([, d]) => d))}`);
  const areas = defect.map(([, d]) => d.damage_pixels).sort((a, b) => a - b);
  const cuts = [0, areas[Math.floor(areas.length / 3)], areas[Math.floor((2 * areas.length) / 3)], Infinity];
  for (let i = 0; i < 3; i++) {
    const views = defect.filter(([, d]) => d.damage_pixels >= cuts[i] && d.damage_pixels < cuts[i + 1]).map(([, d]) => d);
    console.log(`  damage ${cuts[i]}${cuts[i + 1] === Infinity ? '+' : `–${cuts[i + 1] - 1}`} px: ${caught(views)}`);
  }
  const images = new Map();
  for (const [key, d] of defect) {
    const [id, view = 'identity'] = key.split('/');
    const e = images.get(id) ?? { class: d.class, group: d.group, damage: d.damage_pixels, views: [] };
    e.views.push({ view, ...d });
    images.set(id, e);
  }
  const all = [...images.values()];
  const hit = (e) => e.views.filter((v) => v.defect).length;
  console.log(`  images: ${all.length}; every view caught ${all.filter((e) => hit(e) === e.views.length).length}, some ${all.filter((e) => hit(e) > 0 && hit(e) < e.views.length).length}, none ${all.filter((e) => hit(e) === 0).length}`);
  const missed = [...images].filter(([, e]) => hit(e) < e.views.length).sort(([a, x], [b, y]) => `${x.group}${a}`.localeCompare(`${y.group}${b}`));
  if (missed.length > 0) console.log('  with a missed view (image, group, class, damage px of the first view, margin per view):');
  for (const [id, e] of missed) {
    console.log(`    ${id}  ${e.group ?? '-'}  ${e.class ?? '-'}  ${e.damage}  ${e.views.map((v) => `${v.view} ${v.margin >= 0 ? '+' : ''}${v.margin.toFixed(2)}`).join(', ')}`);
  }
  const free = entries.filter(([, d]) => d.label === 0);
  const alarms = free.filter(([, d]) => d.defect);
  const byGroup = new Map();
  for (const [, d] of alarms) byGroup.set(d.group ?? '-', (byGroup.get(d.group ?? '-') ?? 0) + 1);
  const groups = [...byGroup].sort(([a, x], [b, y]) => y - x || a.localeCompare(b)).map(([g, n]) => `${g} ${n}`);
  console.log(`  false alarms: ${alarms.length} of ${free.length} defect-free views${groups.length > 0 ? `; by group: ${groups.join(', ')}` : ''}`);
}

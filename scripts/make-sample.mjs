#!/usr/bin/env node
// Draws the bundled sample image: a synthetic grey magnetic-tile-like surface with one dark blowhole,
// deterministic (seeded), so that the repository ships no third-party image. Run from the repo root:
//   node scripts/make-sample.mjs samples/synthetic-tile-blowhole.png
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const require = createRequire(new URL('../packages/datasets/package.json', import.meta.url));
const { PNG } = require('pngjs');

const out = process.argv[2] ?? 'samples/synthetic-tile-blowhole.png';
const W = 224, H = 224;
let s = 12345;
const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
const png = new PNG({ width: W, height: H, colorType: 0 });
for (let y = 0; y < H; y++) {
  for (let x = 0; x < W; x++) {
    // brushed texture: horizontal streaks, a slow lighting gradient, and noise
    let v = 120 + 20 * Math.sin(y * 0.35 + Math.sin(x * 0.02) * 2) + 25 * (x / W) + (rand() - 0.5) * 18;
    // a blowhole: dark elliptical pit with a bright rim
    const dx = (x - 140) / 9, dy = (y - 90) / 6;
    const r = Math.sqrt(dx * dx + dy * dy);
    if (r < 1) v = 35 + 20 * r + (rand() - 0.5) * 8;
    else if (r < 1.35) v += 45 * (1.35 - r) / 0.35;
    const i = (y * W + x) * 4;
    png.data[i] = png.data[i + 1] = png.data[i + 2] = Math.max(0, Math.min(255, Math.round(v)));
    png.data[i + 3] = 255;
  }
}
writeFileSync(out, PNG.sync.write(png, { colorType: 0 }));
console.log(`wrote ${out}`);

/**
 * The two filters every method shares (SEGMENTATION.md, "Shared steps"), in float64.
 */

/** Affine map of the minimum to 0 and the maximum to 1; a constant map gives all 0. */
export function normalize01(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const out = new Float64Array(n);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  if (!(range > 0)) return out;
  const inv = 1 / range;
  for (let i = 0; i < n; i++) out[i] = (x[i] - min) * inv;
  // (x - min) / range can round to just above 1 for x = max in rare cases; the spec maps max to 1 exactly.
  for (let i = 0; i < n; i++) if (out[i] > 1) out[i] = 1;
  return out;
}

/**
 * 5×5 mean filter; at the border, the mean over the part of the window inside the image. Computed as a
 * horizontal then a vertical 5-tap sum (separable), divided by the number of pixels inside the window.
 */
export function mean5(x: ArrayLike<number>, height: number, width: number): Float64Array {
  const rows = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    for (let c = 0; c < width; c++) {
      let s: number;
      if (c >= 2 && c + 2 < width) {
        const p = o + c;
        s = x[p - 2] + x[p - 1] + x[p] + x[p + 1] + x[p + 2];
      } else {
        s = 0;
        const hi = Math.min(c + 2, width - 1);
        for (let k = Math.max(c - 2, 0); k <= hi; k++) s += x[o + k];
      }
      rows[o + c] = s;
    }
  }
  const inv = new Float64Array(width);
  const out = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    const lo = y >= 2 ? y - 2 : 0;
    const hi = y + 2 < height ? y + 2 : height - 1;
    const rowCount = hi - lo + 1;
    for (let c = 0; c < width; c++) inv[c] = rowCount * (Math.min(c + 2, width - 1) - Math.max(c - 2, 0) + 1);
    const o = y * width;
    if (rowCount === 5) {
      const r0 = lo * width;
      const w = width;
      for (let c = 0; c < width; c++) {
        const p = r0 + c;
        out[o + c] = (rows[p] + rows[p + w] + rows[p + 2 * w] + rows[p + 3 * w] + rows[p + 4 * w]) / inv[c];
      }
    } else {
      for (let c = 0; c < width; c++) {
        let s = 0;
        for (let k = lo; k <= hi; k++) s += rows[k * width + c];
        out[o + c] = s / inv[c];
      }
    }
  }
  return out;
}

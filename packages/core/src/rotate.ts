/**
 * Rotation of planar (plane-major) images by quarter turns: an exact permutation of the pixels, shared
 * by the data augmentation (datasets' rotate90) and the rotation pretext task (train/pretext.ts).
 */

/**
 * `planes` planes of height × width values turned by k quarter turns counter-clockwise (k taken mod 4).
 * Odd k swaps width and height. Output (y, x) takes source pixel k=1: (x, W−1−y); k=2: (H−1−y, W−1−x);
 * k=3: (H−1−x, y).
 */
export function rotatePlanes90(
  data: Float32Array, planes: number, height: number, width: number, k: number,
): { data: Float32Array; height: number; width: number } {
  const q = ((Math.trunc(k) % 4) + 4) % 4;
  if (data.length !== planes * height * width) throw new RangeError(`rotatePlanes90: ${data.length} values for ${planes} planes of ${height}×${width}`);
  if (q === 0) return { data: new Float32Array(data), height, width };
  const outW = q === 2 ? width : height;
  const outH = q === 2 ? height : width;
  const out = new Float32Array(data.length);
  const plane = height * width;
  for (let c = 0; c < planes; c++) {
    const base = c * plane;
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        let sy: number;
        let sx: number;
        if (q === 1) {
          sy = x;
          sx = width - 1 - y;
        } else if (q === 2) {
          sy = height - 1 - y;
          sx = width - 1 - x;
        } else {
          sy = height - 1 - x;
          sx = y;
        }
        out[base + y * outW + x] = data[base + sy * width + sx];
      }
    }
  }
  return { data: out, height: outH, width: outW };
}

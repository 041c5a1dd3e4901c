/**
 * Mirroring of planar (plane-major) images: an exact permutation of the pixels, its own inverse.
 */

export interface Flip {
  /** Left–right (x → W−1−x). */
  readonly horizontal: boolean;
  /** Top–bottom (y → H−1−y). */
  readonly vertical: boolean;
}

/** `planes` planes of height × width values mirrored as `flip` says (a copy, also for no flip). */
export function flipPlanes(data: Float32Array, planes: number, height: number, width: number, flip: Flip): Float32Array {
  if (data.length !== planes * height * width) throw new RangeError(`flipPlanes: ${data.length} values for ${planes} planes of ${height}×${width}`);
  if (!flip.horizontal && !flip.vertical) return new Float32Array(data);
  const out = new Float32Array(data.length);
  for (let c = 0; c < planes; c++) {
    const base = c * height * width;
    for (let y = 0; y < height; y++) {
      const src = base + (flip.vertical ? height - 1 - y : y) * width;
      const dst = base + y * width;
      if (flip.horizontal) {
        for (let x = 0; x < width; x++) out[dst + x] = data[src + width - 1 - x];
      } else {
        out.set(data.subarray(src, src + width), dst);
      }
    }
  }
  return out;
}

import { LrpsegError } from '../errors.js';

/** A relevance map: `height × width` values, row-major. */
export interface RelevanceMap {
  readonly data: ArrayLike<number>;
  readonly height: number;
  readonly width: number;
}

/**
 * Refuses a map whose size does not match its data or that holds a non-finite value (NaN, ±Infinity):
 * the segmentation methods need a defined minimum, maximum and mean.
 */
/**
 * Largest |value| the mixture methods accept: their EM squares differences of (filtered) values, which
 * must stay finite in float64.
 */
export const MAX_ABS_RELEVANCE = 1e150;

export function checkRelevanceMap(map: RelevanceMap, op: string, maxAbs = Infinity): void {
  const { data, height, width } = map;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height <= 0 || width <= 0) {
    throw new LrpsegError('BAD_INPUT', `${op}: invalid map size ${height}×${width}`);
  }
  if (data.length !== height * width) {
    throw new LrpsegError('SHAPE_MISMATCH', `${op}: ${data.length} values for a ${height}×${width} map`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      const y = Math.floor(i / width);
      throw new LrpsegError('BAD_INPUT', `${op}: the relevance map has a non-finite value (${v}) at row ${y}, column ${i - y * width}`);
    }
    if (Math.abs(v) > maxAbs) {
      const y = Math.floor(i / width);
      throw new LrpsegError('BAD_INPUT', `${op}: the relevance map has a value too large to fit a mixture to (${v} at row ${y}, column ${i - y * width}; at most ${maxAbs} in magnitude)`);
    }
  }
}

/** Whether every value of the map is the same (then no method has anything to separate). */
export function isConstantMap(data: ArrayLike<number>): boolean {
  for (let i = 1; i < data.length; i++) if (data[i] !== data[0]) return false;
  return true;
}

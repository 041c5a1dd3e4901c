import { describe, expect, it } from 'vitest';
import { argmaxRow } from '../src/index.js';

describe('argmaxRow', () => {
  it('takes the largest of a row, the lower index on ties, among the first `among` values', () => {
    const v = Float32Array.of(0.1, 0.7, 0.2, /* row 1 */ 3, 3, 1, /* row 2 */ -1, -2, 5);
    expect([0, 1, 2].map((r) => argmaxRow(v, r, 3))).toEqual([1, 0, 2]);
    expect(argmaxRow(v, 2, 3, 2)).toBe(0);
  });
});

/**
 * The index of the largest of row `row`'s first `among` values in a row-major (rows, k) array: the
 * classifier's decision from its logits. Ties go to the lower index.
 */
export function argmaxRow(values: ArrayLike<number>, row: number, k: number, among = k): number {
  const base = row * k;
  let best = 0;
  for (let j = 1; j < among; j++) if (values[base + j] > values[base + best]) best = j;
  return best;
}

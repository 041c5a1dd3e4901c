/**
 * exp(x) in float64 for x ≤ 0, for GMM's E-step, written in JS so that optimised code inlines it.
 * `Math.exp` is a call out of optimised code, and every call spills the dozen doubles the fused E/M loop
 * keeps in registers: two calls per pixel per EM round made them ~70 % of a round (docs/segmentation.md).
 * The E-step only needs x ≤ 0 (log-sum-exp: each term relative to the largest), which saves the overflow
 * test (~20 % of a round).
 *
 * Method (Tang's table-driven exp): x = (k/2048)·ln 2 + r with k = round(2048·x/ln 2), |r| ≤ ln 2/4096,
 * reduced in two parts (ln 2 split into a head with 21 trailing zero bits, so k·head is exact for every k
 * in range, and a tail); exp(r) by its degree-3 Taylor polynomial (truncation < 5e-17 relative); 2^(k/2048)
 * as 2^⌊k/2048⌋ · 2^((k mod 2048)/2048) from two tables. Within 3 ulp of Math.exp on [−745, 0] (the test
 * measures ~2 at worst); underflows through the subnormals to 0 like Math.exp.
 */
const TABLE_BITS = 11;
const TABLE_SIZE = 1 << TABLE_BITS;
const LN2_HEAD = 6.93147180369123816490e-1 / TABLE_SIZE;
const LN2_TAIL = 1.90821492927058770002e-10 / TABLE_SIZE;
const INV_STEP = TABLE_SIZE / Math.LN2;
/** Adding and subtracting 1.5·2^52 rounds a double of magnitude < 2^51 to the nearest integer. */
const ROUNDER = 6755399441055744;
/** Below this exp is 0 even as a subnormal. */
const UNDERFLOW_AT = -745.1332191019412;

/** 2^(j/2048), j = 0…2047 (from Math.exp, within 1 ulp). */
const FRACTION_POWERS = new Float64Array(TABLE_SIZE);
for (let j = 0; j < TABLE_SIZE; j++) FRACTION_POWERS[j] = Math.exp(j * LN2_HEAD + j * LN2_TAIL);
/** 2^m for m = MIN_EXPONENT…0, offset by −MIN_EXPONENT. Exact: powers of two, subnormals included. */
const MIN_EXPONENT = -1080;
if (TABLE_SIZE !== 2048 || MIN_EXPONENT !== -1080) throw new Error('expNonPositive: update the literals in its last line');
const INTEGER_POWERS = new Float64Array(1 - MIN_EXPONENT);
for (let m = MIN_EXPONENT; m <= 0; m++) INTEGER_POWERS[m - MIN_EXPONENT] = 2 ** m;

/** exp(x) for x ≤ 0 (NaN gives NaN). Positive x is outside its domain: the result is meaningless. */
export function expNonPositive(x: number): number {
  if (!(x > UNDERFLOW_AT)) return x !== x ? x : 0;
  const k = x * INV_STEP + ROUNDER - ROUNDER;
  const r = x - k * LN2_HEAD - k * LN2_TAIL;
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6)));
  const ki = k | 0;
  // literals, not TABLE_SIZE − 1, TABLE_BITS and −MIN_EXPONENT: V8 does not fold module-level integer
  // constants here, and the loads cost 12 % of an EM round
  return p * FRACTION_POWERS[ki & 2047] * INTEGER_POWERS[(ki >> 11) + 1080];
}

/**
 * Mixed-radix counters in WGSL, for the GEMM template's operand walkers (gemm.ts): an index such as a
 * convolution's depth k = ((seg·C + c)·KS + ky)·KS + kx is decomposed into its digits once, with
 * divisions, and then advanced by a constant step with one compare-and-subtract per digit. Integer
 * division is emulated in software on GPUs (and scalarised on SwiftShader's CPU vectors); the operand
 * loads did several per element before the walkers.
 */

/** A digit's name and its radix (a WGSL u32 expression); the most significant digit has no radix. */
export type Digit = readonly [name: string, radix: string | null];

function checkDigits(digits: readonly Digit[]): void {
  if (digits.length === 0 || digits[0][1] !== null || digits.slice(1).some(([, r]) => r === null)) {
    throw new Error('a walk needs its most significant digit first, without a radix, and a radix for every other digit');
  }
}

/** The struct fields of a counter: each digit and the step's digit (`s_` + name), all u32. */
export function digitFields(digits: readonly Digit[]): string {
  checkDigits(digits);
  return digits.map(([d]) => `${d}: u32, s_${d}: u32,`).join(' ');
}

/**
 * Statements that set `w.<digit>` to the digits of `value` and `w.s_<digit>` to those of `step`
 * (w a local struct variable).
 */
export function decompose(digits: readonly Digit[], value: string, step: string): string {
  checkDigits(digits);
  const lines: string[] = [];
  for (const [prefix, v] of [['', value], ['s_', step]] as const) {
    lines.push(`  { var t = ${v};`);
    for (let i = digits.length - 1; i >= 1; i--) {
      const [d, r] = digits[i];
      lines.push(`    w.${prefix}${d} = t % ${r}; t = t / ${r};`);
    }
    lines.push(`    w.${prefix}${digits[0][0]} = t; }`);
  }
  return lines.join('\n');
}

/**
 * Statements that add the step to the counter behind pointer `w`, least significant digit first. Each
 * digit and the step's digit are below the radix, so digit + carry + step digit < 2·radix: one
 * compare-and-subtract per digit.
 */
export function advance(digits: readonly Digit[]): string {
  checkDigits(digits);
  const lines: string[] = [];
  for (let i = digits.length - 1; i >= 1; i--) {
    const [d, r] = digits[i];
    lines.push(`  (*w).${d} += (*w).s_${d};`);
    lines.push(`  if ((*w).${d} >= ${r}) { (*w).${d} -= ${r}; (*w).${digits[i - 1][0]} += 1u; }`);
  }
  lines.push(`  (*w).${digits[0][0]} += (*w).s_${digits[0][0]};`);
  return lines.join('\n');
}

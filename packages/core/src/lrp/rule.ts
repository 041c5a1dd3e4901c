/**
 * LRP rules as data (LRP.md). A backend implements one relevance op per layer kind and switches on
 * `kind`; the parameters travel with the rule, so a new parameter value never needs new backend code.
 */

/** δ of LRP.md: the stabiliser of every rule but epsilon. */
export const LRP_DELTA = 1e-9;

export type ZeroRule = { readonly kind: 'zero' };
/** e = epsilon · rms(z) per sample. */
export type EpsilonRule = { readonly kind: 'epsilon'; readonly epsilon: number };
export type GammaRule = { readonly kind: 'gamma'; readonly gamma: number };
export type AlphaBetaRule = { readonly kind: 'alphabeta'; readonly alpha: number; readonly beta: number };
/** Bounds of the (normalised) input, one value per input channel (or per input feature for linear). */
export type ZBoxRule = { readonly kind: 'zbox'; readonly low: readonly number[]; readonly high: readonly number[] };

export type Rule = ZeroRule | EpsilonRule | GammaRule | AlphaBetaRule | ZBoxRule;
export type RuleKind = Rule['kind'];

export type PoolRule = 'wta' | 'avg';

/** A rule before the model's normalisation is known: zbox without its bounds. */
export type RuleSpec = ZeroRule | EpsilonRule | GammaRule | AlphaBetaRule | { readonly kind: 'zbox' };

export function formatRule(r: RuleSpec): string {
  switch (r.kind) {
    case 'zero':
      return 'zero';
    case 'epsilon':
      return `epsilon:${r.epsilon}`;
    case 'gamma':
      return `gamma:${r.gamma}`;
    case 'alphabeta':
      return `alphabeta:${r.alpha}:${r.beta}`;
    case 'zbox':
      return 'zbox';
  }
}

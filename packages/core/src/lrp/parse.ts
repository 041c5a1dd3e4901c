import { LrpsegError } from '../errors.js';
import type { RuleSpec } from './rule.js';

function badRule(text: string, why: string): LrpsegError {
  return new LrpsegError('BAD_RULE_SPEC', `rule "${text}": ${why}`);
}

function parseParam(text: string, raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw badRule(text, `${name} "${raw}" is not a number`);
  return v;
}

/** Parses one rule in its CLI spelling (LRP.md): zero, epsilon[:E], gamma[:G], alphabeta[:A:B], zbox. */
export function parseRule(text: string): RuleSpec {
  const parts = text.trim().split(':');
  const name = parts[0].toLowerCase();
  const args = parts.slice(1);
  const maxArgs: Record<string, number> = { zero: 0, zbox: 0, epsilon: 1, gamma: 1, alphabeta: 2 };
  if (!(name in maxArgs)) throw badRule(text, 'unknown rule (known: zero, epsilon:E, gamma:G, alphabeta:A:B, zbox)');
  if (args.length > maxArgs[name]) throw badRule(text, `too many parameters for ${name}`);
  switch (name) {
    case 'zero':
      return { kind: 'zero' };
    case 'zbox':
      return { kind: 'zbox' };
    case 'epsilon': {
      const epsilon = parseParam(text, args[0], 0.25, 'epsilon');
      if (epsilon < 0) throw badRule(text, 'epsilon must be ≥ 0');
      return { kind: 'epsilon', epsilon };
    }
    case 'gamma': {
      const gamma = parseParam(text, args[0], 0.25, 'gamma');
      if (gamma < 0) throw badRule(text, 'gamma must be ≥ 0');
      return { kind: 'gamma', gamma };
    }
    default: {
      const alpha = parseParam(text, args[0], 2, 'alpha');
      const beta = parseParam(text, args[1], args[0] === undefined ? 1 : alpha - 1, 'beta');
      if (alpha < 0 || beta < 0) throw badRule(text, 'alpha and beta must be ≥ 0');
      return { kind: 'alphabeta', alpha, beta };
    }
  }
}

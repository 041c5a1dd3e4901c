/**
 * The `--rules` values of `lrpseg eval`, which compares several LRP composites in one run. A value is
 * either named composites, comma-separated (`ours,montavon`), or one custom list with a rule per
 * parameter layer (`zbox,gamma:0.25,…`, the form `segment --rules` takes), optionally labelled
 * `NAME=LIST` so that the report's tables and file names stay short. Each custom list takes its own
 * `--rules`.
 */
import { InvalidArgumentError } from 'commander';
import { NAMED_COMPOSITES, type HeatmapTta, type NamedComposite, type PoolRule } from '@lrpseg/core';

/** A composite to evaluate: `spec` goes to parseComposite, `name` labels it in the report. */
export interface RuleSet {
  readonly name: string;
  readonly spec: string;
}

const isNamed = (s: string): s is NamedComposite => (NAMED_COMPOSITES as readonly string[]).includes(s);

export function namedRuleSet(name: NamedComposite): RuleSet {
  return { name, spec: name };
}

/** One --rules value as rule sets; throws InvalidArgumentError (a usage error) on a malformed one. */
export function parseRuleSets(value: string): RuleSet[] {
  const v = value.trim();
  const eq = v.indexOf('=');
  if (eq >= 0) {
    const name = v.slice(0, eq).trim();
    const spec = v.slice(eq + 1).trim();
    if (!/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(name)) throw new InvalidArgumentError(`rule set name "${name}": use letters, digits and . _ + - (e.g. gamma-all=zbox,gamma:0.25,…).`);
    if (isNamed(name.toLowerCase())) throw new InvalidArgumentError(`"${name}" is a built-in composite; give the custom list another name.`);
    if (spec === '') throw new InvalidArgumentError(`rule set "${name}" has no rules after "=".`);
    if (spec.split(',').some((p) => isNamed(p.trim().toLowerCase()))) throw new InvalidArgumentError(`rule set "${name}": a custom list holds one rule per layer, not a named composite.`);
    return [{ name, spec }];
  }
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length === 0) throw new InvalidArgumentError('no rule set given.');
  const lower = parts.map((p) => p.toLowerCase());
  if (lower.every(isNamed)) return lower.map(namedRuleSet);
  if (lower.some(isNamed)) throw new InvalidArgumentError('mixes named composites with per-layer rules: give each custom list its own --rules.');
  return [{ name: parts.join(','), spec: parts.join(',') }];
}

/** A rule set with how it is explained: the max-pool relevance rule and the heatmap TTA. */
export interface ExplainedRuleSet extends RuleSet {
  readonly pool: PoolRule;
  readonly tta: HeatmapTta;
}

/**
 * Every rule set with every max-pool rule (eval --pool wta,avg) and every heatmap TTA (eval --tta
 * none,flips), rule set by rule set. A name says each choice that varies (`ours@wta`, `ours@avg`;
 * `ours@none`, `ours@flips`; with both, `ours@avg+flips`), so that the report's rows stay apart.
 */
export function withExplainChoices(sets: readonly RuleSet[], pools: readonly PoolRule[], ttas: readonly HeatmapTta[] = ['none']): ExplainedRuleSet[] {
  if (pools.length === 0) throw new Error('withExplainChoices: no max-pool rule');
  if (ttas.length === 0) throw new Error('withExplainChoices: no heatmap TTA');
  return sets.flatMap((r) =>
    pools.flatMap((pool) =>
      ttas.map((tta) => {
        const varying = [...(pools.length > 1 ? [pool] : []), ...(ttas.length > 1 ? [tta] : [])];
        return { name: varying.length > 0 ? `${r.name}@${varying.join('+')}` : r.name, spec: r.spec, pool, tta };
      }),
    ),
  );
}

/** commander's accumulator for a repeatable --rules. */
export function collectRuleSets(value: string, prev: RuleSet[] | undefined): RuleSet[] {
  return [...(prev ?? []), ...parseRuleSets(value)];
}

/** --tta's help, shared by explain, segment and eval. */
export const TTA_HELP =
  "heatmap test-time augmentation (not in the spec): none; flips (the mean of the heatmaps of the image's four mirror images, each mapped back); dihedral (its eight turns and mirror images; square inputs). The classifier's decision stays the image's own.";

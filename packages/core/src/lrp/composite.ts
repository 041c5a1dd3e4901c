import { LrpsegError } from '../errors.js';
import type { ModelMeta } from '../nn/arch.js';
import { vggPlan } from '../nn/vgg.js';
import { parseRule } from './parse.js';
import { formatRule, type RuleSpec } from './rule.js';

/** Which rule explains which parameter layer. */
export interface RuleAssignment {
  /** torchvision module name, e.g. features.0 */
  readonly layer: string;
  /** conv1_1 … fc3 */
  readonly label: string;
  readonly rule: RuleSpec;
}

export interface Composite {
  /** 'montavon', 'ours' or the custom list as given. */
  readonly name: string;
  readonly assignments: readonly RuleAssignment[];
}

export const NAMED_COMPOSITES = ['montavon', 'ours'] as const;
export type NamedComposite = (typeof NAMED_COMPOSITES)[number];

interface ParamLayerInfo {
  readonly name: string;
  readonly label: string;
  readonly kind: 'conv2d' | 'linear';
  /** VGG block of a conv (1-based, incremented after each max-pool). */
  readonly block: number;
  /** Index of the conv within its block (1-based). */
  readonly indexInBlock: number;
}

function paramLayerInfo(meta: ModelMeta): ParamLayerInfo[] {
  const out: ParamLayerInfo[] = [];
  for (const e of vggPlan(meta.arch, meta.input_size)) {
    if (e.kind === 'conv2d') {
      const m = /^conv(\d+)_(\d+)$/.exec(e.label)!;
      out.push({ name: e.name, label: e.label, kind: 'conv2d', block: Number(m[1]), indexInBlock: Number(m[2]) });
    } else if (e.kind === 'linear') {
      out.push({ name: e.name, label: e.label, kind: 'linear', block: 0, indexInBlock: 0 });
    }
  }
  return out;
}

const Z: RuleSpec = { kind: 'zero' };
const EPS: RuleSpec = { kind: 'epsilon', epsilon: 0.25 };
const GAMMA: RuleSpec = { kind: 'gamma', gamma: 0.25 };
const AB: RuleSpec = { kind: 'alphabeta', alpha: 2, beta: 1 };
const ZBOX: RuleSpec = { kind: 'zbox' };

/**
 * Table 1 of the paper (LRP.md, "Composites"), stated for VGG-11's convs and generalised by VGG block
 * for other feature configurations:
 * - montavon: conv1_1 zbox; the rest of blocks 1–3 gamma; blocks ≥ 4 epsilon; FC zero.
 * - ours: conv1_1 zbox; the rest of blocks 1–2 and the first conv of block 3 alphabeta:2:1; later convs
 *   gamma; FC epsilon.
 */
function namedRule(name: NamedComposite, l: ParamLayerInfo, isFirst: boolean): RuleSpec {
  if (isFirst) return ZBOX;
  if (l.kind === 'linear') return name === 'montavon' ? Z : EPS;
  if (name === 'montavon') return l.block <= 3 ? GAMMA : EPS;
  return l.block <= 2 || (l.block === 3 && l.indexInBlock === 1) ? AB : GAMMA;
}

/** Parses `montavon`, `ours` or a comma-separated list with one rule per parameter layer in forward order. */
export function parseComposite(spec: string, meta: ModelMeta): Composite {
  const layers = paramLayerInfo(meta);
  const key = spec.trim().toLowerCase();
  if ((NAMED_COMPOSITES as readonly string[]).includes(key)) {
    const name = key as NamedComposite;
    return { name, assignments: layers.map((l, i) => ({ layer: l.name, label: l.label, rule: namedRule(name, l, i === 0) })) };
  }
  const parts = spec.split(',').map((s) => s.trim());
  if (parts.length === 1 && !parts[0].includes(':') && !['zero', 'zbox', 'epsilon', 'gamma', 'alphabeta'].includes(key)) {
    throw new LrpsegError('BAD_RULE_SPEC', `unknown composite "${spec}" (use montavon, ours, or a comma-separated list of ${layers.length} rules)`);
  }
  const composites = parts.filter((p) => (NAMED_COMPOSITES as readonly string[]).includes(p.toLowerCase()));
  if (composites.length > 0) {
    // "ours,montavon" is how eval compares rule sets; here it would read as a two-rule list
    throw new LrpsegError(
      'BAD_RULE_SPEC',
      `"${composites[0]}" in "${spec}" is a composite, not a rule: give one composite (${NAMED_COMPOSITES.join(' or ')}) or a list of ${layers.length} rules (lrpseg eval compares several rule sets)`,
    );
  }
  if (parts.length !== layers.length) {
    throw new LrpsegError(
      'BAD_RULE_SPEC',
      `custom rule list has ${parts.length} rule${parts.length === 1 ? '' : 's'} but the model has ${layers.length} parameter layers (${layers.map((l) => l.label).join(', ')})`,
    );
  }
  const rules = parts.map(parseRule);
  rules.forEach((r, i) => {
    if (r.kind === 'zbox' && i !== 0) {
      throw new LrpsegError('BAD_RULE_SPEC', `zbox is for the first layer only (given for ${layers[i].label})`);
    }
  });
  return { name: parts.map((p) => p.toLowerCase()).join(','), assignments: layers.map((l, i) => ({ layer: l.name, label: l.label, rule: rules[i] })) };
}

export function describeComposite(c: Composite): string {
  return c.assignments.map((a) => `${a.label}=${formatRule(a.rule)}`).join(' ');
}

import { describe, expect, it } from 'vitest';
import { vgg11Meta } from '../../src/nn/arch.js';
import { parseComposite } from '../../src/lrp/composite.js';
import { formatRule } from '../../src/lrp/rule.js';

describe('composites on VGG-11 (Table 1 of the paper)', () => {
  const table = (spec: string, variant: '128n' | 'onefc') =>
    Object.fromEntries(parseComposite(spec, vgg11Meta(variant)).assignments.map((a) => [a.label, formatRule(a.rule)]));

  it('montavon, both variants', () => {
    const convs = { conv1_1: 'zbox', conv2_1: 'gamma:0.25', conv3_1: 'gamma:0.25', conv3_2: 'gamma:0.25', conv4_1: 'epsilon:0.25', conv4_2: 'epsilon:0.25', conv5_1: 'epsilon:0.25', conv5_2: 'epsilon:0.25' };
    expect(table('montavon', '128n')).toEqual({ ...convs, fc1: 'zero', fc2: 'zero', fc3: 'zero' });
    expect(table('montavon', 'onefc')).toEqual({ ...convs, fc1: 'zero' });
  });

  it('ours, both variants', () => {
    const convs = { conv1_1: 'zbox', conv2_1: 'alphabeta:2:1', conv3_1: 'alphabeta:2:1', conv3_2: 'gamma:0.25', conv4_1: 'gamma:0.25', conv4_2: 'gamma:0.25', conv5_1: 'gamma:0.25', conv5_2: 'gamma:0.25' };
    expect(table('ours', '128n')).toEqual({ ...convs, fc1: 'epsilon:0.25', fc2: 'epsilon:0.25', fc3: 'epsilon:0.25' });
    expect(table('ours', 'onefc')).toEqual({ ...convs, fc1: 'epsilon:0.25' });
  });

  it('torchvision names of the parameter layers', () => {
    expect(parseComposite('ours', vgg11Meta('128n')).assignments.map((a) => a.layer)).toEqual([
      'features.0', 'features.3', 'features.6', 'features.8', 'features.11', 'features.13', 'features.16', 'features.18', 'classifier.0', 'classifier.3', 'classifier.6',
    ]);
  });

  it('custom lists: right length, known rules, zbox only first', () => {
    const meta = vgg11Meta('onefc');
    const c = parseComposite('zbox,gamma:0.5,alphabeta:1:0,epsilon,zero,zero,zero,zero,epsilon:0.1', meta);
    expect(c.assignments.map((a) => formatRule(a.rule))).toEqual(['zbox', 'gamma:0.5', 'alphabeta:1:0', 'epsilon:0.25', 'zero', 'zero', 'zero', 'zero', 'epsilon:0.1']);
    expect(() => parseComposite('zbox,zero', meta)).toThrow(/2 rules but the model has 9 parameter layers/);
    expect(() => parseComposite('zbox,zero,zero,zero,zero,zero,zero,zero,bogus', meta)).toThrow(/unknown rule/);
    expect(() => parseComposite('zero,zbox,zero,zero,zero,zero,zero,zero,zero', meta)).toThrow(/first layer only/);
    expect(() => parseComposite('gamma:abc,zero,zero,zero,zero,zero,zero,zero,zero', meta)).toThrow(/not a number/);
    expect(() => parseComposite('bach', meta)).toThrow(/unknown composite/);
    expect(() => parseComposite('ours,montavon', meta)).toThrow(/"ours" in "ours,montavon" is a composite, not a rule: give one composite \(montavon or ours\) or a list of 9 rules/);
    expect(() => parseComposite('zbox,zero,zero,zero,Montavon,zero,zero,zero,zero', meta)).toThrow(/"Montavon" .* is a composite/);
  });
});

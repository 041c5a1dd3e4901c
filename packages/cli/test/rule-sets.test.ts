import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { collectRuleSets, parseRuleSets, withExplainChoices } from '../src/rule-sets.js';

describe('eval --rules values', () => {
  it('split named composites on commas, lower-cased', () => {
    expect(parseRuleSets('ours,montavon')).toEqual([{ name: 'ours', spec: 'ours' }, { name: 'montavon', spec: 'montavon' }]);
    expect(parseRuleSets(' Ours ')).toEqual([{ name: 'ours', spec: 'ours' }]);
  });

  it('keep a per-layer list whole, named by itself or by NAME=', () => {
    expect(parseRuleSets('zbox, gamma:0.25,epsilon')).toEqual([{ name: 'zbox,gamma:0.25,epsilon', spec: 'zbox,gamma:0.25,epsilon' }]);
    expect(parseRuleSets('g-all=zbox,gamma:0.25,epsilon')).toEqual([{ name: 'g-all', spec: 'zbox,gamma:0.25,epsilon' }]);
  });

  it('refuse what cannot be meant', () => {
    for (const bad of ['', ' , ', 'ours,gamma', 'x=', 'bad name=zbox,zero', 'ours=zbox,zero', 'x=ours,zero']) {
      expect(() => parseRuleSets(bad), bad).toThrow(InvalidArgumentError);
    }
  });

  it('cross with the max-pool rules, named apart only when there are several', () => {
    const sets = parseRuleSets('ours,montavon');
    expect(withExplainChoices(sets, ['avg'])).toEqual([{ name: 'ours', spec: 'ours', pool: 'avg', tta: 'none' }, { name: 'montavon', spec: 'montavon', pool: 'avg', tta: 'none' }]);
    expect(withExplainChoices(sets, ['wta', 'avg']).map((r) => `${r.name} ${r.spec} ${r.pool}`)).toEqual([
      'ours@wta ours wta', 'ours@avg ours avg', 'montavon@wta montavon wta', 'montavon@avg montavon avg',
    ]);
  });

  it('cross with the heatmap TTAs too, naming each choice that varies', () => {
    const ours = parseRuleSets('ours');
    expect(withExplainChoices(ours, ['avg'], ['flips'])).toEqual([{ name: 'ours', spec: 'ours', pool: 'avg', tta: 'flips' }]);
    expect(withExplainChoices(ours, ['avg'], ['none', 'flips']).map((r) => `${r.name} ${r.pool} ${r.tta}`)).toEqual(['ours@none avg none', 'ours@flips avg flips']);
    expect(withExplainChoices(ours, ['wta', 'avg'], ['none', 'dihedral']).map((r) => r.name)).toEqual(['ours@wta+none', 'ours@wta+dihedral', 'ours@avg+none', 'ours@avg+dihedral']);
    expect(() => withExplainChoices(ours, ['wta'], [])).toThrow();
  });

  it('accumulate over repeated --rules', () => {
    expect(collectRuleSets('a=zbox,zero', collectRuleSets('ours', undefined)).map((r) => r.name)).toEqual(['ours', 'a']);
  });
});

import { describe, expect, it } from 'vitest';
import { checkGroupBy, hyperparameterEntries, hyperparameterPaths, valueAt } from '../../src/domain/hyperparameters.js';

describe('hyper-parameter paths', () => {
  const hp = { lr: 0.1, optimizer: { name: 'sgd', momentum: { beta: 0.9 } }, tags: [1, 2], none: null };

  it('reads a dot-separated path, undefined where there is none', () => {
    expect(valueAt(hp, ['optimizer', 'momentum', 'beta'])).toBe(0.9);
    expect(valueAt(hp, ['none'])).toBeNull();
    expect(valueAt(hp, ['tags', '0'])).toBeUndefined();
    expect(valueAt(hp, ['lr', 'x'])).toBeUndefined();
  });

  it('lists every leaf path, sorted', () => {
    expect(hyperparameterPaths(hp)).toEqual(['lr', 'none', 'optimizer.momentum.beta', 'optimizer.name', 'tags']);
  });

  it('gives every leaf as [path, text] for people to read: strings unquoted, arrays listed, the rest as JSON', () => {
    expect(hyperparameterEntries(hp)).toEqual([
      ['lr', '0.1'],
      ['none', 'null'],
      ['optimizer.momentum.beta', '0.9'],
      ['optimizer.name', 'sgd'],
      ['tags', '[1, 2]'],
    ]);
    expect(hyperparameterEntries({ schedule: [{ at: 5 }, 'x y'], flag: true })).toEqual([
      ['flag', 'true'],
      ['schedule', '[{"at":5}, x y]'],
    ]);
    expect(hyperparameterEntries({})).toEqual([]);
  });

  it('accepts a path some run has and refuses one no run has, naming those that exist', () => {
    expect(() => checkGroupBy(['lr'], [{}, hp])).not.toThrow();
    expect(() => checkGroupBy([], [])).not.toThrow();
    expect(() => checkGroupBy(['weight_decay', 'lr'], [{ weightDecay: 0 }, { lr: 1 }])).toThrow(
      'groupBy: no run has the hyper-parameter "weight_decay"; the runs have lr, weightDecay',
    );
    expect(() => checkGroupBy(['seed'], [{}])).toThrow('the runs have no hyper-parameters');
  });
});

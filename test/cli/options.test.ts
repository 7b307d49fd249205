import { describe, expect, it } from 'vitest';
import { mergeObjects, parseHyperparameter } from '../../src/cli/options.js';

describe('--hparam key=value', () => {
  it('parses values as JSON when they parse, else as text, and nests dotted keys', () => {
    let hp = parseHyperparameter('weight_decay=0.0005');
    hp = parseHyperparameter('optimizer.name=adam', hp);
    hp = parseHyperparameter('optimizer.betas=[0.9,0.999]', hp);
    hp = parseHyperparameter('nesterov=true', hp);
    hp = parseHyperparameter('note=a=b', hp);
    expect(hp).toEqual({
      weight_decay: 0.0005,
      optimizer: { name: 'adam', betas: [0.9, 0.999] },
      nesterov: true,
      note: 'a=b',
    });
  });

  it('refuses what is not key=value', () => {
    expect(() => parseHyperparameter('weight_decay')).toThrow('expected key=value');
    expect(() => parseHyperparameter('=1')).toThrow('expected key=value');
    expect(() => parseHyperparameter('a..b=1')).toThrow('expected key=value');
  });

  it('merges into the hyper-parameters a run has, key by key', () => {
    expect(mergeObjects({ lr: 1, optimizer: { name: 'sgd', momentum: 0.9 } }, { optimizer: { name: 'adam' } })).toEqual(
      { lr: 1, optimizer: { name: 'adam', momentum: 0.9 } },
    );
  });
});

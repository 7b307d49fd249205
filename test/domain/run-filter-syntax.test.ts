import { describe, expect, it } from 'vitest';
import { parseRunFilter, RunFilterSyntaxError } from '../../src/domain/run-filter-syntax.js';

describe('parseRunFilter (the syntax of linpath sweep --runs and the dashboard)', () => {
  it('reads "all", and nothing, as no filter', () => {
    expect(parseRunFilter('all')).toEqual({});
    expect(parseRunFilter('  all ')).toEqual({});
    expect(parseRunFilter('')).toEqual({});
  });

  it('reads each kind of term; tags accumulate, arch= and architecture= are one', () => {
    expect(parseRunFilter('name~res, arch=mlp, dataset=spiral, tag=a, tag=b')).toEqual({
      nameContains: 'res',
      architecture: 'mlp',
      datasetName: 'spiral',
      tags: ['a', 'b'],
    });
    expect(parseRunFilter('architecture=vgg11-bn-cifar')).toEqual({ architecture: 'vgg11-bn-cifar' });
  });

  it('reads hyper-parameter values as JSON where they parse, strings otherwise', () => {
    expect(parseRunFilter('hp.optimizer.name=sgd,hp.lr=0.1,hp.nesterov=true,hp.tags=["x"],hp.note=null')).toEqual({
      hyperparameters: [
        { path: 'optimizer.name', eq: 'sgd' },
        { path: 'lr', eq: 0.1 },
        { path: 'nesterov', eq: true },
        { path: 'tags', eq: ['x'] },
        { path: 'note', eq: null },
      ],
    });
    expect(parseRunFilter('hp.seed="7"')).toEqual({ hyperparameters: [{ path: 'seed', eq: '7' }] });
  });

  it('reads every comparison, with the longest operator first', () => {
    expect(parseRunFilter('hp.a>1,hp.b>=2,hp.c<3,hp.d<=4,hp.e!=5,hp.f=6')).toEqual({
      hyperparameters: [
        { path: 'a', gt: 1 },
        { path: 'b', gte: 2 },
        { path: 'c', lt: 3 },
        { path: 'd', lte: 4 },
        { path: 'e', ne: 5 },
        { path: 'f', eq: 6 },
      ],
    });
    // Only the first operator splits: the rest is the value.
    expect(parseRunFilter('hp.label=a=b')).toEqual({ hyperparameters: [{ path: 'label', eq: 'a=b' }] });
  });

  it('takes a JSON RunFilter as it is (the server validates it)', () => {
    expect(parseRunFilter(' {"nameContains":"x","hyperparameters":[{"path":"lr","gt":0}]} ')).toEqual({
      nameContains: 'x',
      hyperparameters: [{ path: 'lr', gt: 0 }],
    });
  });

  it.each([
    ['colour=red', /expected terms like name~text.*got "colour=red"/],
    ['name~a,,tag=b', /got ""/],
    ['hp.=1', /got "hp.=1"/],
    ['hp.lr>=fast', /expected a number after >= in "hp.lr>=fast"/],
    ['hp.lr<"1"', /expected a number after < in/],
    ['{"tags": [', /expected a JSON RunFilter/],
  ])('refuses %j with a RunFilterSyntaxError naming the term', (text, message) => {
    expect(() => parseRunFilter(text)).toThrow(RunFilterSyntaxError);
    expect(() => parseRunFilter(text)).toThrow(message);
  });
});

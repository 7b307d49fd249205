import { describe, expect, it } from 'vitest';
import { parseRunFilter } from '../../src/cli/sweep.command.js';

describe('linpath sweep --runs', () => {
  it('reads "all" as no filter', () => {
    expect(parseRunFilter('all')).toEqual({});
  });

  it('reads terms into a RunFilter, hyper-parameter values as JSON where they parse', () => {
    expect(
      parseRunFilter(
        'name~resnet, arch=resnet18-cifar,dataset=cifar10,tag=a,tag=b,hp.optimizer.lr>=0.01,hp.optimizer.name=sgd,hp.wd!=0,hp.seed<3',
      ),
    ).toEqual({
      nameContains: 'resnet',
      architecture: 'resnet18-cifar',
      datasetName: 'cifar10',
      tags: ['a', 'b'],
      hyperparameters: [
        { path: 'optimizer.lr', gte: 0.01 },
        { path: 'optimizer.name', eq: 'sgd' },
        { path: 'wd', ne: 0 },
        { path: 'seed', lt: 3 },
      ],
    });
  });

  it('takes a JSON RunFilter as the GraphQL API does', () => {
    expect(parseRunFilter('{"tags":["sweep"],"hyperparametersContain":{"seed":1}}')).toEqual({
      tags: ['sweep'],
      hyperparametersContain: { seed: 1 },
    });
  });

  it('rejects what it cannot read, naming the term', () => {
    expect(() => parseRunFilter('colour=red')).toThrow(/got "colour=red"/);
    expect(() => parseRunFilter('hp.lr>=fast')).toThrow(/expected a number after >= in "hp.lr>=fast"/);
    expect(() => parseRunFilter('{not json')).toThrow(/expected a JSON RunFilter/);
  });
});

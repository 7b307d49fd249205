import { describe, expect, it } from 'vitest';
import { restrictSelection, selectBlocks, type BlockSelection } from '../../src/domain/blocks.js';
import { LinpathError } from '../../src/errors.js';

/** A small convolutional model's float tensors, state_dict names. */
const FLOAT = [
  'conv1.weight',
  'bn1.weight',
  'bn1.bias',
  'bn1.running_mean',
  'bn1.running_var',
  'layer1.0.conv1.weight',
  'layer1.0.bn1.weight',
  'layer1.0.bn1.bias',
  'layer1.0.bn1.running_mean',
  'layer1.0.bn1.running_var',
  'layer1.1.conv1.weight',
  'layer10.weight',
  'fc.weight',
  'fc.bias',
];
const RUNNING = new Set(FLOAT.filter((n) => n.endsWith('running_mean') || n.endsWith('running_var')));
const CONTEXT = {
  architecture: 'tiny',
  topLevel: ['stem', 'layer1', 'layer10', 'fc'],
  aliases: { stem: ['conv1', 'bn1'] },
};
const select = (blocks?: readonly string[] | null) => selectBlocks(FLOAT, blocks, CONTEXT);
const names = (selection: BlockSelection) => selection.movingNames;

describe('selectBlocks', () => {
  it('moves every float tensor when no blocks are given', () => {
    for (const blocks of [undefined, null]) {
      expect(select(blocks)).toEqual({ moving: 'all', blocks: undefined, movingNames: [...FLOAT].sort() });
    }
  });

  it('refuses names of Object.prototype as unknown blocks (BAD_USER_INPUT), not as aliases', () => {
    for (const block of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(() => select([block])).toThrowError(LinpathError);
      expect(() => select([block])).toThrowError(`blocks: "${block}" names no floating-point tensor of tiny`);
    }
    // A model whose tensors do carry such a name moves them like any block.
    expect(selectBlocks(['constructor.weight', 'fc.weight'], ['constructor'], CONTEXT).movingNames).toEqual([
      'constructor.weight',
    ]);
  });

  it('matches a block as a state_dict prefix at a dot boundary only', () => {
    // "layer1" is not a prefix of "layer10.weight".
    expect(names(select(['layer1']))).toEqual(FLOAT.filter((n) => n.startsWith('layer1.')).sort());
    expect(names(select(['layer1.1']))).toEqual(['layer1.1.conv1.weight']);
    expect(names(select(['fc.bias']))).toEqual(['fc.bias']);
  });

  it('expands aliases, sorts and deduplicates blocks and tensors', () => {
    const stem = select(['stem']);
    expect(names(stem)).toEqual(['bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.weight', 'conv1.weight']);
    expect(stem.blocks).toEqual(['stem']);
    const twice = select(['fc', 'layer10', 'fc']);
    expect(twice.blocks).toEqual(['fc', 'layer10']);
    expect(names(twice)).toEqual(['fc.bias', 'fc.weight', 'layer10.weight']);
    expect(twice.moving).toEqual(new Set(names(twice)));
  });

  it('gives the same selection (and memo key content) for the alias and its prefixes', () => {
    expect(select(['stem'])).toEqual({ ...select(['conv1', 'bn1']), blocks: ['stem'] });
    expect(names(select(['stem']))).toEqual(names(select(['bn1', 'conv1'])));
  });

  it('is the whole-model path when the blocks cover every tensor', () => {
    expect(select(['stem', 'layer1', 'layer10', 'fc'])).toEqual(select(undefined));
  });

  it('refuses an empty list, an empty name and a name that matches nothing, with the known blocks', () => {
    expect(() => select([])).toThrow(/blocks: expected at least one block name/);
    expect(() => select([' '])).toThrow(/got an empty name; e\.g\. "stem", "layer1"/);
    const error = (() => {
      try {
        select(['layer2']);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(LinpathError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect((error as Error).message).toMatch(/"layer2" names no floating-point tensor of tiny; e\.g\. .*"layer1\.0"/);
  });

  it('suggests only names it accepts (the MLP has no deeper prefix, so none is made up)', () => {
    const suggested = (tensors: readonly string[], context: Parameters<typeof selectBlocks>[2]) => {
      try {
        selectBlocks(tensors, ['nope'], context);
      } catch (error) {
        return [...(error as Error).message.matchAll(/"([^"]+)"/g)].map((m) => m[1]!).filter((n) => n !== 'nope');
      }
      throw new Error('expected a refusal');
    };
    for (const name of suggested(FLOAT, CONTEXT)) expect(() => selectBlocks(FLOAT, [name], CONTEXT)).not.toThrow();
    const mlp = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias'];
    const mlpContext = { architecture: 'mlp', topLevel: ['fc1', 'fc2', 'fc3'], aliases: {} };
    expect(suggested(mlp, mlpContext)).toEqual(['fc1', 'fc2', 'fc3']);
    for (const name of suggested(mlp, mlpContext)) expect(() => selectBlocks(mlp, [name], mlpContext)).not.toThrow();
  });
});

describe('restrictSelection', () => {
  const restrict = (selection: BlockSelection, tensors: 'ALL' | 'WEIGHTS' | 'RUNNING_STATS', bnStats = 'INTERPOLATE') =>
    restrictSelection(selection, FLOAT, RUNNING, {
      tensors,
      bnStats: bnStats as 'INTERPOLATE' | 'KEEP_TO' | 'RECOMPUTE',
      architecture: 'tiny',
    });

  it('leaves ALL with INTERPOLATE as it is', () => {
    const stem = select(['stem']);
    expect(restrict(stem, 'ALL')).toBe(stem);
  });

  it('keeps the weights or only the running statistics of the selection', () => {
    expect(names(restrict(select(['stem']), 'WEIGHTS'))).toEqual(['bn1.bias', 'bn1.weight', 'conv1.weight']);
    expect(names(restrict(select(['stem']), 'RUNNING_STATS'))).toEqual(['bn1.running_mean', 'bn1.running_var']);
    const whole = restrict(select(undefined), 'RUNNING_STATS');
    expect(whole.moving).toEqual(RUNNING);
    expect(whole.blocks).toBeUndefined();
  });

  it('keeps running statistics still with KEEP_TO and RECOMPUTE', () => {
    for (const mode of ['KEEP_TO', 'RECOMPUTE']) {
      const moving = restrict(select(undefined), 'ALL', mode);
      expect(names(moving)).toEqual(FLOAT.filter((n) => !RUNNING.has(n)).sort());
      expect(moving.moving).not.toBe('all');
    }
  });

  it('refuses a selection in which nothing moves, saying why', () => {
    expect(() => restrict(select(['fc']), 'RUNNING_STATS')).toThrow(
      'tensors: RUNNING_STATS with bnStats INTERPOLATE leaves no tensor of blocks fc moving',
    );
    expect(() => restrict(select(undefined), 'RUNNING_STATS', 'KEEP_TO')).toThrow(
      /leaves no tensor of the model moving/,
    );
  });

  it('names an architecture without BatchNorm when that is why nothing moves', () => {
    const plain = ['fc.weight', 'fc.bias'];
    const selection = selectBlocks(plain, undefined, { ...CONTEXT, topLevel: ['fc'], aliases: {} });
    expect(() =>
      restrictSelection(selection, plain, new Set(), {
        tensors: 'RUNNING_STATS',
        bnStats: 'INTERPOLATE',
        architecture: 'mlp',
      }),
    ).toThrow(/\(mlp has no BatchNorm running statistics\)/);
  });
});

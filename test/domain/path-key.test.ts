import { describe, expect, it } from 'vitest';
import { pathKey, type PathIdentity } from '../../src/domain/path-key.js';

const object = (uri: string) => ({ uri, etag: '"e1"', size: 1024 });
const identity: PathIdentity = {
  architecture: 'resnet18-cifar',
  from: object('s3://b/init.safetensors'),
  to: object('s3://b/final.safetensors'),
  movingTensors: ['layer1.0.conv1.weight', 'layer1.0.bn1.weight'],
  dataset: {
    object: object('s3://b/test.safetensors'),
    labels: undefined,
    view: { format: 'SAFETENSORS', inputKey: 'x', labelKey: 'y', layout: null, normalization: null },
  },
  exampleCount: 500,
  bnStats: 'INTERPOLATE',
};

describe('pathKey', () => {
  it('is a sha256 in hex, the same for the same identity', () => {
    expect(pathKey(identity)).toMatch(/^[0-9a-f]{64}$/);
    expect(pathKey(structuredClone(identity))).toBe(pathKey(identity));
  });

  it('does not depend on the order of keys, nor on fields that are absent or undefined', () => {
    const reordered: PathIdentity = {
      bnStats: identity.bnStats,
      exampleCount: identity.exampleCount,
      dataset: { view: { ...identity.dataset.view }, labels: undefined, object: identity.dataset.object },
      movingTensors: identity.movingTensors,
      to: { size: 1024, etag: '"e1"', uri: 's3://b/final.safetensors' },
      from: identity.from,
      architecture: identity.architecture,
      bnStatsData: undefined,
    };
    expect(pathKey(reordered)).toBe(pathKey(identity));
  });

  it('changes with anything that changes the losses', () => {
    const key = pathKey(identity);
    const variants: PathIdentity[] = [
      { ...identity, architecture: 'resnet34-cifar' },
      { ...identity, from: { ...identity.from, etag: '"e2"' } },
      { ...identity, to: { ...identity.to, size: 1025 } },
      { ...identity, movingTensors: ['layer1.0.conv1.weight'] },
      // The order of the moving tensors is part of the key: callers pass them sorted (BlockSelection.movingNames).
      { ...identity, movingTensors: [...identity.movingTensors].reverse() },
      { ...identity, dataset: { ...identity.dataset, object: object('s3://b/other.safetensors') } },
      { ...identity, dataset: { ...identity.dataset, labels: object('s3://b/labels.idx') } },
      { ...identity, dataset: { ...identity.dataset, view: { ...identity.dataset.view, layout: 'NHWC' } } },
      { ...identity, exampleCount: 499 },
      { ...identity, bnStats: 'KEEP_TO' },
      {
        ...identity,
        bnStats: 'RECOMPUTE',
        bnStatsData: { object: object('s3://b/train.safetensors'), view: {}, exampleCount: 2048 },
      },
    ];
    const keys = variants.map(pathKey);
    expect(keys.every((k) => k !== key)).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('keeps the strings it hashes apart: a value cannot impersonate a key or a separator', () => {
    const a = { ...identity, architecture: 'a","b":"c' };
    const b = { ...identity, architecture: 'a', b: 'c' } as unknown as PathIdentity;
    expect(pathKey(a)).not.toBe(pathKey(b));
    expect(pathKey({ ...identity, exampleCount: 1 })).not.toBe(
      pathKey({ ...identity, exampleCount: '1' } as unknown as PathIdentity),
    );
  });
});

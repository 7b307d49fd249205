import { beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { ModelGraph } from '../../src/compute/model-ir.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { readCheckpointFixture } from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, describeWithFixtures } from '../helpers/fixtures.js';

/** PyTorch's default bound of a Linear/Conv2d weight or bias: 1/√fan_in (kaiming_uniform with a = √5). */
const bound = (shape: readonly number[]) => 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));

describeWithFixtures(RESNET18_FIXTURES, 'random initial states of ResNet-18 (PyTorch module defaults)', () => {
  let resnet: ModelGraph;
  beforeAll(() => {
    resnet = buildModelGraph('resnet18-cifar', readCheckpointFixture('resnet18/init.safetensors.gz').tensors);
  });

  it('draws every weight and bias from U(−1/√fan_in, 1/√fan_in), with the moments of that law', () => {
    const state = randomInitialState(resnet, 7);
    expect(state.map((t) => t.name)).toEqual(resnet.state.map((s) => s.name));
    let checked = 0;
    for (const node of resnet.nodes) {
      if (node.op !== 'conv2d' && node.op !== 'linear') continue;
      const weight = state.find((t) => t.name === node.weight)!;
      const values = weight.data as Float32Array;
      const b = bound(weight.shape);
      const n = values.length;
      let sum = 0;
      let squares = 0;
      let largest = 0;
      for (const v of values) {
        largest = Math.max(largest, Math.abs(v));
        sum += v;
        squares += v * v;
      }
      expect(largest).toBeLessThanOrEqual(b);
      // U(−b, b): mean 0, variance b²/3; the sample moments within 5 standard errors.
      const variance = (b * b) / 3;
      expect(Math.abs(sum / n)).toBeLessThan(5 * Math.sqrt(variance / n));
      // Var of v² for U(−b, b) is b⁴/5 − b⁴/9 = 4b⁴/45.
      expect(Math.abs(squares / n - variance)).toBeLessThan(5 * Math.sqrt((4 * b ** 4) / 45 / n));
      checked++;
    }
    expect(checked).toBe(21); // 20 convolutions and the classifier
  });

  it('sets BatchNorm to weight 1, bias 0, mean 0, var 1 and num_batches_tracked 0', () => {
    const state = new Map(randomInitialState(resnet, 1).map((t) => [t.name, t]));
    expect([...(state.get('bn1.weight')!.data as Float32Array)].every((v) => v === 1)).toBe(true);
    expect([...(state.get('bn1.bias')!.data as Float32Array)].every((v) => v === 0)).toBe(true);
    expect([...(state.get('layer4.1.bn2.running_mean')!.data as Float32Array)].every((v) => v === 0)).toBe(true);
    expect([...(state.get('layer4.1.bn2.running_var')!.data as Float32Array)].every((v) => v === 1)).toBe(true);
    expect(state.get('bn1.num_batches_tracked')).toMatchObject({
      dtype: 'I64',
      shape: [],
      data: new BigInt64Array([0n]),
    });
  });
});

describe('random initial states of the MLP (PyTorch module defaults)', () => {
  const mlp = buildModelGraph('mlp', readCheckpointFixture('mlp/init.safetensors').tensors);

  it('draws biases within their bound, and is deterministic in the seed', () => {
    const a = randomInitialState(mlp, 42);
    for (const tensor of a) {
      const weightShape = a.find((t) => t.name === tensor.name.replace(/bias$/, 'weight'))!.shape;
      for (const v of tensor.data as Float32Array) expect(Math.abs(v)).toBeLessThanOrEqual(bound(weightShape));
    }
    expect(randomInitialState(mlp, 42)).toEqual(a);
    expect(randomInitialState(mlp, 43)[0]!.data).not.toEqual(a[0]!.data);
    expect(() => randomInitialState(mlp, -1)).toThrow(/seed: expected an integer ≥ 0, got -1/);
  });
});

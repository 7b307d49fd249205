import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { DistanceMetric, distance, distanceTensors } from '../../src/domain/distances.js';
import type { DistanceTensor } from '../../src/domain/distances.js';
import { ErrorCode } from '../../src/errors.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import { RESNET18_FIXTURES, describeWithFixtures, fixturePath } from '../helpers/fixtures.js';

interface State {
  floats: Map<string, Float32Array>;
  tensors: DistanceTensor[];
}

/** Float tensors as the state map; every tensor of the header (integer buffers included) in the list. */
function loadState(relative: string): State {
  const raw = new Uint8Array(readFileSync(fixturePath(relative)));
  const file = relative.endsWith('.gz') ? new Uint8Array(gunzipSync(raw)) : raw;
  const header = parseSafetensors(file);
  const floats = new Map<string, Float32Array>();
  for (const info of header.tensors) {
    const values = decodeTensor(info, tensorBytes(file, header, info));
    if (values instanceof Float32Array) floats.set(info.name, values);
  }
  return { floats, tensors: header.tensors.map(({ name, shape }) => ({ name, shape })) };
}

interface PerTensor {
  shape: number[];
  is_parameter: boolean;
  init_fro: number;
  final_fro: number;
  diff_fro: number;
  rel: number | null;
}
interface ReferenceDistances {
  liu2020_mean_rel_fro__conv_linear_weights: number;
  liu2020_tensors__conv_linear_weights: string[];
  mean_rel_fro__all_parameters_with_nonzero_init_norm: number;
  global_l2__parameters: number;
  global_l2__all_float_state_tensors: number;
  global_rel_l2__parameters: number;
  per_tensor: Record<string, PerTensor>;
}
const reference = (relative: string) =>
  JSON.parse(readFileSync(fixturePath(relative), 'utf8')) as {
    distances: ReferenceDistances;
    distances_epoch5?: ReferenceDistances;
    blocks?: Record<string, string[]>;
  };

const expectRelative = (actual: number, expected: number, tolerance = 1e-6): void => {
  expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThan(tolerance);
};

/**
 * cos θ from the reference's per-tensor Frobenius norms, by the law of cosines:
 * ⟨a, b⟩ = (‖a‖² + ‖b‖² − ‖b − a‖²) / 2 over the parameters (is_parameter).
 */
function cosineFromNorms(d: ReferenceDistances, names?: ReadonlySet<string>): number {
  let a2 = 0;
  let b2 = 0;
  let d2 = 0;
  for (const [name, t] of Object.entries(d.per_tensor)) {
    if (!t.is_parameter || (names !== undefined && !names.has(name))) continue;
    a2 += t.init_fro ** 2;
    b2 += t.final_fro ** 2;
    d2 += t.diff_fro ** 2;
  }
  return (a2 + b2 - d2) / (2 * Math.sqrt(a2 * b2));
}

/*
 * Which reference numbers a metric reproduces:
 *   LAYERWISE_NORMALIZED ↔ liu2020_mean_rel_fro__conv_linear_weights (the tensors: liu2020_tensors__…),
 *   L2 ↔ global_l2__parameters, RELATIVE_L2 ↔ global_rel_l2__parameters, COSINE ↔ derived from per_tensor.
 * Not a metric here (different tensor sets): mean_rel_fro__all_parameters_with_nonzero_init_norm (biases and
 * BatchNorm weights included, zero-norm tensors dropped) and, for the ResNet, global_l2__all_float_state_tensors
 * (running statistics included). For the MLP, which has no running statistics, the latter equals global_l2__parameters.
 */
describe('distance on the MLP fixture', () => {
  let init: State;
  let final: State;
  let epoch5: State;
  const ref = reference('mlp/reference.json');
  beforeAll(() => {
    init = loadState('mlp/init.safetensors');
    final = loadState('mlp/final.safetensors');
    epoch5 = loadState('mlp/epoch5.safetensors');
  });

  it('init → final matches the reference distances to 1e-6', () => {
    const d = ref.distances;
    expect(distanceTensors('LAYERWISE_NORMALIZED', init.tensors).map((t) => t.name)).toEqual(
      d.liu2020_tensors__conv_linear_weights,
    );
    expectRelative(
      distance('LAYERWISE_NORMALIZED', init.floats, final.floats, init.tensors),
      d.liu2020_mean_rel_fro__conv_linear_weights,
    );
    expectRelative(distance('L2', init.floats, final.floats, init.tensors), d.global_l2__parameters);
    expectRelative(distance('RELATIVE_L2', init.floats, final.floats, init.tensors), d.global_rel_l2__parameters);
    expectRelative(distance('COSINE', init.floats, final.floats, init.tensors), cosineFromNorms(d));
    expect(d.global_l2__all_float_state_tensors).toBe(d.global_l2__parameters);
  });

  it('init → epoch 5 matches the reference distances to 1e-6', () => {
    const d = ref.distances_epoch5!;
    expectRelative(
      distance('LAYERWISE_NORMALIZED', init.floats, epoch5.floats, init.tensors),
      d.liu2020_mean_rel_fro__conv_linear_weights,
    );
    expectRelative(distance('L2', init.floats, epoch5.floats, init.tensors), d.global_l2__parameters);
    expectRelative(distance('RELATIVE_L2', init.floats, epoch5.floats, init.tensors), d.global_rel_l2__parameters);
    expectRelative(distance('COSINE', init.floats, epoch5.floats, init.tensors), cosineFromNorms(d));
  });

  it('restricted to one layer', () => {
    const fc2 = new Set(['fc2.weight', 'fc2.bias']);
    const t = ref.distances.per_tensor;
    expectRelative(
      distance('LAYERWISE_NORMALIZED', init.floats, final.floats, init.tensors, fc2),
      t['fc2.weight']!.rel!,
    );
    expectRelative(
      distance('L2', init.floats, final.floats, init.tensors, fc2),
      Math.hypot(t['fc2.weight']!.diff_fro, t['fc2.bias']!.diff_fro),
    );
    expectRelative(
      distance('COSINE', init.floats, final.floats, init.tensors, fc2),
      cosineFromNorms(ref.distances, fc2),
    );
  });

  it('is zero (cosine one) from a state to itself', () => {
    expect(distance('L2', final.floats, final.floats, final.tensors)).toBe(0);
    expect(distance('LAYERWISE_NORMALIZED', final.floats, final.floats, final.tensors)).toBe(0);
    expectRelative(distance('COSINE', final.floats, final.floats, final.tensors), 1, 1e-12);
  });
});

describeWithFixtures(RESNET18_FIXTURES, 'distance on the ResNet-18 fixture', () => {
  let init: State;
  let final: State;
  let ref: ReturnType<typeof reference>;
  beforeAll(() => {
    ref = reference('resnet18/reference.json');
    init = loadState('resnet18/init.safetensors.gz');
    final = loadState('resnet18/final.safetensors.gz');
  });

  it('covers the 21 conv + linear weights and the 62 parameters', () => {
    expect(init.tensors).toHaveLength(122);
    expect(distanceTensors('LAYERWISE_NORMALIZED', init.tensors).map((t) => t.name)).toEqual(
      ref.distances.liu2020_tensors__conv_linear_weights,
    );
    const parameters = distanceTensors('L2', init.tensors).map((t) => t.name);
    expect(parameters).toEqual(
      Object.entries(ref.distances.per_tensor)
        .filter(([, t]) => t.is_parameter)
        .map(([name]) => name),
    );
    expect(parameters).toHaveLength(62);
  });

  it('init → final matches the reference distances to 1e-6', () => {
    const d = ref.distances;
    expectRelative(
      distance('LAYERWISE_NORMALIZED', init.floats, final.floats, init.tensors),
      d.liu2020_mean_rel_fro__conv_linear_weights,
    );
    expectRelative(distance('L2', init.floats, final.floats, init.tensors), d.global_l2__parameters);
    expectRelative(distance('RELATIVE_L2', init.floats, final.floats, init.tensors), d.global_rel_l2__parameters);
    expectRelative(distance('COSINE', init.floats, final.floats, init.tensors), cosineFromNorms(d));
  });

  it('restricted to each block', () => {
    const t = ref.distances.per_tensor;
    for (const names of Object.values(ref.blocks!)) {
      const set = new Set(names);
      const parameters = names.filter((n) => t[n]!.is_parameter);
      const weights = names.filter((n) => ref.distances.liu2020_tensors__conv_linear_weights.includes(n));
      const expectedL2 = Math.sqrt(parameters.reduce((s, n) => s + t[n]!.diff_fro ** 2, 0));
      const expectedLiu = weights.reduce((s, n) => s + t[n]!.rel!, 0) / weights.length;
      expectRelative(distance('L2', init.floats, final.floats, init.tensors, set), expectedL2);
      expectRelative(distance('LAYERWISE_NORMALIZED', init.floats, final.floats, init.tensors, set), expectedLiu);
      expectRelative(
        distance('COSINE', init.floats, final.floats, init.tensors, set),
        cosineFromNorms(ref.distances, set),
      );
    }
  });

  it('rejects a selection whose relative distance is undefined', () => {
    // BatchNorm biases start at zero.
    expect(() => distance('RELATIVE_L2', init.floats, final.floats, init.tensors, new Set(['bn1.bias']))).toThrow(
      /‖θ_0‖₂ = 0/,
    );
    expect(() =>
      distance('LAYERWISE_NORMALIZED', init.floats, final.floats, init.tensors, new Set(['bn1.weight', 'bn1.bias'])),
    ).toThrow(/expected at least one conv or linear weight/);
  });
});

describe('distance on hand-made states', () => {
  const tensors: DistanceTensor[] = [
    { name: 'fc.weight', shape: [1, 2] },
    { name: 'fc.bias', shape: [1] },
    { name: 'bn.weight', shape: [1] },
    { name: 'bn.running_mean', shape: [1] },
    { name: 'bn.running_var', shape: [1] },
    { name: 'bn.num_batches_tracked', shape: [] },
  ];
  const state = (w: [number, number], b: number, gamma: number, runningMean: number) =>
    new Map<string, Float32Array>([
      ['fc.weight', Float32Array.from(w)],
      ['fc.bias', Float32Array.of(b)],
      ['bn.weight', Float32Array.of(gamma)],
      ['bn.running_mean', Float32Array.of(runningMean)],
      ['bn.running_var', Float32Array.of(1)],
    ]);
  const from = state([3, 4], 0, 1, 0);
  const to = state([6, 8], 2, 1, 100);

  it('computes each metric by its formula, ignoring running statistics and num_batches_tracked', () => {
    expect(distance(DistanceMetric.LAYERWISE_NORMALIZED, from, to, tensors)).toBe(1); // ‖(3,4)‖ / ‖(3,4)‖
    expect(distance(DistanceMetric.L2, from, to, tensors)).toBeCloseTo(Math.sqrt(9 + 16 + 4), 14);
    expect(distance(DistanceMetric.RELATIVE_L2, from, to, tensors)).toBeCloseTo(Math.sqrt(29) / Math.sqrt(26), 14);
    expect(distance(DistanceMetric.COSINE, from, to, tensors)).toBeCloseTo(
      (18 + 32 + 1) / (Math.sqrt(26) * Math.sqrt(36 + 64 + 4 + 1)),
      14,
    );
    expect(distanceTensors('L2', tensors).map((t) => t.name)).toEqual(['fc.weight', 'fc.bias', 'bn.weight']);
  });

  it('rejects bad selections and states as BAD_USER_INPUT', () => {
    const bad = (fn: () => unknown, message: RegExp) => {
      expect(fn).toThrow(message);
      try {
        fn();
      } catch (error) {
        expect((error as { code?: string }).code).toBe(ErrorCode.BAD_USER_INPUT);
      }
    };
    bad(
      () => distance('LAYERWISE_NORMALIZED', from, to, tensors, new Set(['fc.bias'])),
      /at least one conv or linear weight/,
    );
    bad(() => distance('L2', from, to, tensors, new Set(['bn.running_mean'])), /at least one parameter/);
    bad(() => distance('L2', from, to, tensors, new Set(['layer9.weight'])), /not in the model: "layer9.weight"/);
    const zero = state([0, 0], 1, 1, 0);
    bad(() => distance('LAYERWISE_NORMALIZED', zero, to, tensors), /"fc.weight" has ‖θ_0‖_F = 0/);
    bad(() => distance('COSINE', zero, to, tensors, new Set(['fc.weight'])), /zero vector/);
    const missing = new Map(to);
    missing.delete('fc.bias');
    bad(() => distance('L2', from, missing, tensors), /"fc.bias" is missing from the to state/);
    bad(() => distance('L2', from, to, [{ name: 'fc.weight', shape: [2, 2] }]), /shape \[2, 2\] needs 4 values, got 2/);
  });
});

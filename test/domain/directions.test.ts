import { describe, expect, it } from 'vitest';
import { combineTensors, planeCoefficients } from '../../src/domain/combination.js';
import {
  type DirectionTensorSpec,
  dotTensors,
  filterNormalize,
  gaussianDirection,
  inDirectionScope,
  normTensors,
  orthogonalPlaneAxes,
  orthogonalPlanePoint,
  orthogonalize,
  tensorRole,
} from '../../src/domain/directions.js';

/** A small convolutional state: conv [4, 3, 3, 3], its BatchNorm, a linear layer with bias. */
const specs: DirectionTensorSpec[] = [
  { name: 'conv1.weight', shape: [4, 3, 3, 3], role: 'parameter' },
  { name: 'bn1.weight', shape: [4], role: 'parameter' },
  { name: 'bn1.bias', shape: [4], role: 'parameter' },
  { name: 'bn1.running_mean', shape: [4], role: 'buffer' },
  { name: 'bn1.running_var', shape: [4], role: 'buffer' },
  { name: 'bn1.num_batches_tracked', shape: [], role: 'int' },
  { name: 'fc.weight', shape: [10, 4], role: 'parameter' },
  { name: 'fc.bias', shape: [10], role: 'parameter' },
];
const weights = gaussianDirection(specs, 99); // any float state serves as the weights

function norm(values: Float32Array, start = 0, end = values.length): number {
  let s = 0;
  for (let j = start; j < end; j++) s += values[j]! ** 2;
  return Math.sqrt(s);
}

describe('gaussianDirection', () => {
  it('is deterministic in the seed, one float32 tensor per float tensor, none for integer buffers', () => {
    const a = gaussianDirection(specs, 7);
    expect([...a.keys()]).toEqual(specs.filter((s) => s.role !== 'int').map((s) => s.name));
    expect(a.get('conv1.weight')!.length).toBe(108);
    expect(gaussianDirection(specs, 7)).toEqual(a);
    expect(gaussianDirection(specs, 8).get('fc.weight')).not.toEqual(a.get('fc.weight'));
    expect(() => gaussianDirection(specs, -1)).toThrow(/seed: expected an integer ≥ 0, got -1/);
  });

  it('draws in name order whatever the order of the specs', () => {
    const reversed = gaussianDirection([...specs].reverse(), 7);
    for (const [name, values] of gaussianDirection(specs, 7)) expect(reversed.get(name)).toEqual(values);
  });

  it('is standard normal: mean, variance and tails of 200,000 draws', () => {
    const values = gaussianDirection([{ name: 'x', shape: [200_000], role: 'parameter' }], 3).get('x')!;
    let sum = 0;
    let squares = 0;
    let beyond2 = 0;
    for (const v of values) {
      sum += v;
      squares += v * v;
      if (Math.abs(v) > 2) beyond2++;
    }
    const mean = sum / values.length;
    // Standard errors: mean 1/√n ≈ 0.0022, variance √(2/n) ≈ 0.0032, P(|z| > 2) = 0.0455 ± 0.0005.
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(squares / values.length - mean * mean - 1)).toBeLessThan(0.015);
    expect(Math.abs(beyond2 / values.length - 0.0455)).toBeLessThan(0.003);
  });
});

describe('filterNormalize (Li et al. 2018, net_plotter.normalize_directions_for_weights)', () => {
  const raw = gaussianDirection(specs, 5);

  it('scales each filter (index along dim 0) to the norm of the same filter of the weights', () => {
    const d = filterNormalize(raw, weights, specs, { scope: 'weights', lowDimension: 'zero' });
    for (const [name, filters, size] of [
      ['conv1.weight', 4, 27],
      ['fc.weight', 10, 4],
    ] as const) {
      const out = d.get(name)!;
      const r = raw.get(name)!;
      const w = weights.get(name)!;
      for (let i = 0; i < filters; i++) {
        const [start, end] = [i * size, (i + 1) * size];
        expect(norm(out, start, end)).toBeCloseTo(norm(w, start, end), 5);
        // Same direction as the raw filter: a positive multiple of it.
        const factor = out[start]! / r[start]!;
        expect(factor).toBeGreaterThan(0);
        for (let j = start; j < end; j++) expect(out[j]).toBeCloseTo(r[j]! * factor, 5);
      }
    }
  });

  it("zeroes or keeps tensors of one dimension (ignore='biasbn' or not), never moves integer buffers", () => {
    const zero = filterNormalize(raw, weights, specs, { scope: 'states', lowDimension: 'zero' });
    const keep = filterNormalize(raw, weights, specs, { scope: 'states', lowDimension: 'keep' });
    for (const name of ['bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'fc.bias']) {
      expect(zero.get(name)).toEqual(new Float32Array(weights.get(name)!.length));
      expect(keep.get(name)).toEqual(weights.get(name));
      expect(keep.get(name)).not.toBe(weights.get(name));
    }
    expect(zero.has('bn1.num_batches_tracked')).toBe(false);
  });

  it("under dir_type 'weights' the running statistics get a zero direction even when 'keep' copies biases", () => {
    const d = filterNormalize(raw, weights, specs, { scope: 'weights', lowDimension: 'keep' });
    expect(d.get('bn1.running_var')).toEqual(new Float32Array(4));
    expect(d.get('bn1.bias')).toEqual(weights.get('bn1.bias'));
    expect(specs.filter((s) => inDirectionScope(s, 'weights')).map((s) => s.name)).toEqual([
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'fc.weight',
      'fc.bias',
    ]);
  });

  it('says which tensor is missing or misshapen', () => {
    const short = new Map(raw);
    short.delete('fc.weight');
    expect(() => filterNormalize(short, weights, specs, { scope: 'weights', lowDimension: 'zero' })).toThrow(
      /"fc.weight" is missing from the direction/,
    );
    const bad = new Map(raw).set('fc.bias', new Float32Array(3));
    expect(() => filterNormalize(bad, weights, specs, { scope: 'weights', lowDimension: 'zero' })).toThrow(
      /"fc.bias" has shape \[10\] \(10 values\), got 3 in the direction and 10 in the weights/,
    );
  });

  it('names PyTorch state_dict roles', () => {
    expect(tensorRole('layer1.0.bn1.running_mean', 'float')).toBe('buffer');
    expect(tensorRole('layer1.0.bn1.running_var', 'float')).toBe('buffer');
    expect(tensorRole('layer1.0.bn1.num_batches_tracked', 'int')).toBe('int');
    expect(tensorRole('layer1.0.bn1.weight', 'float')).toBe('parameter');
  });
});

describe('orthogonalisation and norms (float64 over the concatenated tensors)', () => {
  const names = ['conv1.weight', 'fc.weight', 'fc.bias'];
  const u = gaussianDirection(specs, 21);
  const v = gaussianDirection(specs, 22);
  // v + 0.8·u: strongly correlated with u before Gram–Schmidt.
  const correlated = new Map([...v].map(([n, t]) => [n, combineTensors([t, u.get(n)!], [1, 0.8])]));

  it('dot and norm are float64 sums over the named tensors', () => {
    let expected = 0;
    for (const n of names) u.get(n)!.forEach((x, j) => (expected += x * v.get(n)![j]!));
    expect(dotTensors(u, v, names)).toBe(expected);
    expect(normTensors(u, ['fc.bias'])).toBe(norm(u.get('fc.bias')!));
  });

  it('removes the first axis from the second: ⟨v′, u⟩ ≈ 0, and v′ + k·u = v', () => {
    const { orthogonal, projection } = orthogonalize(correlated, u, names);
    expect(projection).toBeCloseTo(dotTensors(correlated, u, names) / dotTensors(u, u, names), 12);
    expect(Math.abs(dotTensors(orthogonal, u, names))).toBeLessThan(1e-5 * normTensors(u, names) ** 2);
    expect(orthogonal.get('bn1.weight')).toEqual(correlated.get('bn1.weight'));
    for (const n of names) {
      orthogonal
        .get(n)!
        .forEach((x, j) => expect(x + projection * u.get(n)![j]!).toBeCloseTo(correlated.get(n)![j]!, 5));
    }
  });

  it('the orthogonal plane through A, B, C is the plane at (x − k·y, y), with the axes’ lengths', () => {
    const [A, B, C] = [u, v, correlated];
    const { projection, xLength, yLength } = orthogonalPlaneAxes(A, B, C, names);
    const diff = (p: Map<string, Float32Array>, q: Map<string, Float32Array>) =>
      new Map(names.map((n) => [n, Float64Array.from(p.get(n)!, (x, j) => x - q.get(n)![j]!)]));
    const du = diff(B, A);
    const dv = diff(C, A);
    let uu = 0;
    let uv = 0;
    for (const n of names) du.get(n)!.forEach((x, j) => ((uu += x * x), (uv += x * dv.get(n)![j]!)));
    expect(projection).toBeCloseTo(uv / uu, 12);
    expect(xLength).toBeCloseTo(Math.sqrt(uu), 10);
    // The second axis v − k·u, explicitly: its length and orthogonality to u.
    let yy = 0;
    let orth = 0;
    for (const n of names) {
      dv.get(n)!.forEach((x, j) => {
        const w = x - projection * du.get(n)![j]!;
        yy += w * w;
        orth += w * du.get(n)![j]!;
      });
    }
    expect(yLength).toBeCloseTo(Math.sqrt(yy), 8);
    expect(Math.abs(orth)).toBeLessThan(1e-9 * uu);
    // A point of the orthogonal plane, A + x·u + y·(v − k·u), is the plane combination at (x − k·y, y).
    const [x, y] = [0.4, -0.7];
    const [px, py] = orthogonalPlanePoint(x, y, projection);
    const point = combineTensors(
      [A.get('fc.weight')!, B.get('fc.weight')!, C.get('fc.weight')!],
      planeCoefficients(px, py),
    );
    point.forEach((value, j) => {
      const a = A.get('fc.weight')![j]!;
      const expected =
        a + x * du.get('fc.weight')![j]! + y * (dv.get('fc.weight')![j]! - projection * du.get('fc.weight')![j]!);
      expect(value).toBeCloseTo(expected, 5);
    });
    expect(orthogonalPlanePoint(0.3, 0, projection)).toEqual([0.3, 0]);
  });
});

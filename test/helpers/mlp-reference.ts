import type { CheckpointFixture, TestSetFixture } from './engine-fixtures.js';

/**
 * An independent evaluation of the spiral MLP (fc1 2→50, ReLU, fc2 50→50, ReLU, fc3 50→1): θ(α) in float32 as
 * torch computes it (c0 = f32(1 − α), c1 = f32(α), fl32(fl32(c0·a) + fl32(c1·b))), then the forward pass and the
 * binary cross-entropy with logits in float64 — plain loops, no engine, no linpath code.
 */
export function mlpReferencePoint(
  from: CheckpointFixture['state'],
  to: CheckpointFixture['state'],
  data: TestSetFixture,
  alpha: number,
): { loss: number; correct: number } {
  const f = Math.fround;
  const c0 = f(1 - alpha);
  const c1 = f(alpha);
  const at = (name: string): Float64Array => {
    const a = from.get(name)!;
    const b = to.get(name)!;
    return Float64Array.from(a, (v, i) => f(f(c0 * v) + f(c1 * b[i]!)));
  };
  const [w1, b1, w2, b2, w3, b3] = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias', 'fc3.weight', 'fc3.bias'].map(
    at,
  ) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  const h1 = new Float64Array(50);
  const h2 = new Float64Array(50);
  let lossSum = 0;
  let correct = 0;
  for (let e = 0; e < data.n; e++) {
    const x0 = data.x[2 * e]!;
    const x1 = data.x[2 * e + 1]!;
    for (let j = 0; j < 50; j++) h1[j] = Math.max(0, w1[2 * j]! * x0 + w1[2 * j + 1]! * x1 + b1[j]!);
    for (let j = 0; j < 50; j++) {
      let s = b2[j]!;
      for (let k = 0; k < 50; k++) s += w2[50 * j + k]! * h1[k]!;
      h2[j] = Math.max(0, s);
    }
    let z = b3[0]!;
    for (let k = 0; k < 50; k++) z += w3[k]! * h2[k]!;
    const y = data.labels[e]!;
    lossSum += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    if ((z > 0 ? 1 : 0) === y) correct++;
  }
  return { loss: lossSum / data.n, correct };
}

/**
 * The MLP with its hidden units permuted (fc1's rows, fc2's rows and columns, fc3's columns): the same function,
 * another point of weight space, so the straight line to it crosses a loss barrier.
 */
export function permuteMlp(
  state: CheckpointFixture['state'],
  p1: readonly number[],
  p2: readonly number[],
): Map<string, Float32Array> {
  const w1 = state.get('fc1.weight')!;
  const b1 = state.get('fc1.bias')!;
  const w2 = state.get('fc2.weight')!;
  const b2 = state.get('fc2.bias')!;
  const w3 = state.get('fc3.weight')!;
  const out = new Map<string, Float32Array>();
  out.set(
    'fc1.weight',
    Float32Array.from({ length: 100 }, (_, i) => w1[2 * p1[i >> 1]! + (i & 1)]!),
  );
  out.set(
    'fc1.bias',
    Float32Array.from({ length: 50 }, (_, j) => b1[p1[j]!]!),
  );
  out.set(
    'fc2.weight',
    Float32Array.from({ length: 2500 }, (_, i) => w2[50 * p2[Math.floor(i / 50)]! + p1[i % 50]!]!),
  );
  out.set(
    'fc2.bias',
    Float32Array.from({ length: 50 }, (_, j) => b2[p2[j]!]!),
  );
  out.set(
    'fc3.weight',
    Float32Array.from({ length: 50 }, (_, k) => w3[p2[k]!]!),
  );
  out.set('fc3.bias', Float32Array.from(state.get('fc3.bias')!));
  return out;
}

import { combineTensors, lineCoefficients } from './combination.js';

/**
 * θ(α) = (1 − α)·θ_A + α·θ_B in float32, exactly as PyTorch computes it (the fixtures' convention):
 * c0 = f32(1 − α), c1 = f32(α), θ = fl32(fl32(c0·a) + fl32(c1·b)). The products and the sum of two float32
 * values are exact in float64, so one rounding of each reproduces torch's float32 arithmetic bit for bit,
 * and α = 0 / α = 1 give θ_A / θ_B exactly. It is `combineTensors` (combination.ts) with coefficients (1 − α, α).
 */
export function interpolateTensor(
  a: Float32Array,
  b: Float32Array,
  alpha: number,
  out = new Float32Array(a.length),
): Float32Array {
  if (a.length !== b.length || out.length !== a.length) {
    throw new RangeError(`interpolateTensor: lengths ${a.length}, ${b.length} and ${out.length} differ`);
  }
  return combineTensors([a, b], lineCoefficients(alpha), out);
}

/**
 * The state at α along a (possibly block-wise) path: tensors in `moving` are interpolated from `from` to
 * `to`; every other tensor is taken from `to` (Vlaar & Frankle 2022, Eq. 2).
 */
export function interpolateState(
  from: ReadonlyMap<string, Float32Array>,
  to: ReadonlyMap<string, Float32Array>,
  alpha: number,
  moving: ReadonlySet<string> | 'all',
): Map<string, Float32Array> {
  const state = new Map<string, Float32Array>();
  for (const [name, b] of to) {
    const a = from.get(name);
    if (a === undefined) throw new RangeError(`interpolateState: "${name}" is missing from the start state`);
    state.set(name, moving === 'all' || moving.has(name) ? interpolateTensor(a, b, alpha) : b);
  }
  return state;
}

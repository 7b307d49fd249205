/**
 * θ = Σᵢ cᵢ·θᵢ over a few states: the one primitive under lines, planes and curves (docs/landscape-arithmetic.md).
 *
 * The float32 arithmetic is fixed, so that PyTorch reproduces it bit for bit with `c0*t0 + c1*t1 + …` on float32
 * tensors, terms in the same order:
 *   cᵢ = f32(coefᵢ)                      (each coefficient computed in float64 by the helpers below, rounded once)
 *   acc = fl32(c₀·t₀)
 *   acc = fl32(acc + fl32(cᵢ·tᵢ))         for i = 1, 2, … in order
 * A product of two float32 values is exact in float64, so one `Math.fround` is torch's float32 multiply; the sum of
 * two float32 values rounded to float64 and then to float32 is the correctly rounded float32 sum (53 ≥ 2·24 + 2, so
 * the double rounding is innocuous). Every term is applied, zero coefficients included: 0·t is ±0 and adding it
 * leaves acc unchanged except that acc = −0 becomes +0 (torch does the same).
 *
 * With two tensors and (1 − α, α) this is today's straight line θ(α) (`interpolateTensor` delegates here).
 */

/** The states a combination reads: tensor name → float32 values (a state_dict without its integer buffers). */
export type TensorMap = ReadonlyMap<string, Float32Array>;

export function combineTensors(
  tensors: readonly Float32Array[],
  coefficients: readonly number[],
  out?: Float32Array,
): Float32Array {
  if (tensors.length === 0 || tensors.length !== coefficients.length) {
    throw new RangeError(
      `combineTensors: expected one coefficient per tensor and at least one tensor, got ${tensors.length} tensors and ${coefficients.length} coefficients`,
    );
  }
  const first = tensors[0]!;
  const n = first.length;
  const result = out ?? new Float32Array(n);
  if (result.length !== n || tensors.some((t) => t.length !== n)) {
    throw new RangeError(
      `combineTensors: lengths ${tensors.map((t) => t.length).join(', ')} and ${result.length} (out) differ`,
    );
  }
  for (const c of coefficients) {
    if (!Number.isFinite(c)) throw new RangeError(`combineTensors: coefficients must be finite, got ${c}`);
  }
  const c0 = Math.fround(coefficients[0]!);
  if (tensors.length === 2) {
    // The straight line in one pass (the hot path; out may alias either input): the roundings of the loop below.
    const second = tensors[1]!;
    const c1 = Math.fround(coefficients[1]!);
    for (let j = 0; j < n; j++) result[j] = Math.fround(c0 * first[j]!) + Math.fround(c1 * second[j]!);
    return result;
  }
  if (tensors.slice(1).includes(result)) {
    throw new RangeError('combineTensors: out may alias only the first tensor');
  }
  // Storing into the Float32Array is the rounding fl32(·).
  for (let j = 0; j < n; j++) result[j] = c0 * first[j]!;
  for (let i = 1; i < tensors.length; i++) {
    const t = tensors[i]!;
    const c = Math.fround(coefficients[i]!);
    for (let j = 0; j < n; j++) result[j] = result[j]! + Math.fround(c * t[j]!);
  }
  return result;
}

/** The straight line A → B at α: coefficients (1 − α, α) of (A, B), 1 − α in float64. */
export function lineCoefficients(alpha: number): [number, number] {
  return [1 - alpha, alpha];
}

/**
 * The plane through three states, origin A and axes B − A and C − A: θ(x, y) = A + x·(B − A) + y·(C − A), as the
 * coefficients (1 − x − y, x, y) of (A, B, C). 1 − x − y is computed in float64 as (1 − x) − y, so that at y = 0
 * the coefficients are exactly the line's (1 − x, x) plus a zero coefficient on C, and the point is the line's
 * θ(x) bit for bit: + fl32(0·C) changes nothing but the sign of a zero (−0 where both products of the line are −0
 * becomes +0), which no loss can see.
 */
export function planeCoefficients(x: number, y: number): [number, number, number] {
  return [1 - x - y, x, y];
}

/**
 * The plane around a centre w along two directions (Li et al. 2018, `net_plotter.set_weights`):
 * θ(x, y) = w + (x·d_x + y·d_y), as the coefficients (x, y, 1) of (d_x, d_y, w) in that order. The order is Li
 * et al.'s association: their `changes = d0*x + d1*y; w + changes` rounds exactly as this combination does.
 */
export function directionPlaneCoefficients(x: number, y: number): [number, number, number] {
  return [x, y, 1];
}

/**
 * The quadratic Bezier curve from A through the bend to B (Garipov et al. 2018, Eq. 3; their `curves.Bezier`
 * with three bends): coefficients ((1 − t)², 2t(1 − t), t²) of (A, bend, B), each computed in float64 from
 * u = 1 − t and rounded once. t = 0 and t = 1 give A and B.
 */
export function bezierCoefficients(t: number): [number, number, number] {
  const u = 1 - t;
  return [u * u, 2 * t * u, t * t];
}

/**
 * The polygonal chain A → bend → B (Garipov et al. 2018, Eq. 2; their `curves.PolyChain` with three bends,
 * max(0, 1 − |2t − k|) for k = 0, 1, 2): (1 − 2t, 2t, 0) for t ≤ ½ and (0, 2 − 2t, 2t − 1) for t > ½ of
 * (A, bend, B). On either half it is the straight line A → bend at α = 2t, or bend → B at α = 2t − 1 (for
 * t in (½, 1] the float64 values 2t − 1 and 2 − 2t are exact, so 1 − α = 2 − 2t).
 */
export function polychainCoefficients(t: number): [number, number, number] {
  return t <= 0.5 ? [1 - 2 * t, 2 * t, 0] : [0, 2 - 2 * t, 2 * t - 1];
}

/**
 * The combined state: tensors in `moving` are Σᵢ cᵢ·θᵢ (`combineTensors`, states in the given order); every other
 * tensor is taken from `states[fixedFrom]` (by default the last state, as `interpolateState` takes them from
 * `to`). The names are those of `states[fixedFrom]`; every moving tensor must be in every state.
 */
export function combineStates(
  states: readonly TensorMap[],
  coefficients: readonly number[],
  moving: ReadonlySet<string> | 'all' = 'all',
  fixedFrom = states.length - 1,
): Map<string, Float32Array> {
  if (states.length === 0 || states.length !== coefficients.length) {
    throw new RangeError(
      `combineStates: expected one coefficient per state and at least one state, got ${states.length} states and ${coefficients.length} coefficients`,
    );
  }
  const base = states[fixedFrom];
  if (base === undefined) {
    throw new RangeError(`combineStates: fixedFrom must index a state (0..${states.length - 1}), got ${fixedFrom}`);
  }
  const combined = new Map<string, Float32Array>();
  for (const [name, values] of base) {
    if (moving !== 'all' && !moving.has(name)) {
      combined.set(name, values);
      continue;
    }
    const tensors = states.map((state, i) => {
      const tensor = state.get(name);
      if (tensor === undefined) throw new RangeError(`combineStates: "${name}" is missing from state ${i}`);
      return tensor;
    });
    combined.set(name, combineTensors(tensors, coefficients));
  }
  return combined;
}

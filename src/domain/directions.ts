import { SeededRandom } from './random.js';
import type { TensorMap } from './combination.js';

/**
 * Directions for loss planes (docs/landscape-arithmetic.md): seeded Gaussian directions with Li et al.'s filter
 * normalisation (Li et al. 2018, "Visualizing the Loss Landscape of Neural Nets", Sec. 4; their
 * `net_plotter.py`), Gram–Schmidt of a second axis against a first (Garipov et al. 2018, `plane.py`), and the
 * float64 inner products and norms over several tensors that both need. Pure: arrays in, arrays out.
 */

/** A tensor of a state_dict as directions see it. */
export interface DirectionTensorSpec {
  name: string;
  shape: readonly number[];
  /**
   * `parameter`: a module parameter (weights, biases, BatchNorm γ and β: Li et al.'s dir_type 'weights');
   * `buffer`: a float buffer (BatchNorm running_mean and running_var, added by dir_type 'states');
   * `int`: an integer buffer (num_batches_tracked), which never gets a direction.
   */
  role: 'parameter' | 'buffer' | 'int';
}

/** Li et al.'s dir_type: parameters only (`weights`), or every float tensor of the state_dict (`states`). */
export type DirectionScope = 'weights' | 'states';

/**
 * What a tensor of at most one dimension (biases, BatchNorm γ, β and running statistics) gets: `zero` (Li et
 * al.'s ignore='biasbn': the tensor does not move) or `keep` (their default: the direction copies the weights).
 */
export type LowDimensionRule = 'zero' | 'keep';

/** PyTorch's state_dict names: `*.running_mean` and `*.running_var` are float buffers, `*.num_batches_tracked` int. */
export function tensorRole(name: string, kind: 'float' | 'int'): DirectionTensorSpec['role'] {
  if (kind === 'int' || name.endsWith('.num_batches_tracked')) return 'int';
  return name.endsWith('.running_mean') || name.endsWith('.running_var') ? 'buffer' : 'parameter';
}

/** Whether a tensor is in a direction of the given scope (never an integer buffer). */
export function inDirectionScope(spec: DirectionTensorSpec, scope: DirectionScope): boolean {
  return spec.role === 'parameter' || (spec.role === 'buffer' && scope === 'states');
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * A fast 32-bit generator for directions of millions of values: xoshiro128** (Blackman & Vigna 2018), its four
 * words seeded from linpath's SplitMix64 (`SeededRandom(seed)`, four draws × 2³²). SeededRandom itself works on
 * BigInt and would take tens of seconds for a ResNet-18 direction.
 */
class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    const splitmix = new SeededRandom(seed);
    const word = () => Math.floor(splitmix.next() * 2 ** 32) >>> 0;
    this.s0 = word();
    this.s1 = word();
    this.s2 = word();
    this.s3 = word();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));

/**
 * A raw direction: every float tensor of `specs` filled with standard normal values, deterministic in `seed`.
 * Tensors are drawn in code-unit order of their names (whatever order `specs` has), each in row-major order,
 * from one stream: Box–Muller on two 32-bit uniforms u₁, u₂ ∈ (0, 1) (uᵢ = (k + ½)/2³², k from xoshiro128**),
 * r = √(−2 ln u₁), giving r·cos(2πu₂) then r·sin(2πu₂), rounded to float32. Every float tensor is drawn whatever
 * the scope, so a `weights` direction and a `states` direction of one seed agree on the weights. Integer buffers
 * get none. This is not torch.randn (no generator can be); references read the direction from its file.
 */
export function gaussianDirection(specs: readonly DirectionTensorSpec[], seed: number): Map<string, Float32Array> {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed: expected an integer ≥ 0, got ${seed}`);
  const random = new Xoshiro128(seed);
  const uniform = () => (random.nextUint32() + 0.5) / 2 ** 32;
  let spare: number | undefined;
  const normal = () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const angle = 2 * Math.PI * uniform();
    spare = r * Math.sin(angle);
    return r * Math.cos(angle);
  };
  const floats = specs.filter((s) => s.role !== 'int').sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const drawn = new Map<string, Float32Array>();
  for (const spec of floats) {
    const values = new Float32Array(size(spec.shape));
    for (let i = 0; i < values.length; i++) values[i] = normal();
    drawn.set(spec.name, values);
  }
  // Returned in the order of `specs` (the state_dict's), as a state would be.
  return new Map(specs.filter((s) => s.role !== 'int').map((s) => [s.name, drawn.get(s.name)!]));
}

/**
 * Li et al.'s filter normalisation of a raw direction against the weights w it is drawn around, tensor by tensor
 * (their `normalize_directions_for_weights` / `_for_states` with norm='filter'):
 * - a tensor outside the scope (a running statistic under `weights`) gets a zero direction;
 * - a tensor of at most one dimension: zero (`zero`, ignore='biasbn') or a copy of w (`keep`);
 * - any other tensor: each filter i (index along dim 0) is scaled to the norm of the same filter of w:
 *   d_i ← d_i · ‖w_i‖ / (‖d_i‖ + 1e-10). The norms and the factor are float64 (sums of squares in element order),
 *   each scaled value is rounded once to float32; torch computes them in float32, so the two agree to a few ulps,
 *   not bit for bit (test/compute/landscape.directions.test.ts checks the bound).
 * Returns a new map with every float tensor of `specs` (zeros where the direction does not move the tensor).
 */
export function filterNormalize(
  raw: TensorMap,
  weights: TensorMap,
  specs: readonly DirectionTensorSpec[],
  options: { scope: DirectionScope; lowDimension: LowDimensionRule },
): Map<string, Float32Array> {
  const normalized = new Map<string, Float32Array>();
  for (const spec of specs) {
    if (spec.role === 'int') continue;
    const d = raw.get(spec.name);
    const w = weights.get(spec.name);
    const n = size(spec.shape);
    if (d === undefined || w === undefined) {
      throw new RangeError(
        `filterNormalize: "${spec.name}" is missing from the ${d === undefined ? 'direction' : 'weights'}`,
      );
    }
    if (d.length !== n || w.length !== n) {
      throw new RangeError(
        `filterNormalize: "${spec.name}" has shape [${spec.shape.join(', ')}] (${n} values), got ${d.length} in the direction and ${w.length} in the weights`,
      );
    }
    if (!inDirectionScope(spec, options.scope)) {
      normalized.set(spec.name, new Float32Array(n));
    } else if (spec.shape.length <= 1) {
      normalized.set(spec.name, options.lowDimension === 'keep' ? Float32Array.from(w) : new Float32Array(n));
    } else {
      const out = new Float32Array(n);
      const filters = spec.shape[0]!;
      const filterSize = filters === 0 ? 0 : n / filters;
      for (let f = 0; f < filters; f++) {
        const start = f * filterSize;
        const end = start + filterSize;
        const scale = norm2(w, start, end) / (norm2(d, start, end) + 1e-10);
        for (let j = start; j < end; j++) out[j] = d[j]! * scale;
      }
      normalized.set(spec.name, out);
    }
  }
  return normalized;
}

function norm2(values: Float32Array, start: number, end: number): number {
  let sum = 0;
  for (let j = start; j < end; j++) sum += values[j]! * values[j]!;
  return Math.sqrt(sum);
}

/** ⟨a, b⟩ over the named tensors, concatenated in the order of `names`: float64 products and sums, element order. */
export function dotTensors(a: TensorMap, b: TensorMap, names: readonly string[]): number {
  let sum = 0;
  for (const name of names) {
    const x = tensorOf(a, name, 'first');
    const y = tensorOf(b, name, 'second');
    if (x.length !== y.length) throw new RangeError(`dotTensors: "${name}" has ${x.length} and ${y.length} values`);
    for (let j = 0; j < x.length; j++) sum += x[j]! * y[j]!;
  }
  return sum;
}

/** ‖a‖ over the named tensors (√⟨a, a⟩ in float64). */
export function normTensors(a: TensorMap, names: readonly string[]): number {
  return Math.sqrt(dotTensors(a, a, names));
}

function tensorOf(map: TensorMap, name: string, which: string): Float32Array {
  const tensor = map.get(name);
  if (tensor === undefined) throw new RangeError(`"${name}" is missing from the ${which} argument`);
  return tensor;
}

/**
 * Gram–Schmidt of a second axis against the first over the concatenated named tensors (Garipov et al. 2018,
 * `plane.py`: v ← v − ⟨u, v⟩/⟨u, u⟩ · u, here without normalising to unit length): k = ⟨second, first⟩ /
 * ⟨first, first⟩ in float64 (`dotTensors`), then each value second_j − k·first_j in float64, rounded once to
 * float32. Tensors not named are copied. A zero first axis leaves the second unchanged (k = 0).
 */
export function orthogonalize(
  second: TensorMap,
  first: TensorMap,
  names: readonly string[],
): { orthogonal: Map<string, Float32Array>; projection: number } {
  const firstSquared = dotTensors(first, first, names);
  const projection = firstSquared === 0 ? 0 : dotTensors(second, first, names) / firstSquared;
  const named = new Set(names);
  const orthogonal = new Map<string, Float32Array>();
  for (const [name, values] of second) {
    if (!named.has(name)) {
      orthogonal.set(name, Float32Array.from(values));
      continue;
    }
    const u = first.get(name)!;
    const out = new Float32Array(values.length);
    for (let j = 0; j < values.length; j++) out[j] = values[j]! - projection * u[j]!;
    orthogonal.set(name, out);
  }
  return { orthogonal, projection };
}

/**
 * The plane through three states with its second axis orthogonalised (Garipov et al.'s plane), kept as a
 * combination of the three pinned states: with u = B − A, v = C − A and k = ⟨v, u⟩/⟨u, u⟩ (float64 over the
 * named tensors, differences in float64), A + x·u + y·(v − k·u) = A + (x − k·y)·u + y·v. So a point (x, y) of the
 * orthogonal plane is the point (x − k·y, y) of `planeCoefficients`. Also returns the axes' lengths ‖u‖ and
 * ‖v − k·u‖ (float64), the scale of the two coordinates.
 */
export function orthogonalPlaneAxes(
  a: TensorMap,
  b: TensorMap,
  c: TensorMap,
  names: readonly string[],
): { projection: number; xLength: number; yLength: number } {
  let uu = 0;
  let uv = 0;
  let vv = 0;
  for (const name of names) {
    const ta = tensorOf(a, name, 'first');
    const tb = tensorOf(b, name, 'second');
    const tc = tensorOf(c, name, 'third');
    if (tb.length !== ta.length || tc.length !== ta.length) {
      throw new RangeError(`orthogonalPlaneAxes: "${name}" has ${ta.length}, ${tb.length} and ${tc.length} values`);
    }
    for (let j = 0; j < ta.length; j++) {
      const u = tb[j]! - ta[j]!;
      const v = tc[j]! - ta[j]!;
      uu += u * u;
      uv += u * v;
      vv += v * v;
    }
  }
  const projection = uu === 0 ? 0 : uv / uu;
  // ‖v − k·u‖² = ‖v‖² − k·⟨u, v⟩; clamped at 0 against rounding when C lies on the line A → B.
  return { projection, xLength: Math.sqrt(uu), yLength: Math.sqrt(Math.max(0, vv - projection * uv)) };
}

/** The point of `planeCoefficients` that is (x, y) on the orthogonalised plane: (x − k·y, y), in float64. */
export function orthogonalPlanePoint(x: number, y: number, projection: number): [number, number] {
  return [x - projection * y, y];
}

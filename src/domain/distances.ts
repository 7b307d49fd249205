import { UnreachableCaseError, badUserInput } from '../errors.js';

export const DistanceMetric = {
  LAYERWISE_NORMALIZED: 'LAYERWISE_NORMALIZED',
  L2: 'L2',
  RELATIVE_L2: 'RELATIVE_L2',
  COSINE: 'COSINE',
} as const;
export type DistanceMetric = (typeof DistanceMetric)[keyof typeof DistanceMetric];

export interface DistanceTensor {
  name: string;
  shape: readonly number[];
}

/** BatchNorm running statistics and the integer step counter: state, not parameters. */
const NON_PARAMETER_SUFFIXES = ['running_mean', 'running_var', 'num_batches_tracked'];

const isParameter = (name: string): boolean =>
  !NON_PARAMETER_SUFFIXES.some((suffix) => name === suffix || name.endsWith(`.${suffix}`));

/** Conv and linear weights: `*.weight` with at least two dimensions (BatchNorm weights are 1-D). */
const isConvOrLinearWeight = (t: DistanceTensor): boolean =>
  (t.name === 'weight' || t.name.endsWith('.weight')) && t.shape.length >= 2;

/**
 * The tensors a metric covers, in the order given: for LAYERWISE_NORMALIZED the conv and linear weights
 * (`*.weight` with ≥ 2 dimensions), for the others every parameter (all tensors but `running_mean`,
 * `running_var` and `num_batches_tracked`); only those in `restrictTo` when it is given.
 * Throws BAD_USER_INPUT when `restrictTo` names a tensor that is not among `tensors`.
 */
export function distanceTensors(
  metric: DistanceMetric,
  tensors: readonly DistanceTensor[],
  restrictTo?: ReadonlySet<string>,
): DistanceTensor[] {
  if (restrictTo !== undefined) {
    const known = new Set(tensors.map((t) => t.name));
    const unknown = [...restrictTo].filter((name) => !known.has(name));
    if (unknown.length > 0) {
      throw badUserInput(
        `distance: restrictTo names ${unknown.length} tensor(s) not in the model: ${unknown
          .slice(0, 5)
          .map((n) => `"${n}"`)
          .join(', ')}`,
      );
    }
  }
  const selected = tensors.filter((t) => restrictTo === undefined || restrictTo.has(t.name));
  return metric === DistanceMetric.LAYERWISE_NORMALIZED
    ? selected.filter(isConvOrLinearWeight)
    : selected.filter((t) => isParameter(t.name));
}

/**
 * Distance between two states θ_0 = `from` and θ_T = `to`, accumulated in float64:
 * - LAYERWISE_NORMALIZED: (1/|W|) Σ_{W} ‖W_T − W_0‖_F / ‖W_0‖_F over the conv and linear weights W
 *   (Vlaar & Frankle 2022, Eq. 4, after Liu et al. 2020);
 * - L2: ‖θ_T − θ_0‖₂ over all parameters (BatchNorm running statistics and `num_batches_tracked` excluded);
 * - RELATIVE_L2: ‖θ_T − θ_0‖₂ / ‖θ_0‖₂ over the same parameters;
 * - COSINE: ⟨θ_0, θ_T⟩ / (‖θ_0‖₂ ‖θ_T‖₂) over the same parameters.
 * `restrictTo` limits every metric to those tensor names (a block, resolved by the caller).
 * Throws BAD_USER_INPUT when the selection is empty, a selected tensor is missing from a state or has the
 * wrong number of values for its shape, or a norm in a denominator is zero.
 */
export function distance(
  metric: DistanceMetric,
  from: ReadonlyMap<string, Float32Array>,
  to: ReadonlyMap<string, Float32Array>,
  tensors: readonly DistanceTensor[],
  restrictTo?: ReadonlySet<string>,
): number {
  const selected = distanceTensors(metric, tensors, restrictTo);
  if (selected.length === 0) {
    const what =
      metric === DistanceMetric.LAYERWISE_NORMALIZED
        ? 'conv or linear weight (*.weight with ≥ 2 dimensions)'
        : 'parameter';
    throw badUserInput(`distance ${metric}: expected at least one ${what} in the selection, got none`);
  }
  const sums = selected.map((t) => tensorSums(t, from, to));

  switch (metric) {
    case DistanceMetric.LAYERWISE_NORMALIZED: {
      let total = 0;
      sums.forEach((s, i) => {
        if (s.from === 0) {
          throw badUserInput(
            `distance LAYERWISE_NORMALIZED: "${selected[i]!.name}" has ‖θ_0‖_F = 0, so its relative change is undefined`,
          );
        }
        total += Math.sqrt(s.diff) / Math.sqrt(s.from);
      });
      return total / sums.length;
    }
    case DistanceMetric.L2:
      return Math.sqrt(sum(sums, 'diff'));
    case DistanceMetric.RELATIVE_L2: {
      const fromNorm = Math.sqrt(sum(sums, 'from'));
      if (fromNorm === 0)
        throw badUserInput(
          'distance RELATIVE_L2: ‖θ_0‖₂ = 0 over the selected parameters, so the relative distance is undefined',
        );
      return Math.sqrt(sum(sums, 'diff')) / fromNorm;
    }
    case DistanceMetric.COSINE: {
      const fromNorm = Math.sqrt(sum(sums, 'from'));
      const toNorm = Math.sqrt(sum(sums, 'to'));
      if (fromNorm === 0 || toNorm === 0) {
        throw badUserInput(
          `distance COSINE: a zero vector has no direction (‖θ_0‖₂ = ${fromNorm}, ‖θ_T‖₂ = ${toNorm})`,
        );
      }
      return Math.min(1, Math.max(-1, sum(sums, 'dot') / (fromNorm * toNorm)));
    }
    default:
      throw new UnreachableCaseError(metric);
  }
}

interface TensorSums {
  /** Σ a², Σ b², Σ (b − a)², Σ a·b over one tensor, a = θ_0, b = θ_T. */
  from: number;
  to: number;
  diff: number;
  dot: number;
}

function tensorSums(
  t: DistanceTensor,
  from: ReadonlyMap<string, Float32Array>,
  to: ReadonlyMap<string, Float32Array>,
): TensorSums {
  const a = from.get(t.name);
  const b = to.get(t.name);
  if (a === undefined || b === undefined) {
    throw badUserInput(`distance: tensor "${t.name}" is missing from the ${a === undefined ? 'from' : 'to'} state`);
  }
  const expected = t.shape.reduce((n, d) => n * d, 1);
  if (a.length !== expected || b.length !== expected) {
    throw badUserInput(
      `distance: tensor "${t.name}" of shape [${t.shape.join(', ')}] needs ${expected} values, got ${a.length} (from) and ${b.length} (to)`,
    );
  }
  let sa = 0;
  let sb = 0;
  let sd = 0;
  let dot = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const d = y - x;
    sa += x * x;
    sb += y * y;
    sd += d * d;
    dot += x * y;
  }
  return { from: sa, to: sb, diff: sd, dot };
}

const sum = (sums: readonly TensorSums[], key: keyof TensorSums): number =>
  sums.reduce((total, s) => total + s[key], 0);

import { badUserInput } from '../errors.js';

/**
 * The three shapes of a linear path that Vlaar & Frankle (2022, Table 1) distinguish: NB (no barrier,
 * monotonic decay), B (barrier) and P (plateau: "loss plateaus and error remains at the level of random
 * chance…until near the optimum", Frankle 2020, quoted in Sec. 3.2).
 */
export const CurveShape = {
  MONOTONIC_DECAY: 'MONOTONIC_DECAY',
  BARRIER: 'BARRIER',
  PLATEAU: 'PLATEAU',
} as const;
export type CurveShape = (typeof CurveShape)[keyof typeof CurveShape];

export interface BarrierOptions {
  /**
   * Absolute part of the barrier tolerance, in the curve's own units: a bump (a rise L(α_j) − L(α_i), i < j)
   * counts only above max(tolerance, relativeTolerance × range). Default {@link DEFAULT_TOLERANCE}.
   */
  tolerance?: number;
  /**
   * Relative part of the barrier tolerance, as a fraction of the curve's range max L − min L over α ∈ [0, 1].
   * Default {@link DEFAULT_RELATIVE_TOLERANCE}.
   */
  relativeTolerance?: number;
  /** Where "early" ends, as a fraction of the classified α range (0.5 on [0, 1] means α ≤ 0.5). Default 0.5. */
  plateauAlpha?: number;
  /** A non-increasing curve is a plateau when less than this fraction of its total decrease is done by plateauAlpha. Default 0.1. */
  plateauFraction?: number;
}

/**
 * Absolute, not relative to L(0): the rule stays defined when L(0) is non-finite or near zero (the
 * error of a trained start point), and for losses of order one it sits an order of magnitude above the
 * ~1e-5 relative disagreement between evaluation engines. An error curve over n examples moves in steps of
 * 1/n, so one flipped example is a rise of 1/n: pass a tolerance above 1/n to ignore single flips.
 */
export const DEFAULT_TOLERANCE = 1e-4;
/**
 * The seed paper's classes are visual ("exhibits a monotonic increase in loss", Sec. 3.2, read off a plot).
 * A bump of 1% of the curve's range is one pixel on a plot 100 pixels high: below that nobody looking at the
 * figure would call the curve a barrier, and float32 wiggles of a decaying curve (~1e-6 of its range) or one
 * flipped example of an error curve over 500 examples on a chance-to-solved range stay far below it.
 */
export const DEFAULT_RELATIVE_TOLERANCE = 0.01;
/**
 * Plateau rule defaults: at the midpoint of the path less than a tenth of the total decrease has happened.
 * The paper describes plateaus as loss that "remains at the level of random chance…until near the optimum"
 * (Sec. 3.2, quoting Frankle 2020) and "a plateau with a sudden drop close to the final state" (Sec. 6,
 * Fig. 9); it gives no number. A smooth sigmoid-like decay (the MLP fixture) has done 24% of its decrease
 * at α = 0.5 and a straight line 50%, so both stay MONOTONIC_DECAY.
 */
export const DEFAULT_PLATEAU_ALPHA = 0.5;
export const DEFAULT_PLATEAU_FRACTION = 0.1;

/**
 * Barrier measures of one sampled curve L(α) (loss, or error = 1 − accuracy), over the points with
 * α ∈ [0, 1] only: the path between its two end points is what the measures and the shape describe; points
 * outside (extrapolation) are shown by plots but never measured or classified, and counted in
 * `pointsOutside`. L(0) and L(1) below mean the values at the smallest and largest sampled α in [0, 1]
 * (0 and 1 on the usual grids). Non-finite values (NaN, ±∞: a diverged state) are left out of every measure
 * and counted in `nonFinitePoints`; a field is null only when that rule leaves it undefined.
 */
export interface BarrierMetrics {
  /**
   * The barrier of the path, above both end points: max_α L(α) − max(L(0), L(1)), ≥ 0 (0 for a curve that
   * never rises above its higher end). Null when an end point is non-finite.
   */
  rise: number | null;
  /**
   * The strong form the seed paper names ("rising above the level of loss at initialization", Sec. 3.2):
   * max_α L(α) − L(0), ≥ 0. Null when L(0) is non-finite.
   */
  riseAboveStart: number | null;
  /** @deprecated the same number as `rise` (its former name). */
  heightAboveEndpoints: number | null;
  /**
   * max_α L(α) − ½(L(0) + L(1)) (Frankle et al. 2020): meant for paths between two trained states (instability
   * analysis), whose end points have about the same loss. On an init → final path it is ≈ ½(L(0) − L(1)) for
   * any decaying curve — it measures how much the loss fell, not a barrier. Null when an end point is non-finite.
   */
  frankleHeight: number | null;
  /** Largest bump (Lucas et al. 2021), ≥ 0; null with fewer than two finite points. */
  mliDelta: number | null;
  /** α of the largest finite value (the smallest such α on ties); null when no value is finite. */
  alphaAtMax: number | null;
  maxValue: number | null;
  /**
   * For a BARRIER, the α of its peak: the top of the largest bump, or the first diverged point between the end
   * points; null for any other shape.
   */
  barrierAlpha: number | null;
  /** The tolerance a bump had to exceed: max(tolerance, relativeTolerance × range); null with < 2 finite points. */
  threshold: number | null;
  /** No bump above `threshold`; null with fewer than two finite points. */
  monotonic: boolean | null;
  /**
   * BARRIER when some bump exceeds `threshold` (so `mliDelta` > 0); otherwise PLATEAU or MONOTONIC_DECAY by the
   * plateau rule. Null with fewer than two finite points in [0, 1], or for a monotonic curve whose end points
   * are not both finite (the plateau rule needs the total decrease).
   */
  shape: CurveShape | null;
  nonFinitePoints: number;
  /** Points with α outside [0, 1], left out of every measure. */
  pointsOutside: number;
}

/**
 * Barrier measures of the sampled curve (α_i, L(α_i)); points may come in any order and are sorted by α, and
 * only those with α ∈ [0, 1] are measured (see {@link BarrierMetrics}).
 *
 * - rise = max_α L(α) − max(L(0), L(1)): a barrier above both end points (Vlaar & Frankle 2022, Sec. 3.2).
 * - riseAboveStart = max_α L(α) − L(0): "rising above the level of loss at initialization".
 * - frankleHeight = max_α L(α) − ½(L(0) + L(1)) — Frankle et al. 2020 (instability), for two trained states.
 * - mliDelta = max over bumps of (peak − start) — Lucas et al. 2021. A bump starts at a point after which the
 *   loss rises (L_{i+1} > L_i) and ends at the first later point whose loss is below the start; its peak is
 *   the largest value in between. A bump that never comes back below its start is still a bump, its peak
 *   taken over the rest of the curve. 0 for a non-increasing curve. (This equals max_{i<j} (L_j − L_i)⁺.)
 * - threshold = max(tolerance, relativeTolerance × (max L − min L)); monotonic: mliDelta ≤ threshold. A rise
 *   spread over many small steps counts as one rise.
 * - shape (Vlaar & Frankle 2022, Table 1; "a barrier if it exhibits a monotonic increase in loss", Sec. 3.2):
 *   BARRIER when not monotonic; PLATEAU when monotonic and the fraction (L(0) − L(α_c)) / (L(0) − L(1)) of
 *   the total decrease done by α_c = α_0 + plateauAlpha·(α_1 − α_0) is below plateauFraction (L(α_c)
 *   linearly interpolated between the neighbouring finite samples), or when the total decrease is within
 *   the threshold (a flat line); MONOTONIC_DECAY otherwise. A monotone init → final curve has rise 0 and is
 *   never a BARRIER; a BARRIER always has mliDelta > threshold ≥ 0.
 *
 * Non-finite values (NaN, ±∞: a diverged state): a non-finite point between the end points makes the curve a
 * BARRIER of unbounded height (monotonic false; the heights and mliDelta null); a non-finite end point
 * leaves the heights that use it null and is left out of the other measures.
 *
 * Throws BAD_USER_INPUT for fewer than two points, lengths that differ, non-finite or repeated α, or
 * options out of range.
 */
export function barrierMetrics(
  alphas: readonly number[],
  values: readonly number[],
  options: BarrierOptions = {},
): BarrierMetrics {
  const { tolerance, relativeTolerance, plateauAlpha, plateauFraction } = resolveOptions(options);
  if (alphas.length !== values.length) {
    throw badUserInput(
      `barrierMetrics: expected as many values as alphas, got ${values.length} values for ${alphas.length} alphas`,
    );
  }
  if (alphas.length < 2) throw badUserInput(`barrierMetrics: expected at least 2 points, got ${alphas.length}`);
  const order = sortedOrder(alphas).filter((i) => alphas[i]! >= 0 && alphas[i]! <= 1);
  const pointsOutside = alphas.length - order.length;
  const sortedAlphas = order.map((i) => alphas[i]!);
  const sortedValues = order.map((i) => values[i]!);

  const finiteAlphas: number[] = [];
  const finiteValues: number[] = [];
  sortedValues.forEach((value, i) => {
    if (Number.isFinite(value)) {
      finiteAlphas.push(sortedAlphas[i]!);
      finiteValues.push(value);
    }
  });
  const nonFinitePoints = sortedValues.length - finiteValues.length;
  const empty = {
    rise: null,
    riseAboveStart: null,
    heightAboveEndpoints: null,
    frankleHeight: null,
    mliDelta: null,
    barrierAlpha: null,
    threshold: null,
    monotonic: null,
    shape: null,
    nonFinitePoints,
    pointsOutside,
  };
  if (sortedValues.length < 2) return { ...empty, alphaAtMax: null, maxValue: null };
  const first = sortedValues[0]!;
  const last = sortedValues[sortedValues.length - 1]!;
  const endpointsFinite = Number.isFinite(first) && Number.isFinite(last);

  let top = -1; // index of the first largest finite value
  for (let i = 0; i < finiteValues.length; i++) if (top === -1 || finiteValues[i]! > finiteValues[top]!) top = i;
  const maxValue = top === -1 ? null : finiteValues[top]!;
  const alphaAtMax = top === -1 ? null : finiteAlphas[top]!;

  // A NaN or infinite point between the end points: the path diverges on the way, a barrier of unbounded
  // height. It is never monotonic, and the heights (which would be +∞) are null.
  const diverged = sortedValues.slice(1, -1).findIndex((value) => !Number.isFinite(value));
  if (diverged !== -1) {
    return {
      ...empty,
      alphaAtMax,
      maxValue,
      barrierAlpha: sortedAlphas[diverged + 1]!,
      monotonic: false,
      shape: CurveShape.BARRIER,
    };
  }
  const rise = endpointsFinite && maxValue !== null ? Math.max(0, maxValue - Math.max(first, last)) : null;
  const heights = {
    rise,
    heightAboveEndpoints: rise,
    riseAboveStart: Number.isFinite(first) && maxValue !== null ? Math.max(0, maxValue - first) : null,
    frankleHeight: endpointsFinite && maxValue !== null ? maxValue - 0.5 * (first + last) : null,
  };
  if (finiteValues.length < 2) return { ...empty, ...heights, alphaAtMax, maxValue };

  const bump = largestBump(finiteValues);
  const range = maxValue! - Math.min(...finiteValues);
  const threshold = Math.max(tolerance, relativeTolerance * range);
  const monotonic = !(bump.delta > threshold);

  let shape: CurveShape | null;
  if (!monotonic) shape = CurveShape.BARRIER;
  else if (!endpointsFinite) shape = null;
  else {
    const totalDecrease = first - last;
    const cut = sortedAlphas[0]! + plateauAlpha * (sortedAlphas[sortedAlphas.length - 1]! - sortedAlphas[0]!);
    const flat = totalDecrease <= threshold;
    shape =
      flat || (first - valueAt(finiteAlphas, finiteValues, cut)) / totalDecrease < plateauFraction
        ? CurveShape.PLATEAU
        : CurveShape.MONOTONIC_DECAY;
  }

  return {
    ...heights,
    mliDelta: bump.delta,
    alphaAtMax,
    maxValue,
    barrierAlpha: shape === CurveShape.BARRIER ? finiteAlphas[bump.peak]! : null,
    threshold,
    monotonic,
    shape,
    nonFinitePoints,
    pointsOutside,
  };
}

/** One evaluated point of a path, as stored (loss and accuracy are null for a diverged state). */
export interface PathPointValues {
  alpha: number;
  loss: number | null;
  accuracy: number | null;
}

/**
 * {@link barrierMetrics} of a path's loss curve and of its error curve, error = 1 − accuracy (Vlaar &
 * Frankle 2022 plot both). A null loss or accuracy counts as a non-finite point. Each curve may have its own
 * options: an error curve over n examples moves in steps of 1/n.
 */
export function pathBarrierMetrics(
  points: readonly PathPointValues[],
  options: { loss?: BarrierOptions; error?: BarrierOptions } = {},
): { loss: BarrierMetrics; error: BarrierMetrics } {
  const alphas = points.map((p) => p.alpha);
  return {
    loss: barrierMetrics(
      alphas,
      points.map((p) => p.loss ?? Number.NaN),
      options.loss,
    ),
    error: barrierMetrics(
      alphas,
      points.map((p) => (p.accuracy === null ? Number.NaN : 1 - p.accuracy)),
      options.error,
    ),
  };
}

export const LayerwiseBarrierLevel = { HIGH: 'HIGH', LOW: 'LOW' } as const;
export type LayerwiseBarrierLevel = (typeof LayerwiseBarrierLevel)[keyof typeof LayerwiseBarrierLevel];

/** Table 1's H-LB and L-LB. */
export const LayerwiseBarrierSummary = {
  HIGH_LAYERWISE_BARRIERS: 'HIGH_LAYERWISE_BARRIERS',
  LOW_LAYERWISE_BARRIERS: 'LOW_LAYERWISE_BARRIERS',
} as const;
export type LayerwiseBarrierSummary = (typeof LayerwiseBarrierSummary)[keyof typeof LayerwiseBarrierSummary];

/**
 * The paper gives no number: its H-LB/L-LB (Table 1) compare settings ("removing data augmentation lowers the
 * layer-wise barriers", Sec. 5). A rise of a tenth of the trained model's loss is plainly visible on a plot
 * of the curve and three orders of magnitude above the default per-step tolerance.
 */
export const DEFAULT_LAYERWISE_RELATIVE_THRESHOLD = 0.1;

export interface LayerwiseClassification {
  blocks: Record<string, LayerwiseBarrierLevel>;
  summary: LayerwiseBarrierSummary;
  /** The absolute height above which a block is HIGH: relativeThreshold × endpointLoss. */
  threshold: number;
}

/**
 * Block-wise barriers as high or low (Vlaar & Frankle 2022, Table 1: H-LB / L-LB): a block is HIGH when its
 * barrier height exceeds relativeThreshold × endpointLoss, where the height is meant to be the
 * `rise` of the block's loss curve (Eq. 2: the block moves, the rest stays final) and
 * endpointLoss the loss of the final state (α = 1, shared by every block-wise path). The summary is
 * HIGH_LAYERWISE_BARRIERS when any block is HIGH. Default relativeThreshold
 * {@link DEFAULT_LAYERWISE_RELATIVE_THRESHOLD}. A +∞ height is HIGH; NaN heights are rejected.
 */
export function classifyLayerwise(
  blockHeights: Readonly<Record<string, number>>,
  endpointLoss: number,
  options: { relativeThreshold?: number } = {},
): LayerwiseClassification {
  const relativeThreshold = options.relativeThreshold ?? DEFAULT_LAYERWISE_RELATIVE_THRESHOLD;
  if (!Number.isFinite(relativeThreshold) || relativeThreshold < 0) {
    throw badUserInput(`classifyLayerwise: relativeThreshold must be a finite number ≥ 0, got ${relativeThreshold}`);
  }
  if (!Number.isFinite(endpointLoss) || endpointLoss <= 0) {
    throw badUserInput(`classifyLayerwise: endpointLoss must be a finite number > 0, got ${endpointLoss}`);
  }
  const entries = Object.entries(blockHeights);
  if (entries.length === 0)
    throw badUserInput('classifyLayerwise: expected the barrier height of at least one block, got none');
  const threshold = relativeThreshold * endpointLoss;
  // fromEntries defines own properties: a block named "__proto__" stays a block instead of a prototype.
  const blocks: Record<string, LayerwiseBarrierLevel> = Object.fromEntries(
    entries.map(([block, height]) => {
      if (Number.isNaN(height))
        throw badUserInput(`classifyLayerwise: the barrier height of block "${block}" is NaN, expected a number`);
      return [block, height > threshold ? LayerwiseBarrierLevel.HIGH : LayerwiseBarrierLevel.LOW];
    }),
  );
  const anyHigh = Object.values(blocks).includes(LayerwiseBarrierLevel.HIGH);
  return {
    blocks,
    summary: anyHigh ? LayerwiseBarrierSummary.HIGH_LAYERWISE_BARRIERS : LayerwiseBarrierSummary.LOW_LAYERWISE_BARRIERS,
    threshold,
  };
}

function resolveOptions(options: BarrierOptions): Required<BarrierOptions> {
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  const relativeTolerance = options.relativeTolerance ?? DEFAULT_RELATIVE_TOLERANCE;
  if (!(relativeTolerance >= 0 && relativeTolerance <= 1)) {
    throw badUserInput(`barrierMetrics: relativeTolerance must lie in [0, 1], got ${relativeTolerance}`);
  }
  const plateauAlpha = options.plateauAlpha ?? DEFAULT_PLATEAU_ALPHA;
  const plateauFraction = options.plateauFraction ?? DEFAULT_PLATEAU_FRACTION;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw badUserInput(`barrierMetrics: tolerance must be a finite number ≥ 0, got ${tolerance}`);
  }
  if (!(plateauAlpha > 0 && plateauAlpha < 1)) {
    throw badUserInput(`barrierMetrics: plateauAlpha must lie strictly between 0 and 1, got ${plateauAlpha}`);
  }
  if (!(plateauFraction >= 0 && plateauFraction <= 1)) {
    throw badUserInput(`barrierMetrics: plateauFraction must lie in [0, 1], got ${plateauFraction}`);
  }
  return { tolerance, relativeTolerance, plateauAlpha, plateauFraction };
}

function sortedOrder(alphas: readonly number[]): number[] {
  alphas.forEach((alpha, i) => {
    if (!Number.isFinite(alpha))
      throw badUserInput(`barrierMetrics: alphas must be finite, got ${alpha} at index ${i}`);
  });
  const order = alphas.map((_, i) => i).sort((a, b) => alphas[a]! - alphas[b]!);
  for (let k = 1; k < order.length; k++) {
    if (alphas[order[k]!] === alphas[order[k - 1]!]) {
      throw badUserInput(`barrierMetrics: expected distinct alphas, got ${alphas[order[k]!]} twice`);
    }
  }
  return order;
}

/**
 * Lucas et al.'s bumps, scanned as defined (the curves are short, so the quadratic worst case is moot): the
 * largest Δ and the index of its peak (the first largest value of that bump); 0 and −1 for none.
 */
function largestBump(values: readonly number[]): { delta: number; peak: number } {
  let delta = 0;
  let peakAt = -1;
  for (let start = 0; start + 1 < values.length; start++) {
    const base = values[start]!;
    if (!(values[start + 1]! > base)) continue;
    let peak = start;
    for (let j = start + 1; j < values.length && values[j]! >= base; j++) if (values[j]! > values[peak]!) peak = j;
    if (values[peak]! - base > delta) {
      delta = values[peak]! - base;
      peakAt = peak;
    }
  }
  return { delta, peak: peakAt };
}

/** L(α) by linear interpolation between the neighbouring samples (alphas ascending, α within their range). */
function valueAt(alphas: readonly number[], values: readonly number[], alpha: number): number {
  const hi = alphas.findIndex((a) => a >= alpha);
  if (hi === -1) return values[values.length - 1]!;
  if (alphas[hi] === alpha || hi === 0) return values[hi]!;
  const lo = hi - 1;
  const t = (alpha - alphas[lo]!) / (alphas[hi]! - alphas[lo]!);
  return values[lo]! + t * (values[hi]! - values[lo]!);
}

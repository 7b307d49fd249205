/**
 * Adaptive α around a curve's peaks (issue 17, item 2): given the points of a path evaluated so far, propose the
 * next α to evaluate near each interior local maximum (or minimum), so that the peak's α and height are known to
 * a tolerance with far fewer points than a uniform grid of the same precision.
 *
 * Stateless: every call looks only at the stored points, so refinement can resume after a restart and refined α
 * are ordinary points of the path. Around each interior extremum b with neighbours a < b < c it proposes the
 * vertex of the parabola through (a, b, c) (successive parabolic interpolation) when that vertex lies inside the
 * bracket, at least `tolerance / 64` from every stored α, and does not creep (moves at least CREEP of the bracket's
 * larger side); otherwise the golden-section point of the larger side. A peak is done when its height is known to
 * the tolerance ({@link tentBound}) and either the bracket's half-width (c − a) / 2 is at most `tolerance` or the
 * parabola puts the peak within `tolerance` of b in α. docs/paths.md#adaptive-α-refinement has the numbers.
 */
export interface RefinementOptions {
  /** Absolute tolerance, both on the peak's α and on its height (in the curve's own units). > 0. */
  tolerance: number;
  /** Budget: the most points the path may hold, the grid's included. */
  maxPoints: number;
  /** Refine local maxima (a loss barrier, the default) or local minima. */
  extremum?: 'max' | 'min';
}

export interface CurvePoint {
  alpha: number;
  value: number;
}

export interface RefinementStep {
  /** The α to evaluate next, sorted, none already stored; empty when done. */
  alphas: number[];
  /** 'converged': every interior extremum is known to the tolerance (or there is none); 'budget': maxPoints reached. */
  done: false | 'converged' | 'budget';
  /** The current estimate of each interior extremum: the best stored point (α, value). */
  peaks: CurvePoint[];
}

const GOLDEN = (3 - Math.sqrt(5)) / 2;
/** A parabolic step shorter than this fraction of the bracket's larger side creeps: a golden step is taken instead. */
const CREEP = 0.05;

export function proposeRefinement(points: readonly CurvePoint[], options: RefinementOptions): RefinementStep {
  const { tolerance, maxPoints } = options;
  if (!(tolerance > 0) || !Number.isInteger(maxPoints) || maxPoints < 1)
    throw new RangeError(`refinement: expected tolerance > 0 and an integer maxPoints ≥ 1`);
  const sign = options.extremum === 'min' ? -1 : 1;
  const sorted = points
    .filter((p) => Number.isFinite(p.alpha) && Number.isFinite(p.value))
    .map((p) => ({ alpha: p.alpha, value: sign * p.value }))
    .sort((x, y) => x.alpha - y.alpha);
  const stored = sorted.map((p) => p.alpha);
  const peaks: CurvePoint[] = [];
  const proposals: { alpha: number; height: number }[] = [];
  for (let i = 1; i < sorted.length - 1; i++) {
    const [a, b, c] = [sorted[i - 1]!, sorted[i]!, sorted[i + 1]!];
    if (!(b.value > a.value && b.value >= c.value)) continue;
    peaks.push({ alpha: b.alpha, value: sign * b.value });
    const next = nextAlpha(a, b, c, tolerance, stored);
    if (next !== undefined) proposals.push({ alpha: next, height: b.value });
  }
  const room = maxPoints - points.length;
  if (proposals.length === 0) return { alphas: [], done: 'converged', peaks };
  if (room <= 0) return { alphas: [], done: 'budget', peaks };
  // The highest peaks first when the budget cannot take every proposal.
  const byHeight = [...proposals].sort((x, y) => y.height - x.height).slice(0, room);
  return { alphas: [...new Set(byHeight.map((p) => p.alpha))].sort((x, y) => x - y), done: false, peaks };
}

/** The next α for the bracket a < b < c around the maximum b, or undefined when b is known to the tolerance. */
function nextAlpha(
  a: CurvePoint,
  b: CurvePoint,
  c: CurvePoint,
  tolerance: number,
  stored: readonly number[],
): number | undefined {
  const minGap = tolerance / 64;
  const free = (x: number): boolean => x > a.alpha && x < c.alpha && stored.every((s) => Math.abs(s - x) >= minGap);
  const larger = Math.max(b.alpha - a.alpha, c.alpha - b.alpha);
  const vertex = parabolaVertex(a, b, c);
  const heightKnown = tentBound(a, b, c) - b.value <= tolerance;
  if ((c.alpha - a.alpha) / 2 <= tolerance && heightKnown) return undefined;
  if (vertex !== undefined) {
    const step = Math.abs(vertex.alpha - b.alpha);
    if (step <= tolerance && heightKnown) return undefined;
    if (step >= CREEP * larger && free(vertex.alpha)) return vertex.alpha;
  }
  const golden =
    c.alpha - b.alpha >= b.alpha - a.alpha
      ? b.alpha + GOLDEN * (c.alpha - b.alpha)
      : b.alpha - GOLDEN * (b.alpha - a.alpha);
  return free(golden) ? golden : undefined;
}

/**
 * An upper bound on the curve's maximum over [a, c] when the curve is concave on [a, c]: on [a, b] it lies below
 * the chord through b and c extended leftwards, on [b, c] below the chord through a and b extended rightwards.
 * (Outer points would tighten it but assume concavity further out, which a sharp peak's flanks break.)
 */
function tentBound(a: CurvePoint, b: CurvePoint, c: CurvePoint): number {
  const left = b.value + ((c.value - b.value) / (c.alpha - b.alpha)) * (a.alpha - b.alpha);
  const right = b.value + ((b.value - a.value) / (b.alpha - a.alpha)) * (c.alpha - b.alpha);
  return Math.max(left, right, b.value);
}

/** The vertex of the parabola through three points, when it opens downwards. */
function parabolaVertex(a: CurvePoint, b: CurvePoint, c: CurvePoint): CurvePoint | undefined {
  const d1 = (b.value - a.value) / (b.alpha - a.alpha);
  const d2 = (c.value - b.value) / (c.alpha - b.alpha);
  const curvature = (d2 - d1) / (c.alpha - a.alpha);
  if (!(curvature < 0)) return undefined;
  // p(x) = b.value + d1 (x − b) + curvature (x − a)(x − b); p'(x) = d1 + curvature (2x − a − b) = 0.
  const alpha = (a.alpha + b.alpha) / 2 - d1 / (2 * curvature);
  const value = b.value + d1 * (alpha - b.alpha) + curvature * (alpha - a.alpha) * (alpha - b.alpha);
  return Number.isFinite(alpha) && Number.isFinite(value) ? { alpha, value } : undefined;
}

/** Runs refinement to the end against an evaluator, for tests and benches: returns every point evaluated. */
export function refineCurve(
  grid: readonly number[],
  evaluate: (alpha: number) => number,
  options: RefinementOptions,
): { points: CurvePoint[]; done: 'converged' | 'budget' } {
  const points = grid.map((alpha) => ({ alpha, value: evaluate(alpha) }));
  for (;;) {
    const step = proposeRefinement(points, options);
    if (step.done !== false) return { points, done: step.done };
    points.push(...step.alphas.map((alpha) => ({ alpha, value: evaluate(alpha) })));
  }
}

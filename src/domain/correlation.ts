import { badUserInput } from '../errors.js';
import { SeededRandom } from './random.js';

/*
 * Rule for undefined quantities: a coefficient is null (never NaN) when n < 3 or either variable is constant
 * (zero variance: all values equal). Inputs must be finite numbers of equal length (BAD_USER_INPUT otherwise);
 * leave out undefined observations (e.g. a null barrier height) before correlating.
 */

const DEFAULT_PERMUTATIONS = 10_000;
const DEFAULT_BOOTSTRAP = 2_000;
/** Fixed so that p-values and intervals are reproducible run to run. */
export const DEFAULT_CORRELATION_SEED = 20_220_101;

export interface CorrelationOptions {
  /** Permutations for the p-value; 0 leaves pValue null. Default {@link DEFAULT_PERMUTATIONS}. */
  permutations?: number;
  /** Bootstrap resamples for ci95; 0 leaves ci95 null. Default {@link DEFAULT_BOOTSTRAP}. */
  bootstrap?: number;
  /** Seed of the permutations; the bootstrap uses seed + 1. Default {@link DEFAULT_CORRELATION_SEED}. */
  seed?: number;
}

export interface CorrelationResult {
  n: number;
  pearson: number | null;
  spearman: number | null;
  kendall: number | null;
  /** Two-sided permutation p-value of Pearson's r; null when r is. */
  pValue: number | null;
  /** 95% percentile-bootstrap interval of Pearson's r; null when r is, or no resample has two distinct x and y. */
  ci95: { low: number; high: number } | null;
}

/** Pearson's r = Σ(x−x̄)(y−ȳ) / √(Σ(x−x̄)² Σ(y−ȳ)²) (two-pass, float64), clamped to [−1, 1]; null when n < 3 or a variable is constant. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  checkPairs(x, y);
  return pearsonOf(x, y);
}

/** Spearman's ρ: Pearson's r of the ranks, ties given their average rank (as scipy.stats.spearmanr); null as for Pearson. */
export function spearman(x: readonly number[], y: readonly number[]): number | null {
  checkPairs(x, y);
  return pearsonOf(averageRanks(x), averageRanks(y));
}

/**
 * Kendall's τ_b = (C − D) / √((n₀ − n₁)(n₀ − n₂)), n₀ = n(n−1)/2, C and D the concordant and discordant pairs,
 * n₁ and n₂ the pairs tied in x and in y (Kendall 1945; scipy.stats.kendalltau's default); null as for Pearson.
 * Counted in O(n log n) (Knight 1966): C − D = n₀ − n₁ − n₂ + n₃ − 2D, n₃ the pairs tied in both, D the
 * inversions of y in (x, y) order — the same integers as comparing every pair, so the same τ_b.
 */
export function kendall(x: readonly number[], y: readonly number[]): number | null {
  checkPairs(x, y);
  return kendallOf(x, y);
}

function kendallOf(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n < 3 || isConstant(x) || isConstant(y)) return null;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a]! - x[b]! || y[a]! - y[b]!);
  let tiedX = 0;
  let tiedBoth = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && x[order[end]!] === x[order[start]!]) end++;
    tiedX += ((end - start) * (end - start - 1)) / 2;
    for (let run = start; run < end;) {
      let stop = run + 1;
      while (stop < end && y[order[stop]!] === y[order[run]!]) stop++;
      tiedBoth += ((stop - run) * (stop - run - 1)) / 2;
      run = stop;
    }
    start = end;
  }
  const ys = Float64Array.from(order, (i) => y[i]!);
  const discordant = sortCountingInversions(ys);
  let tiedY = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && ys[end] === ys[start]) end++;
    tiedY += ((end - start) * (end - start - 1)) / 2;
    start = end;
  }
  const pairs = (n * (n - 1)) / 2;
  const difference = pairs - tiedX - tiedY + tiedBoth - 2 * discordant;
  return clamp(difference / Math.sqrt((pairs - tiedX) * (pairs - tiedY)));
}

/** Sorts `values` ascending (bottom-up merge sort) and returns the pairs i < j with values[i] > values[j]. */
function sortCountingInversions(values: Float64Array): number {
  const n = values.length;
  let from: Float64Array = values;
  let to: Float64Array = new Float64Array(n);
  let inversions = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let left = 0; left < n; left += 2 * width) {
      const middle = Math.min(left + width, n);
      const right = Math.min(left + 2 * width, n);
      let i = left;
      let j = middle;
      let k = left;
      while (i < middle && j < right) {
        if (from[i]! <= from[j]!) to[k++] = from[i++]!;
        else {
          inversions += middle - i;
          to[k++] = from[j++]!;
        }
      }
      while (i < middle) to[k++] = from[i++]!;
      while (j < right) to[k++] = from[j++]!;
    }
    [from, to] = [to, from];
  }
  if (from !== values) values.set(from);
  return inversions;
}

/**
 * Pearson, Spearman and Kendall coefficients of paired observations, with
 * - pValue: two-sided permutation test of Pearson's r — y is shuffled `permutations` times (seeded
 *   Fisher–Yates), count = #{|r_π| ≥ |r|} (ties within 1e-12 count), p = (count + 1) / (permutations + 1)
 *   (Phipson & Smyth 2010: never 0);
 * - ci95: percentile bootstrap of Pearson's r — `bootstrap` resamples of n pairs drawn with replacement;
 *   resamples in which x or y is constant are skipped; low/high are the 2.5% and 97.5% quantiles, linearly
 *   interpolated between order statistics (numpy's default).
 * Both are deterministic for a given seed. Null rules as for {@link pearson}.
 */
export function correlate(
  x: readonly number[],
  y: readonly number[],
  options: CorrelationOptions = {},
): CorrelationResult {
  const steps = correlationSteps(x, y, options);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/** About how many elementary steps (draws, products) {@link correlationSteps} does between two yields. */
export const STEPS_PER_SLICE = 1 << 16;

/**
 * {@link correlate} in slices: the generator yields after about {@link STEPS_PER_SLICE} steps of its
 * permutations and resamples (a few milliseconds), so that a caller on a server's thread can let other work
 * run between slices; its return value is correlate's result, identical for the same seed.
 */
export function* correlationSteps(
  x: readonly number[],
  y: readonly number[],
  options: CorrelationOptions = {},
): Generator<void, CorrelationResult, void> {
  checkPairs(x, y);
  const permutations = options.permutations ?? DEFAULT_PERMUTATIONS;
  const bootstrap = options.bootstrap ?? DEFAULT_BOOTSTRAP;
  const seed = options.seed ?? DEFAULT_CORRELATION_SEED;
  if (!Number.isSafeInteger(permutations) || permutations < 0) {
    throw badUserInput(`correlate: permutations must be an integer ≥ 0, got ${permutations}`);
  }
  if (!Number.isSafeInteger(bootstrap) || bootstrap < 0) {
    throw badUserInput(`correlate: bootstrap must be an integer ≥ 0, got ${bootstrap}`);
  }
  if (!Number.isSafeInteger(seed)) throw badUserInput(`correlate: seed must be an integer, got ${seed}`);

  const r = pearsonOf(x, y);
  const coefficients = {
    n: x.length,
    pearson: r,
    spearman: pearsonOf(averageRanks(x), averageRanks(y)),
    kendall: kendallOf(x, y),
  };
  const pValue = r === null || permutations === 0 ? null : yield* permutationPValue(x, y, r, permutations, seed);
  const ci95 = r === null || bootstrap === 0 ? null : yield* bootstrapInterval(x, y, bootstrap, seed + 1);
  return { ...coefficients, pValue, ci95 };
}

function* permutationPValue(
  x: readonly number[],
  y: readonly number[],
  r: number,
  permutations: number,
  seed: number,
): Generator<void, number, void> {
  // r_π = Σ dx_i·dy_π(i) / (‖dx‖‖dy‖): the centred vectors and their norms do not change under shuffling.
  const { centred: dx, norm: nx } = centre(x);
  const { centred: dy, norm: ny } = centre(y);
  const scale = nx * ny;
  const bar = Math.abs(r) - 1e-12 * Math.max(1, Math.abs(r));
  const random = new SeededRandom(seed);
  const order = new Int32Array(dx.length);
  let count = 0;
  let steps = 0;
  for (let p = 0; p < permutations; p++) {
    random.shuffleIdentity(order);
    let dot = 0;
    for (let i = 0; i < dx.length; i++) dot += dx[i]! * dy[order[i]!]!;
    if (Math.abs(dot / scale) >= bar) count++;
    steps += dx.length;
    if (steps >= STEPS_PER_SLICE) {
      steps = 0;
      yield;
    }
  }
  return (count + 1) / (permutations + 1);
}

function* bootstrapInterval(
  x: readonly number[],
  y: readonly number[],
  resamples: number,
  seed: number,
): Generator<void, { low: number; high: number } | null, void> {
  const n = x.length;
  const random = new SeededRandom(seed);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  const estimates: number[] = [];
  let steps = 0;
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) {
      const k = Math.floor(random.next() * n);
      xs[i] = x[k]!;
      ys[i] = y[k]!;
    }
    const r = pearsonOf(xs, ys);
    if (r !== null) estimates.push(r);
    steps += n;
    if (steps >= STEPS_PER_SLICE) {
      steps = 0;
      yield;
    }
  }
  if (estimates.length === 0) return null;
  estimates.sort((a, b) => a - b);
  return { low: quantile(estimates, 0.025), high: quantile(estimates, 0.975) };
}

function checkPairs(x: readonly number[], y: readonly number[]): void {
  if (x.length !== y.length)
    throw badUserInput(`correlation: expected paired observations, got ${x.length} x and ${y.length} y values`);
  for (const [name, values] of [
    ['x', x],
    ['y', y],
  ] as const) {
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad !== -1) throw badUserInput(`correlation: ${name}[${bad}] must be a finite number, got ${values[bad]}`);
  }
}

/**
 * r from the two-pass sums, fused: the means, then Σdx², Σdy² and Σdx·dy in one pass over dx = x − x̄, dy = y − ȳ
 * (the same floating-point operations in the same order as centring each vector first, so the same r).
 */
function pearsonOf(x: ArrayLike<number>, y: ArrayLike<number>): number | null {
  const n = x.length;
  if (n < 3 || isConstant(x) || isConstant(y)) return null;
  let sumX = 0;
  let sumY = 0;
  for (let i = 0; i < n; i++) {
    sumX += x[i]!;
    sumY += y[i]!;
  }
  const meanX = sumX / n;
  const meanY = sumY / n;
  let xx = 0;
  let yy = 0;
  let dot = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - meanX;
    const dy = y[i]! - meanY;
    xx += dx * dx;
    yy += dy * dy;
    dot += dx * dy;
  }
  const r = dot / (Math.sqrt(xx) * Math.sqrt(yy));
  // Spreads so small that their squares underflow leave r undefined rather than NaN.
  return Number.isFinite(r) ? clamp(r) : null;
}

function centre(values: readonly number[]): { centred: Float64Array; norm: number } {
  let total = 0;
  for (const v of values) total += v;
  const mean = total / values.length;
  const centred = Float64Array.from(values, (v) => v - mean);
  let squares = 0;
  for (const d of centred) squares += d * d;
  return { centred, norm: Math.sqrt(squares) };
}

/** Exact equality, not a small variance: the mean of equal values need not equal them in floating point. */
function isConstant(values: ArrayLike<number>): boolean {
  for (let i = 1; i < values.length; i++) if (values[i] !== values[0]) return false;
  return true;
}

const clamp = (r: number): number => Math.min(1, Math.max(-1, r));

/** 1-based ranks; a run of ties gets the average of the ranks it spans. */
function averageRanks(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) ranks[order[k]!] = rank;
    start = end;
  }
  return ranks;
}

/** Quantile q of ascending values, linear between order statistics (numpy's default, Hyndman & Fan type 7). */
function quantile(sorted: readonly number[], q: number): number {
  const position = q * (sorted.length - 1);
  const lo = Math.floor(position);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (position - lo) * (sorted[hi]! - sorted[lo]!);
}

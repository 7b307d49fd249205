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
 */
export function kendall(x: readonly number[], y: readonly number[]): number | null {
  checkPairs(x, y);
  const n = x.length;
  if (n < 3 || isConstant(x) || isConstant(y)) return null;
  let concordant = 0;
  let discordant = 0;
  let tiedX = 0;
  let tiedY = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = x[i]! - x[j]!;
      const dy = y[i]! - y[j]!;
      if (dx === 0) tiedX++;
      if (dy === 0) tiedY++;
      if (dx !== 0 && dy !== 0) {
        if (dx > 0 === dy > 0) concordant++;
        else discordant++;
      }
    }
  }
  const pairs = (n * (n - 1)) / 2;
  return clamp((concordant - discordant) / Math.sqrt((pairs - tiedX) * (pairs - tiedY)));
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
  return {
    n: x.length,
    pearson: r,
    spearman: spearman(x, y),
    kendall: kendall(x, y),
    pValue: r === null || permutations === 0 ? null : permutationPValue(x, y, r, permutations, seed),
    ci95: r === null || bootstrap === 0 ? null : bootstrapInterval(x, y, bootstrap, seed + 1),
  };
}

function permutationPValue(
  x: readonly number[],
  y: readonly number[],
  r: number,
  permutations: number,
  seed: number,
): number {
  // r_π = Σ dx_i·dy_π(i) / (‖dx‖‖dy‖): the centred vectors and their norms do not change under shuffling.
  const { centred: dx, norm: nx } = centre(x);
  const { centred: dy, norm: ny } = centre(y);
  const scale = nx * ny;
  const bar = Math.abs(r) - 1e-12 * Math.max(1, Math.abs(r));
  const random = new SeededRandom(seed);
  let count = 0;
  for (let p = 0; p < permutations; p++) {
    const order = random.permutation(dx.length);
    let dot = 0;
    for (let i = 0; i < dx.length; i++) dot += dx[i]! * dy[order[i]!]!;
    if (Math.abs(dot / scale) >= bar) count++;
  }
  return (count + 1) / (permutations + 1);
}

function bootstrapInterval(
  x: readonly number[],
  y: readonly number[],
  resamples: number,
  seed: number,
): { low: number; high: number } | null {
  const n = x.length;
  const random = new SeededRandom(seed);
  const xs = new Array<number>(n);
  const ys = new Array<number>(n);
  const estimates: number[] = [];
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) {
      const k = Math.floor(random.next() * n);
      xs[i] = x[k]!;
      ys[i] = y[k]!;
    }
    const r = pearsonOf(xs, ys);
    if (r !== null) estimates.push(r);
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

function pearsonOf(x: readonly number[], y: readonly number[]): number | null {
  if (x.length < 3 || isConstant(x) || isConstant(y)) return null;
  const { centred: dx, norm: nx } = centre(x);
  const { centred: dy, norm: ny } = centre(y);
  let dot = 0;
  for (let i = 0; i < dx.length; i++) dot += dx[i]! * dy[i]!;
  const r = dot / (nx * ny);
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
const isConstant = (values: readonly number[]): boolean => values.every((v) => v === values[0]);

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

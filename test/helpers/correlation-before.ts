/*
 * linpath's correlation statistics exactly as they were before they were made fast (commit 5f17452:
 * src/domain/correlation.ts with src/domain/random.ts's BigInt SplitMix64): O(n²) Kendall, a fresh array per
 * permutation and per bootstrap resample. Kept as the oracle that the fast code returns the same numbers, bit for
 * bit (test/domain/correlation.test.ts); input checks left out.
 */

import {
  DEFAULT_CORRELATION_SEED,
  type CorrelationOptions,
  type CorrelationResult,
} from '../../src/domain/correlation.js';

class BigIntSplitMix64 {
  private state: bigint;
  constructor(seed: number) {
    this.state = BigInt.asUintN(64, BigInt(seed));
  }
  next(): number {
    this.state = BigInt.asUintN(64, this.state + 0x9e3779b97f4a7c15n);
    let z = this.state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    z ^= z >> 31n;
    return Number(z >> 11n) / 2 ** 53;
  }
  permutation(n: number): Int32Array {
    const order = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }
}

export function kendallBefore(x: readonly number[], y: readonly number[]): number | null {
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
export function correlateBefore(
  x: readonly number[],
  y: readonly number[],
  options: CorrelationOptions = {},
): CorrelationResult {
  const permutations = options.permutations ?? 10_000;
  const bootstrap = options.bootstrap ?? 2_000;
  const seed = options.seed ?? DEFAULT_CORRELATION_SEED;

  const r = pearsonOf(x, y);
  return {
    n: x.length,
    pearson: r,
    spearman: pearsonOf(averageRanks(x), averageRanks(y)),
    kendall: kendallBefore(x, y),
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
  const random = new BigIntSplitMix64(seed);
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
  const random = new BigIntSplitMix64(seed);
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

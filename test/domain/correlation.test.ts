import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CORRELATION_SEED,
  STEPS_PER_SLICE,
  correlate,
  correlationSteps,
  kendall,
  pearson,
  spearman,
} from '../../src/domain/correlation.js';
import { SeededRandom } from '../../src/domain/random.js';
import { ErrorCode } from '../../src/errors.js';
import { correlateBefore, kendallBefore } from '../helpers/correlation-before.js';

/* Independent references: textbook formulas written differently from the implementation. */

/** r = (nΣxy − ΣxΣy) / √((nΣx² − (Σx)²)(nΣy² − (Σy)²)): the one-pass textbook form. */
function textbookPearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  let sx = 0,
    sy = 0,
    sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < n; i++) {
    sx += x[i]!;
    sy += y[i]!;
    sxy += x[i]! * y[i]!;
    sxx += x[i]! ** 2;
    syy += y[i]! ** 2;
  }
  return (n * sxy - sx * sy) / Math.sqrt((n * sxx - sx ** 2) * (n * syy - sy ** 2));
}

/** rank_i = #{j: v_j < v_i} + (#{j: v_j = v_i} + 1) / 2, by counting (O(n²)). */
const countingRanks = (v: readonly number[]): number[] =>
  v.map((vi) => v.filter((vj) => vj < vi).length + (v.filter((vj) => vj === vi).length + 1) / 2);

/** τ_b = Σ_{i<j} sgn(Δx)sgn(Δy) / √(Σ_{i<j} sgn(Δx)² · Σ_{i<j} sgn(Δy)²). */
function signKendall(x: readonly number[], y: readonly number[]): number {
  let s = 0,
    tx = 0,
    ty = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      const a = Math.sign(x[i]! - x[j]!);
      const b = Math.sign(y[i]! - y[j]!);
      s += a * b;
      tx += a * a;
      ty += b * b;
    }
  }
  return s / Math.sqrt(tx * ty);
}

function permutationsOf(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutationsOf(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, k) => [...p.slice(0, k), n - 1, ...p.slice(k)]),
  );
}

const expectBadInput = (fn: () => unknown, message: RegExp): void => {
  expect(fn).toThrow(message);
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe(ErrorCode.BAD_USER_INPUT);
  }
};

// A textbook-style sample with ties in both variables; expected values from scipy 1.17 (pearsonr, spearmanr,
// kendalltau with its default tau-b).
const tiedX = [1, 2, 2, 3, 4, 4, 4, 5];
const tiedY = [2, 1, 3, 3, 5, 4, 6, 6];
// Spearman's Wikipedia example (IQ vs hours of TV per week): ρ = −29/165, no ties.
const iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110];
const tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17];

describe('pearson, spearman, kendall', () => {
  it('are 1 for a perfectly monotone relation and −1 reversed (Pearson only for a linear one)', () => {
    const x = [1, 2, 3, 4, 5, 6];
    const cubed = x.map((v) => v ** 3);
    expect(spearman(x, cubed)).toBe(1);
    expect(kendall(x, cubed)).toBe(1);
    expect(pearson(x, cubed)!).toBeLessThan(1);
    expect(
      pearson(
        x,
        x.map((v) => 2 * v + 1),
      ),
    ).toBeCloseTo(1, 15);
    const reversed = cubed.map((v) => -v);
    expect(spearman(x, reversed)).toBe(-1);
    expect(kendall(x, reversed)).toBe(-1);
    expect(
      pearson(
        x,
        x.map((v) => 7 - 3 * v),
      ),
    ).toBeCloseTo(-1, 15);
  });

  it('match scipy and independent formulas on a sample with ties', () => {
    expect(pearson(tiedX, tiedY)).toBeCloseTo(0.8767227853705732, 14);
    expect(spearman(tiedX, tiedY)).toBeCloseTo(0.9007775105401477, 14);
    expect(kendall(tiedX, tiedY)).toBeCloseTo(0.8006407690254358, 14);
    expect(pearson(tiedX, tiedY)).toBeCloseTo(textbookPearson(tiedX, tiedY), 13);
    expect(spearman(tiedX, tiedY)).toBeCloseTo(textbookPearson(countingRanks(tiedX), countingRanks(tiedY)), 13);
    expect(kendall(tiedX, tiedY)).toBeCloseTo(signKendall(tiedX, tiedY), 14);
  });

  it("match Spearman's Wikipedia example", () => {
    expect(spearman(iq, tv)).toBeCloseTo(-29 / 165, 14);
    expect(kendall(iq, tv)).toBeCloseTo(signKendall(iq, tv), 14);
    expect(pearson(iq, tv)).toBeCloseTo(textbookPearson(iq, tv), 13);
  });

  it('match the independent formulas on random samples with many ties', () => {
    const random = new SeededRandom(5);
    for (let trial = 0; trial < 50; trial++) {
      const n = 3 + Math.floor(random.next() * 30);
      const x = Array.from({ length: n }, () => Math.floor(random.next() * 5));
      const y = Array.from({ length: n }, (_, i) => x[i]! + Math.floor(random.next() * 4));
      if (new Set(x).size < 2 || new Set(y).size < 2) continue;
      expect(spearman(x, y)).toBeCloseTo(textbookPearson(countingRanks(x), countingRanks(y)), 12);
      expect(kendall(x, y)).toBeCloseTo(signKendall(x, y), 14);
    }
  });

  it('are null, never NaN, for n < 3 or a constant variable', () => {
    expect(pearson([1, 2], [3, 4])).toBeNull();
    expect(spearman([1, 2], [3, 4])).toBeNull();
    expect(kendall([1, 2], [3, 4])).toBeNull();
    // 0.1 + 0.1 + 0.1 ≠ 0.3: a near-zero variance from rounding must not count as a variance.
    expect(pearson([0.1, 0.1, 0.1], [1, 2, 3])).toBeNull();
    expect(spearman([1, 2, 3], [5, 5, 5])).toBeNull();
    expect(kendall([1, 2, 3], [5, 5, 5])).toBeNull();
  });

  it('reject unpaired or non-finite data as BAD_USER_INPUT', () => {
    expectBadInput(() => pearson([1, 2, 3], [1, 2]), /got 3 x and 2 y values/);
    expectBadInput(() => spearman([1, Number.NaN, 3], [1, 2, 3]), /x\[1\] must be a finite number, got NaN/);
    expectBadInput(() => kendall([1, 2, 3], [1, 2, Number.POSITIVE_INFINITY]), /y\[2\]/);
  });
});

describe('correlate', () => {
  const random = new SeededRandom(3);
  const x20 = Array.from({ length: 20 }, (_, i) => i + random.next());
  const strong = x20.map((v) => 0.5 * v + random.uniform(-1, 1));
  const independent = Array.from({ length: 20 }, () => random.next());

  it('reports the three coefficients, a permutation p-value and a bootstrap interval', () => {
    const result = correlate(x20, strong);
    expect(result.n).toBe(20);
    expect(result.pearson).toBe(pearson(x20, strong));
    expect(result.spearman).toBe(spearman(x20, strong));
    expect(result.kendall).toBe(kendall(x20, strong));
    expect(result.pearson!).toBeGreaterThan(0.9);
    // No shuffle of 10 000 reaches r > 0.9 with n = 20: p = 1 / 10 001.
    expect(result.pValue).toBe(1 / 10_001);
    expect(result.ci95!.low).toBeLessThanOrEqual(result.pearson!);
    expect(result.ci95!.high).toBeGreaterThanOrEqual(result.pearson!);
    expect(result.ci95!.low).toBeGreaterThan(0.8);
    expect(result.ci95!.high).toBeLessThanOrEqual(1);
  });

  it('gives a large p-value and an interval around 0 for independent samples', () => {
    const result = correlate(x20, independent);
    expect(Math.abs(result.pearson!)).toBeLessThan(0.3);
    expect(result.pValue!).toBeGreaterThan(0.2);
    expect(result.ci95!.low).toBeLessThan(result.pearson!);
    expect(result.ci95!.high).toBeGreaterThan(result.pearson!);
    expect(result.ci95!.low).toBeLessThan(0);
    expect(result.ci95!.high).toBeGreaterThan(0);
  });

  it('agrees with the exact permutation distribution (all 720 orders of 6 points)', () => {
    const x = [0.3, 1.1, 1.9, 3.2, 3.8, 5.1];
    const y = [1.2, 0.4, 2.5, 1.9, 3.6, 2.8];
    const r = pearson(x, y)!;
    const all = permutationsOf(6);
    const exact =
      all.filter(
        (p) =>
          Math.abs(
            textbookPearson(
              x,
              p.map((k) => y[k]!),
            ),
          ) >=
          Math.abs(r) - 1e-9,
      ).length / all.length;
    const { pValue } = correlate(x, y);
    expect(Math.abs(pValue! - exact)).toBeLessThan(0.02); // binomial sd ≤ 0.005 at 10 000 permutations
  });

  it('is deterministic: the same seed gives the same p-value and interval', () => {
    const a = correlate(x20, independent);
    const b = correlate(x20, independent, { seed: DEFAULT_CORRELATION_SEED });
    expect(b).toEqual(a);
    const c = correlate(x20, independent, { seed: 99 });
    expect(c.pearson).toBe(a.pearson);
    expect(c.pValue).not.toBe(a.pValue);
    expect(correlate(x20, independent, { seed: 99 })).toEqual(c);
  });

  it('reports null p-value and interval where Pearson is null, or when asked for none', () => {
    expect(correlate([1, 2], [2, 1])).toEqual({
      n: 2,
      pearson: null,
      spearman: null,
      kendall: null,
      pValue: null,
      ci95: null,
    });
    expect(correlate([1, 1, 1, 1], [1, 2, 3, 4]).pValue).toBeNull();
    const none = correlate(x20, strong, { permutations: 0, bootstrap: 0 });
    expect(none.pValue).toBeNull();
    expect(none.ci95).toBeNull();
    expect(none.pearson).not.toBeNull();
  });

  it('skips bootstrap resamples with a constant variable and never returns NaN', () => {
    const result = correlate([1, 2, 3], [1, 3, 2], { bootstrap: 500 });
    expect(result.pearson).toBeCloseTo(0.5, 14);
    expect(Number.isNaN(result.ci95!.low) || Number.isNaN(result.ci95!.high)).toBe(false);
    expect(result.ci95!.low).toBeGreaterThanOrEqual(-1);
    expect(result.ci95!.high).toBeLessThanOrEqual(1);
  });

  it('rejects invalid options as BAD_USER_INPUT', () => {
    expectBadInput(() => correlate(x20, strong, { permutations: -1 }), /permutations must be an integer ≥ 0, got -1/);
    expectBadInput(() => correlate(x20, strong, { bootstrap: 1.5 }), /bootstrap/);
    expectBadInput(() => correlate(x20, strong, { seed: Number.NaN }), /seed/);
  });

  it('answers 12 points with the default 10 000 permutations and 2 000 resamples', () => {
    // Its speed is the benchmark's to measure, not a timed assertion's (it failed on loaded machines).
    const x = Array.from({ length: 12 }, (_, i) => i);
    const y = x.map((v) => Math.sin(v));
    const result = correlate(x, y);
    expect(result.pValue).toBeGreaterThan(0);
    expect(result.pValue).toBeLessThanOrEqual(1);
    expect(result.ci95!.low).toBeLessThanOrEqual(result.ci95!.high);
  });
});

describe('correlate, fast, against the code it replaced (test/helpers/correlation-before.ts)', () => {
  /** Samples of the kinds correlations meet: continuous, heavily tied (both and one variable), rounded, constant. */
  function samples(): Array<{ x: number[]; y: number[] }> {
    const random = new SeededRandom(77);
    const out: Array<{ x: number[]; y: number[] }> = [];
    for (const n of [3, 4, 7, 20, 61, 250, 1_001]) {
      const x = Array.from({ length: n }, () => random.uniform(-1, 1));
      out.push({ x, y: x.map((v) => 0.3 * v + random.uniform(-1, 1)) });
      const tx = Array.from({ length: n }, () => Math.floor(random.next() * 4));
      out.push({ x: tx, y: tx.map((v) => v + Math.floor(random.next() * 3)) });
      out.push({ x: tx, y: Array.from({ length: n }, () => random.next()) });
      out.push({ x: x.map((v) => Math.round(v * 10) / 10), y: x.map((v) => -Math.round(v * 5)) });
      out.push({ x, y: x.map(() => 0.25) });
      out.push({ x: x.map((v, i) => (i % 2 === 0 ? -0 : 0) + Math.round(v)), y: x });
    }
    return out;
  }

  it('returns the same numbers, bit for bit, with the default and other statistics options', () => {
    for (const [k, { x, y }] of samples().entries()) {
      const options = x.length > 7 ? { permutations: 400, bootstrap: 300, seed: k } : { seed: k };
      expect({ k, result: correlate(x, y, options) }).toEqual({ k, result: correlateBefore(x, y, options) });
    }
    const { x, y } = samples()[0]!;
    expect(correlate(x, y)).toEqual(correlateBefore(x, y));
    expect(correlate(x, y, { permutations: 0, bootstrap: 7 })).toEqual(
      correlateBefore(x, y, { permutations: 0, bootstrap: 7 }),
    );
  });

  it("counts Kendall's pairs in O(n log n) to the same τ_b as comparing every pair", () => {
    for (const { x, y } of samples()) {
      expect(kendall(x, y)).toBe(kendallBefore(x, y));
      expect(kendall(y, x)).toBe(kendallBefore(y, x));
    }
    const random = new SeededRandom(8);
    const x = Array.from({ length: 4_000 }, () => Math.floor(random.next() * 50));
    const y = x.map((v) => v + Math.floor(random.next() * 30));
    expect(kendall(x, y)).toBe(kendallBefore(x, y));
    expect(kendall(x, y)).toBeCloseTo(signKendall(x, y), 14);
  });

  it('slices its work: correlationSteps yields between slices and returns correlate’s result', () => {
    const { x, y } = samples().at(-6)!; // n = 1 001
    const steps = correlationSteps(x, y, { permutations: 1_000, bootstrap: 500 });
    let slices = 0;
    let step = steps.next();
    for (; step.done !== true; step = steps.next()) slices++;
    // 1 000 permutations and 500 resamples of 1 001 pairs: 1 501 501 steps, a slice per STEPS_PER_SLICE or so.
    expect(slices).toBe(
      Math.floor(1_000 / Math.ceil(STEPS_PER_SLICE / 1_001)) + Math.floor(500 / Math.ceil(STEPS_PER_SLICE / 1_001)),
    );
    expect(step.value).toEqual(correlate(x, y, { permutations: 1_000, bootstrap: 500 }));
  });
});

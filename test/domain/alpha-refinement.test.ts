import { describe, expect, it } from 'vitest';
import { proposeRefinement, refineCurve } from '../../src/domain/alpha-refinement.js';

const grid = (n: number): number[] => Array.from({ length: n }, (_, i) => i / (n - 1));
const best = (points: { value: number }[], sense: 1 | -1 = 1): number =>
  sense * points.reduce((m, p) => Math.max(m, sense * p.value), -Infinity);
/** The true extremum, on a grid of 200 001 points (exact for these curves' peaks to ~1e-9). */
const truth = (f: (a: number) => number, sense: 1 | -1 = 1): number =>
  best(
    grid(200_001).map((alpha) => ({ value: f(alpha) })),
    sense,
  );
/**
 * The smallest n from which every uniform grid of n … n + 20 points on [0, 1] has its best point within tol of the
 * true extremum (the smallest single n that does can be a lucky alignment of the peak with a grid point).
 */
function uniformPointsFor(f: (a: number) => number, peak: number, tol: number, sense: 1 | -1 = 1): number {
  const reaches = (n: number): boolean =>
    Math.abs(
      best(
        grid(n).map((alpha) => ({ value: f(alpha) })),
        sense,
      ) - peak,
    ) <= tol;
  for (let n = 3; n < 10_000; n++) if (Array.from({ length: 21 }, (_, k) => n + k).every(reaches)) return n;
  throw new Error('no grid found');
}
const bump = (a: number): number =>
  1 - a + (a < 0.3137 ? Math.exp(-(((a - 0.3137) / 0.02) ** 2)) : Math.exp(-(((a - 0.3137) / 0.15) ** 2)));

describe('proposeRefinement', () => {
  it.each([
    ['a parabola', (a: number): number => 1 - 40 * (a - 0.37) ** 2],
    ['a sharp asymmetric bump on a falling line', bump],
  ])('pins the peak of %s within the tolerance with fewer points than a uniform grid', (_name, f) => {
    const peak = truth(f);
    for (const tolerance of [1e-2, 1e-3, 1e-4]) {
      const { points, done } = refineCurve(grid(11), f, { tolerance, maxPoints: 64 });
      expect(done).toBe('converged');
      expect(Math.abs(best(points) - peak)).toBeLessThanOrEqual(tolerance);
      // Numbers (refined from 11 vs uniform): parabola 15/25, 17/98, 19/298; bump 24/92, 28/571, 30/2396 for
      // tolerances 1e-2, 1e-3, 1e-4 (docs/paths.md); the 1e-4 uniform grids take seconds to find, so they are not rerun.
      if (tolerance === 1e-3) expect(points.length).toBeLessThan(uniformPointsFor(f, peak, tolerance) / 3);
    }
  });

  it('refines each of two peaks, and minima when asked', () => {
    const f = (a: number): number => Math.sin(4 * Math.PI * a + 0.3);
    const tol = 1e-4;
    const maxima = refineCurve(grid(11), f, { tolerance: tol, maxPoints: 64 });
    expect(maxima.done).toBe('converged');
    const peaks = proposeRefinement(maxima.points, { tolerance: tol, maxPoints: 64 }).peaks;
    expect(peaks).toHaveLength(2);
    for (const p of peaks) expect(p.value).toBeGreaterThan(1 - tol);
    const minima = refineCurve(grid(11), f, { tolerance: tol, maxPoints: 64, extremum: 'min' });
    expect(best(minima.points, -1)).toBeLessThan(-1 + tol);
    expect(minima.points.length).toBeLessThan(uniformPointsFor(f, -1, tol, -1));
    expect(maxima.points.length).toBeLessThan(uniformPointsFor(f, 1, tol));
  });

  it('stops at the budget and proposes only new α', () => {
    const f = (a: number): number => (Math.abs(a - 0.4137) < 1e-9 ? 1 : 1 - Math.sqrt(Math.abs(a - 0.4137)));
    const { points, done } = refineCurve(grid(11), f, { tolerance: 1e-9, maxPoints: 20 });
    expect(done).toBe('budget');
    expect(points).toHaveLength(20);
    expect(new Set(points.map((p) => p.alpha)).size).toBe(20);
    expect(proposeRefinement(points, { tolerance: 1e-9, maxPoints: 20 })).toMatchObject({ alphas: [], done: 'budget' });
  });

  it('has nothing to refine on a monotonic curve, and refuses bad options', () => {
    expect(
      proposeRefinement(
        grid(11).map((alpha) => ({ alpha, value: 1 - alpha })),
        { tolerance: 1e-3, maxPoints: 64 },
      ),
    ).toEqual({ alphas: [], done: 'converged', peaks: [] });
    expect(() => proposeRefinement([], { tolerance: 0, maxPoints: 64 })).toThrow(RangeError);
    expect(() => proposeRefinement([], { tolerance: 1e-3, maxPoints: 0 })).toThrow(RangeError);
  });
});

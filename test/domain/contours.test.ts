import { describe, expect, it } from 'vitest';
import { contourLines, contours, type GridValues, type Point } from '../../src/domain/contours.js';

/** f sampled on xs × ys, row by row (values[j · nx + i] = f(xs[i], ys[j])). */
const sample = (xs: number[], ys: number[], f: (x: number, y: number) => number | null): GridValues => ({
  xs,
  ys,
  values: ys.flatMap((y) => xs.map((x) => f(x, y))),
});
const range = (low: number, high: number, n: number) =>
  Array.from({ length: n }, (_, k) => low + ((high - low) * k) / (n - 1));
/** Twice the signed area (shoelace) of a closed polyline. */
const area = (points: Point[]) =>
  points.slice(1).reduce((sum, p, k) => sum + points[k]!.x * p.y - p.x * points[k]!.y, 0) / 2;

describe('contourLines (marching squares)', () => {
  it('places every point of a linear function’s contour exactly on the level, on an uneven grid', () => {
    const xs = [-1, -0.7, -0.2, 0, 0.45, 1, 1.3];
    const ys = [-2, -1.1, 0, 0.3, 1.8];
    const f = (x: number, y: number) => 2 * x + 3 * y;
    const grid = sample(xs, ys, f);
    for (const level of [-4.5, -1, 0, 0.25, 3.3]) {
      const lines = contourLines(grid, level);
      // A straight line crosses the rectangle once: one open polyline from one side of the grid to another.
      expect(lines).toHaveLength(1);
      expect(lines[0]!.closed).toBe(false);
      for (const p of lines[0]!.points) expect(f(p.x, p.y)).toBeCloseTo(level, 12);
      const onBoundary = (p: Point) => [xs[0], xs.at(-1)].includes(p.x) || [ys[0], ys.at(-1)].includes(p.y);
      expect(onBoundary(lines[0]!.points[0]!)).toBe(true);
      expect(onBoundary(lines[0]!.points.at(-1)!)).toBe(true);
    }
  });

  it('closes a circle of x² + y² = r², within the interpolation error, with the circle’s area', () => {
    const axis = range(-1, 1, 41); // h = 0.05
    const grid = sample(axis, axis, (x, y) => x * x + y * y);
    for (const r of [0.3, 0.5, 0.8]) {
      const lines = contourLines(grid, r * r);
      expect(lines).toHaveLength(1);
      const [line] = lines;
      expect(line!.closed).toBe(true);
      expect(line!.points[0]).toEqual(line!.points.at(-1));
      for (const p of line!.points) expect(Math.abs(Math.hypot(p.x, p.y) - r)).toBeLessThan(0.01);
      // Chords of the interpolated crossings cut a little off the disc: within 1% of π r².
      expect(Math.abs(area(line!.points)) / (Math.PI * r * r)).toBeGreaterThan(0.99);
      expect(Math.abs(area(line!.points)) / (Math.PI * r * r)).toBeLessThanOrEqual(1.0001);
    }
  });

  it('draws one closed line around each of two separate bumps', () => {
    const axis = range(-2, 2, 33);
    const bump = (x: number, y: number, cx: number) => Math.exp(-((x - cx) ** 2 + y ** 2) / 0.1);
    const grid = sample(axis, axis, (x, y) => bump(x, y, -1) + bump(x, y, 1));
    const lines = contourLines(grid, 0.5);
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.closed)).toBe(true);
    const centres = lines.map((l) => l.points.reduce((s, p) => s + p.x, 0) / l.points.length).sort((a, b) => a - b);
    expect(centres[0]).toBeCloseTo(-1, 2);
    expect(centres[1]).toBeCloseTo(1, 2);
  });

  it('resolves a saddle cell by the mean of its corners', () => {
    // Corners (0,0) = 1 and (1,1) = 1 above, (1,0) = 0 and (0,1) = 0 below: the mean 0.5 decides.
    const grid: GridValues = { xs: [0, 1], ys: [0, 1], values: [1, 0, 0, 1] };
    const sorted = (level: number) =>
      contourLines(grid, level)
        .map((l) => l.points.map((p) => [p.x, p.y]).sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!))
        .sort((a, b) => a[0]![0]! - b[0]![0]! || a[0]![1]! - b[0]![1]!);
    // Level 0.4, centre (0.5) above: the two high corners are joined, each low corner is cut off alone.
    expect(sorted(0.4)).toEqual([
      [
        [0, 0.6],
        [0.4, 1],
      ],
      [
        [0.6, 0],
        [1, 0.4],
      ],
    ]);
    // Level 0.6, centre below: each high corner is cut off alone.
    expect(sorted(0.6)).toEqual([
      [
        [0, 0.4],
        [0.4, 0],
      ],
      [
        [0.6, 1],
        [1, 0.6],
      ],
    ]);
  });

  it('follows both branches of the hyperbola x·y = c', () => {
    const axis = range(-1, 1, 21);
    const lines = contourLines(
      sample(axis, axis, (x, y) => x * y),
      0.2,
    );
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.closed).toBe(false);
      const quadrant = Math.sign(line.points[0]!.x);
      for (const p of line.points) {
        expect(Math.sign(p.x)).toBe(quadrant);
        expect(Math.sign(p.y)).toBe(quadrant);
        expect(Math.abs(p.x * p.y - 0.2)).toBeLessThan(0.01);
      }
    }
  });

  it('stops at values not known yet and joins up once they are', () => {
    const axis = range(0, 4, 5); // cells of side 1
    const f = (x: number, y: number) => x + y;
    const full = contourLines(sample(axis, axis, f), 4.5);
    expect(full).toHaveLength(1);
    for (const unknown of [null, Number.NaN, Number.POSITIVE_INFINITY]) {
      // (2, 2) not known: the four cells around it hold no segment, which cuts the line in two.
      const partial = contourLines(
        sample(axis, axis, (x, y) => (x === 2 && y === 2 ? unknown : f(x, y))),
        4.5,
      );
      expect(partial).toHaveLength(2);
      for (const line of partial) {
        expect(line.closed).toBe(false);
        line.points.forEach((p, k) => {
          expect(f(p.x, p.y)).toBeCloseTo(4.5, 12);
          if (k === 0) return;
          const before = line.points[k - 1]!;
          const [ci, cj] = [Math.floor((p.x + before.x) / 2), Math.floor((p.y + before.y) / 2)];
          expect([ci, ci + 1].includes(2) && [cj, cj + 1].includes(2), `segment in cell (${ci}, ${cj})`).toBe(false);
        });
      }
      expect(partial.flatMap((l) => l.points).length).toBeLessThan(full[0]!.points.length);
    }
    expect(
      contourLines(
        sample(axis, axis, () => null),
        1,
      ),
    ).toEqual([]);
  });

  it('draws nothing for a level outside the values or on a flat grid', () => {
    const axis = range(0, 1, 4);
    expect(
      contourLines(
        sample(axis, axis, (x, y) => x + y),
        5,
      ),
    ).toEqual([]);
    expect(
      contourLines(
        sample(axis, axis, () => 2),
        2.5,
      ),
    ).toEqual([]);
  });

  it('computes every level asked for, in order', () => {
    const axis = range(-1, 1, 11);
    const result = contours(
      sample(axis, axis, (x, y) => x * x + y * y),
      [0.5, 0.1, 9],
    );
    expect(result.map((c) => c.level)).toEqual([0.5, 0.1, 9]);
    expect(result.map((c) => c.lines.length)).toEqual([1, 1, 0]);
  });

  it('says what it expected of a grid that does not fit', () => {
    expect(() => contourLines({ xs: [0, 1], ys: [0, 1, 2], values: [1, 2, 3] }, 1)).toThrow(
      /expected 2×3 = 6 values, got 3/,
    );
    expect(() => contourLines({ xs: [0, 1, 1], ys: [0], values: [1, 2, 3] }, 1)).toThrow(
      /xs must increase strictly; xs\[2\] = 1 after 1/,
    );
  });
});

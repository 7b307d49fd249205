/**
 * Contour lines of a function sampled on a rectangular grid, by marching squares (Lorensen & Cline's marching
 * cubes in two dimensions): each grid cell whose corners lie on both sides of a level holds one or two line
 * segments, whose ends are placed on the cell's edges by linear interpolation between the two corner values;
 * the segments of neighbouring cells share those edge points and are joined into polylines. Pure; the plane
 * view of the dashboard draws these over its heat map.
 */

/** Values sampled at (xs[i], ys[j]), stored row by row: `values[j * xs.length + i]`. null or NaN: not known yet. */
export interface GridValues {
  xs: readonly number[];
  ys: readonly number[];
  values: ArrayLike<number | null>;
}

export interface Point {
  x: number;
  y: number;
}

/** A polyline at one level; `closed` when it returns to its first point (which is then repeated at the end). */
export interface ContourLine {
  points: Point[];
  closed: boolean;
}

export interface Contour {
  level: number;
  lines: ContourLine[];
}

/**
 * The segments of each of the 16 corner cases, as pairs of edges (0 bottom: corners 0→1, 1 right: 1→2, 2 top:
 * 3→2, 3 left: 0→3; corners 0 (i, j), 1 (i+1, j), 2 (i+1, j+1), 3 (i, j+1); bit k set when corner k ≥ level).
 * The two saddles (5 and 10) are listed with the centre below the level, each corner above it cut off alone;
 * `contourLines` takes the other pair when the centre is at or above it (the mean of the four corners, which is
 * the value of the bilinear interpolant at the centre).
 */
const SEGMENTS: ReadonlyArray<ReadonlyArray<readonly [number, number]>> = [
  [],
  [[3, 0]],
  [[0, 1]],
  [[3, 1]],
  [[1, 2]],
  [
    [3, 0],
    [1, 2],
  ],
  [[0, 2]],
  [[3, 2]],
  [[2, 3]],
  [[2, 0]],
  [
    [0, 1],
    [2, 3],
  ],
  [[2, 1]],
  [[1, 3]],
  [[1, 0]],
  [[0, 3]],
  [],
];
const SADDLE_CENTRE_ABOVE: Readonly<Record<number, ReadonlyArray<readonly [number, number]>>> = {
  5: [
    [3, 2],
    [0, 1],
  ],
  10: [
    [3, 0],
    [1, 2],
  ],
};

function checkGrid(grid: GridValues): void {
  const expected = grid.xs.length * grid.ys.length;
  if (grid.values.length !== expected)
    throw new RangeError(
      `contours: expected ${grid.xs.length}×${grid.ys.length} = ${expected} values, got ${grid.values.length}`,
    );
  for (const [name, axis] of [
    ['xs', grid.xs],
    ['ys', grid.ys],
  ] as const)
    for (let k = 1; k < axis.length; k++)
      if (!(axis[k]! > axis[k - 1]!))
        throw new RangeError(
          `contours: ${name} must increase strictly; ${name}[${k}] = ${axis[k]} after ${axis[k - 1]}`,
        );
}

/**
 * The contour lines of `grid` at `level`. A cell with a corner not known (null, NaN, ±∞) holds no segment, so
 * lines stop at the edge of what is known and are completed as a plane fills in. Along a cell edge from value
 * a to value b the crossing lies at t = (level − a) / (b − a) of the way, exact for a function linear along
 * the edge.
 */
export function contourLines(grid: GridValues, level: number): ContourLine[] {
  checkGrid(grid);
  const { xs, ys, values } = grid;
  const nx = xs.length;
  const at = (i: number, j: number): number => {
    const v = values[j * nx + i];
    return v === null || v === undefined || !Number.isFinite(v) ? Number.NaN : v;
  };
  // An edge point is keyed by its edge: horizontal edge (i, j)–(i+1, j) is 2·(j·nx + i), vertical edge
  // (i, j)–(i, j+1) is 2·(j·nx + i) + 1; each is shared by at most the two cells on either side of it.
  const points = new Map<number, Point>();
  const links = new Map<number, number[]>();
  const crossing = (i0: number, j0: number, i1: number, j1: number): number => {
    const key = 2 * (j0 * nx + i0) + (j1 > j0 ? 1 : 0);
    if (!points.has(key)) {
      const a = at(i0, j0);
      const b = at(i1, j1);
      const t = (level - a) / (b - a);
      points.set(key, {
        x: xs[i0]! + t * (xs[i1]! - xs[i0]!),
        y: ys[j0]! + t * (ys[j1]! - ys[j0]!),
      });
    }
    return key;
  };
  const link = (a: number, b: number) => {
    if (a === b) return;
    links.set(a, [...(links.get(a) ?? []), b]);
    links.set(b, [...(links.get(b) ?? []), a]);
  };
  for (let j = 0; j + 1 < ys.length; j++) {
    for (let i = 0; i + 1 < nx; i++) {
      const corners = [at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
      if (corners.some(Number.isNaN)) continue;
      let index = 0;
      corners.forEach((v, k) => {
        if (v >= level) index |= 1 << k;
      });
      let segments = SEGMENTS[index]!;
      if (index === 5 || index === 10) {
        const centre = (corners[0]! + corners[1]! + corners[2]! + corners[3]!) / 4;
        if (centre >= level) segments = SADDLE_CENTRE_ABOVE[index]!;
      }
      const edge = (e: number): number =>
        e === 0
          ? crossing(i, j, i + 1, j)
          : e === 1
            ? crossing(i + 1, j, i + 1, j + 1)
            : e === 2
              ? crossing(i, j + 1, i + 1, j + 1)
              : crossing(i, j, i, j + 1);
      for (const [a, b] of segments) link(edge(a), edge(b));
    }
  }
  return joinSegments(points, links);
}

/** Walks the graph of edge points (each of degree one or two) into polylines: open ends first, then loops. */
function joinSegments(points: Map<number, Point>, links: Map<number, number[]>): ContourLine[] {
  const visited = new Set<number>();
  const lines: ContourLine[] = [];
  const walk = (start: number): ContourLine => {
    const keys = [start];
    visited.add(start);
    let previous = -1;
    let current = start;
    for (;;) {
      const next = (links.get(current) ?? []).find((k) => k !== previous && !visited.has(k));
      if (next === undefined) break;
      keys.push(next);
      visited.add(next);
      previous = current;
      current = next;
    }
    const closed = keys.length > 2 && (links.get(current) ?? []).includes(start);
    if (closed) keys.push(start);
    return { points: keys.map((k) => points.get(k)!), closed };
  };
  for (const [key, neighbours] of links) if (neighbours.length === 1 && !visited.has(key)) lines.push(walk(key));
  for (const key of links.keys()) if (!visited.has(key)) lines.push(walk(key));
  return lines;
}

/** The contour lines of `grid` at each level, in the order given. */
export function contours(grid: GridValues, levels: readonly number[]): Contour[] {
  return levels.map((level) => ({ level, lines: contourLines(grid, level) }));
}

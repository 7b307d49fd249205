import { coefficientsKey } from '../../domain/combination-key.js';
import { directionPlaneCoefficients, planeCoefficients } from '../../domain/combination.js';
import { orthogonalPlaneAxes, orthogonalPlanePoint } from '../../domain/directions.js';
import type { PathProgress, PathStatus } from '../../domain/path-status.js';
import { badUserInput } from '../../errors.js';
import type { CombinationPointRow } from '../../storage/combinations.tables.js';
import type { PathDeps } from '../paths/paths.deps.js';
import { planCombination, type CombinationPlan, type EvaluationInput, type NamedState } from './combination-plan.js';
import { requestCombinationPoints } from './combination-points.js';
import { costOf, type CostEstimate } from './landscape-cost.js';

/** Most points per plane axis: a grid of at most 51 × 51 = 2,601 points. */
export const MAX_PLANE_RESOLUTION = 51;
export const DEFAULT_PLANE_RESOLUTION = 21;

export interface PlaneRange {
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

export interface LossPlaneInput extends EvaluationInput {
  center: string;
  xState?: string | null | undefined;
  xDirection?: string | null | undefined;
  yState?: string | null | undefined;
  yDirection?: string | null | undefined;
  /** Three states only: the y axis made orthogonal to the x axis (Garipov et al.). */
  orthogonalize?: boolean | null | undefined;
  range?: PlaneRange | null | undefined;
  /** Points per axis (default 21, at most MAX_PLANE_RESOLUTION). */
  resolution?: number | null | undefined;
  engine?: 'onnx' | 'tfjs' | null | undefined;
}

export interface PlaneOptions {
  wait: boolean;
  timeoutMs?: number | null | undefined;
  /** Only the cost: nothing is stored or queued. */
  dryRun?: boolean;
}

/** A marked state in plane coordinates. */
export interface PlaneMarker {
  label: 'A' | 'B' | 'C' | 'CENTER';
  checkpointId: string;
  x: number;
  y: number;
}

export interface PlaneCell {
  /** The point's coefficient key (domain/combination-key.ts). */
  key: string;
  i: number;
  j: number;
  x: number;
  y: number;
  point: CombinationPointRow | undefined;
  cached: boolean;
}

export interface LossPlaneResult {
  /** The combination the points belong to (null for a dry run that found none). */
  combinationId: string | null;
  kind: 'THREE_STATES' | 'DIRECTIONS';
  /** Checkpoint ids of the combined states, in coefficient order. */
  states: string[];
  xs: number[];
  ys: number[];
  /** Row-major by y: cells[j * xs.length + i] is (xs[i], ys[j]). */
  cells: PlaneCell[];
  markers: PlaneMarker[];
  /** Whether the line from A (the centre) to B (xState) lies in the plane: always for three states. */
  lineInPlane: boolean;
  /** Three states: the projection k of C − A on B − A and the axes' lengths (float64); else null. */
  axes: { projection: number; xLength: number; yLength: number; orthogonal: boolean } | null;
  status: PathStatus;
  progress: PathProgress;
  failure: { code: string; message: string } | null;
  cost: CostEstimate;
}

/**
 * The loss over a grid of a plane: through three checkpoints (θ = A + x·(B − A) + y·(C − A), or with the y axis
 * orthogonalised) or around a centre along two directions (θ = w + x·d_x + y·d_y, Li et al.). Each grid point is
 * a combination point (combination-points.ts): stored ones answer at once, missing ones are queued in chunks.
 */
export async function lossPlane(
  deps: PathDeps,
  input: LossPlaneInput,
  options: PlaneOptions,
): Promise<LossPlaneResult> {
  const { named, kind } = planeStates(input);
  const resolution = input.resolution ?? DEFAULT_PLANE_RESOLUTION;
  if (!Number.isInteger(resolution) || resolution < 2 || resolution > MAX_PLANE_RESOLUTION) {
    throw badUserInput(
      `resolution: expected an integer from 2 to ${MAX_PLANE_RESOLUTION} (a grid of at most ${MAX_PLANE_RESOLUTION}×${MAX_PLANE_RESOLUTION} = ${MAX_PLANE_RESOLUTION ** 2} points), got ${resolution}` +
        (Number.isInteger(resolution) && resolution > 0
          ? ` (${resolution}×${resolution} = ${resolution ** 2} points)`
          : ''),
    );
  }
  const range = checkRange(input.range ?? (kind === 'THREE_STATES' ? THREE_STATE_RANGE : DIRECTION_RANGE));
  const orthogonal = input.orthogonalize ?? false;
  if (orthogonal && kind === 'DIRECTIONS') {
    throw badUserInput(
      'orthogonalize: applies to planes through three states (xState and yState); random directions are drawn independently (Li et al.), got directions',
    );
  }
  const plan = await planCombination(deps, named, input);
  const xs = axis(range.xMin, range.xMax, resolution);
  const ys = axis(range.yMin, range.yMax, resolution);
  const [a, b, c] = plan.states;
  let axes: LossPlaneResult['axes'] = null;
  let coefficientsAt: (x: number, y: number) => number[];
  let markers: PlaneMarker[];
  if (kind === 'THREE_STATES') {
    const geometry = await planeGeometry(deps, plan);
    axes = { ...geometry, orthogonal };
    const k = orthogonal ? geometry.projection : 0;
    coefficientsAt = (x, y) => planeCoefficients(...orthogonalPlanePoint(x, y, k));
    markers = [
      { label: 'A', checkpointId: a!.id, x: 0, y: 0 },
      { label: 'B', checkpointId: b!.id, x: 1, y: 0 },
      { label: 'C', checkpointId: c!.id, x: k, y: 1 },
    ];
  } else {
    coefficientsAt = directionPlaneCoefficients;
    markers = [{ label: 'CENTER', checkpointId: c!.id, x: 0, y: 0 }];
  }
  const grid = ys.flatMap((y, j) => xs.map((x, i) => ({ i, j, x, y, key: coefficientsKey(coefficientsAt(x, y)) })));
  const keys = [...new Set(grid.map((g) => g.key))];
  const cost = await costOf(deps, plan, keys);
  const base = { kind, xs, ys, markers, lineInPlane: kind === 'THREE_STATES', axes, cost };
  if (options.dryRun === true) {
    return {
      ...base,
      states: plan.states.map((state) => state.id),
      combinationId: cost.combinationId,
      cells: grid.map((g) => ({ ...g, point: undefined, cached: false })),
      status: cost.toCompute === 0 ? 'COMPLETE' : 'PARTIAL',
      progress: { done: keys.length - cost.toCompute, total: keys.length, etaSeconds: cost.estimatedSeconds },
      failure: null,
    };
  }
  const result = await requestCombinationPoints(deps, plan, keys, {
    wait: options.wait,
    timeoutMs: options.timeoutMs,
    engine: input.engine,
  });
  return {
    ...base,
    states: plan.states.map((state) => state.id),
    combinationId: result.combination.id,
    cells: grid.map((g) => ({ ...g, point: result.points.get(g.key), cached: result.storedBefore.has(g.key) })),
    status: result.status,
    progress: result.progress,
    failure: result.failure,
  };
}

const THREE_STATE_RANGE: PlaneRange = { xMin: -0.5, xMax: 1.5, yMin: -0.5, yMax: 1.5 };
const DIRECTION_RANGE: PlaneRange = { xMin: -1, xMax: 1, yMin: -1, yMax: 1 };

/**
 * The states of a plane in the order of their coefficients: (A, B, C) for three states, (d_x, d_y, centre) for
 * directions (domain/combination.ts directionPlaneCoefficients: Li et al.'s order of summation).
 */
function planeStates(input: LossPlaneInput): { named: NamedState[]; kind: LossPlaneResult['kind'] } {
  for (const axisName of ['x', 'y'] as const) {
    const state = input[`${axisName}State`];
    const direction = input[`${axisName}Direction`];
    if ((state == null) === (direction == null)) {
      throw badUserInput(
        `${axisName}State, ${axisName}Direction: expected exactly one of them (a checkpoint the ${axisName} axis runs to, or a direction from createDirection), got ${state == null ? 'neither' : 'both'}`,
      );
    }
  }
  if (input.xState != null && input.yState != null) {
    return {
      kind: 'THREE_STATES',
      named: [
        { field: 'center', id: input.center },
        { field: 'xState', id: input.xState },
        { field: 'yState', id: input.yState },
      ],
    };
  }
  if (input.xDirection != null && input.yDirection != null) {
    return {
      kind: 'DIRECTIONS',
      named: [
        { field: 'xDirection', id: input.xDirection },
        { field: 'yDirection', id: input.yDirection },
        { field: 'center', id: input.center },
      ],
    };
  }
  throw badUserInput(
    `xState/xDirection, yState/yDirection: expected two states (a plane through three checkpoints) or two directions (a plane around the centre), got ${input.xState != null ? 'xState' : 'xDirection'} with ${input.yState != null ? 'yState' : 'yDirection'}`,
  );
}

function checkRange(range: PlaneRange): PlaneRange {
  for (const [axisName, min, max] of [
    ['x', range.xMin, range.xMax],
    ['y', range.yMin, range.yMax],
  ] as const) {
    if (!Number.isFinite(min) || !Number.isFinite(max) || !(min < max) || Math.abs(min) > 100 || Math.abs(max) > 100) {
      throw badUserInput(
        `range: expected ${axisName}Min < ${axisName}Max, both finite numbers from -100 to 100, got ${axisName}Min ${min} and ${axisName}Max ${max}`,
      );
    }
  }
  return range;
}

/**
 * n evenly spaced values from min to max, each written with 12 significant digits and read back, so that grids of
 * different resolutions over one range name their shared points by the same numbers (a finer grid reuses the
 * coarser one's points).
 */
export function axis(min: number, max: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    const value = i === 0 ? min : i === n - 1 ? max : min + ((max - min) * i) / (n - 1);
    const rounded = Number(value.toPrecision(12));
    return rounded === 0 ? 0 : rounded;
  });
}

/** The projection of C − A on B − A and the axes' lengths, over every float tensor (reads the three states). */
async function planeGeometry(
  deps: Pick<PathDeps, 'states'>,
  plan: CombinationPlan,
): Promise<{ projection: number; xLength: number; yLength: number }> {
  const [a, b, c] = await Promise.all(plan.states.map((state) => deps.states.get(state)));
  const names = [...a!.tensors.keys()];
  return orthogonalPlaneAxes(a!.tensors, b!.tensors, c!.tensors, names);
}

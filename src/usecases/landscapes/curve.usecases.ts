import { bezierCoefficients, polychainCoefficients } from '../../domain/combination.js';
import { coefficientsKey } from '../../domain/combination-key.js';
import { reportedMetrics } from '../../domain/losses.js';
import type { PathProgress, PathStatus } from '../../domain/path-status.js';
import { badUserInput } from '../../errors.js';
import type { CombinationPointRow } from '../../storage/combinations.tables.js';
import type { PathDeps } from '../paths/paths.deps.js';
import { DEFAULT_ALPHAS, interpolationPath, validateAlphas, type PathResult } from '../paths/paths.usecases.js';
import { planCombination, type EvaluationInput } from './combination-plan.js';
import { requestCombinationPoints } from './combination-points.js';
import { costOf, type CostEstimate } from './landscape-cost.js';

export type CurveKind = 'BEZIER' | 'POLYCHAIN';

export interface CurvePathInput extends EvaluationInput {
  from: string;
  to: string;
  bend: string;
  kind?: CurveKind | null | undefined;
  /** Curve parameters t in [0, 1]; default 0, 0.1, …, 1. */
  ts?: readonly number[] | null | undefined;
  engine?: 'onnx' | 'tfjs' | null | undefined;
}

export interface CurvePoint {
  t: number;
  point: CombinationPointRow | undefined;
  cached: boolean;
  /** α-shaped values for the barrier measures (α = t). */
  loss: number | null;
  accuracy: number | null;
}

export interface CurvePathResult {
  combinationId: string;
  kind: CurveKind;
  points: CurvePoint[];
  status: PathStatus;
  progress: PathProgress;
  failure: { code: string; message: string } | null;
  cost: CostEstimate;
  /** The straight line from → to over the same ts (a path: its own memo), for its barrier next to the curve's. */
  line: PathResult;
}

const KINDS: readonly CurveKind[] = ['BEZIER', 'POLYCHAIN'];

/**
 * The loss along a curve from `from` through the bend to `to` (Garipov et al. 2018): a quadratic Bezier or a
 * polygonal chain, as combination points of (from, bend, to) with domain/combination.ts's coefficients; and the
 * straight line from → to over the same ts, through the path machinery, so both barriers are measured alike.
 */
export async function curvePath(
  deps: PathDeps,
  input: CurvePathInput,
  options: { wait: boolean; timeoutMs?: number | null | undefined },
): Promise<CurvePathResult> {
  const kind = input.kind ?? 'BEZIER';
  if (!KINDS.includes(kind)) throw badUserInput(`kind: expected one of ${KINDS.join(', ')}, got "${kind}"`);
  const ts = validateAlphas(input.ts ?? DEFAULT_ALPHAS, deps.settings);
  const outside = ts.find((t) => t < 0 || t > 1);
  if (outside !== undefined)
    throw badUserInput(`ts: expected numbers from 0 to 1 (the curve's parameter), got ${outside}`);
  const plan = await planCombination(
    deps,
    [
      { field: 'from', id: input.from },
      { field: 'bend', id: input.bend },
      { field: 'to', id: input.to },
    ],
    input,
  );
  const coefficients = kind === 'BEZIER' ? bezierCoefficients : polychainCoefficients;
  const keys = ts.map((t) => coefficientsKey(coefficients(t)));
  const cost = await costOf(deps, plan, [...new Set(keys)]);
  const result = await requestCombinationPoints(deps, plan, [...new Set(keys)], {
    wait: options.wait,
    timeoutMs: options.timeoutMs,
    engine: input.engine,
  });
  const line = await interpolationPath(
    deps,
    {
      from: input.from,
      to: input.to,
      dataset: input.dataset,
      alphas: ts,
      limit: input.limit,
      engine: input.engine,
      bnStats: input.bnStats,
      bnStatsDataset: input.bnStatsDataset,
      bnStatsExamples: input.bnStatsExamples,
    },
    { wait: options.wait, timeoutMs: options.timeoutMs },
  );
  return {
    combinationId: result.combination.id,
    kind,
    points: ts.map((t, i) => {
      const point = result.points.get(keys[i]!);
      const metrics = point === undefined ? { loss: null, accuracy: null } : reportedMetrics(point);
      return { t, point, cached: result.storedBefore.has(keys[i]!), ...metrics };
    }),
    status: result.status,
    progress: result.progress,
    failure: result.failure,
    cost,
    line,
  };
}

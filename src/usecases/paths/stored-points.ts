import { isLinpathError, type LinpathError } from '../../errors.js';
import type { PathPointRow } from '../../storage/paths.tables.js';
import type { CheckpointRow, DatasetRow } from '../../storage/registry.tables.js';
import { endpointsOf, planPath, planPathOf } from './path-plan.js';
import type { PathDeps } from './paths.deps.js';
import { DEFAULT_ALPHAS, validateAlphas, type InterpolationPathInput, type PathPoint } from './paths.usecases.js';

/**
 * The stored points of a path and the alphas it lacks, evaluating and writing nothing (not even the path's
 * row): what analytics read before deciding whether to spend an evaluation.
 */
export async function storedPoints(
  deps: PathDeps,
  input: InterpolationPathInput,
): Promise<{ points: PathPoint[]; missingAlphas: number[] }> {
  const alphas = validateAlphas(input.alphas ?? DEFAULT_ALPHAS, deps.settings);
  const plan = await planPath(deps, input);
  const path = await deps.paths.findPathByKey(plan.key);
  const points = path === undefined ? [] : await deps.paths.points(path.id, alphas);
  return storedResult(points, alphas);
}

/**
 * storedPoints for many whole-model paths whose checkpoints and datasets are already read: two queries for
 * all of them. A request that does not plan (checkpoints that do not fit their architecture) gets its error.
 */
export async function storedPointsOfRows(
  deps: PathDeps,
  requests: ReadonlyArray<{ from: CheckpointRow; to: CheckpointRow; dataset: DatasetRow }>,
  alphas: readonly number[] = DEFAULT_ALPHAS,
): Promise<Array<{ points: PathPoint[]; missingAlphas: number[] } | LinpathError>> {
  const valid = validateAlphas(alphas, deps.settings);
  const plans = await Promise.all(
    requests.map(async (rows) => {
      try {
        const input = { from: rows.from.id, to: rows.to.id, dataset: rows.dataset.id };
        return await planPathOf(
          deps,
          await endpointsOf(deps, rows.from, rows.to, null),
          async () => rows.dataset,
          input,
        );
      } catch (error) {
        if (isLinpathError(error)) return error;
        throw error;
      }
    }),
  );
  const keys = plans.flatMap((plan) => (isLinpathError(plan) ? [] : [plan.key]));
  const paths = new Map((await deps.paths.findPathsByKeys(keys)).map((path) => [path.key, path]));
  const points = await deps.paths.pointsOfPaths(
    [...paths.values()].map((path) => path.id),
    valid,
  );
  return plans.map((plan) => {
    if (isLinpathError(plan)) return plan;
    const pathId = paths.get(plan.key)?.id;
    return storedResult(pathId === undefined ? [] : points.filter((point) => point.pathId === pathId), valid);
  });
}

function storedResult(
  points: readonly PathPointRow[],
  alphas: readonly number[],
): { points: PathPoint[]; missingAlphas: number[] } {
  const stored = new Set(points.map((p) => p.alpha));
  return {
    points: points.map((point) => ({ ...point, cached: true })),
    missingAlphas: alphas.filter((a) => !stored.has(a)),
  };
}

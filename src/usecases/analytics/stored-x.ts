import {
  DEFAULT_PLATEAU_ALPHA,
  DEFAULT_PLATEAU_FRACTION,
  DEFAULT_RELATIVE_TOLERANCE,
  DEFAULT_TOLERANCE,
  type BarrierOptions,
} from '../../domain/barrier.metrics.js';
import type { DistanceMetric } from '../../domain/distances.js';
import { isUuid } from '../../domain/ids.js';
import { badUserInput, isLinpathError, notFound, type LinpathError } from '../../errors.js';
import type { CheckpointRef, DatasetRow, RunRow } from '../../storage/registry.tables.js';
import type { CurveBarriers } from '../paths/curve-summaries.js';
import { checkEndpoint, resolveEndpoints } from '../paths/endpoint-selectors.js';
import { endpointsOf } from '../paths/path-plan.js';
import { DEFAULT_ALPHAS } from '../paths/paths.usecases.js';
import { storedPointsOfRows, type StoredCurve } from '../paths/stored-points.js';
import type { AnalyticsDeps } from './analytics.deps.js';
import { pathBarriers, type BarrierPoint } from './barriers.usecases.js';
import type { CorrelationInput } from './correlation.usecases.js';
import { distanceKey } from './distances.usecases.js';

/** What is stored of one run's x: its path's points, or its distance (undefined: not computed); or why neither. */
export type StoredX = StoredCurve | { distance: number | undefined } | LinpathError;

/**
 * Each run's end points of the correlated path (as `input.path.from` and `to` select them; `missing` says why a
 * run has none) and, when it has both, what is stored of its x.
 */
export async function storedXOfRuns(
  deps: AnalyticsDeps,
  input: CorrelationInput,
  runs: readonly RunRow[],
  checkpoints: readonly CheckpointRef[],
): Promise<Map<string, { run: RunRow; from?: CheckpointRef; to?: CheckpointRef; missing?: string; stored?: StoredX }>> {
  const selected = await resolveEndpoints(
    { registry: deps.paths.registry, randomInit: deps.randomInit },
    runs,
    checkpoints,
    checkEndpoint('path.from', input.path.from, 'INITIAL'),
    checkEndpoint('path.to', input.path.to, 'FINAL'),
  );
  const ends = new Map<
    string,
    { run: RunRow; from?: CheckpointRef; to?: CheckpointRef; missing?: string; stored?: StoredX }
  >(runs.map((run) => [run.id, { run, ...selected.get(run.id)! }]));
  type Pair = { run: RunRow; from: CheckpointRef; to: CheckpointRef; stored?: StoredX };
  const pairs = [...ends.values()].filter((e): e is Pair => e.from !== undefined && e.to !== undefined);
  (await storedXValues(deps, input, pairs)).forEach((stored, i) => (pairs[i]!.stored = stored));
  return ends;
}

const BARRIER_OPTIONS = ['tolerance', 'relativeTolerance', 'plateauAlpha', 'plateauFraction'];

/** The barrier measures of a curve: its stored ones when the options are the defaults, computed otherwise. */
export function barriersOf(
  points: readonly BarrierPoint[],
  options: BarrierOptions | undefined,
  stored: CurveBarriers | undefined,
): CurveBarriers {
  // A key given as undefined (GraphQL passes every option it has, set or not) is its default.
  const defaults =
    (options?.tolerance ?? DEFAULT_TOLERANCE) === DEFAULT_TOLERANCE &&
    (options?.relativeTolerance ?? DEFAULT_RELATIVE_TOLERANCE) === DEFAULT_RELATIVE_TOLERANCE &&
    (options?.plateauAlpha ?? DEFAULT_PLATEAU_ALPHA) === DEFAULT_PLATEAU_ALPHA &&
    (options?.plateauFraction ?? DEFAULT_PLATEAU_FRACTION) === DEFAULT_PLATEAU_FRACTION &&
    Object.keys(options ?? {}).every((k) => BARRIER_OPTIONS.includes(k));
  return stored !== undefined && defaults
    ? stored
    : pathBarriers(points, { loss: options ?? {}, error: options ?? {} });
}

/**
 * The stored x of every run of a correlation, read together: the dataset, then the paths by key and their
 * points (or the distances by key) — a fixed number of queries for any number of runs.
 */
export async function storedXValues(
  deps: AnalyticsDeps,
  input: CorrelationInput,
  pairs: ReadonlyArray<{ run: RunRow; from: CheckpointRef; to: CheckpointRef }>,
): Promise<StoredX[]> {
  try {
    if (input.x.startsWith('DISTANCE_')) return await storedDistances(deps, input, pairs);
    const id = input.path.dataset;
    let datasets: Array<DatasetRow | (() => Promise<DatasetRow>) | LinpathError>;
    if (id != null) {
      const found = isUuid(id) ? await deps.paths.registry.findDataset(id) : undefined;
      const dataset: DatasetRow | (() => Promise<DatasetRow>) =
        found ??
        (async () => {
          throw notFound(`dataset: no dataset with id "${id}"`);
        });
      datasets = pairs.map(() => dataset);
    } else
      datasets = await ownTestSets(
        deps,
        pairs.map((p) => p.run),
      );
    const measurable = pairs.flatMap((pair, i) => {
      const dataset = datasets[i]!;
      return isLinpathError(dataset) ? [] : [{ i, request: { from: pair.from, to: pair.to, dataset } }];
    });
    const stored = await storedPointsOfRows(
      deps.paths,
      measurable.map(({ request }) => ({ ...request, blocks: input.path.blocks, limit: input.path.limit })),
      input.path.alphas ?? DEFAULT_ALPHAS,
    );
    const byPair = new Map(measurable.map(({ i }, k) => [i, stored[k]!]));
    return pairs.map((_, i) => byPair.get(i) ?? (datasets[i] as LinpathError));
  } catch (error) {
    // A request every run shares that is wrong (its alphas, say): the same reason for each run.
    if (!isLinpathError(error)) throw error;
    return pairs.map(() => error);
  }
}

async function storedDistances(
  deps: AnalyticsDeps,
  input: CorrelationInput,
  pairs: ReadonlyArray<{ from: CheckpointRef; to: CheckpointRef }>,
): Promise<StoredX[]> {
  const metric = input.x.slice('DISTANCE_'.length) as DistanceMetric;
  // A distance's key names the tensors it covers: the checkpoints' headers are read, in one query.
  const full = new Map(
    (await deps.paths.registry.findCheckpointsByIds(pairs.flatMap((p) => [p.from.id, p.to.id]))).map((c) => [c.id, c]),
  );
  const keys = await Promise.all(
    pairs.map(async ({ from, to }) => {
      try {
        const [fromRow, toRow] = [full.get(from.id), full.get(to.id)];
        if (fromRow === undefined || toRow === undefined)
          throw notFound(`no checkpoint with id "${fromRow === undefined ? from.id : to.id}"`);
        return distanceKey(await endpointsOf(deps.paths, fromRow, toRow, input.path.blocks), metric);
      } catch (error) {
        if (isLinpathError(error)) return error;
        throw error;
      }
    }),
  );
  const stored = await deps.analytics.findDistances(keys.filter((key): key is string => typeof key === 'string'));
  const byKey = new Map(stored.map((row) => [row.key, row.value]));
  return keys.map((key) => (typeof key === 'string' ? { distance: byKey.get(key) } : key));
}

/** The TEST split of each run's own dataset name (the default of a correlation), or why there is none. */
async function ownTestSets(deps: AnalyticsDeps, runs: readonly RunRow[]): Promise<Array<DatasetRow | LinpathError>> {
  const byName = new Map<string, DatasetRow | undefined>();
  for (const name of new Set(runs.flatMap((r) => (r.datasetName === null ? [] : [r.datasetName])))) {
    byName.set(name, await deps.paths.registry.findDatasetByName(name, 'TEST'));
  }
  return runs.map((run) => {
    if (run.datasetName === null)
      return badUserInput('the run names no dataset (set it with updateRun) and path.dataset is not given');
    return byName.get(run.datasetName) ?? badUserInput(`no TEST split of dataset "${run.datasetName}" is registered`);
  });
}

/** The TEST split of a run's own dataset name: where its curves are measured unless told otherwise. */
export async function runTestSet(deps: AnalyticsDeps, run: RunRow): Promise<string> {
  if (run.datasetName === null)
    throw badUserInput('the run names no dataset (set it with updateRun) and path.dataset is not given');
  const dataset = await deps.paths.registry.findDatasetByName(run.datasetName, 'TEST');
  if (dataset === undefined) throw badUserInput(`no TEST split of dataset "${run.datasetName}" is registered`);
  return dataset.id;
}

/** x of a run from its curve: the barrier measure `input.x` names (stored ones for default options). */
export function barrierX(
  input: CorrelationInput,
  points: readonly BarrierPoint[],
  stored?: CurveBarriers,
): { value: number } | { missing: string } {
  const barriers = barriersOf(points, input.barrier, stored);
  const metrics = input.x.startsWith('ERROR_') ? barriers.error : barriers.loss;
  const name = input.x.replace(/^ERROR_/, '');
  const value =
    name === 'RISE' || name === 'HEIGHT_ABOVE_ENDPOINTS'
      ? metrics.rise
      : name === 'RISE_ABOVE_START'
        ? metrics.riseAboveStart
        : name === 'FRANKLE_HEIGHT'
          ? metrics.frankleHeight
          : name === 'MLI_DELTA'
            ? metrics.mliDelta
            : name === 'ALPHA_AT_MAX'
              ? metrics.alphaAtMax
              : metrics.monotonic === null
                ? null
                : Number(metrics.monotonic);
  return value === null ? { missing: `${input.x} is undefined for this path (non-finite points)` } : { value };
}

import type { BarrierMetrics } from '../../domain/barrier.metrics.js';
import { isLinpathError, LinpathError } from '../../errors.js';
import type { Priority } from '../../queue/eval-queue.js';
import type { CheckpointRef, DatasetRow, RunRow } from '../../storage/registry.tables.js';
import { pathStates } from '../paths/path-states.js';
import { waitForPaths } from '../paths/path-waits.js';
import { interpolationPath } from '../paths/paths.usecases.js';
import { storedPointsOfRows } from '../paths/stored-points.js';
import type { AnalyticsDeps } from './analytics.deps.js';
import { pathBarriers } from './barriers.usecases.js';
import { reportedMetrics } from '../../domain/losses.js';

export type Split = 'TEST' | 'TRAIN';

export type EndpointMetric = { loss: number | null; accuracy: number; n: number } | { missing: string };

export interface EndpointOptions {
  /** Evaluate missing end points (each costs one forward pass over the dataset); false: report them missing. */
  evaluate: boolean;
  /** Most evaluations this call may queue; further runs are reported missing. */
  maxEvaluations?: number;
  /** Wait for the queued evaluations (default true); false: report them missing as queued. */
  wait?: boolean;
  timeoutMs?: number;
  priority?: Priority;
  /** The runs' checkpoints, when the caller has read them already (one statement less). */
  checkpoints?: readonly CheckpointRef[];
}

export interface EndpointMetrics {
  metrics: Map<string, EndpointMetric>;
  /** Evaluations queued by this call. */
  evaluations: number;
  /** The paths (and alphas) queued, for progress. */
  queued: Array<{ pathId: string; alphas: number[] }>;
  /** The path queued for each run. */
  pathByRun: Map<string, string>;
}

/** Reason given for a run whose evaluation is queued and not finished. */
export const PENDING_REASON = 'evaluation queued, not finished yet';
/** Reason given, when evaluating is not allowed, for a run whose end point is not stored. */
export const NOT_EVALUATED_REASON = 'not evaluated yet';

/**
 * The loss and accuracy of each run's FINAL checkpoint on a split of its dataset (the dataset named by the
 * run's `datasetName`): the α = 1 point of any stored path ending there, evaluated on demand otherwise (as
 * the α = 1 point of INITIAL → FINAL, which later paths reuse). All missing end points are queued at once,
 * then awaited together: a bounded number of queries for any number of runs.
 */
export async function runEndpointMetrics(
  deps: AnalyticsDeps,
  runs: readonly RunRow[],
  split: Split,
  options: EndpointOptions,
): Promise<EndpointMetrics> {
  const result = new Map<string, EndpointMetric>();
  const checkpoints = options.checkpoints ?? (await deps.paths.registry.checkpointsOfRuns(runs.map((r) => r.id)));
  const datasets = await deps.analytics.datasetsByName(
    runs.flatMap((r) => (r.datasetName === null ? [] : [r.datasetName])),
  );

  const ends = endsOfRuns(checkpoints);
  const datasetOf = datasetsBySplit(datasets);
  const targets: Array<{ run: RunRow; initial: CheckpointRef | undefined; final: CheckpointRef; dataset: DatasetRow }> =
    [];
  for (const run of runs) {
    const final = ends.get(run.id)?.FINAL;
    const dataset = datasetOf(run.datasetName, split);
    if (final === undefined) result.set(run.id, { missing: 'the run has no FINAL checkpoint' });
    else if (dataset === undefined) {
      result.set(run.id, {
        missing:
          run.datasetName === null
            ? 'the run names no dataset'
            : `no ${split} split of dataset "${run.datasetName}" is registered`,
      });
    } else
      targets.push({
        run,
        initial: ends.get(run.id)?.INITIAL,
        final,
        dataset,
      });
  }

  const stored = await deps.analytics.endpointPoints(
    targets.map((t) => ({ checkpointId: t.final.id, datasetId: t.dataset.id })),
  );
  let budget = options.maxEvaluations ?? Number.POSITIVE_INFINITY;
  const queued: Array<{ runId: string; pathId: string }> = [];
  // The first stored point of each (checkpoint, dataset), as a search in stored order would find it.
  const storedPoint = new Map<string, (typeof stored)[number]>();
  for (const p of stored) {
    const key = `${p.checkpointId} ${p.datasetId}`;
    if (!storedPoint.has(key)) storedPoint.set(key, p);
  }
  for (const target of targets) {
    const point = storedPoint.get(`${target.final.id} ${target.dataset.id}`);
    if (point !== undefined) {
      result.set(target.run.id, metricOf(point));
      continue;
    }
    if (!options.evaluate || budget <= 0) {
      result.set(target.run.id, {
        missing: options.evaluate ? 'not evaluated: the evaluation limit was reached' : NOT_EVALUATED_REASON,
      });
      continue;
    }
    budget--;
    try {
      const request = {
        from: (target.initial ?? target.final).id,
        to: target.final.id,
        dataset: target.dataset.id,
        alphas: [1],
      };
      const state = await interpolationPath(deps.paths, request, {
        wait: false,
        priority: options.priority ?? 'interactive',
      });
      queued.push({ runId: target.run.id, pathId: state.path.id });
    } catch (error) {
      // A run whose checkpoint cannot be evaluated (no architecture, a changed object) is reported, not fatal.
      if (!isLinpathError(error)) throw error;
      result.set(target.run.id, { missing: `${error.code}: ${error.message}` });
    }
  }

  const requests = queued.map((q) => ({ pathId: q.pathId, alphas: [1] }));
  if (options.wait ?? true)
    await waitForPaths(deps.paths, requests, options.timeoutMs ?? deps.paths.settings.maxWaitMs);
  const states = await pathStates(deps.paths, requests);
  for (const { runId, pathId } of queued) {
    const state = states.get(pathId);
    const point = state?.points[0];
    result.set(
      runId,
      point !== undefined
        ? metricOf(point)
        : { missing: state?.failure != null ? `${state.failure.code}: ${state.failure.message}` : PENDING_REASON },
    );
  }
  return {
    metrics: result,
    evaluations: queued.length,
    queued: requests,
    pathByRun: new Map(queued.map((q) => [q.runId, q.pathId])),
  };
}

/**
 * The loss barrier of each run's INITIAL → FINAL path (whole model, default alphas) on the TEST split of its
 * dataset, from stored points only: null until every α of that path is stored, and for a run without those
 * checkpoints or dataset, or whose checkpoints do not fit their architecture. Four queries for any number of runs.
 */
export async function runBarriers(deps: AnalyticsDeps, runs: readonly RunRow[]): Promise<Array<BarrierMetrics | null>> {
  const checkpoints = await deps.paths.registry.checkpointsOfRuns(runs.map((run) => run.id));
  const datasets = await deps.analytics.datasetsByName(
    runs.flatMap((run) => (run.datasetName === null ? [] : [run.datasetName])),
  );
  const ends = endsOfRuns(checkpoints);
  const datasetOf = datasetsBySplit(datasets);
  const requests = runs.map((run) => {
    const initial = ends.get(run.id)?.INITIAL;
    const final = ends.get(run.id)?.FINAL;
    const dataset = datasetOf(run.datasetName, 'TEST');
    return initial === undefined || final === undefined || dataset === undefined
      ? undefined
      : { from: initial, to: final, dataset };
  });
  const present = requests.filter((request) => request !== undefined);
  const stored = await storedPointsOfRows(deps.paths, present);
  const byRequest = new Map(present.map((request, i) => [request, stored[i]!]));
  return requests.map((request) => {
    const result = request === undefined ? undefined : byRequest.get(request);
    if (result === undefined || result instanceof LinpathError || result.missingAlphas.length > 0) return null;
    return (result.barriers ?? pathBarriers(result.points)).loss;
  });
}

const metricOf = (point: { lossSum: number; correct: number; n: number }): EndpointMetric => ({
  ...reportedMetrics(point),
  n: point.n,
});

/**
 * Each run's first INITIAL and FINAL checkpoint in the order given (what a search of the list would find),
 * by run id: one pass instead of a search per run.
 */
export function endsOfRuns(
  checkpoints: readonly CheckpointRef[],
): Map<string, { INITIAL?: CheckpointRef; FINAL?: CheckpointRef }> {
  const ends = new Map<string, { INITIAL?: CheckpointRef; FINAL?: CheckpointRef }>();
  for (const c of checkpoints) {
    if (c.role !== 'INITIAL' && c.role !== 'FINAL') continue;
    let end = ends.get(c.runId);
    if (end === undefined) ends.set(c.runId, (end = {}));
    end[c.role] ??= c;
  }
  return ends;
}

/** The first dataset of a name and split in the order given, by name and split. */
function datasetsBySplit(
  datasets: readonly DatasetRow[],
): (name: string | null, split: Split) => DatasetRow | undefined {
  const byKey = new Map<string, DatasetRow>();
  for (const d of datasets) {
    const key = JSON.stringify([d.name, d.split]);
    if (!byKey.has(key)) byKey.set(key, d);
  }
  return (name, split) => (name === null ? undefined : byKey.get(JSON.stringify([name, split])));
}

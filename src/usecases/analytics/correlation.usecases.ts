import type { BarrierOptions } from '../../domain/barrier.metrics.js';
import type { CorrelationOptions, CorrelationResult } from '../../domain/correlation.js';
import type { XMetric, YMetric } from '../../domain/correlation-metrics.js';
import type { DistanceMetric } from '../../domain/distances.js';
import { badUserInput, isLinpathError } from '../../errors.js';
import { checkGroupBy, valueAt } from '../../domain/hyperparameters.js';
import type { CheckpointRef, RunRow } from '../../storage/registry.tables.js';
import { pathStates } from '../paths/path-states.js';
import { waitForPaths } from '../paths/path-waits.js';
import { interpolationPath, DEFAULT_ALPHAS, type PathResult } from '../paths/paths.usecases.js';
import { validateFilter, type RunFilterInput } from '../registry/runs.usecases.js';
import { checkEndpoint, checkEndpointPair, type EndpointInput } from '../paths/endpoint-selectors.js';
import { checkEvaluationBudget, type AnalyticsDeps } from './analytics.deps.js';
import type { BarrierPoint } from './barriers.usecases.js';
import { checkpointDistance } from './distances.usecases.js';
import { correlateInSlices } from './statistics.js';
import { barrierX, runTestSet, storedXOfRuns, type StoredX } from './stored-x.js';
import { PENDING_REASON, runEndpointMetrics, type Split } from './run-metrics.usecases.js';

export interface CorrelationInput {
  runs?: RunFilterInput | null | undefined;
  x: XMetric;
  y: YMetric;
  /** For y = REPORTED: dot-separated path into the run's reported metrics. */
  yMetric?: string | null | undefined;
  /** The path whose barrier is x: between two checkpoints of each run, on a dataset (default: each run's TEST split). */
  path: {
    /** Each run's checkpoint at α = 0 (default INITIAL) and α = 1 (default FINAL): a role or a selector. */
    from?: EndpointInput | null | undefined;
    to?: EndpointInput | null | undefined;
    dataset?: string | null | undefined;
    blocks?: readonly string[] | null | undefined;
    alphas?: readonly number[] | null | undefined;
    limit?: number | null | undefined;
  };
  /** Hyper-parameter paths to group runs by; each group gets its own coefficients. */
  groupBy?: readonly string[] | null | undefined;
  /** Most evaluations (paths or end points) this query may start; the runs beyond are listed as missing. */
  maxEvaluations?: number | null | undefined;
  barrier?: BarrierOptions | undefined;
  statistics?: CorrelationOptions | undefined;
  /** Wait for the evaluations it queued (default true); false: answer at once with what is stored. */
  wait?: boolean | null | undefined;
  timeoutMs?: number | null | undefined;
}

export interface CorrelationPoint {
  run: RunRow;
  x: number;
  y: number;
  group: string | null;
}

export interface CorrelationOutput {
  overall: CorrelationResult;
  groups: Array<{ key: string; values: unknown[]; overall: CorrelationResult }>;
  points: CorrelationPoint[];
  missing: Array<{ run: RunRow; reason: string }>;
  /** The evaluations this query queued (or found queued): alphas stored of those requested. */
  progress: { done: number; total: number; pendingPaths: number };
}

/** Permutations and bootstrap resamples run on the request's thread in slices (statistics.ts), and are bounded. */
export const MAX_RESAMPLES = 100_000;
export const DEFAULT_MAX_EVALUATIONS = 50;

/**
 * One value x (a barrier metric of each run's path, or a distance between its end points) against one value
 * y (its test or train accuracy or loss, or a reported metric) across the runs matching a filter, overall and
 * per group of hyper-parameter values. Runs without x or y are listed in `missing` with the reason, never
 * dropped silently; missing points are evaluated up to `maxEvaluations`.
 */
export async function correlation(deps: AnalyticsDeps, input: CorrelationInput): Promise<CorrelationOutput> {
  if (input.y === 'REPORTED' && input.yMetric == null)
    throw badUserInput('yMetric: y = REPORTED needs the name of a reported metric, got none');
  checkEndpointPair(
    checkEndpoint('path.from', input.path.from, 'INITIAL'),
    checkEndpoint('path.to', input.path.to, 'FINAL'),
  );
  for (const field of ['permutations', 'bootstrap'] as const) {
    const value = input.statistics?.[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > MAX_RESAMPLES)) {
      throw badUserInput(`${field}: expected an integer from 0 to ${MAX_RESAMPLES}, got ${value}`);
    }
  }
  const budget = input.maxEvaluations ?? DEFAULT_MAX_EVALUATIONS;
  checkEvaluationBudget(budget, deps.limits);
  const maxWait = deps.paths.settings.maxWaitMs;
  if (
    input.timeoutMs != null &&
    (!Number.isInteger(input.timeoutMs) || input.timeoutMs < 0 || input.timeoutMs > maxWait)
  ) {
    throw badUserInput(
      `timeoutMs: expected an integer from 0 to ${maxWait} (LINPATH_MAX_WAIT_MS), got ${input.timeoutMs}`,
    );
  }
  const runs = await allRuns(deps, input.runs);
  checkGroupBy(
    input.groupBy ?? [],
    runs.map((r) => r.hyperparameters),
  );
  // Without their tensor headers: those are read only for the paths this process has not planned before.
  const checkpoints = await deps.paths.registry.checkpointRefsOfRuns(runs.map((r) => r.id));

  // Every missing evaluation is queued at once (bulk priority, up to maxEvaluations), so that all workers
  // share them; then they are awaited together; then a second pass reads what is stored, queueing nothing.
  const first = await correlationPass(deps, input, runs, checkpoints, { kind: 'queue', budget });
  if (first.queued.length === 0) return { ...first.output, progress: { done: 0, total: 0, pendingPaths: 0 } };
  if (input.wait ?? true) await waitForPaths(deps.paths, first.queued, input.timeoutMs ?? maxWait);
  const states = await pathStates(deps.paths, first.queued);
  const second = await correlationPass(deps, input, runs, checkpoints, {
    kind: 'read',
    xPaths: first.xPaths,
    yPaths: first.yPaths,
    states,
  });
  const progress = { done: 0, total: 0, pendingPaths: 0 };
  for (const state of states.values()) {
    progress.done += state.progress.done;
    progress.total += state.progress.total;
    if (state.status === 'PENDING' || state.status === 'RUNNING') progress.pendingPaths++;
  }
  return { ...second.output, progress };
}

/** Why a queued evaluation has no value yet: its failure, or that it is still on its way. */
const queuedReason = (state: PathResult | undefined): string =>
  state?.failure != null
    ? `${state.failure.code}: ${state.failure.message}`
    : `${PENDING_REASON}${state === undefined ? '' : ` (${state.progress.done}/${state.progress.total} alphas stored)`}`;

/** The first pass queues what is missing (within the budget); the second only reads. */
type PassMode =
  | { kind: 'queue'; budget: number }
  | {
      kind: 'read';
      xPaths: ReadonlyMap<string, string>;
      yPaths: ReadonlyMap<string, string>;
      states: ReadonlyMap<string, PathResult>;
    };

async function correlationPass(
  deps: AnalyticsDeps,
  input: CorrelationInput,
  runs: RunRow[],
  checkpoints: CheckpointRef[],
  mode: PassMode,
): Promise<{
  output: Omit<CorrelationOutput, 'progress'>;
  queued: Array<{ pathId: string; alphas: number[] }>;
  xPaths: Map<string, string>;
  yPaths: Map<string, string>;
}> {
  const groupBy = (input.groupBy ?? []).map((path) => ({ path, segments: path.split('.') }));
  let budget = mode.kind === 'queue' ? mode.budget : 0;
  const queued: Array<{ pathId: string; alphas: number[] }> = [];
  const xPaths = new Map<string, string>();
  const missing: CorrelationOutput['missing'] = [];
  const xs = new Map<string, number>();
  const xPending = new Set<string>();
  const ends = await storedXOfRuns(deps, input, runs, checkpoints);
  for (const run of runs) {
    const { from, to, stored, missing: reason } = ends.get(run.id)!;
    if (from === undefined || to === undefined) {
      missing.push({ run, reason: reason! });
      continue;
    }
    try {
      const x = await xValue(deps, input, run, from, to, budget > 0, stored!);
      if (x.evaluated) budget--;
      if (x.queued !== undefined) {
        queued.push(x.queued);
        xPaths.set(run.id, x.queued.pathId);
        if ('missing' in x && x.missing.startsWith(PENDING_REASON)) xPending.add(run.id);
      }
      if (mode.kind === 'read' && 'missing' in x && mode.xPaths.has(run.id)) {
        missing.push({ run, reason: queuedReason(mode.states.get(mode.xPaths.get(run.id)!)) });
        continue;
      }
      if ('missing' in x) missing.push({ run, reason: x.missing });
      else xs.set(run.id, x.value);
    } catch (error) {
      // One run whose checkpoints do not fit (another architecture, a changed object) must not sink the rest.
      if (!isLinpathError(error)) throw error;
      missing.push({ run, reason: `${error.code}: ${error.message}` });
    }
  }

  // y of the runs whose x is known or on its way, so that both are queued in the same pass.
  const y = await yValues(
    deps,
    input,
    runs.filter((r) => xs.has(r.id) || xPending.has(r.id)),
    checkpoints,
    budget,
    mode,
  );
  queued.push(...y.queued);
  const points: CorrelationPoint[] = [];
  for (const run of runs) {
    if (!xs.has(run.id)) continue;
    const value = y.values.get(run.id)!;
    if (typeof value === 'string') {
      missing.push({ run, reason: value });
      continue;
    }
    const values = groupBy.map(({ segments }) => valueAt(run.hyperparameters, segments) ?? null);
    points.push({ run, x: xs.get(run.id)!, y: value, group: groupBy.length === 0 ? null : JSON.stringify(values) });
  }

  const stats = (subset: CorrelationPoint[]) =>
    correlateInSlices(
      subset.map((p) => p.x),
      subset.map((p) => p.y),
      input.statistics,
    );
  const members = new Map<string, CorrelationPoint[]>();
  for (const point of points) {
    if (point.group === null) continue;
    const list = members.get(point.group);
    if (list === undefined) members.set(point.group, [point]);
    else list.push(point);
  }
  const groups: CorrelationOutput['groups'] = [];
  const keys = [...members.keys()].map((key) => ({ key, values: JSON.parse(key) as unknown[] }));
  for (const { key, values } of keys.sort((a, b) => compareValues(a.values, b.values)))
    groups.push({ key, values, overall: await stats(members.get(key)!) });
  return { output: { overall: await stats(points), groups, points, missing }, queued, xPaths, yPaths: y.pathByRun };
}

export async function allRuns(deps: AnalyticsDeps, filter: RunFilterInput | null | undefined): Promise<RunRow[]> {
  const max = deps.limits.maxCorrelationRuns;
  const rows = await deps.paths.registry.listRuns(
    validateFilter(filter),
    { field: 'CREATED_AT', direction: 'ASC' },
    max + 1,
    undefined,
  );
  if (rows.length > max) {
    throw badUserInput(
      `runs: expected at most ${max} runs to correlate (LINPATH_MAX_CORRELATION_RUNS), the filter matches more; narrow it`,
    );
  }
  return rows.map(({ sortValue: _sortValue, ...run }) => run);
}

type XValue = ({ value: number } | { missing: string }) & {
  evaluated: boolean;
  queued?: { pathId: string; alphas: number[] };
};

/** x of one run; `evaluate`: a missing distance may be computed and a missing path queued (bulk). */
async function xValue(
  deps: AnalyticsDeps,
  input: CorrelationInput,
  run: RunRow,
  from: CheckpointRef,
  to: CheckpointRef,
  evaluate: boolean,
  stored: StoredX,
): Promise<XValue> {
  if (isLinpathError(stored)) throw stored;
  if (input.x.startsWith('DISTANCE_')) {
    const request = {
      from: from.id,
      to: to.id,
      metric: input.x.slice('DISTANCE_'.length) as DistanceMetric,
      blocks: input.path.blocks,
    };
    // An uncached distance reads both checkpoints in full: it counts against the evaluation budget.
    if ('distance' in stored && stored.distance !== undefined) return { value: stored.distance, evaluated: false };
    if (!evaluate) return { missing: 'distance not computed: maxEvaluations reached', evaluated: false };
    return { value: (await checkpointDistance(deps, request))!.distance.value, evaluated: true };
  }
  if (!('points' in stored)) throw new Error('correlation: expected the stored points of a path');
  const { missingAlphas, barriers } = stored;
  let points: readonly BarrierPoint[] = stored.points;
  let evaluated = false;
  if (missingAlphas.length > 0) {
    if (!evaluate)
      return {
        missing: `path not evaluated: maxEvaluations reached (${missingAlphas.length} alphas missing)`,
        evaluated,
      };
    // The run's own TEST split is looked up only here, for a path to queue: storedXValues read them all at once.
    const request = {
      from: from.id,
      to: to.id,
      dataset: input.path.dataset ?? (await runTestSet(deps, run)),
      blocks: input.path.blocks,
      alphas: input.path.alphas,
      limit: input.path.limit,
    };
    const state = await interpolationPath(deps.paths, request, { wait: false, priority: 'bulk' });
    const queued = {
      pathId: state.path.id,
      alphas: [...new Set((input.path.alphas ?? DEFAULT_ALPHAS).map((a) => (a === 0 ? 0 : a)))],
    };
    evaluated = true;
    if (state.failure !== null)
      return { missing: `${state.failure.code}: ${state.failure.message}`, evaluated, queued };
    if (state.status !== 'COMPLETE')
      return {
        missing: `${PENDING_REASON} (${state.progress.done}/${state.progress.total} alphas stored)`,
        evaluated,
        queued,
      };
    points = state.points;
    return { ...barrierX(input, points), evaluated, queued };
  }
  return { ...barrierX(input, points, barriers), evaluated };
}

async function yValues(
  deps: AnalyticsDeps,
  input: CorrelationInput,
  runs: RunRow[],
  checkpoints: readonly CheckpointRef[],
  budget: number,
  mode: PassMode,
): Promise<{
  values: Map<string, number | string>;
  queued: Array<{ pathId: string; alphas: number[] }>;
  pathByRun: Map<string, string>;
}> {
  const values = new Map<string, number | string>();
  if (input.y === 'REPORTED') {
    const segments = input.yMetric!.split('.');
    for (const run of runs) {
      const value = valueAt(run.reportedMetrics, segments);
      values.set(
        run.id,
        typeof value === 'number' && Number.isFinite(value) ? value : `no numeric reported metric "${input.yMetric}"`,
      );
    }
    return { values, queued: [], pathByRun: new Map() };
  }
  const split: Split = input.y.startsWith('TEST') ? 'TEST' : 'TRAIN';
  const endpoints = await runEndpointMetrics(deps, runs, split, {
    evaluate: mode.kind === 'queue',
    maxEvaluations: budget,
    wait: false,
    priority: 'bulk',
    checkpoints,
  });
  const kind = input.y.slice(split.length + 1);
  for (const run of runs) {
    const metric = endpoints.metrics.get(run.id)!;
    if ('missing' in metric) {
      const queuedBefore = mode.kind === 'read' ? mode.yPaths.get(run.id) : undefined;
      const reason =
        mode.kind === 'queue'
          ? metric.missing
          : queuedBefore !== undefined
            ? queuedReason(mode.states.get(queuedBefore))
            : metric.missing === 'not evaluated yet'
              ? 'not evaluated: the evaluation limit was reached'
              : metric.missing;
      values.set(run.id, `${split.toLowerCase()} metric: ${reason}`);
      continue;
    }
    const value = kind === 'ACCURACY' ? metric.accuracy : kind === 'ERROR' ? 1 - metric.accuracy : metric.loss;
    values.set(run.id, value === null ? `${input.y} is not finite` : value);
  }
  return { values, queued: endpoints.queued, pathByRun: endpoints.pathByRun };
}

/** Groups in order of their values: numbers numerically, then strings, then anything else; null last. */
export function compareValues(a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [x, y] = [a[i] ?? null, b[i] ?? null];
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const order = String(typeof x).localeCompare(typeof y) || JSON.stringify(x).localeCompare(JSON.stringify(y));
    if (order !== 0) return order;
  }
  return 0;
}

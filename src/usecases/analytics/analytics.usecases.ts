import { createHash } from 'node:crypto';
import {
  classifyLayerwise,
  pathBarrierMetrics,
  type BarrierMetrics,
  type BarrierOptions,
  type LayerwiseClassification,
} from '../../domain/barrier.metrics.js';
import { correlate, type CorrelationOptions, type CorrelationResult } from '../../domain/correlation.js';
import { distance, distanceTensors, type DistanceMetric } from '../../domain/distances.js';
import { badUserInput, isLinpathError, LinpathError } from '../../errors.js';
import type { AnalyticsRepository } from '../../storage/analytics.repository.js';
import type { DistanceRow } from '../../storage/analytics.tables.js';
import type { CheckpointRow, DatasetRow, RunRow } from '../../storage/registry.tables.js';
import type { Priority } from '../../queue/eval-queue.js';
import {
  interpolationPath,
  pathStates,
  resolveEndpoints,
  storedPoints,
  storedPointsOfRows,
  waitForPaths,
  DEFAULT_ALPHAS,
  type InterpolationPathInput,
  type PathDeps,
  type PathPoint,
  type PathResult,
} from '../paths/paths.usecases.js';
import { validateFilter, type RunFilterInput } from '../registry/runs.usecases.js';

export interface AnalyticsDeps {
  paths: PathDeps;
  analytics: AnalyticsRepository;
  limits: AnalyticsLimits;
}

export interface AnalyticsLimits {
  /** Most blocks of one block-wise request, each one path (LINPATH_MAX_BLOCKS). */
  maxBlocks: number;
  /** Most runs one correlation or report takes (LINPATH_MAX_CORRELATION_RUNS). */
  maxCorrelationRuns: number;
}

export const DEFAULT_ANALYTICS_LIMITS: AnalyticsLimits = { maxBlocks: 256, maxCorrelationRuns: 1000 };

// ------------------------------------------------------------------------------------- barrier metrics

/** Loss and accuracy of stored points as the barrier metrics take them (null: non-finite). */
export const pointValues = (points: readonly PathPoint[]) =>
  points.map((p) => {
    const loss = p.lossSum / p.n;
    return { alpha: p.alpha, loss: Number.isFinite(loss) ? loss : null, accuracy: p.correct / p.n };
  });

/** Barrier metrics of a path's loss and error curves, from its stored points (never stored themselves). */
export function pathBarriers(
  points: readonly PathPoint[],
  options: { loss?: BarrierOptions; error?: BarrierOptions } = {},
) {
  return pathBarrierMetrics(pointValues(points), options);
}

// --------------------------------------------------------------------------------------------- distances

export interface DistanceInput {
  from: string;
  to: string;
  metric: DistanceMetric;
  blocks?: readonly string[] | null | undefined;
}

/**
 * A distance between two checkpoints (optionally over some blocks), memoized in Postgres by content: both
 * pinned objects, the metric and the tensors it covers.
 */
export async function checkpointDistance(
  deps: AnalyticsDeps,
  input: DistanceInput,
): Promise<{ distance: DistanceRow; cached: boolean }>;
/** With compute: false, only a stored distance is returned (undefined when there is none). */
export async function checkpointDistance(
  deps: AnalyticsDeps,
  input: DistanceInput,
  options: { compute: boolean },
): Promise<{ distance: DistanceRow; cached: boolean } | undefined>;
export async function checkpointDistance(
  deps: AnalyticsDeps,
  input: DistanceInput,
  options: { compute: boolean } = { compute: true },
): Promise<{ distance: DistanceRow; cached: boolean } | undefined> {
  const endpoints = await resolveEndpoints(deps.paths, input);
  const { from, to, graph, selection } = endpoints;
  const identity = (c: CheckpointRow) => `${c.uri}@${c.etag}:${c.size}`;
  const key = createHash('sha256')
    .update(
      JSON.stringify([
        identity(from),
        identity(to),
        input.metric,
        selection.moving === 'all' ? '*' : selection.movingNames,
      ]),
    )
    .digest('hex');
  const stored = await deps.analytics.findDistance(key);
  if (stored !== undefined) return { distance: stored, cached: true };
  if (!options.compute) return undefined;

  const [a, b] = await Promise.all([deps.paths.states.get(from), deps.paths.states.get(to)]);
  const tensors = graph.state.filter((s) => s.kind === 'float');
  const restrict = selection.moving === 'all' ? undefined : selection.moving;
  const value = distance(input.metric, a.tensors, b.tensors, tensors, restrict);
  const covered = distanceTensors(input.metric, tensors, restrict).length;
  const row = await deps.analytics.insertDistance({
    key,
    fromCheckpointId: from.id,
    toCheckpointId: to.id,
    metric: input.metric,
    blocks: selection.blocks ?? null,
    tensorCount: covered,
    value,
  });
  return { distance: row, cached: false };
}

// ------------------------------------------------------------------------------------- block-wise paths

export interface BlockwiseInput extends Omit<InterpolationPathInput, 'blocks'> {
  /** Default: the architecture's top-level blocks. */
  blocks?: readonly string[] | null | undefined;
  /** A block is HIGH when its barrier exceeds relativeThreshold × the end point's loss. */
  relativeThreshold?: number | null | undefined;
  barrier?: BarrierOptions | undefined;
}

export interface BlockwiseResult {
  paths: Array<{ block: string; result: PathResult; loss: BarrierMetrics }>;
  /** Loss of θ_to, where every block-wise path ends (α = 1); null when it is not finite. */
  endpointLoss: number | null;
  classification: LayerwiseClassification | null;
}

/**
 * One path per block, each moving only that block (Vlaar & Frankle 2022, Fig. 1B), and the classification
 * of their barriers as high or low (Table 1: H-LB / L-LB) by each block's height above its end points.
 */
export async function blockwisePaths(deps: AnalyticsDeps, input: BlockwiseInput): Promise<BlockwiseResult> {
  const { graph } = await resolveEndpoints(deps.paths, { from: input.from, to: input.to });
  if (input.alphas != null && !(input.alphas.includes(0) && input.alphas.includes(1))) {
    throw badUserInput(
      `alphas: block-wise barriers are measured against the curves' end points, so alphas must include 0 and 1, got [${input.alphas.join(', ')}]`,
    );
  }
  const blocks = input.blocks ?? graph.blocks;
  if (blocks.length === 0) throw badUserInput('blocks: expected at least one block, got []');
  const distinctBlocks = new Set(blocks).size;
  if (distinctBlocks > deps.limits.maxBlocks) {
    throw badUserInput(
      `blocks: expected at most ${deps.limits.maxBlocks} blocks per request (LINPATH_MAX_BLOCKS), got ${distinctBlocks}`,
    );
  }
  const paths: BlockwiseResult['paths'] = [];
  // All blocks are queued first, so that every worker can take one; then they are awaited together.
  const requested: Array<{ block: string; pathId: string; alphas: number[] }> = [];
  for (const block of new Set(blocks)) {
    const state = await interpolationPath(
      deps.paths,
      { ...input, blocks: [block] },
      { wait: false, priority: 'interactive' },
    );
    requested.push({
      block,
      pathId: state.path.id,
      alphas: [...new Set((input.alphas ?? DEFAULT_ALPHAS).map((a) => (a === 0 ? 0 : a)))],
    });
  }
  await waitForPaths(deps.paths, requested, deps.paths.settings.maxWaitMs);
  const states = await pathStates(deps.paths, requested);
  for (const { block, pathId } of requested) {
    const result = states.get(pathId)!;
    if (result.failure !== null)
      throw new LinpathError(result.failure.code as LinpathError['code'], `block ${block}: ${result.failure.message}`);
    paths.push({ block, result, loss: pathBarriers(result.points, { loss: input.barrier ?? {} }).loss });
  }
  const complete = paths.every((p) => p.result.status === 'COMPLETE');
  const atOne = paths[0]?.result.points.find((p) => p.alpha === 1);
  const endpointLoss = atOne === undefined ? null : atOne.lossSum / atOne.n;
  const heights = Object.fromEntries(
    paths.map(({ block, loss }) => [block, loss.heightAboveEndpoints ?? Number.POSITIVE_INFINITY]),
  );
  // Blocks are classified against each other only when every curve is complete.
  const classification =
    !complete || endpointLoss === null || !Number.isFinite(endpointLoss) || endpointLoss <= 0
      ? null
      : classifyLayerwise(
          heights,
          endpointLoss,
          input.relativeThreshold == null ? {} : { relativeThreshold: input.relativeThreshold },
        );
  return { paths, endpointLoss, classification };
}

// ------------------------------------------------------------------------------------ run-level metrics

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
  const checkpoints = await deps.paths.registry.checkpointsOfRuns(runs.map((r) => r.id));
  const datasets = await deps.analytics.datasetsByName(
    runs.flatMap((r) => (r.datasetName === null ? [] : [r.datasetName])),
  );

  const targets: Array<{ run: RunRow; initial: CheckpointRow | undefined; final: CheckpointRow; dataset: DatasetRow }> =
    [];
  for (const run of runs) {
    const final = checkpoints.find((c) => c.runId === run.id && c.role === 'FINAL');
    const dataset = datasets.find((d) => d.name === run.datasetName && d.split === split);
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
        initial: checkpoints.find((c) => c.runId === run.id && c.role === 'INITIAL'),
        final,
        dataset,
      });
  }

  const stored = await deps.analytics.endpointPoints(
    targets.map((t) => ({ checkpointId: t.final.id, datasetId: t.dataset.id })),
  );
  let budget = options.maxEvaluations ?? Number.POSITIVE_INFINITY;
  const queued: Array<{ runId: string; pathId: string }> = [];
  for (const target of targets) {
    const point = stored.find((p) => p.checkpointId === target.final.id && p.datasetId === target.dataset.id);
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
  const requests = runs.map((run) => {
    const initial = checkpoints.find((c) => c.runId === run.id && c.role === 'INITIAL');
    const final = checkpoints.find((c) => c.runId === run.id && c.role === 'FINAL');
    const dataset = datasets.find((d) => d.name === run.datasetName && d.split === 'TEST');
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
    return pathBarriers(result.points).loss;
  });
}

const metricOf = (point: { lossSum: number; correct: number; n: number }): EndpointMetric => {
  const loss = point.lossSum / point.n;
  return { loss: Number.isFinite(loss) ? loss : null, accuracy: point.correct / point.n, n: point.n };
};

// ------------------------------------------------------------------------------------------ correlation

export { X_METRICS, Y_METRICS, type XMetric, type YMetric } from '../../domain/correlation-metrics.js';
import type { XMetric, YMetric } from '../../domain/correlation-metrics.js';

export interface CorrelationInput {
  runs?: RunFilterInput | null | undefined;
  x: XMetric;
  y: YMetric;
  /** For y = REPORTED: dot-separated path into the run's reported metrics. */
  yMetric?: string | null | undefined;
  /** The path whose barrier is x: between two checkpoints of each run, on a dataset. */
  path: {
    from: 'INITIAL' | 'FINAL';
    to: 'INITIAL' | 'FINAL';
    dataset: string;
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

/** Permutations and bootstrap resamples run on the request's thread: bounded so no query can stall the server. */
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
  if (input.path.from === input.path.to)
    throw badUserInput(`path: from and to must differ, got ${input.path.from} for both`);
  for (const field of ['permutations', 'bootstrap'] as const) {
    const value = input.statistics?.[field];
    if (value !== undefined && (!Number.isInteger(value) || value < 0 || value > MAX_RESAMPLES)) {
      throw badUserInput(`${field}: expected an integer from 0 to ${MAX_RESAMPLES}, got ${value}`);
    }
  }
  const budget = input.maxEvaluations ?? DEFAULT_MAX_EVALUATIONS;
  if (!Number.isInteger(budget) || budget < 0)
    throw badUserInput(`maxEvaluations: expected an integer ≥ 0, got ${budget}`);
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
  const checkpoints = await deps.paths.registry.checkpointsOfRuns(runs.map((r) => r.id));

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
  checkpoints: CheckpointRow[],
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
  for (const run of runs) {
    const from = checkpoints.find((c) => c.runId === run.id && c.role === input.path.from);
    const to = checkpoints.find((c) => c.runId === run.id && c.role === input.path.to);
    if (from === undefined || to === undefined) {
      missing.push({
        run,
        reason: `the run has no ${from === undefined ? input.path.from : input.path.to} checkpoint`,
      });
      continue;
    }
    try {
      const x = await xValue(deps, input, from, to, budget > 0);
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
    correlate(
      subset.map((p) => p.x),
      subset.map((p) => p.y),
      input.statistics,
    );
  const groups = [...new Set(points.map((p) => p.group).filter((g): g is string => g !== null))]
    .map((key) => ({ key, values: JSON.parse(key) as unknown[] }))
    .sort((a, b) => compareValues(a.values, b.values))
    .map(({ key, values }) => ({ key, values, overall: stats(points.filter((p) => p.group === key)) }));
  return { output: { overall: stats(points), groups, points, missing }, queued, xPaths, yPaths: y.pathByRun };
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
  from: CheckpointRow,
  to: CheckpointRow,
  evaluate: boolean,
): Promise<XValue> {
  if (input.x.startsWith('DISTANCE_')) {
    const request = {
      from: from.id,
      to: to.id,
      metric: input.x.slice('DISTANCE_'.length) as DistanceMetric,
      blocks: input.path.blocks,
    };
    // An uncached distance reads both checkpoints in full: it counts against the evaluation budget.
    const stored = await checkpointDistance(deps, request, { compute: false });
    if (stored !== undefined) return { value: stored.distance.value, evaluated: false };
    if (!evaluate) return { missing: 'distance not computed: maxEvaluations reached', evaluated: false };
    return { value: (await checkpointDistance(deps, request))!.distance.value, evaluated: true };
  }
  const request = {
    from: from.id,
    to: to.id,
    dataset: input.path.dataset,
    blocks: input.path.blocks,
    alphas: input.path.alphas,
    limit: input.path.limit,
  };
  const stored = await storedPoints(deps.paths, request);
  const { missingAlphas } = stored;
  let { points } = stored;
  let evaluated = false;
  if (missingAlphas.length > 0) {
    if (!evaluate)
      return {
        missing: `path not evaluated: maxEvaluations reached (${missingAlphas.length} alphas missing)`,
        evaluated,
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
  return { ...barrierX(input, points), evaluated };
}

function barrierX(input: CorrelationInput, points: readonly PathPoint[]): { value: number } | { missing: string } {
  const barriers = pathBarriers(points, { loss: input.barrier ?? {}, error: input.barrier ?? {} });
  const metrics = input.x.startsWith('ERROR_') ? barriers.error : barriers.loss;
  const name = input.x.replace(/^ERROR_/, '');
  const value =
    name === 'FRANKLE_HEIGHT'
      ? metrics.frankleHeight
      : name === 'HEIGHT_ABOVE_ENDPOINTS'
        ? metrics.heightAboveEndpoints
        : name === 'MLI_DELTA'
          ? metrics.mliDelta
          : name === 'ALPHA_AT_MAX'
            ? metrics.alphaAtMax
            : metrics.monotonic === null
              ? null
              : Number(metrics.monotonic);
  return value === null ? { missing: `${input.x} is undefined for this path (non-finite points)` } : { value };
}

async function yValues(
  deps: AnalyticsDeps,
  input: CorrelationInput,
  runs: RunRow[],
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

export function valueAt(object: Record<string, unknown>, segments: readonly string[]): unknown {
  let value: unknown = object;
  for (const segment of segments) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

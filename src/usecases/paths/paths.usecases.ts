import { buildModelGraph, checkCheckpoint } from '../../compute/architectures/index.js';
import type { EngineName } from '../../compute/engine.js';
import type { EngineProvider } from '../../compute/engines.js';
import type { Examples } from '../../domain/examples.js';
import type { ModelGraph } from '../../compute/model-ir.js';
import {
  restrictSelection,
  selectBlocks,
  type BlockSelection,
  type BnStatsMode,
  type TensorGroup,
} from '../../domain/blocks.js';
import { pathKey } from '../../domain/path-key.js';
import { isSettled, pathStatus, type PathProgress, type PathStatus } from '../../domain/path-status.js';
import { badUserInput, isLinpathError, LinpathError, notFound } from '../../errors.js';
import { EVALUATE_QUEUE, type EvalQueue, type Priority } from '../../queue/eval-queue.js';
import type { PathSnapshot, PathWatcher } from './path-watcher.js';
import type { CheckpointStateCache } from '../../storage/checkpoint-state.js';
import type { PathsRepository } from '../../storage/paths.repository.js';
import type { PathPointRow, PathRow } from '../../storage/paths.tables.js';
import type { RegistryRepository } from '../../storage/registry.repository.js';
import type { CheckpointRow, DatasetRow } from '../../storage/registry.tables.js';
import { isUuid } from '../../domain/ids.js';

export interface PathSettings {
  /** Most alphas one request may ask for. */
  maxAlphas: number;
  /** |α| may not exceed this (extrapolation beyond the end points is allowed up to it). */
  maxAbsAlpha: number;
  /** Examples per forward pass. */
  batchSize: number;
  defaultEngine: EngineName;
  /** Most examples one path may evaluate. */
  maxExamples: number;
  /** α per queue job; 0: sized from the model and the examples (see jobChunk). */
  jobAlphas: number;
  /** Longest wait of a `wait: true` request, and its default. */
  maxWaitMs: number;
}

/** Examples of a dataset in a model's input layout; cached by the caller. */
export type ExamplesSource = (dataset: DatasetRow, limit: number, inputShape: readonly number[]) => Promise<Examples>;

export interface PathDeps {
  registry: RegistryRepository;
  paths: PathsRepository;
  engines: EngineProvider;
  states: CheckpointStateCache;
  examples: ExamplesSource;
  settings: PathSettings;
  /** Every evaluation goes through it, from this process or any other. */
  queue: EvalQueue;
  watcher: PathWatcher;
}

export interface InterpolationPathInput {
  from: string;
  to: string;
  dataset: string;
  blocks?: readonly string[] | null | undefined;
  alphas?: readonly number[] | null | undefined;
  /** Evaluate only the first `limit` examples. */
  limit?: number | null | undefined;
  engine?: EngineName | null | undefined;
  /**
   * BatchNorm running statistics: INTERPOLATE (default), KEEP_TO (they stay at `to`) or RECOMPUTE (at each α,
   * over the first `bnStatsExamples` examples of `bnStatsDataset`).
   */
  bnStats?: BnStatsMode | null | undefined;
  /** RECOMPUTE only. Default: the TRAIN split of the evaluated dataset's name. */
  bnStatsDataset?: string | null | undefined;
  /** RECOMPUTE only. Default: min(DEFAULT_BN_STATS_EXAMPLES, the dataset's examples). */
  bnStatsExamples?: number | null | undefined;
  /** Which tensors of the blocks move (default ALL). */
  tensors?: TensorGroup | null | undefined;
}

export interface PathPoint extends PathPointRow {
  /** True when the point was stored before this request asked for it. */
  cached: boolean;
}

export interface PathResult {
  path: PathRow;
  points: PathPoint[];
  status: PathStatus;
  progress: PathProgress;
  /** Why the path FAILED; null otherwise. */
  failure: { code: string; message: string } | null;
}

export interface RequestOptions {
  /** Wait until every α is stored (or the path fails, or timeoutMs passes); false: answer at once. */
  wait?: boolean;
  /** Default and maximum: LINPATH_MAX_WAIT_MS. */
  timeoutMs?: number | null | undefined;
  /** Default: interactive when waiting, background otherwise; sweeps and correlations queue as bulk. */
  priority?: Priority;
  /** Called whenever the number of stored alphas changes while waiting. */
  onProgress?: (progress: PathProgress) => void;
}

const BN_STATS_MODES: readonly BnStatsMode[] = ['INTERPOLATE', 'KEEP_TO', 'RECOMPUTE'];
/** Examples BatchNorm statistics are recomputed over when a RECOMPUTE path does not say. */
export const DEFAULT_BN_STATS_EXAMPLES = 2048;
const TENSOR_GROUPS: readonly TensorGroup[] = ['ALL', 'WEIGHTS', 'RUNNING_STATS'];

export const DEFAULT_ALPHAS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10);

/**
 * The loss and accuracy along θ(α) = (1 − α)·θ_from + α·θ_to (only `blocks` moving, the rest at θ_to) on a
 * dataset. Stored points are returned as they are; the missing alphas are queued (once, however many
 * requests from however many processes ask) and evaluated by the workers, each stored as it completes.
 * With `wait` the answer comes when every α is stored, the path fails (thrown with its code), or the
 * timeout passes (then with what is known and status PENDING or RUNNING).
 */
export async function interpolationPath(
  deps: PathDeps,
  input: InterpolationPathInput,
  options: RequestOptions = {},
): Promise<PathResult> {
  const wait = options.wait ?? true;
  const timeoutMs = validateTimeout(options.timeoutMs, deps.settings);
  const alphas = validateAlphas(input.alphas ?? DEFAULT_ALPHAS, deps.settings);
  const plan = await planPath(deps, input);
  let path = await deps.paths.findOrCreatePath({
    key: plan.key,
    fromCheckpointId: plan.from.id,
    toCheckpointId: plan.to.id,
    datasetId: plan.dataset.id,
    blocks: plan.selection.blocks ?? null,
    movingTensorCount: plan.selection.movingNames.length,
    exampleCount: plan.limit,
    bnStats: plan.bnStats,
    bnStatsDatasetId: plan.bnStatsData?.dataset.id ?? null,
    bnStatsExamples: plan.bnStatsData?.limit ?? null,
    tensorGroup: plan.tensors,
  });
  // A failure that may pass (storage away, retries exhausted) is retried by the next request; one that
  // will not (a changed object, a checkpoint that does not fit) stays until retryPath clears it.
  if (path.failureCode !== null && TRANSIENT_FAILURES.has(path.failureCode)) {
    await deps.paths.clearFailure(path.id);
    path = (await deps.paths.findPath(path.id))!; // cleared by this request or a concurrent one
  }

  const storedBefore = new Set((await deps.paths.points(path.id, alphas)).map((p) => p.alpha));
  const missing = alphas.filter((alpha) => !storedBefore.has(alpha));
  if (path.failureCode === null && missing.length > 0) {
    await deps.queue.enqueue({
      pathId: path.id,
      alphas: missing,
      engine: input.engine ?? null,
      priority: options.priority ?? (wait ? 'interactive' : 'background'),
      chunk: jobChunk(deps.settings, plan.to.parameterCount, examplesPerAlpha(plan)),
    });
  }

  const snapshot = wait
    ? await waitForPath(deps, path.id, alphas, timeoutMs, options.onProgress)
    : await readSnapshot(deps, path.id);
  const result = resultOf(snapshot, alphas, storedBefore);
  if (wait && result.failure !== null)
    throw new LinpathError(result.failure.code as LinpathError['code'], result.failure.message);
  return result;
}

/** Failure codes that a later request retries by itself (workers store UNAVAILABLE when retries run out). */
const TRANSIENT_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE']);

/**
 * α per job. One job should be seconds to a minute of work, so that work spreads over the workers and a
 * lost job costs little: about 3·10¹⁰ parameter·examples per job (≈ 5 α of ResNet-18 on 500 CIFAR images,
 * ≈ 10 s on two CPU cores; the whole grid of a small MLP), between 1 and 32 α.
 */
export function jobChunk(settings: Pick<PathSettings, 'jobAlphas'>, parameterCount: number, examples: number): number {
  if (settings.jobAlphas > 0) return settings.jobAlphas;
  return Math.max(1, Math.min(32, Math.floor(3e10 / Math.max(1, parameterCount * examples))));
}

/** Where a path stands now, without queueing anything. */
export async function pathState(
  deps: Pick<PathDeps, 'paths'>,
  pathId: string,
  alphas?: readonly number[],
): Promise<PathResult> {
  const snapshot = await readSnapshot(deps, pathId);
  return resultOf(snapshot, alphas ?? gridOf(snapshot), new Set(snapshot.points.map((p) => p.alpha)));
}

/** The state of several paths' requests, read in three queries. */
export async function pathStates(
  deps: Pick<PathDeps, 'paths'>,
  requests: ReadonlyArray<{ pathId: string; alphas: readonly number[] }>,
): Promise<Map<string, PathResult>> {
  const snapshot = await deps.paths.snapshot([...new Set(requests.map((r) => r.pathId))], EVALUATE_QUEUE);
  const states = new Map<string, PathResult>();
  for (const path of snapshot.paths) {
    const own: PathSnapshot = {
      path,
      points: snapshot.points.filter((p) => p.pathId === path.id),
      tasks: snapshot.tasks.filter((t) => t.pathId === path.id),
    };
    const alphas = [...new Set(requests.filter((r) => r.pathId === path.id).flatMap((r) => r.alphas))].sort(
      (a, b) => a - b,
    );
    states.set(path.id, resultOf(own, alphas, new Set(own.points.map((p) => p.alpha))));
  }
  return states;
}

/**
 * Waits until every request is settled (COMPLETE, FAILED or PARTIAL) or `timeoutMs` passes, on the
 * watcher's shared polls. Returns false when the time ran out.
 */
export function waitForPaths(
  deps: Pick<PathDeps, 'watcher'>,
  requests: ReadonlyArray<{ pathId: string; alphas: readonly number[] }>,
  timeoutMs: number,
  onProgress?: (progress: { done: number; total: number }) => void,
): Promise<boolean> {
  const open = new Map<string, { alphas: number[]; done: number; total: number; settled: boolean }>();
  for (const r of requests) {
    const entry = open.get(r.pathId) ?? { alphas: [], done: 0, total: 0, settled: false };
    entry.alphas = [...new Set([...entry.alphas, ...r.alphas])];
    entry.total = entry.alphas.length;
    open.set(r.pathId, entry);
  }
  if (open.size === 0) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const stops: Array<() => void> = [];
    let lastDone = -1;
    const finish = (complete: boolean) => {
      clearTimeout(timer);
      deps.watcher.closed$.removeEventListener('abort', giveUp);
      for (const stop of stops) stop();
      resolve(complete);
    };
    const giveUp = () => finish(false);
    for (const [pathId, entry] of open) {
      stops.push(
        deps.watcher.watch(pathId, (snapshot) => {
          const { status, progress } = pathStatus({
            alphas: entry.alphas,
            points: snapshot.points,
            tasks: snapshot.tasks,
            failed: snapshot.path.failureCode !== null,
          });
          entry.done = progress.done;
          entry.settled = isSettled(status);
          const done = [...open.values()].reduce((sum, e) => sum + e.done, 0);
          if (done !== lastDone) {
            lastDone = done;
            onProgress?.({ done, total: [...open.values()].reduce((sum, e) => sum + e.total, 0) });
          }
          if ([...open.values()].every((e) => e.settled)) finish(true);
        }),
      );
    }
    const timer = setTimeout(giveUp, timeoutMs);
    if (deps.watcher.closed$.aborted) giveUp();
    else deps.watcher.closed$.addEventListener('abort', giveUp, { once: true });
  });
}

/** Stops the queued work of a path; returns its state after. */
export async function cancelPath(
  deps: Pick<PathDeps, 'paths' | 'queue'>,
  pathId: string,
): Promise<PathResult & { cancelled: number[] }> {
  await findPathOrThrow(deps, pathId);
  const cancelled = await deps.queue.cancel(pathId);
  const snapshot = await readSnapshot(deps, pathId);
  const alphas = [...new Set([...gridOf(snapshot), ...cancelled])].sort((a, b) => a - b);
  return { ...resultOf(snapshot, alphas, new Set(snapshot.points.map((p) => p.alpha))), cancelled };
}

/** Clears a FAILED path's failure so that requests queue its missing points again. */
export async function retryPath(deps: Pick<PathDeps, 'paths'>, pathId: string): Promise<PathResult> {
  const path = await findPathOrThrow(deps, pathId);
  if (path.failureCode === null) throw badUserInput(`path ${pathId} has not failed; only a FAILED path can be retried`);
  await deps.paths.clearFailure(pathId);
  return pathState(deps, pathId);
}

/** The alphas a path has stored or queued: its grid when nobody says which alphas they want. */
export const gridOf = (snapshot: PathSnapshot): number[] =>
  [...new Set([...snapshot.points.map((p) => p.alpha), ...snapshot.tasks.map((t) => t.alpha)])].sort((a, b) => a - b);

export function resultOf(
  snapshot: PathSnapshot,
  alphas: readonly number[],
  storedBefore: ReadonlySet<number>,
): PathResult {
  const requested = new Set(alphas);
  const failed = snapshot.path.failureCode !== null;
  const { status, progress, jobFailed } = pathStatus({
    alphas,
    points: snapshot.points,
    tasks: snapshot.tasks,
    failed,
  });
  return {
    path: snapshot.path,
    points: snapshot.points
      .filter((p) => requested.has(p.alpha))
      .map((point) => ({ ...point, cached: storedBefore.has(point.alpha) })),
    status,
    progress,
    failure: failed
      ? { code: snapshot.path.failureCode!, message: snapshot.path.failureMessage ?? '' }
      : jobFailed
        ? JOB_FAILED
        : null,
  };
}

/** The failure of a path whose job ran out of retries without reporting (its workers died, or it expired). */
const JOB_FAILED = {
  code: 'UNAVAILABLE',
  message:
    'an evaluation job of this path ran out of retries: its workers stopped, or it ran longer than LINPATH_JOB_EXPIRE_SECONDS; ask again to retry',
};

async function readSnapshot(deps: Pick<PathDeps, 'paths'>, pathId: string): Promise<PathSnapshot> {
  if (!isUuid(pathId)) throw notFound(`path: no path with id "${pathId}"`);
  const snapshot = await deps.paths.snapshot([pathId], EVALUATE_QUEUE);
  const path = snapshot.paths[0];
  if (path === undefined) throw notFound(`path: no path with id "${pathId}"`);
  return { path, points: snapshot.points, tasks: snapshot.tasks };
}

/** Resolves with the path's state once its request is settled or `timeoutMs` has passed. */
function waitForPath(
  deps: Pick<PathDeps, 'watcher' | 'paths'>,
  pathId: string,
  alphas: readonly number[],
  timeoutMs: number,
  onProgress: RequestOptions['onProgress'],
): Promise<PathSnapshot> {
  return new Promise<PathSnapshot>((resolve) => {
    let last: PathSnapshot | undefined;
    let lastDone = -1;
    const finish = (snapshot: PathSnapshot) => {
      clearTimeout(timer);
      deps.watcher.closed$.removeEventListener('abort', giveUp);
      stop();
      resolve(snapshot);
    };
    const stop = deps.watcher.watch(pathId, (snapshot) => {
      last = snapshot;
      const { status, progress } = pathStatus({
        alphas,
        points: snapshot.points,
        tasks: snapshot.tasks,
        failed: snapshot.path.failureCode !== null,
      });
      if (progress.done !== lastDone) {
        lastDone = progress.done;
        onProgress?.(progress);
      }
      if (isSettled(status)) finish(snapshot);
    });
    const giveUp = () => {
      clearTimeout(timer);
      deps.watcher.closed$.removeEventListener('abort', giveUp);
      stop();
      // Not even one poll came back (the database is away): read once more, and fail as that read does.
      resolve(last ?? readSnapshot(deps, pathId));
    };
    const timer = setTimeout(giveUp, timeoutMs);
    // The process is shutting down: answer with what is known instead of holding the request open.
    if (deps.watcher.closed$.aborted) giveUp();
    else deps.watcher.closed$.addEventListener('abort', giveUp, { once: true });
  });
}

export async function findPathOrThrow(deps: Pick<PathDeps, 'paths'>, pathId: string): Promise<PathRow> {
  const path = isUuid(pathId) ? await deps.paths.findPath(pathId) : undefined;
  if (path === undefined) throw notFound(`path: no path with id "${pathId}"`);
  return path;
}

function validateTimeout(timeoutMs: number | null | undefined, settings: PathSettings): number {
  if (timeoutMs == null) return settings.maxWaitMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > settings.maxWaitMs) {
    throw badUserInput(
      `timeoutMs: expected an integer from 0 to ${settings.maxWaitMs} (LINPATH_MAX_WAIT_MS), got ${timeoutMs}`,
    );
  }
  return timeoutMs;
}

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
        return await planPathOf(deps, endpointsOf(rows.from, rows.to, null), async () => rows.dataset, input);
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

/**
 * Forward passes per α, in examples: the evaluated ones, plus for RECOMPUTE one pass over the statistics
 * examples per BatchNorm layer, each about half as deep as the model on average.
 */
function examplesPerAlpha(plan: PathPlan): number {
  if (plan.bnStatsData === undefined) return plan.limit;
  const layers = plan.graph.nodes.filter((node) => node.op === 'batchnorm').length;
  return plan.limit + Math.ceil((plan.bnStatsData.limit * layers) / 2);
}

export interface PathPlan {
  from: CheckpointRow;
  to: CheckpointRow;
  dataset: DatasetRow;
  graph: ModelGraph;
  selection: BlockSelection;
  limit: number;
  bnStats: BnStatsMode;
  /** RECOMPUTE: the examples BatchNorm statistics are recomputed over, the first `limit` of `dataset`. */
  bnStatsData: { dataset: DatasetRow; limit: number } | undefined;
  tensors: TensorGroup;
  key: string;
}

/** Two checkpoints of one architecture, with its graph and the blocks that move between them. */
export interface Endpoints {
  from: CheckpointRow;
  to: CheckpointRow;
  architecture: string;
  graph: ModelGraph;
  selection: BlockSelection;
}

/** Finds both checkpoints, checks they are the same architecture with the same tensors, resolves the blocks. */
export async function resolveEndpoints(
  deps: Pick<PathDeps, 'registry'>,
  input: { from: string; to: string; blocks?: readonly string[] | null | undefined },
): Promise<Endpoints> {
  const from = await findCheckpoint(deps, 'from', input.from);
  const to = await findCheckpoint(deps, 'to', input.to);
  return endpointsOf(from, to, input.blocks);
}

/** resolveEndpoints for checkpoints already read. */
function endpointsOf(from: CheckpointRow, to: CheckpointRow, blocks: readonly string[] | null | undefined): Endpoints {
  const architecture = to.architecture ?? from.architecture;
  if (architecture === null) {
    throw badUserInput(
      `checkpoints ${from.id} and ${to.id} have no architecture; register them (or their run) with one, e.g. "mlp" or "resnet18-cifar"`,
    );
  }
  if (from.architecture !== null && from.architecture !== architecture) {
    throw badUserInput(`from and to must share an architecture: from is ${from.architecture}, to is ${architecture}`);
  }
  const graph = buildModelGraph(architecture, to.header.tensors);
  try {
    checkCheckpoint(graph, from.header.tensors);
  } catch (error) {
    throw badUserInput(`from and to must have the same tensors: ${(error as Error).message}`);
  }
  const floatTensors = graph.state.filter((s) => s.kind === 'float').map((s) => s.name);
  const selection = selectBlocks(floatTensors, blocks, {
    architecture,
    topLevel: graph.blocks,
    aliases: graph.aliases,
  });
  return { from, to, architecture, graph, selection };
}

/** Checks the request against the registry and computes the path's identity; reads no tensors. */
async function planPath(
  deps: Pick<PathDeps, 'registry' | 'settings'>,
  input: InterpolationPathInput,
): Promise<PathPlan> {
  const endpoints = await resolveEndpoints(deps, input);
  return planPathOf(
    deps,
    endpoints,
    async () => {
      const dataset = isUuid(input.dataset) ? await deps.registry.findDataset(input.dataset) : undefined;
      if (dataset === undefined) throw notFound(`dataset: no dataset with id "${input.dataset}"`);
      return dataset;
    },
    input,
  );
}

/**
 * planPath for checkpoints already read; the dataset is asked for after the checks that need none, so an
 * invalid request is refused as such whatever its dataset.
 */
async function planPathOf(
  deps: Pick<PathDeps, 'registry' | 'settings'>,
  endpoints: Endpoints,
  datasetOf: () => Promise<DatasetRow>,
  input: InterpolationPathInput,
): Promise<PathPlan> {
  const { from, to, architecture, graph } = endpoints;
  const bnStats = input.bnStats ?? 'INTERPOLATE';
  const tensors = input.tensors ?? 'ALL';
  if (!BN_STATS_MODES.includes(bnStats))
    throw badUserInput(`bnStats: expected one of ${BN_STATS_MODES.join(', ')}, got "${bnStats}"`);
  if (!TENSOR_GROUPS.includes(tensors))
    throw badUserInput(`tensors: expected one of ${TENSOR_GROUPS.join(', ')}, got "${tensors}"`);
  const runningStats = new Set(
    graph.nodes.flatMap((node) => (node.op === 'batchnorm' ? [node.runningMean, node.runningVar] : [])),
  );
  const floatTensors = graph.state.filter((s) => s.kind === 'float').map((s) => s.name);
  const selection = restrictSelection(endpoints.selection, floatTensors, runningStats, {
    tensors,
    bnStats,
    architecture,
  });
  const dataset = await datasetOf();

  if (dataset.labelKind !== 'CLASS_INDEX') {
    throw badUserInput(
      `dataset "${dataset.name}" has ${dataset.labelKind} labels; evaluation needs CLASS_INDEX labels`,
    );
  }
  if (dataset.numClasses !== null && dataset.numClasses > Math.max(graph.outputs, 2)) {
    throw badUserInput(
      `dataset "${dataset.name}" has labels up to ${dataset.numClasses - 1}, but ${architecture} gives ${graph.outputs} logit(s)`,
    );
  }
  const limit = input.limit ?? dataset.exampleCount;
  if (!Number.isInteger(limit) || limit < 1 || limit > dataset.exampleCount) {
    throw badUserInput(
      `limit: expected an integer from 1 to ${dataset.exampleCount} (the dataset's examples), got ${limit}`,
    );
  }
  if (limit > deps.settings.maxExamples) {
    throw badUserInput(
      `limit: expected at most ${deps.settings.maxExamples} examples per path (LINPATH_MAX_EXAMPLES), got ${limit}${input.limit == null ? ' (the whole dataset)' : ''}`,
    );
  }

  const bnStatsData =
    bnStats === 'RECOMPUTE' ? await planBnStatsData(deps, input, graph, dataset, runningStats) : undefined;
  if (bnStats !== 'RECOMPUTE' && (input.bnStatsDataset != null || input.bnStatsExamples != null)) {
    throw badUserInput(`bnStatsDataset and bnStatsExamples apply to bnStats RECOMPUTE only, got bnStats ${bnStats}`);
  }

  const key = pathKey({
    architecture,
    from: identity(from),
    to: identity(to),
    movingTensors: selection.moving === 'all' ? ['*'] : selection.movingNames,
    dataset: {
      object: identity(dataset),
      labels:
        dataset.labelsUri == null
          ? undefined
          : { uri: dataset.labelsUri, etag: dataset.labelsEtag ?? '', size: dataset.labelsSize ?? 0 },
      view: datasetView(dataset),
    },
    exampleCount: limit,
    bnStats,
    // Absent unless RECOMPUTE, so the keys of the other modes are those they always had.
    bnStatsData:
      bnStatsData === undefined
        ? undefined
        : {
            object: identity(bnStatsData.dataset),
            view: datasetView(bnStatsData.dataset),
            exampleCount: bnStatsData.limit,
          },
  });
  return { from, to, dataset, graph, selection, limit, bnStats, bnStatsData, tensors, key };
}

const identity = (row: { uri: string; etag: string; size: number }) => ({
  uri: row.uri,
  etag: row.etag,
  size: row.size,
});

/** How a dataset's bytes are read into examples: part of a path's identity. */
const datasetView = (dataset: DatasetRow): Record<string, unknown> => ({
  format: dataset.format,
  inputKey: dataset.inputKey,
  labelKey: dataset.labelKey,
  layout: dataset.inputLayout,
  normalization: dataset.normalization,
});

/** The examples a RECOMPUTE path (or θ(α)) recomputes BatchNorm statistics over, checked against the model. */
export async function planBnStatsData(
  deps: Pick<PathDeps, 'registry' | 'settings'>,
  input: Pick<InterpolationPathInput, 'bnStatsDataset' | 'bnStatsExamples'>,
  graph: ModelGraph,
  evaluated: Pick<DatasetRow, 'name'> | undefined,
  runningStats: ReadonlySet<string>,
): Promise<{ dataset: DatasetRow; limit: number }> {
  if (runningStats.size === 0)
    throw badUserInput(`bnStats: RECOMPUTE needs BatchNorm layers; ${graph.architecture} has none`);
  let dataset: DatasetRow | undefined;
  if (input.bnStatsDataset != null) {
    dataset = isUuid(input.bnStatsDataset) ? await deps.registry.findDataset(input.bnStatsDataset) : undefined;
    if (dataset === undefined) throw notFound(`bnStatsDataset: no dataset with id "${input.bnStatsDataset}"`);
  } else {
    if (evaluated === undefined)
      throw badUserInput(
        'bnStatsDataset: RECOMPUTE needs the dataset whose examples the statistics are recomputed over',
      );
    dataset = await deps.registry.findDatasetByName(evaluated.name, 'TRAIN');
    if (dataset === undefined) {
      throw badUserInput(
        `bnStats: RECOMPUTE needs training examples: register the TRAIN split of "${evaluated.name}" or give bnStatsDataset`,
      );
    }
  }
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  if (size(dataset.inputShape) !== size(graph.inputShape)) {
    throw badUserInput(
      `bnStatsDataset "${dataset.name}" (${dataset.split}) holds examples of shape [${dataset.inputShape.join(', ')}], ${graph.architecture} takes [${graph.inputShape.join(', ')}]`,
    );
  }
  const limit =
    input.bnStatsExamples ?? Math.min(DEFAULT_BN_STATS_EXAMPLES, dataset.exampleCount, deps.settings.maxExamples);
  if (!Number.isInteger(limit) || limit < 2 || limit > dataset.exampleCount) {
    throw badUserInput(
      `bnStatsExamples: expected an integer from 2 to ${dataset.exampleCount} (the dataset's examples), got ${limit}`,
    );
  }
  if (limit > deps.settings.maxExamples) {
    throw badUserInput(
      `bnStatsExamples: expected at most ${deps.settings.maxExamples} examples (LINPATH_MAX_EXAMPLES), got ${limit}`,
    );
  }
  return { dataset, limit };
}

/**
 * The plan of a stored path, as a worker evaluates it: rebuilt from the registry and checked against the
 * path's key, so that a registry entry changed since the path was requested fails it instead of mixing
 * two models into one curve.
 */
export async function planOfPath(deps: Pick<PathDeps, 'registry' | 'settings'>, path: PathRow): Promise<PathPlan> {
  const plan = await planPath(
    { ...deps, settings: { ...deps.settings, maxExamples: Number.MAX_SAFE_INTEGER } },
    {
      from: path.fromCheckpointId,
      to: path.toCheckpointId,
      dataset: path.datasetId,
      blocks: path.blocks,
      limit: path.exampleCount,
      bnStats: path.bnStats as BnStatsMode,
      bnStatsDataset: path.bnStatsDatasetId,
      bnStatsExamples: path.bnStatsExamples,
      tensors: path.tensorGroup as TensorGroup,
    },
  );
  if (plan.key !== path.key) {
    throw new LinpathError(
      'CONFLICT',
      `path ${path.id}: its checkpoints or dataset were registered anew since it was requested; request the path again`,
    );
  }
  return plan;
}

async function findCheckpoint(deps: Pick<PathDeps, 'registry'>, field: string, id: string): Promise<CheckpointRow> {
  const checkpoint = isUuid(id) ? await deps.registry.findCheckpoint(id) : undefined;
  if (checkpoint === undefined) throw notFound(`${field}: no checkpoint with id "${id}"`);
  return checkpoint;
}

function validateAlphas(alphas: readonly number[], settings: PathSettings): number[] {
  if (alphas.length === 0) throw badUserInput('alphas: expected at least one α, got []');
  if (alphas.length > settings.maxAlphas) {
    throw badUserInput(
      `alphas: expected at most ${settings.maxAlphas} values (LINPATH_MAX_ALPHAS), got ${alphas.length}`,
    );
  }
  for (const alpha of alphas) {
    if (!Number.isFinite(alpha) || Math.abs(alpha) > settings.maxAbsAlpha) {
      throw badUserInput(
        `alphas: expected numbers from ${-settings.maxAbsAlpha} to ${settings.maxAbsAlpha}, got ${alpha}`,
      );
    }
  }
  // -0 and 0 are one α.
  return [...new Set(alphas.map((a) => (a === 0 ? 0 : a)))].sort((a, b) => a - b);
}

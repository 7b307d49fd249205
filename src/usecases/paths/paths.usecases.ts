import type { EngineName } from '../../compute/engine.js';
import { reuseShares } from '../../compute/graph-cuts.js';
import { irUnavailable } from '../../compute/model-ir.js';
import type { BnStatsMode, TensorGroup } from '../../domain/blocks.js';
import type { PathProgress, PathStatus } from '../../domain/path-status.js';
import { badUserInput, LinpathError } from '../../errors.js';
import type { Priority } from '../../queue/eval-queue.js';
import type { PathPointRow, PathRow } from '../../storage/paths.tables.js';
import { findPathOrThrow, gridOf, pathState, readSnapshot, resultOf } from './path-states.js';
import { endpointsOf, planPath, planPathOf, type PathPlan } from './path-plan.js';
import { gridKey } from './curve-summaries.js';
import { isUuid } from '../../domain/ids.js';
import { waitForPath } from './path-waits.js';
import { rememberFinishedCurve } from './stored-points.js';
import { refinedResult, validateRefine, type RefineInput, type RefinementSummary } from './refinement.js';
import type { PathDeps, PathSettings } from './paths.deps.js';

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
  /** Adaptive α after the grid, around the peaks (refinement.ts); absent: the grid only. */
  refine?: RefineInput | null | undefined;
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
  /** Requests with `refine`: where the refinement stands. */
  refinement?: RefinementSummary | undefined;
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
  const refine = input.refine == null ? undefined : validateRefine(input.refine, alphas, deps.settings);
  const plan = await planPathInOneRead(deps, input);
  const noIr = irUnavailable(plan.graph);
  if (input.engine === 'tfjs' && noIr !== undefined) throw badUserInput(`engine tfjs: ${noIr}; use the onnx engine`);
  // A finished curve answers from memory: the plan was the one statement.
  const grid = gridKey(alphas);
  const finished = refine === undefined ? deps.curves?.getResult(plan.key, grid) : undefined;
  if (finished !== undefined) {
    const points = finished.points.map((point) => ({ ...point, cached: true }));
    const progress = { done: points.length, total: points.length, etaSeconds: 0 };
    return { path: finished.path, points, status: 'COMPLETE', progress, failure: null };
  }
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

  const storedBefore = new Set(
    (await deps.paths.points(path.id, refine === undefined ? alphas : undefined)).map((p) => p.alpha),
  );
  const missing = alphas.filter((alpha) => !storedBefore.has(alpha));
  const round = {
    engine: input.engine ?? null,
    priority: options.priority ?? (wait ? 'interactive' : 'background'),
    requester: deps.requester,
  } as const;
  if (path.failureCode === null && missing.length > 0) {
    await deps.queue.enqueue({
      pathId: path.id,
      alphas: missing,
      ...round,
      chunk: jobChunk(deps.settings, plan.to.parameterCount, examplesPerAlpha(plan), reuseOf(plan, missing.length)),
      refinement: refine && { chosenBy: 'GRID', spec: { ...refine } },
    });
  }
  if (refine !== undefined) {
    const result = await refinedResult(deps, path.id, alphas, refine, storedBefore, {
      ...options,
      wait,
      timeoutMs,
      round,
    });
    if (wait && result.failure !== null)
      throw new LinpathError(result.failure.code as LinpathError['code'], result.failure.message);
    return result;
  }

  const snapshot = wait
    ? await waitForPath(deps, path.id, alphas, timeoutMs, options.onProgress)
    : await readSnapshot(deps, path.id);
  const result = resultOf(snapshot, alphas, storedBefore);
  if (result.status === 'COMPLETE') {
    await rememberFinishedCurve(deps, plan.key, alphas, result.points);
    if (result.failure === null)
      deps.curves?.setResult(plan.key, grid, {
        path: result.path,
        points: result.points.map(({ cached: _, ...p }) => p),
      });
  }
  if (wait && result.failure !== null)
    throw new LinpathError(result.failure.code as LinpathError['code'], result.failure.message);
  return result;
}

/**
 * planPath with both checkpoints and the dataset read in one statement; a request naming something that is
 * not there goes through planPath, which says what.
 */
async function planPathInOneRead(deps: PathDeps, input: InterpolationPathInput): Promise<PathPlan> {
  if (!isUuid(input.from) || !isUuid(input.to) || !isUuid(input.dataset)) return planPath(deps, input);
  const { from, to, dataset } = await deps.registry.findPathEnds(input.from, input.to, input.dataset);
  if (from === undefined || to === undefined || dataset === undefined) return planPath(deps, input);
  return planPathOf(deps, await endpointsOf(deps, from, to, input.blocks), async () => dataset, input);
}

/** Failure codes that a later request retries by itself (workers store UNAVAILABLE when retries run out). */
const TRANSIENT_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE']);

/**
 * A job of a block-wise path with prefix reuse may cost up to this many times a plain job (max(1, budget)
 * passes), so that a large example set, whose plain jobs hold a single α, still shares a prefix pass.
 */
export const REUSED_JOB_FACTOR = 2;

/**
 * α per job. One job should be seconds to a minute of work, so that work spreads over the workers and a
 * lost job costs little: about 3·10¹⁰ parameter·examples per job (≈ 5 α of ResNet-18 on 500 CIFAR images,
 * ≈ 10 s on two CPU cores; the whole grid of a small MLP), between 1 and 32 α.
 *
 * A block-wise path evaluated with prefix reuse (`reuse`: the shares of a forward pass before and after its
 * cut, graph-cuts.ts reuseShares) runs the part before its cut once per job and the rest per α: a job of k α
 * costs before + k·after passes. It holds as many α as REUSED_JOB_FACTOR plain jobs' passes allow (at least 1),
 * and the path's `alphas` α are spread evenly over its jobs (11 α in jobs of at most 5: 4 + 4 + 3, not 5 + 5 + 1).
 */
export function jobChunk(
  settings: Pick<PathSettings, 'jobAlphas'>,
  parameterCount: number,
  examples: number,
  reuse?: { before: number; after: number; alphas: number },
): number {
  if (settings.jobAlphas > 0) return settings.jobAlphas;
  const passes = 3e10 / Math.max(1, parameterCount * examples);
  if (reuse === undefined) return Math.max(1, Math.min(32, Math.floor(passes)));
  const allowed = REUSED_JOB_FACTOR * Math.max(1, passes);
  const fits = reuse.after > 0 ? Math.floor((allowed - reuse.before) / reuse.after) : 32;
  const chunk = Math.min(32, Math.max(1, fits));
  const jobs = Math.ceil(Math.max(1, reuse.alphas) / chunk);
  return Math.max(1, Math.ceil(Math.max(1, reuse.alphas) / jobs));
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

export function validateTimeout(timeoutMs: number | null | undefined, settings: PathSettings): number {
  if (timeoutMs == null) return settings.maxWaitMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > settings.maxWaitMs) {
    throw badUserInput(
      `timeoutMs: expected an integer from 0 to ${settings.maxWaitMs} (LINPATH_MAX_WAIT_MS), got ${timeoutMs}`,
    );
  }
  return timeoutMs;
}

/**
 * Forward passes per α, in examples: the evaluated ones, plus for RECOMPUTE one pass over the statistics
 * examples per BatchNorm layer, each about half as deep as the model on average.
 */
/** The shares of a pass before and after a path's cut when its workers reuse a prefix (evaluator.ts), else undefined. */
function reuseOf(plan: PathPlan, alphas: number): { before: number; after: number; alphas: number } | undefined {
  if (plan.bnStatsData !== undefined) return undefined;
  const shares = reuseShares(plan.graph, plan.selection.moving);
  return shares === undefined ? undefined : { ...shares, alphas };
}

export function examplesPerAlpha(plan: Pick<PathPlan, 'limit' | 'bnStatsData' | 'graph'>): number {
  if (plan.bnStatsData === undefined) return plan.limit;
  const layers = plan.graph.nodes.filter((node) => node.op === 'batchnorm').length;
  return plan.limit + Math.ceil((plan.bnStatsData.limit * layers) / 2);
}

export function validateAlphas(alphas: readonly number[], settings: PathSettings): number[] {
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

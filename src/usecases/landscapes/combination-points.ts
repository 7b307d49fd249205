import { isSettled, pathStatus, type PathProgress, type PathStatus } from '../../domain/path-status.js';
import { LinpathError } from '../../errors.js';
import { EVALUATE_QUEUE, type Priority } from '../../queue/eval-queue.js';
import type { CombinationSnapshot } from '../../storage/combinations.repository.js';
import type { CombinationPointRow, CombinationRow } from '../../storage/combinations.tables.js';
import { whenEnded } from '../paths/path-waits.js';
import type { PathDeps } from '../paths/paths.deps.js';
import { examplesPerAlpha, jobChunk, validateTimeout } from '../paths/paths.usecases.js';
import type { CombinationPlan } from './combination-plan.js';

/** Where the requested points of a combination stand. */
export interface CombinationResult {
  combination: CombinationRow;
  /** Stored points among the requested ones, by coefficient key. */
  points: Map<string, CombinationPointRow>;
  /** Keys stored before this request asked for them. */
  storedBefore: ReadonlySet<string>;
  status: PathStatus;
  progress: PathProgress;
  failure: { code: string; message: string } | null;
  /** Points this request queued (the others were stored or queued already). */
  queued: number;
}

export interface CombinationRequestOptions {
  wait: boolean;
  timeoutMs?: number | null | undefined;
  priority?: Priority;
  engine?: 'onnx' | 'tfjs' | null | undefined;
  onProgress?: (progress: PathProgress) => void;
}

/** Failure codes a later request retries by itself (as for paths). */
const TRANSIENT_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE']);

/**
 * The points (coefficient keys) of a combination: stored ones at once, missing ones queued on the evaluation
 * queue in chunks (the single flight, quotas and priorities of paths: EvalQueue.enqueueCombination), and, with
 * `wait`, awaited until every one is stored, the combination fails (thrown with its code) or the time runs out.
 */
export async function requestCombinationPoints(
  deps: PathDeps,
  plan: CombinationPlan,
  keys: readonly string[],
  options: CombinationRequestOptions,
): Promise<CombinationResult> {
  const timeoutMs = validateTimeout(options.timeoutMs, deps.settings);
  const { base } = plan;
  let combination = await deps.combinations.findOrCreate({
    key: plan.key,
    architecture: plan.architecture,
    states: plan.states.map((s) => s.id),
    datasetId: base.dataset.id,
    bnStats: base.bnStats,
    bnStatsDatasetId: base.bnStatsData?.dataset.id ?? null,
    bnStatsExamples: base.bnStatsData?.limit ?? null,
    exampleCount: base.limit,
  });
  if (combination.failureCode !== null && TRANSIENT_FAILURES.has(combination.failureCode)) {
    await deps.combinations.clearFailure(combination.id);
    combination = (await deps.combinations.find(combination.id))!;
  }
  const storedBefore = new Set((await deps.combinations.points(combination.id, keys)).map((p) => p.coefficients));
  const missing = keys.filter((key) => !storedBefore.has(key));
  let queued = 0;
  if (combination.failureCode === null && missing.length > 0) {
    const result = await deps.queue.enqueueCombination({
      combinationId: combination.id,
      points: missing,
      engine: options.engine ?? null,
      priority: options.priority ?? (options.wait ? 'interactive' : 'background'),
      chunk: jobChunk(deps.settings, plan.states[0]!.parameterCount * plan.states.length, examplesPerAlpha(base)),
      requester: deps.requester,
    });
    queued = result.queued.length;
  }
  const snapshot = options.wait
    ? await waitForCombination(deps, combination.id, keys, timeoutMs, options.onProgress)
    : await readCombination(deps, combination.id);
  const result = combinationResult(snapshot, keys, storedBefore, queued);
  if (options.wait && result.failure !== null)
    throw new LinpathError(result.failure.code as LinpathError['code'], result.failure.message);
  return result;
}

export async function readCombination(deps: Pick<PathDeps, 'combinations'>, id: string): Promise<CombinationSnapshot> {
  const snapshot = (await deps.combinations.snapshots([id], EVALUATE_QUEUE)).get(id);
  if (snapshot === undefined) throw new LinpathError('NOT_FOUND', `no combination with id "${id}"`);
  return snapshot;
}

/** Status and progress of some points of a combination: pathStatus with each key standing for its index. */
export function combinationStatus(
  snapshot: CombinationSnapshot,
  keys: readonly string[],
): ReturnType<typeof pathStatus> {
  const index = new Map(keys.map((key, i) => [key, i]));
  return pathStatus({
    alphas: keys.map((_, i) => i),
    points: snapshot.points.flatMap((p) => {
      const i = index.get(p.coefficients);
      return i === undefined ? [] : [{ alpha: i, durationMs: p.durationMs }];
    }),
    tasks: snapshot.tasks.flatMap((t) => {
      const i = index.get(t.coefficients);
      return i === undefined ? [] : [{ alpha: i, jobId: t.jobId, jobState: t.jobState }];
    }),
    failed: snapshot.combination.failureCode !== null,
  });
}

export function combinationResult(
  snapshot: CombinationSnapshot,
  keys: readonly string[],
  storedBefore: ReadonlySet<string>,
  queued = 0,
): CombinationResult {
  const wanted = new Set(keys);
  const { status, progress, jobFailed } = combinationStatus(snapshot, keys);
  const failed = snapshot.combination.failureCode !== null;
  return {
    combination: snapshot.combination,
    points: new Map(snapshot.points.filter((p) => wanted.has(p.coefficients)).map((p) => [p.coefficients, p])),
    storedBefore,
    status,
    progress,
    failure: failed
      ? { code: snapshot.combination.failureCode!, message: snapshot.combination.failureMessage ?? '' }
      : jobFailed
        ? {
            code: 'UNAVAILABLE',
            message:
              'an evaluation job of this combination ran out of retries: its workers stopped, or it ran longer than LINPATH_JOB_EXPIRE_SECONDS; ask again to retry',
          }
        : null,
    queued,
  };
}

/** Resolves with the combination's state once the request is settled or `timeoutMs` has passed. */
function waitForCombination(
  deps: Pick<PathDeps, 'combinationWatcher' | 'combinations' | 'watcher' | 'signal'>,
  id: string,
  keys: readonly string[],
  timeoutMs: number,
  onProgress: CombinationRequestOptions['onProgress'],
): Promise<CombinationSnapshot> {
  return new Promise<CombinationSnapshot>((resolve) => {
    let last: CombinationSnapshot | undefined;
    let lastDone = -1;
    const end = (snapshot: CombinationSnapshot | Promise<CombinationSnapshot>) => {
      clearTimeout(timer);
      stopListening();
      stop();
      resolve(snapshot);
    };
    let stopListening = () => {};
    const stop = deps.combinationWatcher.watch(id, (snapshot) => {
      last = snapshot;
      const { status, progress } = combinationStatus(snapshot, keys);
      if (progress.done !== lastDone) {
        lastDone = progress.done;
        onProgress?.(progress);
      }
      if (isSettled(status)) end(snapshot);
    });
    // Not even one poll came back (the database is away): read once more, and fail as that read does.
    const giveUp = () => end(last ?? readCombination(deps, id));
    const timer = setTimeout(giveUp, timeoutMs);
    stopListening = whenEnded(deps, giveUp);
  });
}

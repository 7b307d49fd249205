import { proposeRefinement, type CurvePoint } from '../../domain/alpha-refinement.js';
import { isSettled, pathStatus } from '../../domain/path-status.js';
import { badUserInput } from '../../errors.js';
import {
  ANONYMOUS_PRIORITY_OFFSET,
  isCombinationJob,
  PRIORITY,
  type Priority,
  type QueuedEvaluation,
  type Requester,
} from '../../queue/eval-queue.js';
import type { JobRefinement } from '../../queue/eval-tasks.js';
import type { PathPointRow } from '../../storage/paths.tables.js';
import { readSnapshot, resultOf } from './path-states.js';
import { whenEnded } from './path-waits.js';
import type { PathSnapshot } from './path-watcher.js';
import type { PathDeps, PathSettings } from './paths.deps.js';
import type { PathResult, RequestOptions } from './paths.usecases.js';

/**
 * Adaptive α, wired through the queue (issue 17, item 2): after a request's grid, points are added around each
 * interior local maximum of the loss (and/or of the error, 1 − accuracy) until the peak's α and height are known
 * to `tolerance` or the range holds `maxPoints` points (domain/alpha-refinement.ts proposes them). Each round is
 * queued as the previous one completes, by the worker that stores its last point (before storing it, so that a
 * waiting request or subscription never sees the path settled between two rounds); a request that finds the
 * path settled and not refined (a race of two jobs, a quota) queues the round itself. Refinement reads every
 * stored point of the path in the grid's range, so refined points are ordinary memoized points: asking again
 * evaluates nothing, and a finer grid stored before needs fewer refined points.
 */
export type RefineCurve = 'LOSS' | 'ERROR';

export interface RefineInput {
  tolerance?: number | null | undefined;
  maxPoints?: number | null | undefined;
  curves?: readonly RefineCurve[] | null | undefined;
}

/** A validated refinement: its tolerance, budget and curves, and the grid's range [from, to] it refines in. */
export interface RefineSpec {
  tolerance: number;
  maxPoints: number;
  curves: RefineCurve[];
  from: number;
  to: number;
}

export type RefinementStatus = 'REFINING' | 'CONVERGED' | 'BUDGET';

export interface RefinementSummary {
  status: RefinementStatus;
  tolerance: number;
  maxPoints: number;
  /** The best stored point of each interior peak: the loss's maxima, the error's maxima. */
  peaks: Array<{ curve: RefineCurve; alpha: number; value: number }>;
}

export const DEFAULT_REFINE_TOLERANCE = 1e-3;
export const DEFAULT_REFINE_MAX_POINTS = 64;
const CURVES: readonly RefineCurve[] = ['LOSS', 'ERROR'];
const MIN_TOLERANCE = 1e-8;

export function validateRefine(input: RefineInput, grid: readonly number[], settings: PathSettings): RefineSpec {
  const tolerance = input.tolerance ?? DEFAULT_REFINE_TOLERANCE;
  if (!(Number.isFinite(tolerance) && tolerance >= MIN_TOLERANCE && tolerance <= 1))
    throw badUserInput(`refine.tolerance: expected a number from ${MIN_TOLERANCE} to 1, got ${tolerance}`);
  const maxPoints = input.maxPoints ?? Math.min(DEFAULT_REFINE_MAX_POINTS, settings.maxAlphas);
  if (!Number.isInteger(maxPoints) || maxPoints < grid.length || maxPoints > settings.maxAlphas)
    throw badUserInput(
      `refine.maxPoints: expected an integer from the grid's ${grid.length} alphas to ${settings.maxAlphas} (LINPATH_MAX_ALPHAS), got ${maxPoints}`,
    );
  const curves = [...new Set<RefineCurve>(input.curves ?? ['LOSS'])];
  if (curves.length === 0 || curves.some((c) => !CURVES.includes(c)))
    throw badUserInput(`refine.curves: expected one or more of ${CURVES.join(', ')}, got [${curves.join(', ')}]`);
  if (grid.length < 3)
    throw badUserInput(
      `refine: expected a grid of at least 3 alphas (a peak needs a point on each side), got ${grid.length}`,
    );
  return { tolerance, maxPoints, curves, from: grid[0]!, to: grid[grid.length - 1]! };
}

type PointValues = Pick<PathPointRow, 'alpha' | 'lossSum' | 'correct' | 'n'>;

/** Where the refinement of these stored points stands, and the α of its next round. */
export function refinementState(
  points: readonly PointValues[],
  spec: RefineSpec,
): RefinementSummary & { next: number[] } {
  const inRange = points.filter((p) => p.alpha >= spec.from && p.alpha <= spec.to);
  const next: number[] = [];
  const peaks: RefinementSummary['peaks'] = [];
  let budget = false;
  let refining = false;
  for (const curve of spec.curves) {
    const values: CurvePoint[] = inRange.map((p) => ({
      alpha: p.alpha,
      value: curve === 'LOSS' ? p.lossSum / p.n : 1 - p.correct / p.n,
    }));
    // The curves share the budget: the first curve's proposals count against the second's room.
    const step = proposeRefinement(values, {
      tolerance: spec.tolerance,
      maxPoints: Math.max(1, spec.maxPoints - next.length),
    });
    peaks.push(...step.peaks.map((peak) => ({ curve, ...peak })));
    next.push(...step.alphas.filter((alpha) => !next.includes(alpha)));
    refining ||= step.done === false;
    budget ||= step.done === 'budget';
  }
  const status: RefinementStatus = refining ? 'REFINING' : budget ? 'BUDGET' : 'CONVERGED';
  return { status, tolerance: spec.tolerance, maxPoints: spec.maxPoints, peaks, next: next.sort((a, b) => a - b) };
}

/** The alphas a refined request answers with: its grid and every point of the path stored or queued in its range. */
function requestAlphas(snapshot: PathSnapshot, grid: readonly number[], spec: RefineSpec): number[] {
  const inRange = (alpha: number) => alpha >= spec.from && alpha <= spec.to;
  const live = snapshot.tasks.filter((t) => LIVE.has(t.jobState)).map((t) => t.alpha);
  return [...new Set([...grid, ...[...snapshot.points.map((p) => p.alpha), ...live].filter(inRange)])].sort(
    (a, b) => a - b,
  );
}

const LIVE: ReadonlySet<string | null> = new Set(['created', 'retry', 'active']);

/** How a request's rounds are queued: as its grid was. */
export interface RoundOptions {
  engine: 'onnx' | 'tfjs' | null;
  priority: Priority;
  requester?: Requester | undefined;
}

/**
 * Queues the next round when the path has no live work in the range (but `ownAlpha`, the point a worker is about
 * to store) and its stored points (with `pending`, that point) are not refined yet. Returns the alphas queued.
 */
export async function queueRound(
  deps: Pick<PathDeps, 'paths' | 'queue'>,
  pathId: string,
  spec: RefineSpec,
  options: RoundOptions,
  pending?: PointValues,
): Promise<number[]> {
  const snapshot = await readSnapshot(deps, pathId);
  if (snapshot.path.failureCode !== null) return [];
  const busy = snapshot.tasks.some(
    (t) =>
      LIVE.has(t.jobState) &&
      t.alpha !== pending?.alpha &&
      t.alpha >= spec.from &&
      t.alpha <= spec.to &&
      !snapshot.points.some((p) => p.alpha === t.alpha),
  );
  if (busy) return [];
  const points = pending === undefined ? snapshot.points : [...snapshot.points, pending];
  const { next } = refinementState(points, spec);
  if (next.length === 0) return [];
  const refinement: JobRefinement = { chosenBy: 'REFINEMENT', spec: { ...spec } };
  // One job per round: its end is the round's end.
  const chunk = Math.max(1, Math.min(32, next.length));
  const { queued } = await deps.queue.enqueue({ pathId, alphas: next, chunk, ...options, refinement });
  return queued;
}

/**
 * The worker's part: called with the point about to be stored when it is its job's last, and again (without a
 * point) once it is stored. Errors are the next request's to meet (it queues the round itself): the point is stored.
 */
export async function continueRefinement(
  deps: Pick<PathDeps, 'paths' | 'queue'>,
  job: QueuedEvaluation,
  pending: PointValues | undefined,
  warn: (error: unknown) => void,
): Promise<void> {
  const refinement = job.data.refinement;
  if (refinement === undefined || isCombinationJob(job.data)) return;
  const anonymous = job.data.anonymous === true;
  const base = job.priority + (anonymous ? ANONYMOUS_PRIORITY_OFFSET : 0);
  const priority = (Object.keys(PRIORITY) as Priority[]).find((p) => PRIORITY[p] === base) ?? 'background';
  const requester = job.data.owner === undefined ? undefined : { bucket: job.data.owner, anonymous };
  try {
    await queueRound(
      deps,
      job.data.pathId,
      refinement.spec as unknown as RefineSpec,
      {
        engine: job.data.engine,
        priority,
        requester,
      },
      pending,
    );
  } catch (error) {
    warn(error);
  }
}

/** The answer of a refined request: waits (or not) for the refinement to end, then its grid and refined points. */
export async function refinedResult(
  deps: PathDeps,
  pathId: string,
  grid: readonly number[],
  spec: RefineSpec,
  storedBefore: ReadonlySet<number>,
  options: RequestOptions & { wait: boolean; timeoutMs: number; round: RoundOptions },
): Promise<PathResult> {
  let snapshot = await readSnapshot(deps, pathId);
  if (await kick(deps, snapshot, grid, spec, options.round)) snapshot = await readSnapshot(deps, pathId);
  if (options.wait) snapshot = await waitForRefinement(deps, snapshot, grid, spec, options);
  return refinedResultOf(snapshot, grid, spec, storedBefore);
}

export function refinedResultOf(
  snapshot: PathSnapshot,
  grid: readonly number[],
  spec: RefineSpec,
  storedBefore: ReadonlySet<number>,
): PathResult {
  const result = resultOf(snapshot, requestAlphas(snapshot, grid, spec), storedBefore);
  const { next: _, ...refinement } = refinementState(snapshot.points, spec);
  // Every point stored and the next round not queued yet: the refinement still runs.
  const status = result.status === 'COMPLETE' && refinement.status === 'REFINING' ? 'RUNNING' : result.status;
  // Points still to come: what they will show is not known yet.
  if (status === 'PENDING' || status === 'RUNNING') refinement.status = 'REFINING';
  return { ...result, status, refinement };
}

/** Queues the next round when the request's points are settled and not refined (nothing else will). */
async function kick(
  deps: PathDeps,
  snapshot: PathSnapshot,
  grid: readonly number[],
  spec: RefineSpec,
  round: RoundOptions,
): Promise<boolean> {
  const { status } = pathStatus({
    alphas: requestAlphas(snapshot, grid, spec),
    points: snapshot.points,
    tasks: snapshot.tasks,
    failed: snapshot.path.failureCode !== null,
  });
  if (status !== 'COMPLETE' || refinementState(snapshot.points, spec).status !== 'REFINING') return false;
  return (await queueRound(deps, snapshot.path.id, spec, round)).length > 0;
}

function waitForRefinement(
  deps: PathDeps,
  first: PathSnapshot,
  grid: readonly number[],
  spec: RefineSpec,
  options: RequestOptions & { timeoutMs: number; round: RoundOptions },
): Promise<PathSnapshot> {
  return new Promise<PathSnapshot>((resolve) => {
    let last = first;
    let lastDone = -1;
    let kicked = -1;
    const finish = () => {
      clearTimeout(timer);
      stopListening();
      stop();
      resolve(last);
    };
    let stopListening = () => {};
    const stop = deps.watcher.watch(first.path.id, (snapshot) => {
      last = snapshot;
      const alphas = requestAlphas(snapshot, grid, spec);
      const failed = snapshot.path.failureCode !== null;
      const { status, progress } = pathStatus({ alphas, points: snapshot.points, tasks: snapshot.tasks, failed });
      if (progress.done !== lastDone) {
        lastDone = progress.done;
        options.onProgress?.(progress);
      }
      if (!isSettled(status)) return;
      if (status !== 'COMPLETE' || refinementState(snapshot.points, spec).status !== 'REFINING') return finish();
      // Settled but not refined: queue the round once per stored count (a worker usually has already).
      if (kicked === snapshot.points.length) return;
      kicked = snapshot.points.length;
      kick(deps, snapshot, grid, spec, options.round).then(
        (queued) => (queued ? deps.watcher.nudge() : undefined),
        () => finish(),
      );
    });
    const timer = setTimeout(finish, options.timeoutMs);
    stopListening = whenEnded(deps, finish);
  });
}

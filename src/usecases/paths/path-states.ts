import { pathStatus } from '../../domain/path-status.js';
import { isUuid } from '../../domain/ids.js';
import { notFound } from '../../errors.js';
import { EVALUATE_QUEUE } from '../../queue/eval-queue.js';
import type { PathRow } from '../../storage/paths.tables.js';
import type { PathSnapshot } from './path-watcher.js';
import type { PathDeps } from './paths.deps.js';
import type { PathResult } from './paths.usecases.js';

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

export async function readSnapshot(deps: Pick<PathDeps, 'paths'>, pathId: string): Promise<PathSnapshot> {
  if (!isUuid(pathId)) throw notFound(`path: no path with id "${pathId}"`);
  const snapshot = await deps.paths.snapshot([pathId], EVALUATE_QUEUE);
  const path = snapshot.paths[0];
  if (path === undefined) throw notFound(`path: no path with id "${pathId}"`);
  return { path, points: snapshot.points, tasks: snapshot.tasks };
}

export async function findPathOrThrow(deps: Pick<PathDeps, 'paths'>, pathId: string): Promise<PathRow> {
  const path = isUuid(pathId) ? await deps.paths.findPath(pathId) : undefined;
  if (path === undefined) throw notFound(`path: no path with id "${pathId}"`);
  return path;
}

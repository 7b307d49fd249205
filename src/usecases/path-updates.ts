import { isSettled, pathStatus, type PathProgress, type PathStatus } from '../domain/path-status.js';
import type { PathSnapshot } from '../queue/path-watcher.js';
import type { PathPointRow } from '../storage/paths.tables.js';
import { findPathOrThrow, gridOf, type PathDeps } from './paths.usecases.js';

export interface PathUpdate {
  pathId: string;
  /** The point just stored; null in the last update, which only reports the final status. */
  point: (PathPointRow & { cached: boolean }) | null;
  status: PathStatus;
  progress: PathProgress;
  failure: { code: string; message: string } | null;
}

/**
 * Every point of a path as it is stored, from any worker of any process: first the points stored before
 * the subscription began, then each new one, then one update with the final status (COMPLETE, FAILED or
 * PARTIAL), after which the stream ends. `alphas` names the points awaited; by default, those stored or
 * queued (the grid of whoever asked for the path).
 */
export async function* pathUpdates(
  deps: Pick<PathDeps, 'paths' | 'watcher'>,
  pathId: string,
  alphas?: readonly number[] | null,
): AsyncGenerator<PathUpdate> {
  await findPathOrThrow(deps, pathId);
  const wanted = alphas == null ? undefined : [...new Set(alphas.map((a) => (a === 0 ? 0 : a)))].sort((a, b) => a - b);
  let latest: PathSnapshot | undefined;
  let wake: (() => void) | undefined;
  const stopWatching = deps.watcher.watch(pathId, (snapshot) => {
    latest = snapshot;
    wake?.();
  });
  const closed = deps.watcher.closed$;
  const onClose = () => wake?.();
  closed.addEventListener('abort', onClose);
  const sent = new Set<number>();
  let first = true;
  try {
    for (;;) {
      if (latest === undefined && !closed.aborted) await new Promise<void>((resolve) => (wake = resolve));
      if (closed.aborted) return;
      const snapshot = latest!;
      latest = undefined;
      const grid = wanted ?? gridOf(snapshot);
      const inGrid = new Set(grid);
      const failure = snapshot.path.failureCode === null ? null : { code: snapshot.path.failureCode, message: snapshot.path.failureMessage ?? '' };
      const state = pathStatus({ alphas: grid, points: snapshot.points, tasks: snapshot.tasks, failed: failure !== null });
      let done = state.progress.done - snapshot.points.filter((p) => inGrid.has(p.alpha) && !sent.has(p.alpha)).length;
      for (const point of snapshot.points) {
        if (!inGrid.has(point.alpha) || sent.has(point.alpha)) continue;
        sent.add(point.alpha);
        done++;
        yield {
          pathId,
          point: { ...point, cached: first },
          // Points replayed from one poll: the ones before the last are not COMPLETE yet.
          status: state.status === 'COMPLETE' && done < grid.length ? 'RUNNING' : state.status,
          progress: { ...state.progress, done },
          failure: null,
        };
      }
      first = false;
      if (isSettled(state.status) && grid.length > 0) {
        yield { pathId, point: null, status: state.status, progress: state.progress, failure };
        return;
      }
    }
  } finally {
    stopWatching();
    closed.removeEventListener('abort', onClose);
  }
}

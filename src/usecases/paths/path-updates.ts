import { isSettled, pathStatus, type PathProgress, type PathStatus } from '../../domain/path-status.js';
import type { PathSnapshot } from './path-watcher.js';
import type { PathPointRow } from '../../storage/paths.tables.js';
import { abortableIterator } from '../abortable-iterator.js';
import { findPathOrThrow, gridOf, resultOf } from './path-states.js';
import type { PathDeps } from './paths.deps.js';

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
 * the subscription began (at most `maxReplay` of them, evenly spaced over the stored ones, both ends
 * included, when more are stored: the replay of one subscription is bounded whatever the path holds, and
 * `progress.done` still counts every stored point), then each new one, then one update with the final
 * status (COMPLETE, FAILED or PARTIAL), after which the stream ends. `alphas` names the points awaited; by
 * default, every α stored or queued since the subscription began (the grid of whoever asked for the path).
 * Ending the iteration (a client that goes away) stops watching at once.
 */
export async function pathUpdates(
  deps: Pick<PathDeps, 'paths' | 'watcher'>,
  pathId: string,
  alphas?: readonly number[] | null,
  maxReplay: number = Number.POSITIVE_INFINITY,
): Promise<AsyncIterableIterator<PathUpdate>> {
  await findPathOrThrow(deps, pathId);
  return abortableIterator((ended) => follow(deps, pathId, alphas, maxReplay, ended));
}

async function* follow(
  deps: Pick<PathDeps, 'watcher'>,
  pathId: string,
  alphas: readonly number[] | null | undefined,
  maxReplay: number,
  ended: AbortSignal,
): AsyncGenerator<PathUpdate> {
  const wanted = alphas == null ? undefined : [...new Set(alphas.map((a) => (a === 0 ? 0 : a)))].sort((a, b) => a - b);
  const seen = new Set<number>(wanted);
  let latest: PathSnapshot | undefined;
  let wake: (() => void) | undefined;
  const stopWatching = deps.watcher.watch(pathId, (snapshot) => {
    latest = snapshot;
    wake?.();
  });
  const stops = [ended, deps.watcher.closed$];
  const onStop = () => wake?.();
  for (const signal of stops) signal.addEventListener('abort', onStop);
  const stopped = () => stops.some((signal) => signal.aborted);
  const sent = new Set<number>();
  let first = true;
  try {
    for (;;) {
      if (latest === undefined && !stopped()) await new Promise<void>((resolve) => (wake = resolve));
      if (stopped()) return;
      const snapshot = latest!;
      latest = undefined;
      // The grid only grows: alphas whose work was cancelled stay awaited (and end the stream PARTIAL).
      if (wanted === undefined) for (const alpha of gridOf(snapshot)) seen.add(alpha);
      const grid = [...seen].sort((a, b) => a - b);
      const inGrid = new Set(grid);
      const pathFailure =
        snapshot.path.failureCode === null
          ? null
          : { code: snapshot.path.failureCode, message: snapshot.path.failureMessage ?? '' };
      const state = pathStatus({
        alphas: grid,
        points: snapshot.points,
        tasks: snapshot.tasks,
        failed: pathFailure !== null,
      });
      const failure = pathFailure ?? (state.jobFailed ? resultOf(snapshot, grid, new Set()).failure : null);
      let done = state.progress.done - snapshot.points.filter((p) => inGrid.has(p.alpha) && !sent.has(p.alpha)).length;
      const fresh = snapshot.points.filter((point) => inGrid.has(point.alpha) && !sent.has(point.alpha));
      const replayed = first ? evenlySpaced(fresh.length, maxReplay) : undefined;
      for (const [index, point] of fresh.entries()) {
        sent.add(point.alpha);
        done++;
        if (replayed !== undefined && !replayed.has(index)) continue;
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
      if (state.status === 'FAILED' || (isSettled(state.status) && grid.length > 0)) {
        yield { pathId, point: null, status: state.status, progress: state.progress, failure };
        return;
      }
    }
  } finally {
    stopWatching();
    for (const signal of stops) signal.removeEventListener('abort', onStop);
  }
}

/** Indices of at most `most` of `count` items, evenly spaced with both ends; undefined when all fit. */
function evenlySpaced(count: number, most: number): Set<number> | undefined {
  if (count <= most) return undefined;
  const step = (count - 1) / (Math.max(2, most) - 1);
  return new Set(Array.from({ length: Math.max(2, most) }, (_, i) => Math.round(i * step)));
}

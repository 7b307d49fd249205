import { isSettled, type PathProgress, type PathStatus } from '../../domain/path-status.js';
import { notFound } from '../../errors.js';
import type { CombinationSnapshot } from '../../storage/combinations.repository.js';
import { abortableIterator } from '../abortable-iterator.js';
import type { PathDeps } from '../paths/paths.deps.js';
import { combinationResult, combinationStatus } from './combination-points.js';
import { lossPlane, type LossPlaneInput, type PlaneCell } from './plane.usecases.js';

export interface PlaneUpdate {
  planeId: string;
  /** The grid point just stored; null in the last update. */
  cell: PlaneCell | null;
  status: PathStatus;
  progress: PathProgress;
  failure: { code: string; message: string } | null;
}

/**
 * Every grid point of a plane as it is stored, from any worker: first those stored before (at most `maxReplay`,
 * evenly spaced, as pathUpdated replays), then each new one, then the final status, after which the stream ends.
 * The plane is named by the input of its lossPlane request (checked and resolved the same way; nothing is
 * queued): ask lossPlane with wait: false first, then follow it here.
 */
export async function planeUpdates(
  deps: PathDeps,
  input: LossPlaneInput,
  maxReplay: number = Number.POSITIVE_INFINITY,
): Promise<AsyncIterableIterator<PlaneUpdate>> {
  const plane = await lossPlane(deps, input, { wait: false, dryRun: true });
  const id = plane.combinationId;
  if (id === null) throw notFound('plane: nothing of this plane was asked for yet; ask lossPlane (wait: false) first');
  return abortableIterator((ended) => follow(deps, id, plane.cells, maxReplay, ended));
}

async function* follow(
  deps: Pick<PathDeps, 'combinationWatcher'>,
  id: string,
  cells: readonly PlaneCell[],
  maxReplay: number,
  ended: AbortSignal,
): AsyncGenerator<PlaneUpdate> {
  const keys = [...new Set(cells.map((c) => c.key))];
  let latest: CombinationSnapshot | undefined;
  let wake: (() => void) | undefined;
  const stopWatching = deps.combinationWatcher.watch(id, (snapshot) => {
    latest = snapshot;
    wake?.();
  });
  const onStop = () => wake?.();
  const stops = [ended, deps.combinationWatcher.closed$];
  for (const signal of stops) signal.addEventListener('abort', onStop);
  const stopped = () => stops.some((signal) => signal.aborted);
  const sent = new Set<string>();
  let first = true;
  try {
    for (;;) {
      if (latest === undefined && !stopped()) await new Promise<void>((resolve) => (wake = resolve));
      if (stopped()) return;
      const snapshot = latest!;
      latest = undefined;
      const { status, progress } = combinationStatus(snapshot, keys);
      const stored = new Map(snapshot.points.map((p) => [p.coefficients, p]));
      const fresh = cells.filter((cell) => stored.has(cell.key) && !sent.has(cell.key));
      const step = first && fresh.length > maxReplay ? (fresh.length - 1) / (Math.max(2, maxReplay) - 1) : undefined;
      const replayed =
        step === undefined
          ? undefined
          : new Set(Array.from({ length: Math.max(2, maxReplay) }, (_, i) => Math.round(i * step)));
      let done = progress.done - new Set(fresh.map((c) => c.key)).size;
      for (const [index, cell] of fresh.entries()) {
        if (sent.has(cell.key)) continue;
        sent.add(cell.key);
        done++;
        if (replayed !== undefined && !replayed.has(index)) continue;
        yield {
          planeId: id,
          cell: { ...cell, point: stored.get(cell.key), cached: first },
          status: status === 'COMPLETE' && done < keys.length ? 'RUNNING' : status,
          progress: { ...progress, done },
          failure: null,
        };
      }
      first = false;
      if (isSettled(status)) {
        const { failure } = combinationResult(snapshot, keys, new Set());
        yield { planeId: id, cell: null, status, progress, failure };
        return;
      }
    }
  } finally {
    stopWatching();
    for (const signal of stops) signal.removeEventListener('abort', onStop);
  }
}

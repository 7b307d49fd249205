import { isSettled, pathStatus } from '../../domain/path-status.js';
import { readSnapshot } from './path-states.js';
import type { PathSnapshot } from './path-watcher.js';
import type { PathDeps } from './paths.deps.js';
import type { RequestOptions } from './paths.usecases.js';

/**
 * Waits until every request is settled (COMPLETE, FAILED or PARTIAL) or `timeoutMs` passes, on the
 * watcher's shared polls. Returns false when the time ran out.
 */
export function waitForPaths(
  deps: Pick<PathDeps, 'watcher' | 'signal'>,
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
      stopListening();
      for (const stop of stops) stop();
      resolve(complete);
    };
    const giveUp = () => finish(false);
    let stopListening = () => {};
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
    stopListening = whenEnded(deps, giveUp);
  });
}

/** Resolves with the path's state once its request is settled or `timeoutMs` has passed. */
export function waitForPath(
  deps: Pick<PathDeps, 'watcher' | 'paths' | 'signal'>,
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
      stopListening();
      stop();
      resolve(snapshot);
    };
    let stopListening = () => {};
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
      stopListening();
      stop();
      // Not even one poll came back (the database is away): read once more, and fail as that read does.
      resolve(last ?? readSnapshot(deps, pathId));
    };
    const timer = setTimeout(giveUp, timeoutMs);
    stopListening = whenEnded(deps, giveUp);
  });
}

/**
 * Calls `giveUp` (at once if already so) when the process shuts down (answer with what is known instead of
 * holding the request open) or the request's client has gone (nobody is left to answer: the wait and its
 * evaluation slot end at once; the queued work stays queued). Returns the function that stops listening.
 */
export function whenEnded(deps: Pick<PathDeps, 'watcher' | 'signal'>, giveUp: () => void): () => void {
  const signals = [deps.watcher.closed$, ...(deps.signal === undefined ? [] : [deps.signal])];
  if (signals.some((signal) => signal.aborted)) {
    giveUp();
    return () => {};
  }
  for (const signal of signals) signal.addEventListener('abort', giveUp, { once: true });
  return () => {
    for (const signal of signals) signal.removeEventListener('abort', giveUp);
  };
}

import type { Logger } from 'pino';
import type { PathsSnapshot, PathTaskState } from '../../storage/paths.repository.js';
import type { PathPointRow, PathRow } from '../../storage/paths.tables.js';

export interface PathSnapshot {
  path: PathRow;
  points: PathPointRow[];
  tasks: PathTaskState[];
}

export type SnapshotListener<S = PathSnapshot> = (snapshot: S) => void;

/**
 * Tells waiting requests and subscriptions what their paths (or combinations) look like now. Workers may run in any process
 * on any host, so the database is the source: one poll every `pollMs` reads every watched path in three
 * queries, whatever the number of watchers. A worker in this process `nudge`s it to poll at once.
 * (Polling, not LISTEN/NOTIFY: the embedded PGlite serves all connections from one session, where a
 * notification does not reach other connections.)
 */
export class SnapshotWatcher<S> {
  private readonly listeners = new Map<string, Set<SnapshotListener<S>>>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private readonly closing = new AbortController();
  /** Aborted by close(): waiting requests then answer at once with what they know. */
  readonly closed$ = this.closing.signal;

  constructor(
    private readonly read: (ids: readonly string[]) => Promise<ReadonlyMap<string, S>>,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  /** Calls `listener` with the path's state soon, then after every poll until the returned function is called. */
  watch(pathId: string, listener: SnapshotListener<S>): () => void {
    let set = this.listeners.get(pathId);
    if (set === undefined) this.listeners.set(pathId, (set = new Set()));
    set.add(listener);
    this.nudge();
    return () => {
      const current = this.listeners.get(pathId);
      current?.delete(listener);
      if (current?.size === 0) this.listeners.delete(pathId);
    };
  }

  /** Polls as soon as possible (a point was stored in this process). */
  nudge(): void {
    if (this.closed) return;
    if (this.polling !== undefined) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), 0);
  }

  close(): void {
    this.closed = true;
    this.closing.abort();
    clearTimeout(this.timer);
    this.listeners.clear();
  }

  private async poll(): Promise<void> {
    this.timer = undefined;
    // The listeners are taken before the read: one that registers while it runs (a request that has just
    // queued its alphas) must not get a state older than its own enqueue, which would show its alphas
    // neither stored nor queued (PARTIAL). Its watch() nudged the watcher, so the next poll starts at once.
    const audience = new Map([...this.listeners].map(([id, set]) => [id, [...set]]));
    if (audience.size === 0 || this.closed) return;
    this.polling = (async () => {
      try {
        const snapshots = await this.read([...audience.keys()]);
        for (const [id, state] of snapshots) {
          for (const listener of audience.get(id) ?? []) {
            // Stopped watching while the read ran.
            if (this.listeners.get(id)?.has(listener) !== true) continue;
            try {
              listener(state);
            } catch (error) {
              this.logger.error({ err: error, id }, 'a listener of stored points failed');
            }
          }
        }
      } catch (error) {
        // The database is away for a moment: watchers keep their last state and the next poll tries again.
        this.logger.warn({ err: error }, 'reading the state of watched paths failed');
      }
    })();
    await this.polling;
    this.polling = undefined;
    if (this.closed || this.listeners.size === 0) return;
    const delay = this.again ? 0 : this.pollMs;
    this.again = false;
    this.timer = setTimeout(() => void this.poll(), delay);
  }
}

/** The watcher of paths: SnapshotWatcher on PathsRepository.snapshot, split by path. */
export class PathWatcher extends SnapshotWatcher<PathSnapshot> {
  constructor(read: (pathIds: readonly string[]) => Promise<PathsSnapshot>, pollMs: number, logger: Logger) {
    super(
      async (ids) => {
        const snapshot = await read(ids);
        return new Map(
          snapshot.paths.map((path) => [
            path.id,
            {
              path,
              points: snapshot.points.filter((p) => p.pathId === path.id),
              tasks: snapshot.tasks.filter((t) => t.pathId === path.id),
            },
          ]),
        );
      },
      pollMs,
      logger,
    );
  }
}

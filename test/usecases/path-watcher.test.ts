import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { PathWatcher, type PathSnapshot } from '../../src/usecases/paths/path-watcher.js';
import type { PathsSnapshot } from '../../src/storage/paths.repository.js';
import type { PathRow } from '../../src/storage/paths.tables.js';

/**
 * The watcher's polls against a read whose answers the test releases one at a time (issue 13, M5): a waiter
 * that registers while a read runs must never get that read's (older) state.
 */
describe('PathWatcher', () => {
  const path = { id: 'p1' } as PathRow;
  /** A read per call, answered when the test resolves it with the "database state" of that moment. */
  const reads: Array<{ ids: readonly string[]; answer: (version: number) => void }> = [];
  const read = (ids: readonly string[]) =>
    new Promise<PathsSnapshot>((resolve) => {
      reads.push({
        ids,
        answer: (version) =>
          resolve({
            paths: [path],
            points: [],
            tasks: [{ pathId: 'p1', alpha: version, jobId: 'j', jobState: 'created' }],
          }),
      });
    });
  const until = async (condition: () => boolean) => {
    for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(condition()).toBe(true);
  };

  it('gives a listener that registers during a read only states read after it registered', async () => {
    const watcher = new PathWatcher(read, 60_000, pino({ level: 'silent' }));
    const early: number[] = [];
    const late: number[] = [];
    const version = (snapshot: PathSnapshot) => snapshot.tasks[0]!.alpha;
    watcher.watch('p1', (s) => early.push(version(s)));
    await until(() => reads.length === 1);
    // A second request queues its work (state 2) and registers while read 1 (state 1) is in flight.
    const stop = watcher.watch('p1', (s) => late.push(version(s)));
    reads[0]!.answer(1);
    await until(() => early.length === 1);
    expect(late).toEqual([]); // on today's main the late listener got state 1 here
    // Its registration asked for another poll at once (not after pollMs = 60 s).
    await until(() => reads.length === 2);
    reads[1]!.answer(2);
    await until(() => late.length === 1);
    expect({ early, late }).toEqual({ early: [1, 2], late: [2] });
    // A listener that stops watching during a read is not called with it.
    watcher.nudge();
    await until(() => reads.length === 3);
    stop();
    reads[2]!.answer(3);
    await until(() => early.length === 3);
    expect(late).toEqual([2]);
    watcher.close();
  });
});

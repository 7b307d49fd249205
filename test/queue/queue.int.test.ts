import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EVALUATE_QUEUE, PRIORITY } from '../../src/queue/eval-queue.js';
import { correlation } from '../../src/usecases/analytics/correlation.usecases.js';
import { pathUpdates } from '../../src/usecases/paths/path-updates.js';
import { pathState } from '../../src/usecases/paths/path-states.js';
import { waitForPaths } from '../../src/usecases/paths/path-waits.js';
import { cancelPath, interpolationPath, retryPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

/** The queue on a real database (PGlite, or Postgres in CI's second pass) with in-process workers. */
describe('the evaluation queue', () => {
  let f: RegistryFixture;
  const ids = { init: '', final: '', test: '', finalKey: '' };
  let fixtures: PathFixture[] = [];

  const evaluation = async (options: Parameters<typeof createPathDeps>[1] = {}) => {
    const fixture = await createPathDeps(f, options);
    fixtures.push(fixture);
    return fixture;
  };
  const jobs = async () =>
    (
      await f.database.pool.query<{ id: string; state: string; priority: number; data: { alphas: number[] } }>(
        `SELECT id, state, priority, data FROM pgboss.job WHERE name = $1 ORDER BY (data->'alphas'->>0)::float8`,
        [EVALUATE_QUEUE],
      )
    ).rows;

  beforeAll(async () => {
    f = await createRegistryFixture();
    const run = { run: 'spiral', architecture: 'mlp' };
    ids.init = (
      await importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
        ...run,
        step: 0,
        role: 'INITIAL',
      })
    ).checkpoint.id;
    const final = await importCheckpointFile(f.deps, fixturePath('mlp/final.safetensors'), {
      ...run,
      step: 1200,
      role: 'FINAL',
    });
    ids.final = final.checkpoint.id;
    ids.finalKey = final.checkpoint.key;
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset.id;
  });
  afterEach(async () => {
    // Every worker must be gone before the next test: a leftover one would take that test's jobs.
    const closing = fixtures.map(async (fixture) => {
      await fixture.close();
      await fixture.engines.close();
    });
    fixtures = [];
    const failures = (await Promise.allSettled(closing)).filter((r) => r.status === 'rejected');
    if (failures.length > 0) throw (failures[0] as PromiseRejectedResult).reason;
  });
  afterAll(async () => {
    await f?.close();
  });

  it('answers wait: false at once with PENDING, queues each α once, and raises the priority of queued work', async () => {
    const { paths } = await evaluation({ workers: 0, settings: { jobAlphas: 2 } });
    const request = { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.01, 0.02, 0.03], limit: 4001 };
    const bulk = await interpolationPath(paths, request, { wait: false, priority: 'bulk' });
    expect(bulk).toMatchObject({
      status: 'PENDING',
      progress: { done: 0, total: 3, etaSeconds: null },
      points: [],
      failure: null,
    });
    expect((await jobs()).map((j) => [j.data.alphas, j.priority])).toEqual([
      [[0.01, 0.02], PRIORITY.bulk],
      [[0.03], PRIORITY.bulk],
    ]);

    // The same and an overlapping request queue only what is new; the waiting jobs move up to interactive.
    await interpolationPath(paths, request, { wait: false });
    await interpolationPath(paths, { ...request, alphas: [0.03, 0.04] }, { wait: false, priority: 'interactive' });
    expect((await jobs()).map((j) => [j.data.alphas, j.priority])).toEqual([
      [[0.01, 0.02], PRIORITY.background],
      [[0.03], PRIORITY.interactive],
      [[0.04], PRIORITY.interactive],
    ]);
  });

  it('with wait: true and no worker, answers PENDING when timeoutMs runs out', async () => {
    const { paths } = await evaluation({ workers: 0 });
    const started = performance.now();
    const result = await interpolationPath(
      paths,
      { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.11], limit: 4002 },
      { timeoutMs: 300 },
    );
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(result).toMatchObject({ status: 'PENDING', points: [] });
  });

  it('runs interactive work before bulk work queued earlier', async () => {
    const queueing = await evaluation({ workers: 0, settings: { jobAlphas: 1 } });
    const bulkRequest = { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.61, 0.62, 0.63], limit: 4003 };
    const bulk = await interpolationPath(queueing.paths, bulkRequest, { wait: false, priority: 'bulk' });
    const interactive = await interpolationPath(
      queueing.paths,
      { ...bulkRequest, alphas: [0.61], from: ids.final, to: ids.init },
      { wait: false, priority: 'interactive' },
    );
    await queueing.close();

    const { paths } = await evaluation({ workers: 1 });
    // Waiting without asking: a request would raise the bulk jobs to interactive.
    expect(
      await waitForPaths(
        paths,
        [
          { pathId: bulk.path.id, alphas: bulkRequest.alphas },
          { pathId: interactive.path.id, alphas: [0.61] },
        ],
        30_000,
      ),
    ).toBe(true);
    const first = (await pathState(paths, interactive.path.id)).points[0]!;
    const rest = (await pathState(paths, bulk.path.id)).points;
    expect(rest).toHaveLength(3);
    for (const point of rest) expect(point.createdAt.getTime()).toBeGreaterThanOrEqual(first.createdAt.getTime());
  });

  it('answers 16 concurrent wait: true requests for new alphas of one path COMPLETE, never PARTIAL while queued', async () => {
    // Issue 13, M5: a waiter that registered while the watcher's read ran got that older state, in which its
    // just-queued alphas were neither stored nor queued: PARTIAL.
    const { paths } = await evaluation({ workers: 2 });
    const request = { from: ids.init, to: ids.final, dataset: ids.test, limit: 503 };
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        interpolationPath(paths, { ...request, alphas: [0.3 + i / 100] }, { wait: true, timeoutMs: 60_000 }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array<string>(16).fill('COMPLETE'));
  });

  it('cancels queued work: the path is PARTIAL, its jobs are cancelled, and asking again queues it anew', async () => {
    const { paths } = await evaluation({ workers: 0 });
    const request = { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.21, 0.22], limit: 4004 };
    const queued = await interpolationPath(paths, request, { wait: false });
    const cancelled = await cancelPath(paths, queued.path.id);
    expect(cancelled.cancelled).toEqual([0.21, 0.22]);
    expect((await pathState(paths, queued.path.id, request.alphas)).status).toBe('PARTIAL');
    const states = (await jobs())
      .filter((j) => (j.data as { pathId?: string }).pathId === queued.path.id)
      .map((j) => j.state);
    expect(states).toEqual(['cancelled']);

    expect((await interpolationPath(paths, request, { wait: false })).status).toBe('PENDING');
    await expect(cancelPath(paths, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('fails a path whose checkpoint object changed (CONFLICT) and keeps it FAILED until retryPath', async () => {
    const request = { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.31], limit: 4005 };
    const ref = { bucket: f.store.bucket, key: ids.finalKey };
    // Changed before the worker starts: a worker that read the registered version keeps it in memory.
    await f.s3.uploadFile(ref, fixturePath('mlp/epoch5.safetensors'));
    const { paths } = await evaluation({ workers: 1 });
    try {
      await expect(interpolationPath(paths, request)).rejects.toMatchObject({ code: 'CONFLICT' });
      const failed = await interpolationPath(paths, { ...request, alphas: [0.31, 0.32] }, { wait: false });
      expect(failed, JSON.stringify({ ...failed, points: failed.points.length })).toMatchObject({
        status: 'FAILED',
        failure: { code: 'CONFLICT' },
      });
      expect(failed.failure!.message).toMatch(/changed/);
    } finally {
      await f.s3.uploadFile(ref, fixturePath('mlp/final.safetensors'));
    }
    const failed = await interpolationPath(paths, request, { wait: false });
    expect(failed.status).toBe('FAILED');
    expect((await retryPath(paths, failed.path.id)).failure).toBeNull();
    const done = await interpolationPath(paths, request);
    expect(done).toMatchObject({ status: 'COMPLETE', failure: null });
    await expect(retryPath(paths, failed.path.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('on close, a worker finishes its current α and hands the others back to the queue as a new job', async () => {
    const alphas = Array.from({ length: 101 }, (_, i) => 2 + i / 100);
    const worker = await evaluation({ workers: 1, settings: { jobAlphas: 200 } });
    const request = { from: ids.init, to: ids.final, dataset: ids.test, alphas, limit: 4006 };
    const queued = await interpolationPath(worker.paths, request, { wait: false });
    for (let i = 0; (await pathState(worker.paths, queued.path.id, alphas)).progress.done === 0; i++) {
      if (i > 400) throw new Error('no point stored within 20 s');
      await sleep(50);
    }
    await worker.close();
    fixtures = fixtures.filter((x) => x !== worker);
    await worker.engines.close();

    const state = await pathState(worker.paths, queued.path.id, alphas);
    expect(state.progress.done).toBeGreaterThan(0);
    expect(state.progress.done).toBeLessThan(alphas.length);
    expect(state.status).toBe('PENDING');
    const handedBack = (await jobs()).filter(
      (j) => j.state === 'created' && (j.data as { pathId?: string }).pathId === queued.path.id,
    );
    expect(handedBack).toHaveLength(1);
    expect(handedBack[0]!.data.alphas).toHaveLength(alphas.length - state.progress.done);

    const { paths } = await evaluation({ workers: 1 });
    expect(await interpolationPath(paths, request)).toMatchObject({ status: 'COMPLETE' });
    const { rows } = await f.database.pool.query(
      'SELECT max(evaluations) AS most FROM path_points WHERE path_id = $1',
      [queued.path.id],
    );
    expect(rows[0].most).toBe(1);
  }, 60_000);

  it("queues a correlation's paths with wait: false and reports them as pending, with progress", async () => {
    const { analytics } = await evaluation({ workers: 0 });
    const report = await correlation(analytics, {
      x: 'FRANKLE_HEIGHT',
      y: 'REPORTED',
      yMetric: 'test_accuracy',
      path: { from: 'INITIAL', to: 'FINAL', dataset: ids.test, alphas: [0, 0.71, 1], limit: 4007 },
      wait: false,
    });
    expect(report.points).toEqual([]);
    expect(report.missing.map((m) => m.reason)).toEqual(['evaluation queued, not finished yet (0/3 alphas stored)']);
    expect(report.progress).toEqual({ done: 0, total: 3, pendingPaths: 1 });
    await expect(pathState(analytics.paths, 'not-a-path')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('pathUpdated ends with FAILED for a failed path, and stops watching at once when the client leaves', async () => {
    const { paths, queue } = await evaluation({ workers: 0 });
    const request = { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.81, 0.82], limit: 4008 };
    const pending = await interpolationPath(paths, request, { wait: false });

    // A client that leaves while nothing happens: return() must not wait for a point that never comes.
    const leaving = await pathUpdates(paths, pending.path.id);
    const next = leaving.next();
    await sleep(200);
    const started = performance.now();
    await leaving.return!();
    expect(await next).toEqual({ done: true, value: undefined });
    expect(performance.now() - started).toBeLessThan(1000);

    await queue.failPath(pending.path.id, 'CONFLICT', 'the checkpoint object changed');
    const updates = [];
    for await (const update of await pathUpdates(paths, pending.path.id)) updates.push(update);
    expect(updates).toEqual([
      {
        pathId: pending.path.id,
        point: null,
        status: 'FAILED',
        progress: { done: 0, total: 0, etaSeconds: 0 },
        failure: { code: 'CONFLICT', message: 'the checkpoint object changed' },
      },
    ]);
  });

  it('rejects a timeoutMs beyond LINPATH_MAX_WAIT_MS and more examples than LINPATH_MAX_EXAMPLES', async () => {
    const { paths } = await evaluation({ workers: 0, settings: { maxExamples: 100, maxWaitMs: 1000 } });
    const request = { from: ids.init, to: ids.final, dataset: ids.test, alphas: [0.5] };
    await expect(interpolationPath(paths, request, { timeoutMs: 1001 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/timeoutMs: expected an integer from 0 to 1000 \(LINPATH_MAX_WAIT_MS\), got 1001/),
    });
    await expect(interpolationPath(paths, request, { wait: false })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(
        /limit: expected at most 100 examples per path \(LINPATH_MAX_EXAMPLES\), got 5000 \(the whole dataset\)/,
      ),
    });
    expect((await interpolationPath(paths, { ...request, limit: 100 }, { wait: false })).status).toBe('PENDING');
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine, EngineName } from '../../src/compute/engine.js';
import { EngineProvider } from '../../src/compute/engines.js';
import { EVALUATE_QUEUE } from '../../src/queue/eval-queue.js';
import { connectDatabase } from '../../src/storage/database.js';
import { RegistryRepository } from '../../src/storage/registry.repository.js';
import { waitForPaths } from '../../src/usecases/paths/path-waits.js';
import { interpolationPath, type PathResult } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { enqueueSweep, sweepProgress } from '../../src/usecases/sweep.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import {
  POSTGRES_BIN,
  postgresBinariesPresent,
  startPrivatePostgres,
  type PrivatePostgres,
} from '../helpers/private-postgres.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';
import { testDatabaseKind } from '../helpers/database.js';

/**
 * Postgres restarted in the middle of a sweep. The server is a cluster of the test's own (the suite's
 * shared server serves other test files at the same time), so this runs the same in both passes of CI.
 * An API node (no workers) and a worker node (two workers), each with its own pools, as two processes
 * would have; the S3 server is the suite's.
 */

const ALPHAS = Array.from({ length: 21 }, (_, i) => i / 20);
const LIMIT = 2000;
/** Runs of the sweep: INITIAL → FINAL checkpoints (the MLP fixtures). */
const RUNS = [
  { name: 'mlp-a', initial: 'init', final: 'final' },
  { name: 'mlp-b', initial: 'init', final: 'epoch5' },
  { name: 'mlp-c', initial: 'epoch5', final: 'final' },
] as const;

/**
 * Real engines, each α held back `delayMs`: the MLP evaluates in a millisecond, and the restart must find
 * jobs in the middle of their work.
 */
class SlowEngines extends EngineProvider {
  constructor(private readonly delayMs: number) {
    super({ onnxProvider: 'cpu', threads: 0, tfjsBackend: undefined });
  }
  override async get(name: EngineName): Promise<Engine> {
    const engine = await super.get(name);
    const delayMs = this.delayMs;
    return {
      name: engine.name,
      version: engine.version,
      close: () => engine.close(),
      prepare: async (graph) => {
        const prepared = await engine.prepare(graph);
        return {
          bind: async (state) => {
            await sleep(delayMs);
            return prepared.bind(state);
          },
          dispose: () => prepared.dispose(),
        };
      },
    };
  }
}

type Point = { lossSum: number; correct: number; n: number };
const pointsOf = (result: Pick<PathResult, 'points'>) =>
  result.points.map((p) => ({ alpha: p.alpha, lossSum: p.lossSum, correct: p.correct, n: p.n }));

// It runs on a private cluster whatever the suite's database, so once: in the PGlite pass (`npm test`).
const skipped = !postgresBinariesPresent()
  ? ` (skipped: no PostgreSQL server binaries in ${POSTGRES_BIN})`
  : testDatabaseKind() === 'postgres'
    ? ' (skipped in the DATABASE_URL pass: it uses a private cluster and ran in the PGlite pass)'
    : '';

describe.skipIf(skipped !== '')(`Postgres restarted mid-sweep${skipped}`, () => {
  let server: PrivatePostgres;
  let f: RegistryFixture;
  const closers: Array<() => Promise<void>> = [];
  /** Fault-free points per "from → to" file pair, from another database. */
  const reference = new Map<string, Point[]>();

  const importRuns = async (target: RegistryFixture) => {
    const checkpoints = new Map<string, string>();
    for (const run of RUNS) {
      for (const [role, file, step] of [
        ['INITIAL', run.initial, 0],
        ['FINAL', run.final, 1200],
      ] as const) {
        const { checkpoint } = await importCheckpointFile(target.deps, fixturePath(`mlp/${file}.safetensors`), {
          run: run.name,
          architecture: 'mlp',
          step,
          role,
        });
        checkpoints.set(file, checkpoint.id);
      }
    }
    const dataset = (
      await importDatasetFile(target.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset.id;
    return { checkpoints, dataset };
  };

  beforeAll(async () => {
    server = await startPrivatePostgres();
    f = await createRegistryFixture({
      testDatabase: { url: server.url, kind: 'postgres', drop: async () => undefined },
    });

    const clean = await createRegistryFixture();
    try {
      const { checkpoints, dataset } = await importRuns(clean);
      const deps = await createPathDeps(clean, { workers: 1 });
      try {
        for (const [from, to] of [...RUNS.map((r) => [r.initial, r.final] as const), ['final', 'init'] as const]) {
          const result = await interpolationPath(deps.paths, {
            from: checkpoints.get(from)!,
            to: checkpoints.get(to)!,
            dataset,
            alphas: ALPHAS,
            limit: LIMIT,
          });
          reference.set(
            `${from}->${to}`,
            pointsOf(result).map(({ alpha: _alpha, ...point }) => point),
          );
        }
      } finally {
        await deps.close();
        await deps.engines.close();
      }
    } finally {
      await clean.close();
    }
  }, 120_000);

  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await f?.close().catch(() => undefined);
    await server?.destroy();
  });

  it('workers and the requesting side reconnect, the sweep finishes with one row per (path, α) and the fault-free points', async () => {
    const { checkpoints, dataset } = await importRuns(f);
    // Jobs of 3 α: 7 per path, so that the restart finds jobs queued and running.
    const queue = { jobAlphas: 3, jobExpireSeconds: 10, maintenanceSeconds: 2 };
    const settings = { jobAlphas: 3 };

    // The API node: the fixture's pool, no workers.
    const api = await createPathDeps(f, { workers: 0, queue, settings });
    closers.push(async () => {
      await api.close();
      await api.engines.close();
    });
    // The worker node: pools of its own on the same server, two workers.
    const workerDatabase = connectDatabase(server.url);
    closers.push(() => workerDatabase.close());
    const workerSide: RegistryFixture = {
      ...f,
      database: workerDatabase,
      deps: { ...f.deps, repository: new RegistryRepository(workerDatabase.db) },
    };
    const workers: PathFixture = await createPathDeps(workerSide, {
      workers: 2,
      queue,
      settings,
      engines: new SlowEngines(250),
    });
    closers.push(async () => {
      await workers.close();
      await workers.engines.close();
    });

    const sweep = await enqueueSweep(api.paths, { dataset, alphas: ALPHAS, limit: LIMIT });
    expect(sweep.paths).toHaveLength(RUNS.length);
    expect(sweep.skipped).toEqual([]);
    const requests = sweep.paths.map((p) => ({ pathId: p.pathId, alphas: ALPHAS }));
    const sweepDone = waitForPaths(api.paths, requests, 90_000);
    // And an interactive request waiting through the restart.
    const waiting = interpolationPath(
      api.paths,
      { from: checkpoints.get('final')!, to: checkpoints.get('init')!, dataset, alphas: ALPHAS, limit: LIMIT },
      { timeoutMs: 90_000 },
    );

    // A job that started just now has more than 0.5 s of work left (3 α of 250 ms): the restart hits it.
    const jobsJustStarted = async () =>
      Number(
        (
          await f.database.pool.query(
            `SELECT count(*) FROM pgboss.job WHERE state = 'active' AND started_on > now() - interval '150 milliseconds'`,
          )
        ).rows[0].count,
      );
    let atRestart = await sweepProgress(api.paths, sweep);
    for (let i = 0; atRestart.done < 3 || (await jobsJustStarted()) === 0; i++) {
      if (i > 1500)
        throw new Error(`no 3 points stored and a job just started within 30 s: ${JSON.stringify(atRestart)}`);
      await sleep(20);
      atRestart = await sweepProgress(api.paths, sweep);
    }
    await server.stop();
    await sleep(2000);
    await server.start();
    // The restart came in the middle of the sweep, not after it.
    expect(atRestart.done).toBeLessThan(atRestart.total);

    expect(await sweepDone).toBe(true);
    const progress = await sweepProgress(api.paths, sweep);
    expect(progress).toMatchObject({
      done: RUNS.length * ALPHAS.length,
      total: RUNS.length * ALPHAS.length,
      failures: [],
      settled: true,
    });
    expect(progress.paths.COMPLETE).toBe(RUNS.length);

    // The jobs the restart interrupted were retried (pg-boss, with backoff), not left to expire.
    const { rows: retried } = await f.database.pool.query(
      `SELECT id FROM pgboss.job WHERE name = $1 AND retry_count > 0`,
      [EVALUATE_QUEUE],
    );
    expect(retried.length).toBeGreaterThanOrEqual(1);

    const interactive = await waiting;
    expect(interactive.status).toBe('COMPLETE');

    // Exactly one row per (path, α), and the points of a fault-free evaluation.
    const pathIds = [...sweep.paths.map((p) => p.pathId), interactive.path.id];
    const { rows } = await f.database.pool.query<{ path_id: string; alpha: number; rows: string }>(
      'SELECT path_id, alpha, count(*) AS rows FROM path_points WHERE path_id = ANY($1::uuid[]) GROUP BY path_id, alpha',
      [pathIds],
    );
    expect(rows).toHaveLength(pathIds.length * ALPHAS.length);
    expect(rows.filter((r) => Number(r.rows) !== 1)).toEqual([]);
    for (const [index, run] of RUNS.entries()) {
      const result = await interpolationPath(
        api.paths,
        { from: checkpoints.get(run.initial)!, to: checkpoints.get(run.final)!, dataset, alphas: ALPHAS, limit: LIMIT },
        { wait: false },
      );
      expect(result.path.id).toBe(sweep.paths[index]!.pathId);
      expect(pointsOf(result)).toEqual(
        ALPHAS.map((alpha, i) => ({ alpha, ...reference.get(`${run.initial}->${run.final}`)![i]! })),
      );
    }
    expect(pointsOf(interactive)).toEqual(ALPHAS.map((alpha, i) => ({ alpha, ...reference.get('final->init')![i]! })));
  }, 120_000);
});

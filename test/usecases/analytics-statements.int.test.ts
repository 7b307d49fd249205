import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Linpath } from '../../src/app.js';
import type { HttpServer } from '../../src/server/http.js';
import { analyzeStaleTables } from '../../src/storage/database.js';
import type { DatasetRow } from '../../src/storage/registry.tables.js';
import { correlation } from '../../src/usecases/analytics/correlation.usecases.js';
import { studyReport } from '../../src/usecases/report.usecases.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { createRun } from '../../src/usecases/registry/runs.usecases.js';
import { seededCurve, seedStoredRuns, templateCheckpoints } from '../helpers/analytics-seed.js';
import { postGraphql, startTestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';

/**
 * Analytics over runs whose curves are all stored cost a number of SQL statements that does not grow with the
 * number of runs: correlation, a runs page with barrier columns, the report. Counted at 10 and 50 runs.
 */
describe('SQL statements of stored analytics, at 10 and 50 runs', () => {
  let app: Linpath;
  let http: HttpServer;
  let close: () => Promise<void>;
  let dataset: DatasetRow;
  let statements: string[] = [];
  const BLOCKS = ['fc1', 'fc2', 'fc3'];

  beforeAll(async () => {
    ({ app, http, close } = await startTestApp({ LINPATH_WORKERS: '0' }));
    dataset = (
      await importDatasetFile(app.registry, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' })
    ).dataset;
    const run = await createRun(app.registry, { name: 'template', architecture: 'mlp', datasetName: 'spiral' });
    for (const [file, step, role] of [
      ['init', 0, 'INITIAL'],
      ['final', 1200, 'FINAL'],
    ] as const)
      await importCheckpointFile(app.registry, fixturePath(`mlp/${file}.safetensors`), { run: 'template', step, role });
    const template = { ...(await templateCheckpoints(app.database.db, run.id)), dataset };
    const deps = { db: app.database.db, paths: app.paths };
    await seedStoredRuns(deps, template, 10, { prefix: 'ten', blocks: BLOCKS });
    await seedStoredRuns(deps, template, 50, { start: 10, prefix: 'fifty', blocks: BLOCKS });
    // As the server does every half minute: the tables written in bulk get their statistics, then nothing is stale.
    expect(await analyzeStaleTables(app.database)).toEqual(
      expect.arrayContaining(['checkpoints', 'path_points', 'paths', 'runs']),
    );
    expect(await analyzeStaleTables(app.database)).toEqual([]);

    // Every statement of the pool, at its connections (pool.query and transactions alike end there), but the
    // statistics kept current in the background (analyzeStaleTables).
    const pool = app.database.pool as unknown as {
      _clients: Array<{ query: (...args: unknown[]) => unknown; counted?: boolean }>;
      on(event: 'connect', listener: (client: { query: (...args: unknown[]) => unknown }) => void): void;
    };
    const wrap = (client: { query: (...args: unknown[]) => unknown; counted?: boolean }) => {
      if (client.counted === true) return;
      client.counted = true;
      const inner = client.query.bind(client);
      client.query = (...args: unknown[]) => {
        const first = args[0];
        const text = typeof first === 'string' ? first : String((first as { text?: string }).text);
        if (!/pg_stat|^ANALYZE/.test(text)) statements.push(text);
        return inner(...args);
      };
    };
    for (const client of pool._clients) wrap(client);
    pool.on('connect', wrap);
  }, 180_000);
  afterAll(async () => {
    await close?.();
  });

  const counted = async <T>(run: () => Promise<T>): Promise<{ result: T; statements: string[] }> => {
    statements = [];
    const result = await run();
    return { result, statements: [...statements] };
  };

  const correlate = (tag: string) =>
    counted(() =>
      correlation(app.analytics, {
        runs: { tags: [tag] },
        x: 'FRANKLE_HEIGHT',
        y: 'TEST_ACCURACY',
        path: { from: 'INITIAL', to: 'FINAL', dataset: dataset.id },
        statistics: { permutations: 100, bootstrap: 100 },
        wait: false,
      }),
    );

  it('correlation reads every stored curve with a constant number of statements', async () => {
    const small = await correlate('ten');
    const large = await correlate('fifty');
    expect(small.result.points).toHaveLength(10);
    expect(large.result.points).toHaveLength(50);
    expect(large.result.missing).toEqual([]);
    // Each point as the seeded curve gives it, by the definitions (not the library's barrier code).
    const n = dataset.exampleCount;
    for (const point of large.result.points) {
      const i = point.run.seed!;
      const losses = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1].map(
        (alpha) => (seededCurve(i, alpha).loss * n) / n,
      );
      const height = Math.max(...losses) - (losses[0]! + losses[10]!) / 2;
      expect(Math.abs(point.x - height)).toBeLessThan(1e-12);
      expect(point.y).toBe(Math.round(seededCurve(i, 1).accuracy * n) / n);
    }
    // The first read of a finished curve stores its summary: the runs, their checkpoints (without tensor headers),
    // the dataset, the headers of the checkpoints whose paths this process has not planned yet, the paths with
    // their summaries, the points of those without, the new summaries; the end points (two: the datasets by name
    // and the stored α = 1 points; the checkpoints already read are passed on).
    expect(large.statements.length, large.statements.join('\n')).toBe(small.statements.length);
    expect(large.statements.length).toBe(9);

    // Then the summaries answer: from memory, or (in another process) from path_summaries, never the points; a
    // process that has planned the paths reads no tensor header.
    const again = await correlate('fifty');
    expect(again.result.points).toEqual(large.result.points);
    expect(again.statements).toHaveLength(5);
    const checkpointReads = again.statements.filter((s) => s.includes('from "checkpoints"'));
    expect(checkpointReads.length).toBeGreaterThan(0);
    expect(checkpointReads.filter((s) => s.includes('"header"'))).toEqual([]);
    const elsewhere = await counted(() =>
      correlation(
        { ...app.analytics, paths: { ...app.analytics.paths, curves: undefined } },
        {
          runs: { tags: ['fifty'] },
          x: 'FRANKLE_HEIGHT',
          y: 'TEST_ACCURACY',
          path: { from: 'INITIAL', to: 'FINAL', dataset: dataset.id },
          statistics: { permutations: 100, bootstrap: 100 },
        },
      ),
    );
    expect(elsewhere.result.points).toEqual(large.result.points);
    expect(elsewhere.statements).toHaveLength(7);
    const pointReads = elsewhere.statements.filter(
      (s) => s.includes('from "path_points"') && !s.includes('distinct on'),
    );
    expect(pointReads).toEqual([]);
  });

  it("correlation on each run's own TEST split (no path.dataset) costs no statement per run either", async () => {
    const own = (tag: string) =>
      counted(() =>
        correlation(app.analytics, {
          runs: { tags: [tag] },
          x: 'FRANKLE_HEIGHT',
          y: 'TEST_ACCURACY',
          path: { from: 'INITIAL', to: 'FINAL' },
          statistics: { permutations: 100, bootstrap: 100 },
          wait: false,
        }),
      );
    const small = await own('ten');
    const large = await own('fifty');
    expect(large.result.missing).toEqual([]);
    expect(large.result.points).toEqual((await correlate('fifty')).result.points);
    expect(large.statements.length, large.statements.join('\n')).toBe(small.statements.length);
  });

  const page = (tag: string, first: number) =>
    counted(() =>
      postGraphql(
        http.url,
        `query ($tag: String!, $first: Int!) { runs(first: $first, filter: { tags: [$tag] }, orderBy: { field: TEST_ACCURACY, direction: DESC }) {
          edges { node { name testAccuracy barrier { frankleHeight shape } } } } }`,
        { tag, first },
      ),
    );

  it('a runs page with barrier columns costs the same statements at 10 and 50 runs', async () => {
    const small = await page('ten', 10);
    const large = await page('fifty', 50);
    expect(large.result.body.errors).toBeUndefined();
    const nodes = large.result.body.data.runs.edges.map((e: { node: unknown }) => e.node);
    expect(nodes).toHaveLength(50);
    const accuracies = nodes.map((node: { testAccuracy: number }) => node.testAccuracy);
    expect(accuracies).toEqual([...accuracies].sort((a: number, b: number) => b - a));
    expect(nodes.every((node: { barrier: unknown }) => node.barrier !== null)).toBe(true);
    expect(large.statements.length, large.statements.join('\n')).toBe(small.statements.length);
  });

  it('the report reads every stored curve, whole and block-wise, with a constant number of statements', async () => {
    const report = (tag: string) =>
      counted(() => studyReport(app.analytics, { runs: { tags: [tag] }, dataset: dataset.id, timeoutMs: 0 }));
    const small = await report('ten');
    const large = await report('fifty');
    expect(small.result.missing).toEqual([]);
    expect(large.result.missing).toEqual([]);
    expect(large.result.groups[0]!.runs).toHaveLength(50);
    expect(Object.keys(large.result.groups[0]!.blockShapes)).toEqual(BLOCKS);
    expect(large.statements.length, large.statements.join('\n')).toBe(small.statements.length);
  }, 120_000);

  it('answers a memoized path request with one statement once its curve is finished', async () => {
    const [run] = await app.registry.repository.findRunsByIds([
      (await app.registry.repository.findRunByName('ten-000003'))!.id,
    ]);
    const ends = await templateCheckpoints(app.database.db, run!.id);
    const input = { from: ends.initial.id, to: ends.final.id, dataset: dataset.id };
    const first = await counted(() => interpolationPath(app.paths, input));
    const again = await counted(() => interpolationPath(app.paths, input));
    expect(again.result.status).toBe('COMPLETE');
    expect(again.result.points.map((p) => [p.alpha, p.lossSum, p.correct])).toEqual(
      first.result.points.map((p) => [p.alpha, p.lossSum, p.correct]),
    );
    expect(again.result.points.every((p) => p.cached)).toBe(true);
    expect(again.statements, again.statements.join('\n')).toHaveLength(1);
  });
});

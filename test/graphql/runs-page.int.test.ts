import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Linpath } from '../../src/app.js';
import type { HttpServer } from '../../src/server/http.js';
import { runEndpointMetrics } from '../../src/usecases/analytics/run-metrics.usecases.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile, listDatasets } from '../../src/usecases/registry/datasets.usecases.js';
import { createRun, listRuns } from '../../src/usecases/registry/runs.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { startTestApp } from '../helpers/app.js';

/** A dashboard's page of runs with checkpoints and metrics costs a bounded number of SQL queries. */
describe('a page of 50 runs with their metrics', () => {
  let app: Linpath;
  let http: HttpServer;
  let close: () => Promise<void>;
  let queries: string[] = [];

  beforeAll(async () => {
    ({ app, http, close } = await startTestApp());
    await importDatasetFile(app.registry, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    for (let i = 0; i < 60; i++) {
      await createRun(app.registry, {
        name: `page-${String(i).padStart(2, '0')}`,
        architecture: 'mlp',
        datasetName: i % 10 === 9 ? null : 'spiral',
      });
      await importCheckpointFile(app.registry, fixturePath('mlp/init.safetensors'), {
        run: `page-${String(i).padStart(2, '0')}`,
        step: 0,
        role: 'INITIAL',
      });
      await importCheckpointFile(app.registry, fixturePath('mlp/final.safetensors'), {
        run: `page-${String(i).padStart(2, '0')}`,
        step: 1200,
        role: 'FINAL',
      });
    }
    const runs = (await listRuns(app.registry, { first: 60 })).runs.map((r) => r.run);
    await runEndpointMetrics(app.analytics, runs, 'TEST', { evaluate: true });
    // Every run's INITIAL → FINAL path on the default alphas: the same objects, so one path for all of them.
    const [initial, final] = await app.registry.repository.checkpointsOfRuns([runs[0]!.id]);
    const [dataset] = await listDatasets(app.registry);
    await interpolationPath(app.paths, { from: initial!.id, to: final!.id, dataset: dataset!.id });

    const pool = app.database.pool;
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const first = args[0];
      queries.push(typeof first === 'string' ? first : String((first as { text?: string }).text));
      return query(...args);
    };
  }, 120_000);
  afterAll(async () => {
    await close?.();
  });

  const page = async (first: number) => {
    queries = [];
    const response = await fetch(http.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `{ runs(first: ${first}) {
          edges { node { name checkpoints { id role run { name } } testAccuracy testLoss trainAccuracy barrier { frankleHeight shape } } }
          pageInfo { hasNextPage }
        } }`,
      }),
    });
    const body = (await response.json()) as { data: any; errors?: unknown };
    expect(body.errors).toBeUndefined();
    return {
      nodes: body.data.runs.edges.map((e: any) => e.node),
      hasNextPage: body.data.runs.pageInfo.hasNextPage,
      queries: [...queries],
    };
  };

  it('resolves runs, checkpoints, end-point metrics and barriers with a number of queries that does not grow with the page', async () => {
    // The reference curve of these checkpoints (PyTorch) decreases monotonically: Frankle's height is ½(L(0) − L(1)).
    const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8')) as {
      full: { loss: number[] };
    };
    const losses = reference.full.loss;
    const frankleHeight = Math.max(...losses) - (losses[0]! + losses.at(-1)!) / 2;

    const large = await page(50);
    expect(large.nodes).toHaveLength(50);
    expect(large.hasNextPage).toBe(true);
    for (const [i, node] of large.nodes.entries()) {
      expect(node.checkpoints.map((c: any) => c.role)).toEqual(['INITIAL', 'FINAL']);
      expect(node.checkpoints[0].run.name).toBe(node.name);
      // No TRAIN split is registered: no train accuracy, and nothing queued for it.
      expect(node.trainAccuracy).toBeNull();
      // Every tenth run names no dataset: no metric, and no query of its own for it.
      if (i % 10 === 9) {
        expect(node.testAccuracy).toBeNull();
        expect(node.barrier).toBeNull();
      } else {
        expect(node.testAccuracy).toBe(0.8928);
        expect(node.barrier.shape).toBe('MONOTONIC_DECAY');
        expect(Math.abs(node.barrier.frankleHeight - frankleHeight)).toBeLessThan(1e-5 * frankleHeight);
      }
    }
    expect(large.queries.length, large.queries.join('\n')).toBeLessThanOrEqual(12);
    const small = await page(10);
    expect(small.nodes).toHaveLength(10);
    expect(small.queries.length, small.queries.join('\n')).toBe(large.queries.length);
  });
});

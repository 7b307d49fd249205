import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Linpath } from '../../src/app.js';
import type { HttpServer } from '../../src/server/http.js';
import { runEndpointMetrics } from '../../src/usecases/analytics.usecases.js';
import * as registry from '../../src/usecases/registry.usecases.js';
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
    await registry.importDatasetFile(app.registry, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' });
    for (let i = 0; i < 60; i++) {
      await registry.createRun(app.registry, { name: `page-${String(i).padStart(2, '0')}`, architecture: 'mlp', datasetName: i % 10 === 9 ? null : 'spiral' });
      await registry.importCheckpointFile(app.registry, fixturePath('mlp/init.safetensors'), { run: `page-${String(i).padStart(2, '0')}`, step: 0, role: 'INITIAL' });
      await registry.importCheckpointFile(app.registry, fixturePath('mlp/final.safetensors'), { run: `page-${String(i).padStart(2, '0')}`, step: 1200, role: 'FINAL' });
    }
    const runs = (await registry.listRuns(app.registry, { first: 60 })).runs.map((r) => r.run);
    await runEndpointMetrics(app.analytics, runs, 'TEST', { evaluate: true });

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

  it('resolves runs, checkpoints and test metrics with at most 6 queries, whatever the page size', async () => {
    queries = [];
    const response = await fetch(http.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `{ runs(first: 50) { edges { node { name checkpoints { id role run { name } } testAccuracy testLoss } } pageInfo { hasNextPage } } }`,
      }),
    });
    const body = (await response.json()) as { data: any; errors?: unknown };
    expect(body.errors).toBeUndefined();
    const nodes = body.data.runs.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(50);
    expect(body.data.runs.pageInfo.hasNextPage).toBe(true);
    for (const [i, node] of nodes.entries()) {
      expect(node.checkpoints.map((c: any) => c.role)).toEqual(['INITIAL', 'FINAL']);
      expect(node.checkpoints[0].run.name).toBe(node.name);
      // Every tenth run names no dataset: no metric, and no query of its own for it.
      if (i % 10 === 9) expect(node.testAccuracy).toBeNull();
      else expect(node.testAccuracy).toBe(0.8928);
    }
    expect(queries.length, queries.join('\n')).toBeLessThanOrEqual(6);
  });
});

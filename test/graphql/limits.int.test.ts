import { createServer, type Server } from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../../src/storage/database.js';
import { S3ObjectStore } from '../../src/storage/object-store.s3.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';
import { testDatabaseKind } from '../helpers/database.js';

/** Every bound on the work of one request, each at a small setting, over HTTP on a real database and S3. */
describe('request limits', () => {
  let test: TestApp;
  let url: string;
  let key: string;
  let other: string;
  let input: { from: string; to: string; dataset: string };
  const graphql = (query: string, variables?: Record<string, unknown>, as = key) =>
    postGraphql(url, query, variables, { key: as });

  beforeAll(async () => {
    test = await startTestApp({
      // No workers: evaluation requests wait, holding their slot, until their timeoutMs.
      LINPATH_WORKERS: '0',
      LINPATH_MAX_QUERY_DEPTH: '6',
      LINPATH_MAX_QUERY_COST: '500',
      LINPATH_MAX_BLOCKS: '2',
      LINPATH_MAX_CORRELATION_RUNS: '2',
      LINPATH_MAX_EVALUATIONS_PER_KEY: '1',
    });
    url = test.http.url;
    key = await test.createKey('write');
    other = await test.createKey('read');
    const registry = test.app.registry;
    const from = await importCheckpointFile(registry, fixturePath('mlp/init.safetensors'), {
      run: 'limits-a',
      step: 0,
      role: 'INITIAL',
      architecture: 'mlp',
    });
    const to = await importCheckpointFile(registry, fixturePath('mlp/final.safetensors'), {
      run: 'limits-a',
      step: 1200,
      role: 'FINAL',
    });
    const { dataset } = await importDatasetFile(registry, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    for (const name of ['limits-b', 'limits-c'])
      await graphql(
        `
          mutation ($name: String!) {
            createRun(input: { name: $name }) {
              id
            }
          }
        `,
        { name },
      );
    // A run whose test accuracy is not stored: asking for it queues an evaluation.
    await graphql(`
      mutation {
        createRun(input: { name: "limits-d", datasetName: "spiral" }) {
          id
        }
      }
    `);
    await importCheckpointFile(registry, fixturePath('mlp/final.safetensors'), {
      run: 'limits-d',
      step: 1200,
      role: 'FINAL',
      architecture: 'mlp',
    });
    // A run whose test accuracy is stored: its α = 1 point, written here (this test is about slots, not values).
    await graphql(`
      mutation {
        createRun(input: { name: "limits-e", datasetName: "spiral" }) {
          id
        }
      }
    `);
    const e = await importCheckpointFile(registry, fixturePath('mlp/epoch5.safetensors'), {
      run: 'limits-e',
      step: 100,
      role: 'FINAL',
      architecture: 'mlp',
    });
    const queued = await interpolationPath(
      test.app.paths,
      { from: from.checkpoint.id, to: e.checkpoint.id, dataset: dataset.id, alphas: [1] },
      { wait: false },
    );
    await test.app.paths.paths.storePoint({
      pathId: queued.path.id,
      alpha: 1,
      lossSum: 2000,
      correct: 4000,
      n: 5000,
      nonFinite: 0,
      engine: 'onnx',
      engineVersion: 'test',
      durationMs: 1,
    });
    input = { from: from.checkpoint.id, to: to.checkpoint.id, dataset: dataset.id };
  });
  afterAll(async () => {
    await test?.close();
  });

  it('LINPATH_MAX_QUERY_DEPTH: refuses deeper operations with BAD_USER_INPUT (HTTP 400), introspection included', async () => {
    const deep = `{ runs { edges { node { checkpoints { run { checkpoints { id } } } } } } }`;
    const { status, body } = await graphql(deep);
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('at most 6 levels of fields (LINPATH_MAX_QUERY_DEPTH), got 7'),
    });
    expect(body.data).toBeUndefined();
    // The same depth through fragments.
    const fragments = `query { runs { ...R } } fragment R on RunConnection { edges { node { checkpoints { run { checkpoints { ...C } } } } } } fragment C on Checkpoint { id }`;
    expect((await graphql(fragments)).body.errors?.[0]?.message).toContain('LINPATH_MAX_QUERY_DEPTH');
    // The introspection query nests 8 levels deep on this schema (type references): more than 6.
    const introspection = await graphql(getIntrospectionQuery());
    expect(introspection.body.errors?.[0]?.message).toContain('LINPATH_MAX_QUERY_DEPTH');
    expect(
      (
        await graphql(`
          {
            __schema {
              types {
                name
              }
            }
          }
        `)
      ).body.data.__schema.types.length,
    ).toBeGreaterThan(10);
  });

  it('LINPATH_MAX_QUERY_COST: multiplies lists by first (variables included) and counts aliases', async () => {
    const query = `query ($n: Int!) { runs(first: $n) { edges { node { checkpoints { id role step } } } } }`;
    // runs 1 + edges 1 + n × (node 1 + checkpoints 1 + 10 × 3): n = 10 costs 322, n = 100 costs 3202.
    expect((await graphql(query, { n: 10 })).body.errors).toBeUndefined();
    const { status, body } = await graphql(query, { n: 100 });
    expect(status).toBe(400);
    expect(body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('expected at most 500 (LINPATH_MAX_QUERY_COST'),
    });
    // 30 aliases × (datasets 1 + 10 × 2 fields) = 630 (fewer than LINPATH_MAX_ROOT_FIELDS, which counts them too).
    const aliases = `{ ${Array.from({ length: 30 }, (_, i) => `a${i}: datasets { id name }`).join(' ')} }`;
    expect((await graphql(aliases)).body.errors?.[0]?.message).toContain('LINPATH_MAX_QUERY_COST');
  });

  it('stops a fragment bomb at the cost limit, quickly', async () => {
    const levels = 30;
    const fragments = Array.from({ length: levels }, (_, i) =>
      i === levels - 1
        ? `fragment F${i} on Query { datasets { id } }`
        : `fragment F${i} on Query { ...F${i + 1} a: datasets { id } ...F${i + 1} }`,
    );
    const started = performance.now();
    const { body } = await graphql(`
      {
        ...F0
      }
      ${fragments.join(' ')}
    `);
    expect(body.errors?.[0]?.extensions?.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('LINPATH_MAX_BLOCKS: block-wise paths over more blocks are refused', async () => {
    const { body } = await graphql(
      `
        query ($input: BlockwisePathsInput!) {
          blockwisePaths(input: $input) {
            endpointLoss
          }
        }
      `,
      {
        input: { ...input, blocks: ['fc1', 'fc2', 'fc3'], alphas: [0, 1] },
      },
    );
    expect(body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: 'blocks: expected at most 2 blocks per request (LINPATH_MAX_BLOCKS), got 3',
    });
  });

  it('LINPATH_MAX_CORRELATION_RUNS: a correlation over more runs is refused', async () => {
    const { body } = await graphql(
      `
        query ($input: CorrelationInput!) {
          correlation(input: $input) {
            overall {
              n
            }
          }
        }
      `,
      {
        input: { x: 'HEIGHT_ABOVE_ENDPOINTS', y: 'TEST_ACCURACY', path: { dataset: input.dataset }, wait: false },
      },
    );
    expect(body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('at most 2 runs to correlate (LINPATH_MAX_CORRELATION_RUNS)'),
    });
  });

  it('LINPATH_MAX_EVALUATIONS_PER_KEY: a second waiting evaluation of one key is TOO_MANY_REQUESTS; other keys are not held up', async () => {
    const waiting = `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status } }`;
    const request = { ...input, alphas: [0, 0.5, 1], wait: true, timeoutMs: 1500 };
    const first = graphql(waiting, { input: request });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await graphql(waiting, { input: { ...request, wait: false } });
    expect(second.body.errors?.[0]).toMatchObject({
      extensions: { code: 'TOO_MANY_REQUESTS' },
      message: expect.stringContaining(
        'evaluation requests in flight, the most allowed (LINPATH_MAX_EVALUATIONS_PER_KEY: 1)',
      ),
    });
    // So are the other fields that evaluate in the request or wait for evaluations: an uncached distance, and a
    // run's metric that is not stored; reading stored values needs no slot.
    const distance = await graphql(
      `
        query ($from: ID!, $to: ID!) {
          distance(from: $from, to: $to, metric: L2) {
            value
          }
        }
      `,
      { from: input.from, to: input.to },
    );
    expect(distance.body.errors?.[0]?.extensions.code).toBe('TOO_MANY_REQUESTS');
    const runs = await graphql(`
      {
        runs(filter: { nameContains: "limits-" }) {
          edges {
            node {
              name
              stored: testAccuracy(evaluate: false)
              testAccuracy
            }
          }
        }
      }
    `);
    expect(
      runs.body.errors?.map((error: { path: unknown[]; extensions: { code: string } }) => [
        error.path.at(-1),
        error.extensions.code,
      ]),
    ).toEqual([['testAccuracy', 'TOO_MANY_REQUESTS']]);
    const nodes = Object.fromEntries(
      runs.body.data.runs.edges.map((edge: { node: { name: string } }) => [edge.node.name, edge.node]),
    );
    expect(nodes['limits-d']).toEqual({ name: 'limits-d', stored: null, testAccuracy: null });
    expect(nodes['limits-e']).toEqual({ name: 'limits-e', stored: 0.8, testAccuracy: 0.8 });
    const otherKey = await graphql(waiting, { input: { ...request, wait: false } }, other);
    expect(otherKey.body.errors).toBeUndefined();
    expect((await first).body.data.interpolationPath.status).toBe('PENDING');
    // The slot is given back when the request answers.
    expect((await graphql(waiting, { input: { ...request, wait: false } })).body.errors).toBeUndefined();
  });

  // PGlite runs one statement at a time and has no statement_timeout; real Postgres (CI's second pass) does.
  it.skipIf(testDatabaseKind() === 'pglite')(
    'LINPATH_DB_STATEMENT_TIMEOUT_MS: the pool cancels longer statements',
    async () => {
      const database = connectDatabase(test.app.endpoints.databaseUrl, { statementTimeoutMs: 200 });
      try {
        const started = performance.now();
        await expect(database.pool.query('SELECT pg_sleep(3)')).rejects.toMatchObject({ code: '57014' });
        expect(performance.now() - started).toBeLessThan(2_500);
      } finally {
        await database.close();
      }
    },
  );
});

describe('LINPATH_S3_TIMEOUT_MS', () => {
  let silent: Server;
  let port: number;
  beforeAll(async () => {
    // Accepts connections and never answers.
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    silent.close();
  });

  it('a stuck S3 call fails with UNAVAILABLE naming the setting', async () => {
    const store = new S3ObjectStore({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      bucket: 'stuck',
      extraBuckets: [],
      forcePathStyle: true,
      credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
      requestTimeoutMs: 300,
    });
    try {
      const started = performance.now();
      await expect(store.head({ bucket: 'stuck', key: 'k' })).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('timed out (LINPATH_S3_TIMEOUT_MS: 300 ms per attempt)'),
      });
      expect(performance.now() - started).toBeLessThan(10_000);
    } finally {
      store.destroy();
    }
  });
});

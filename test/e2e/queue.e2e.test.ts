import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import { createClient } from 'graphql-ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.js';
import { readSafetensorsFixture } from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, describeWithFixtures, fixturePath } from '../helpers/fixtures.js';
import { createTestStore, testS3Settings } from '../helpers/s3.js';
import { buildOnce, killLeftovers, runCli, startServer, startWorker, type RunningServer } from '../helpers/server.js';

/**
 * The evaluation queue across real processes: API nodes and `linpath worker` processes on one Postgres
 * (CI's second pass) and one S3 server, evaluating the PyTorch-made ResNet-18 and MLP fixtures.
 */

const postgresMode = testDatabaseKind() === 'postgres';

beforeAll(() => buildOnce(), 180_000);
afterAll(killLeftovers);

/** Loss (mean softmax cross-entropy, float64) and accuracy of the first `n` examples from PyTorch's logits. */
function referencePoint(logits: Float32Array, labels: Uint8Array, alphaIndex: number, n: number) {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const z = Array.from(logits.subarray((alphaIndex * 500 + i) * 10, (alphaIndex * 500 + i + 1) * 10));
    const max = Math.max(...z);
    const logSum = max + Math.log(z.reduce((sum, v) => sum + Math.exp(v - max), 0));
    loss += logSum - z[labels[i]!]!;
    if (z.indexOf(max) === labels[i]) correct++;
  }
  return { loss: loss / n, accuracy: correct / n };
}

interface Shared {
  vars: Record<string, string>;
  database: TestDatabase;
  dir: string;
  sql: pg.Pool;
}

async function sharedEnvironment(extra: Record<string, string>): Promise<Shared> {
  const database = await createTestDatabase();
  const s3 = testS3Settings();
  (await createTestStore(s3)).destroy();
  const dir = mkdtempSync(path.join(tmpdir(), 'linpath-queue-'));
  return {
    vars: {
      LINPATH_HOME: dir,
      DATABASE_URL: database.url,
      S3_ENDPOINT: s3.endpoint!,
      S3_BUCKET: s3.bucket,
      S3_REGION: s3.region,
      AWS_ACCESS_KEY_ID: s3.credentials!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials!.secretAccessKey,
      LINPATH_THREADS: '1',
      LINPATH_POLL_MS: '100',
      ...extra,
    },
    database,
    dir,
    sql: new pg.Pool({ connectionString: database.url, max: 2 }),
  };
}

async function importOrThrow(args: string[], vars: Record<string, string>) {
  const result = await runCli(args, vars);
  if (result.code !== 0) throw new Error(`linpath ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return result.json;
}

describeWithFixtures(
  RESNET18_FIXTURES,
  'three worker processes on real Postgres, one killed with SIGKILL mid-job (ResNet-18)',
  () => {
    let env: Shared;
    const workers: RunningServer[] = [];
    const LIMIT = 50;
    const ALPHAS = [0, 0.5, 1];

    beforeAll(async () => {
      // A killed worker's job is retried after LINPATH_JOB_EXPIRE_SECONDS; one α per job spreads the work.
      env = await sharedEnvironment({
        LINPATH_JOB_ALPHAS: '1',
        LINPATH_JOB_EXPIRE_SECONDS: '20',
        LINPATH_QUEUE_MAINTENANCE_SECONDS: '2',
      });
      const init = path.join(env.dir, 'init.safetensors');
      const final = path.join(env.dir, 'final.safetensors');
      writeFileSync(init, gunzipSync(readFileSync(fixturePath('resnet18/init.safetensors.gz'))));
      writeFileSync(final, gunzipSync(readFileSync(fixturePath('resnet18/final.safetensors.gz'))));
      await importOrThrow(
        [
          'import',
          'checkpoint',
          init,
          '--run',
          'resnet',
          '--step',
          '0',
          '--role',
          'initial',
          '--arch',
          'resnet18-cifar',
        ],
        env.vars,
      );
      await importOrThrow(
        ['import', 'checkpoint', final, '--run', 'resnet', '--step', '150', '--role', 'final'],
        env.vars,
      );
    }, 240_000);
    afterAll(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await env?.sql.end();
      await env?.database.drop();
      if (env !== undefined) rmSync(env.dir, { recursive: true, force: true });
    });

    it("completes a sweep with one row per (path, α) and PyTorch's numbers", async () => {
      const dataset = await importOrThrow(
        [
          'import',
          'dataset',
          fixturePath('resnet18/test_set.safetensors'),
          '--name',
          'shapes',
          '--split',
          'test',
          '--input-key',
          'images_f32_nchw',
          '--label-key',
          'labels',
        ],
        env.vars,
      );
      for (let i = 0; i < 3; i++) workers.push(await startWorker(env.vars));

      const sweep = await runCli(
        [
          'sweep',
          '--runs',
          'name~resnet',
          '--dataset',
          dataset.dataset.id,
          '--blocks',
          'all',
          '--alphas',
          ALPHAS.join(','),
          '--limit',
          String(LIMIT),
          '--no-wait',
        ],
        env.vars,
      );
      expect(sweep.code, sweep.stderr).toBe(0);
      // The whole model and each of its 6 blocks.
      expect(sweep.json.paths).toHaveLength(7);
      expect(sweep.json.skipped).toEqual([]);

      // All three workers busy: kill the first one in the middle of its job.
      const deadline = Date.now() + 60_000;
      for (;;) {
        const { rows } = await env.sql.query(
          `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'linpath-evaluate' AND state = 'active'`,
        );
        if (rows[0].n >= 3) break;
        if (Date.now() > deadline) throw new Error('the three workers never ran jobs at once');
        await sleep(50);
      }
      const victim = workers.shift()!;
      expect(await victim.stop('SIGKILL')).toBe(128 + 9);

      // `linpath sweep` again: queues nothing new and follows the paths to the end.
      const done = await runCli(
        [
          'sweep',
          '--runs',
          'name~resnet',
          '--dataset',
          dataset.dataset.id,
          '--blocks',
          'all',
          '--alphas',
          ALPHAS.join(','),
          '--limit',
          String(LIMIT),
        ],
        { ...env.vars, LINPATH_WORKERS: '0' },
      );
      expect(done.code, done.stderr).toBe(0);
      expect(done.json.progress).toMatchObject({ done: 21, total: 21, paths: { COMPLETE: 7 }, failures: [] });

      const { rows: points } = await env.sql.query(
        `SELECT p.path_id, p.alpha, p.loss_sum, p.correct, p.n, p.evaluations, paths.blocks
         FROM path_points p JOIN paths ON paths.id = p.path_id ORDER BY p.path_id, p.alpha`,
      );
      expect(points).toHaveLength(21);
      // The killed worker's job came back: it shows as a retry in the queue.
      const { rows: retried } = await env.sql.query(
        `SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'linpath-evaluate' AND retry_count > 0`,
      );
      expect(retried[0].n).toBeGreaterThanOrEqual(1);

      const logits = readSafetensorsFixture('resnet18/reference_logits.safetensors');
      const labels = readSafetensorsFixture('resnet18/test_set.safetensors').values.get('labels') as Uint8Array;
      for (const point of points) {
        const curve = point.blocks === null ? 'full' : `block.${point.blocks[0]}`;
        const reference = referencePoint(
          logits.values.get(curve) as Float32Array,
          labels,
          Math.round(point.alpha * 10),
          LIMIT,
        );
        expect(point.n).toBe(LIMIT);
        expect(
          Math.abs(point.loss_sum / point.n - reference.loss) / reference.loss,
          `${curve} α=${point.alpha}`,
        ).toBeLessThan(1e-5);
        expect(point.correct / point.n).toBe(reference.accuracy);
      }
      // At α = 1 every path is θ_final: the same numbers, whichever worker computed them.
      const ends = points.filter((p) => p.alpha === 1).map((p) => [p.loss_sum, p.correct]);
      expect(ends).toHaveLength(7);
      for (const end of ends) expect(end).toEqual(ends[0]);
    }, 300_000);
  },
  { skip: !postgresMode },
);

describe.skipIf(!postgresMode)('100 identical requests through two API processes', () => {
  let env: Shared;
  const processes: RunningServer[] = [];

  beforeAll(async () => {
    // 100 requests from one address and no key: above the default per-key bound on waiting evaluations (16),
    // which this test is not about (test/graphql/limits.int.test.ts is).
    env = await sharedEnvironment({ LINPATH_JOB_ALPHAS: '3', LINPATH_MAX_EVALUATIONS_PER_KEY: '200' });
    await importOrThrow(
      [
        'import',
        'checkpoint',
        fixturePath('mlp/init.safetensors'),
        '--run',
        'mlp',
        '--step',
        '0',
        '--role',
        'initial',
        '--arch',
        'mlp',
      ],
      env.vars,
    );
    await importOrThrow(
      [
        'import',
        'checkpoint',
        fixturePath('mlp/final.safetensors'),
        '--run',
        'mlp',
        '--step',
        '1200',
        '--role',
        'final',
      ],
      env.vars,
    );
    await importOrThrow(
      ['import', 'dataset', fixturePath('mlp/test_set.safetensors'), '--name', 'spiral', '--split', 'test'],
      env.vars,
    );
    processes.push(await startServer({ ...env.vars, PORT: '0', LINPATH_WORKERS: '1' }));
    processes.push(await startServer({ ...env.vars, PORT: '0', LINPATH_WORKERS: '0' }));
  }, 180_000);
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await env?.sql.end();
    await env?.database.drop();
    if (env !== undefined) rmSync(env.dir, { recursive: true, force: true });
  });

  const ids = async (server: RunningServer) => {
    const body = await server.graphql(
      '{ runs(first: 1) { edges { node { checkpoints { id role } } } } datasets { id } }',
    );
    const checkpoints = body.data.runs.edges[0].node.checkpoints as Array<{ id: string; role: string }>;
    return {
      from: checkpoints.find((c) => c.role === 'INITIAL')!.id,
      to: checkpoints.find((c) => c.role === 'FINAL')!.id,
      dataset: body.data.datasets[0].id as string,
    };
  };

  it('evaluates each point once, counted in the database and in /metrics', async () => {
    const [a, b] = processes as [RunningServer, RunningServer];
    const input = { ...(await ids(a)), alphas: Array.from({ length: 21 }, (_, i) => i / 20) };
    const query =
      'query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { id status points { alpha loss accuracy } } }';
    const bodies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).graphql(query, { input })),
    );
    for (const body of bodies) expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    const first = bodies[0]!.data.interpolationPath;
    expect(first.status).toBe('COMPLETE');
    expect(first.points).toHaveLength(21);
    for (const body of bodies) expect(body.data.interpolationPath).toEqual(first);

    const { rows } = await env.sql.query('SELECT alpha, evaluations FROM path_points ORDER BY alpha');
    expect(rows.map((r) => r.alpha)).toEqual(input.alphas);
    expect(rows.every((r) => r.evaluations === 1)).toBe(true);
    // /metrics on the API port needs an admin key (LINPATH_METRICS=admin, the default).
    const metricsOf = async (server: RunningServer) =>
      (
        await fetch(new URL('/metrics', server.url), { headers: { authorization: `Bearer ${server.adminKey()}` } })
      ).text();
    const metrics = await metricsOf(a);
    expect(metrics).toMatch(/^linpath_points_evaluated_total\{engine="onnx"\} 21$/m);
    const idle = await metricsOf(b);
    expect(idle).not.toMatch(/^linpath_points_evaluated_total\{/m);
    expect(idle).toMatch(/^linpath_queue_jobs\{state="created"\} 0$/m);
  }, 120_000);

  it('answers wait: false at once, and the subscription delivers every point', async () => {
    const [a, b] = processes as [RunningServer, RunningServer];
    const input = { ...(await ids(b)), alphas: [0.025, 0.125, 0.225, 0.325, 0.425, 0.525], wait: false };
    const started = performance.now();
    const body = await b.graphql(
      'query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { id status progress { done total } } }',
      { input },
    );
    const elapsed = performance.now() - started;
    expect(body.errors).toBeUndefined();
    expect(elapsed).toBeLessThan(1000);
    const path = body.data.interpolationPath;
    expect(['PENDING', 'RUNNING', 'COMPLETE']).toContain(path.status);
    expect(path.progress.total).toBe(6);

    // Subscribed through the API node without workers; the worker of the other node evaluates.
    const client = createClient({ url: b.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, retryAttempts: 0 });
    const updates: Array<{
      point: { alpha: number; loss: number } | null;
      status: string;
      progress: { done: number; total: number };
    }> = [];
    try {
      await new Promise<void>((resolve, reject) => {
        client.subscribe(
          {
            query:
              'subscription ($id: ID!, $alphas: [Float!]) { pathUpdated(id: $id, alphas: $alphas) { point { alpha loss } status progress { done total } } }',
            variables: { id: path.id, alphas: input.alphas },
          },
          { next: (value) => updates.push((value.data as any).pathUpdated), error: reject, complete: resolve },
        );
      });
    } finally {
      await client.dispose();
    }
    const points = updates.filter((u) => u.point !== null).map((u) => u.point!.alpha);
    expect(points.sort()).toEqual(input.alphas);
    expect(updates.at(-1)).toMatchObject({ point: null, status: 'COMPLETE', progress: { done: 6, total: 6 } });
    const stored = await a.graphql('query ($id: ID!) { path(id: $id) { status points { alpha loss } } }', {
      id: path.id,
    });
    expect(stored.data.path.status).toBe('COMPLETE');
    for (const point of stored.data.path.points) {
      if (!input.alphas.includes(point.alpha)) continue;
      expect(updates.find((u) => u.point?.alpha === point.alpha)!.point!.loss).toBe(point.loss);
    }
  }, 120_000);
});

describe.skipIf(postgresMode)('the embedded default runs the same queue', () => {
  let dir: string;
  let server: RunningServer | undefined;
  let worker: RunningServer | undefined;
  afterAll(async () => {
    await worker?.stop();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('an API-only `linpath start` and a `linpath worker` on its PGlite evaluate a path', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'linpath-queue-embedded-'));
    const vars = { LINPATH_HOME: dir, LINPATH_DEMO: '0', LINPATH_POLL_MS: '100', LINPATH_THREADS: '1' };
    server = await startServer({ ...vars, PORT: '0', LINPATH_WORKERS: '0' });
    const from = await importOrThrow(
      [
        'import',
        'checkpoint',
        fixturePath('mlp/init.safetensors'),
        '--run',
        'mlp',
        '--step',
        '0',
        '--role',
        'initial',
        '--arch',
        'mlp',
      ],
      vars,
    );
    const to = await importOrThrow(
      [
        'import',
        'checkpoint',
        fixturePath('mlp/final.safetensors'),
        '--run',
        'mlp',
        '--step',
        '1200',
        '--role',
        'final',
      ],
      vars,
    );
    const dataset = await importOrThrow(
      ['import', 'dataset', fixturePath('mlp/test_set.safetensors'), '--name', 'spiral', '--split', 'test'],
      vars,
    );
    const input = { from: from.checkpoint.id, to: to.checkpoint.id, dataset: dataset.dataset.id, alphas: [0, 0.5, 1] };
    const query =
      'query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status progress { done total } points { alpha } } }';

    // No worker yet: the request is queued and stays PENDING.
    const queued = await server.graphql(query, { input: { ...input, wait: false } });
    expect(queued.data.interpolationPath).toMatchObject({
      status: 'PENDING',
      progress: { done: 0, total: 3 },
      points: [],
    });

    worker = await startWorker(vars);
    const done = await server.graphql(query, { input: { ...input, timeoutMs: 60_000 } });
    expect(done.errors).toBeUndefined();
    expect(done.data.interpolationPath).toMatchObject({ status: 'COMPLETE', progress: { done: 3, total: 3 } });
    const metrics = await (await fetch(worker.url)).text();
    expect(metrics).toMatch(/^linpath_points_evaluated_total\{engine="onnx"\} 3$/m);
    expect(await worker.stop('SIGTERM'), worker.output()).toBe(0);
    worker = undefined;
  }, 180_000);
});

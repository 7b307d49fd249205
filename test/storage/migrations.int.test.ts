import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnalyticsRepository } from '../../src/storage/analytics.repository.js';
import { ApiKeysRepository } from '../../src/storage/api-keys.repository.js';
import { connectDatabase, MIGRATIONS_FOLDER, migrateDatabase, type Database } from '../../src/storage/database.js';
import { PathsRepository } from '../../src/storage/paths.repository.js';
import { RegistryRepository } from '../../src/storage/registry.repository.js';
import { TrainingRepository } from '../../src/storage/training.repository.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/**
 * Migrations are forward-only: a deployed database is only ever moved ahead, by `migrateDatabase` at start,
 * with the rows it holds. So for every point k in the history: apply migrations 0..k-1 (drizzle's migrator on
 * a copy of migrations/ whose journal ends there, as an older linpath would have), write rows the way that
 * schema took them (raw SQL, only the columns the table had when it was created), then move to the newest
 * schema with the real `migrateDatabase` and read the rows back through today's repositories. And a migration
 * is never edited once committed: test/storage/migration-checksums.json pins each file's sha256.
 */

interface JournalEntry {
  idx: number;
  when: number;
  tag: string;
  breakpoints: boolean;
}
const journal = JSON.parse(readFileSync(path.join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
  entries: JournalEntry[];
};
const entries = journal.entries;
const sqlOf = (tag: string) => readFileSync(path.join(MIGRATIONS_FOLDER, `${tag}.sql`), 'utf8');
/** What drizzle's migrator records for a migration in drizzle.__drizzle_migrations: the sha256 of its file. */
const hashOf = (tag: string) => createHash('sha256').update(sqlOf(tag)).digest('hex');

/** Applies the first `count` migrations, as a linpath whose migrations/ ended there did. */
async function migrateFirst(database: Database, count: number): Promise<void> {
  const folder = mkdtempSync(path.join(tmpdir(), 'linpath-migrations-'));
  try {
    mkdirSync(path.join(folder, 'meta'));
    for (const entry of entries.slice(0, count))
      copyFileSync(path.join(MIGRATIONS_FOLDER, `${entry.tag}.sql`), path.join(folder, `${entry.tag}.sql`));
    writeFileSync(
      path.join(folder, 'meta', '_journal.json'),
      JSON.stringify({ ...journal, entries: entries.slice(0, count) }),
    );
    const client = await database.pool.connect();
    try {
      await migrate(drizzle(client), { migrationsFolder: folder });
    } finally {
      client.release();
    }
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Back to an empty database: no tables, types or migration records. */
async function resetDatabase(database: Database): Promise<void> {
  await database.pool.query('DROP SCHEMA IF EXISTS drizzle CASCADE');
  await database.pool.query('DROP SCHEMA public CASCADE');
  await database.pool.query('CREATE SCHEMA public');
}

async function publicTables(database: Database): Promise<string[]> {
  const result = await database.pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  return result.rows.map((r) => r.table_name);
}

// ----------------------------------------------------------------------------------------- the old rows

const ids = {
  run: '11111111-1111-4111-8111-111111111111',
  trainedRun: '11111111-1111-4111-8111-222222222222',
  initial: '22222222-2222-4222-8222-111111111111',
  final: '22222222-2222-4222-8222-222222222222',
  dataset: '33333333-3333-4333-8333-333333333333',
  path: '44444444-4444-4444-8444-444444444444',
  distance: '55555555-5555-4555-8555-555555555555',
  job: '66666666-6666-4666-8666-666666666666',
  trainingJob: '77777777-7777-4777-8777-777777777777',
  combination: '88888888-8888-4888-8888-888888888888',
};

const header = {
  headerLength: 4096,
  metadata: { format: 'pt' },
  tensors: [
    { name: 'conv1.weight', dtype: 'F32', shape: [64, 3, 3, 3], begin: 0, end: 6912 },
    { name: 'fc.bias', dtype: 'F32', shape: [10], begin: 6912, end: 6952 },
  ],
};
const datasetHeader = {
  headerLength: 128,
  metadata: {},
  tensors: [
    { name: 'x', dtype: 'F32', shape: [500, 3, 32, 32], begin: 0, end: 6_144_000 },
    { name: 'y', dtype: 'I64', shape: [500], begin: 6_144_000, end: 6_148_000 },
  ],
};
const etag = '"8aea5c2f0d1e4b7a9c3f6e2d1b0a9f8e"';
const points = [
  { alpha: 0, lossSum: 1151.2925, correct: 50, n: 500 },
  { alpha: 0.5, lossSum: 1520.25, correct: 61, n: 500 },
  { alpha: 1, lossSum: 98.125, correct: 468, n: 500 },
];
const distanceKey = 'distance:v1:l2:sha-initial:sha-final:all';
const apiKeyId = '0123456789abcdef';

/**
 * One insert per table, with only the columns the table had in the migration that created it (columns added
 * later must take existing rows: nullable or with a default). Parents before children.
 */
const seeds: Array<{ table: string; rows: Array<[string, unknown[]]> }> = [
  {
    table: 'runs',
    rows: [
      [
        `INSERT INTO runs (id, name, architecture, dataset_name, hyperparameters, seed, tags, reported_metrics)
         VALUES ($1, 'resnet18-wd5e-4-seed1', 'resnet18-cifar', 'cifar10', $2, 1, '{study,wd}', $3)`,
        [
          ids.run,
          JSON.stringify({ optimizer: 'sgd', lr: 0.1, weight_decay: 5e-4 }),
          JSON.stringify({ test_accuracy: 0.9362 }),
        ],
      ],
      [`INSERT INTO runs (id, name, architecture) VALUES ($1, 'mlp-trained', 'mlp')`, [ids.trainedRun]],
    ],
  },
  {
    table: 'checkpoints',
    rows: (['INITIAL', 'FINAL'] as const).map((role) => [
      `INSERT INTO checkpoints (id, run_id, step, role, architecture, tensor_count, parameter_count, element_count, uri, bucket, key, size, etag, sha256, header)
       VALUES ($1, $2, $3, $4, 'resnet18-cifar', 122, 11173962, 11181642, $5, 'linpath', $6, 44729608, $7, $8, $9)`,
      [
        role === 'INITIAL' ? ids.initial : ids.final,
        ids.run,
        role === 'INITIAL' ? 0 : 78000,
        role,
        `s3://linpath/objects/sha256/${role === 'INITIAL' ? 'a' : 'b'}.safetensors`,
        `objects/sha256/${role === 'INITIAL' ? 'a' : 'b'}.safetensors`,
        etag,
        (role === 'INITIAL' ? 'a' : 'b').repeat(64),
        JSON.stringify(header),
      ],
    ]),
  },
  {
    table: 'datasets',
    rows: [
      [
        `INSERT INTO datasets (id, name, split, input_key, label_key, example_count, input_shape, input_dtype, label_kind, label_dtype, num_classes, uri, bucket, key, size, etag, sha256, header)
         VALUES ($1, 'cifar10', 'TEST', 'x', 'y', 500, '{3,32,32}', 'F32', 'CLASS_INDEX', 'I64', 10, 's3://linpath/objects/sha256/c.safetensors', 'linpath', 'objects/sha256/c.safetensors', 6148128, $2, $3, $4)`,
        [ids.dataset, etag, 'c'.repeat(64), JSON.stringify(datasetHeader)],
      ],
    ],
  },
  {
    table: 'paths',
    rows: [
      [
        `INSERT INTO paths (id, key, from_checkpoint_id, to_checkpoint_id, dataset_id, blocks, moving_tensor_count, example_count)
         VALUES ($1, 'path:v1:old', $2, $3, $4, NULL, 122, 500)`,
        [ids.path, ids.initial, ids.final, ids.dataset],
      ],
    ],
  },
  {
    table: 'path_points',
    rows: points.map((p) => [
      `INSERT INTO path_points (path_id, alpha, loss_sum, correct, n, non_finite, engine, engine_version, duration_ms)
       VALUES ($1, $2, $3, $4, $5, 0, 'onnx', '1.30.0', 12.5)`,
      [ids.path, p.alpha, p.lossSum, p.correct, p.n],
    ]),
  },
  {
    table: 'distances',
    rows: [
      [
        `INSERT INTO distances (id, key, from_checkpoint_id, to_checkpoint_id, metric, blocks, tensor_count, value)
         VALUES ($1, $2, $3, $4, 'L2', NULL, 122, 91.25)`,
        [ids.distance, distanceKey, ids.initial, ids.final],
      ],
    ],
  },
  {
    table: 'path_summaries',
    rows: [
      [
        `INSERT INTO path_summaries (path_id, grid, version, summary) VALUES ($1, '0,0.25,1', 'v0', $2)`,
        [ids.path, JSON.stringify({ points: [] })],
      ],
    ],
  },
  {
    table: 'path_tasks',
    rows: [[`INSERT INTO path_tasks (path_id, alpha, job_id) VALUES ($1, 0.25, $2)`, [ids.path, ids.job]]],
  },
  {
    table: 'training_jobs',
    rows: [
      [
        `INSERT INTO training_jobs (id, run_id, spec, status, epoch, epochs, step, train_loss, attempts, started_at)
         VALUES ($1, $2, $3, 'RUNNING', 3, 60, 60, 0.4125, 1, now())`,
        [
          ids.trainingJob,
          ids.trainedRun,
          JSON.stringify({ optimizer: 'adam', learningRate: 5e-4, epochs: 60, seed: 7 }),
        ],
      ],
    ],
  },
  {
    table: 'architectures',
    rows: [
      [
        `INSERT INTO architectures (name, uri, bucket, key, size, etag, sha256, opset, input_shape, outputs, parameters, ops, unsupported_ops)
         VALUES ('tiny-onnx', 's3://linpath/objects/sha256/e.onnx', 'linpath', 'objects/sha256/e.onnx', 2048, 'etag-e', $1, 17, '[2]', 1, '[]', '["Gemm"]', '[]')`,
        ['e'.repeat(64)],
      ],
    ],
  },
  {
    table: 'api_keys',
    rows: [
      [
        `INSERT INTO api_keys (id, name, scope, secret_sha256) VALUES ($1, 'lab uploader', 'write', $2)`,
        [apiKeyId, 'd'.repeat(64)],
      ],
    ],
  },
  {
    table: 'learning_curve_epochs',
    rows: [
      [
        `INSERT INTO learning_curve_epochs (run_id, epoch, step, learning_rate, train_loss, train_accuracy, test_loss, test_accuracy)
         VALUES ($1, 1, 20, 0.0005, 0.61, 0.7, 0.64, 0.68)`,
        [ids.trainedRun],
      ],
    ],
  },
  {
    table: 'combinations',
    rows: [
      [
        `INSERT INTO combinations (id, key, architecture, states, dataset_id, example_count)
         VALUES ($1, 'combination:v1:old', 'resnet18-cifar', $2, $3, 500)`,
        [
          ids.combination,
          JSON.stringify([{ uri: 's3://linpath/a.safetensors', etag: 'etag-a', size: 6952 }]),
          ids.dataset,
        ],
      ],
    ],
  },
  {
    table: 'combination_points',
    rows: [
      [
        `INSERT INTO combination_points (combination_id, coefficients, loss_sum, correct, n, non_finite, engine, engine_version, duration_ms)
         VALUES ($1, '3f000000,3f000000', 150, 430, 500, 0, 'onnx', '1.30.0', 12)`,
        [ids.combination],
      ],
    ],
  },
  {
    table: 'combination_tasks',
    rows: [
      [
        `INSERT INTO combination_tasks (combination_id, coefficients, job_id) VALUES ($1, '3e800000,3f400000', $2)`,
        [ids.combination, ids.job],
      ],
    ],
  },
];

/** Every row of every table, as JSON, keyed by table. */
async function dump(database: Database, tables: string[]): Promise<Record<string, Array<Record<string, unknown>>>> {
  const out: Record<string, Array<Record<string, unknown>>> = {};
  for (const table of tables) {
    const result = await database.pool.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM "${table}" t ORDER BY to_jsonb(t)::text`,
    );
    out[table] = result.rows.map((r) => r.row);
  }
  return out;
}

/** The rows seeded at the oldest schema, read through today's repositories, with the later columns' defaults. */
async function expectSeededRowsReadable(database: Database, seeded: Set<string>): Promise<void> {
  const registry = new RegistryRepository(database.db);
  const run = await registry.findRunByName('resnet18-wd5e-4-seed1');
  expect(run).toMatchObject({
    id: ids.run,
    architecture: 'resnet18-cifar',
    datasetName: 'cifar10',
    hyperparameters: { optimizer: 'sgd', lr: 0.1, weight_decay: 5e-4 },
    seed: 1,
    tags: ['study', 'wd'],
    reportedMetrics: { test_accuracy: 0.9362 },
  });
  const page = await registry.listRuns({ tags: ['study'] }, { field: 'NAME', direction: 'ASC' }, 10, undefined);
  expect(page.map((r) => r.id)).toEqual([ids.run]);

  const checkpoints = await registry.checkpointsOfRun(ids.run);
  expect(checkpoints.map((c) => [c.role, c.step])).toEqual([
    ['INITIAL', 0],
    ['FINAL', 78000],
  ]);
  expect(checkpoints[1]).toMatchObject({ header, etag, size: 44729608, parameterCount: 11173962, derivation: null });

  const [dataset] = await registry.listDatasets();
  expect(dataset).toMatchObject({
    id: ids.dataset,
    inputShape: [3, 32, 32],
    numClasses: 10,
    header: datasetHeader,
    // added by 0001_dataset_formats
    format: 'SAFETENSORS',
    inputLayout: null,
    normalization: null,
    labelsUri: null,
  });

  if (!seeded.has('paths')) return;
  const paths = new PathsRepository(database.db);
  expect(await paths.findPath(ids.path)).toMatchObject({
    key: 'path:v1:old',
    blocks: null,
    bnStats: 'INTERPOLATE',
    // added by 0004_eval_queue, 0005_tensor_group, 0007_bn_recompute
    failureCode: null,
    failedAt: null,
    tensorGroup: 'ALL',
    bnStatsDatasetId: null,
    bnStatsExamples: null,
  });
  const stored = await paths.points(ids.path);
  expect(
    stored.map((p) => ({ alpha: p.alpha, lossSum: p.lossSum, correct: p.correct, n: p.n, evaluations: p.evaluations })),
  ).toEqual(
    points.map((p) => ({ ...p, evaluations: 1 })), // evaluations: added by 0004_eval_queue
  );
  expect(stored.map((p) => p.chosenBy)).toEqual(points.map(() => 'GRID')); // added by 0014_alpha_refinement
  // The memo stays writable: a new α of the old path.
  await paths.storePoint({
    pathId: ids.path,
    alpha: 0.75,
    lossSum: 140,
    correct: 440,
    n: 500,
    nonFinite: 0,
    engine: 'onnx',
    engineVersion: '1.30.0',
    durationMs: 10,
  });
  expect((await paths.points(ids.path)).map((p) => p.alpha)).toEqual([0, 0.5, 0.75, 1]);
  // Storing an α again (a worker that died after storing it) keeps the first values and counts the repeat.
  await paths.storePoint({
    pathId: ids.path,
    alpha: 0.75,
    lossSum: 999,
    correct: 1,
    n: 500,
    nonFinite: 0,
    engine: 'tfjs',
    engineVersion: '4.22.0',
    durationMs: 10,
  });
  expect((await paths.points(ids.path, [0.75]))[0]).toMatchObject({
    lossSum: 140,
    correct: 440,
    engine: 'onnx',
    evaluations: 2,
  });

  if (seeded.has('distances')) {
    expect(await new AnalyticsRepository(database.db).findDistance(distanceKey)).toMatchObject({
      metric: 'L2',
      value: 91.25,
      tensorCount: 122,
    });
  }
  if (seeded.has('path_tasks')) expect(await paths.jobAlphas(ids.job)).toEqual([0.25]);
  if (seeded.has('training_jobs')) {
    expect(await new TrainingRepository(database.db).findByRun(ids.trainedRun)).toMatchObject({
      id: ids.trainingJob,
      status: 'RUNNING',
      epoch: 3,
      epochs: 60,
    });
  }
  if (seeded.has('api_keys')) {
    expect(await new ApiKeysRepository(database.db).find(apiKeyId)).toMatchObject({
      name: 'lab uploader',
      scope: 'write',
      revokedAt: null,
    });
  }
}

describe('migrations on a database holding data of an older schema', () => {
  let testDatabase: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    testDatabase = await createTestDatabase();
    database = connectDatabase(testDatabase.url, { max: 4 });
  });
  afterAll(async () => {
    await database?.close();
    await testDatabase?.drop();
  });

  it('has a seed row for every table of the newest schema (a new table needs one here)', async () => {
    await resetDatabase(database);
    await migrateDatabase(database);
    expect((await publicTables(database)).sort()).toEqual(seeds.map((s) => s.table).sort());
  });

  // k = 1: rows written right after the first migration ride through every later one.
  it.each(entries.slice(1).map((entry, i) => ({ applied: i + 1, next: entry.tag })))(
    'keeps rows written with $applied migration(s) applied when the rest (from $next on) are applied',
    async ({ applied }) => {
      await resetDatabase(database);
      await migrateFirst(database, applied);
      const before = new Set(await publicTables(database));
      const seeded = new Set<string>();
      for (const seed of seeds) {
        if (!before.has(seed.table)) continue;
        for (const [statement, params] of seed.rows) await database.pool.query(statement, params);
        seeded.add(seed.table);
      }
      expect(seeded).toEqual(before); // every table of that schema holds a row
      const old = await dump(database, [...seeded]);

      await migrateDatabase(database);

      // The migrator applied exactly the rest, in order, and recorded each file's hash.
      const recorded = await database.pool.query<{ hash: string; created_at: string }>(
        'SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id',
      );
      expect(recorded.rows.map((r) => [r.hash, Number(r.created_at)])).toEqual(
        entries.map((e) => [hashOf(e.tag), e.when]),
      );

      // Every old row is still there, every old column unchanged; new columns only added.
      const now = await dump(database, [...seeded]);
      for (const table of seeded) {
        expect(now[table], table).toHaveLength(old[table]!.length);
        for (const row of old[table]!) expect(now[table], table).toContainEqual(expect.objectContaining(row));
      }
      await expectSeededRowsReadable(database, seeded);

      // Starting again changes nothing.
      await migrateDatabase(database);
      expect((await database.pool.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations')).rows[0].n).toBe(
        entries.length,
      );
    },
  );
});

// ------------------------------------------------------------------------------------ committed = frozen

const CHECKSUMS_FILE = fileURLToPath(new URL('./migration-checksums.json', import.meta.url));
interface Checksum {
  tag: string;
  when: number;
  sha256: string;
}

describe('committed migrations', () => {
  const recorded: Checksum[] = existsSync(CHECKSUMS_FILE)
    ? (JSON.parse(readFileSync(CHECKSUMS_FILE, 'utf8')) as Checksum[])
    : [];

  it('are never edited, removed or reordered: each file matches its sha256 in test/storage/migration-checksums.json', () => {
    const current = entries.map((e) => ({ tag: e.tag, when: e.when, sha256: hashOf(e.tag) }));
    // Recorded migrations are a prefix of the journal, byte for byte.
    expect(current.slice(0, recorded.length), 'a committed migration changed: add a new migration instead').toEqual(
      recorded,
    );
    const missing = current.slice(recorded.length);
    if (missing.length > 0 && process.env.LINPATH_RECORD_MIGRATIONS === '1') {
      // Appends the new migrations' hashes (never rewrites recorded ones).
      writeFileSync(CHECKSUMS_FILE, `${JSON.stringify([...recorded, ...missing], null, 2)}\n`);
      return;
    }
    expect(
      missing.map((m) => m.tag),
      'new migrations: record them with LINPATH_RECORD_MIGRATIONS=1 npx vitest run test/storage/migrations.int.test.ts',
    ).toEqual([]);
  });

  it('run in journal order: each later than the one before (the migrator skips one dated before the last applied)', () => {
    expect(entries.map((e) => e.idx)).toEqual(entries.map((_, i) => i));
    for (let i = 1; i < entries.length; i += 1)
      expect(entries[i]!.when, entries[i]!.tag).toBeGreaterThan(entries[i - 1]!.when);
  });
});

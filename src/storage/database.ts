import { fileURLToPath } from 'node:url';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as analyticsTables from './analytics.tables.js';
import * as apiKeyTables from './api-keys.tables.js';
import * as combinationTables from './combinations.tables.js';
import * as pathTables from './paths.tables.js';
import * as registryTables from './registry.tables.js';
import * as trainingTables from './training.tables.js';

const tables = {
  ...registryTables,
  ...pathTables,
  ...analyticsTables,
  ...trainingTables,
  ...apiKeyTables,
  ...combinationTables,
};

export type Db = NodePgDatabase<typeof tables>;

export interface Database {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Any number to tell this lock from other advisory locks in a shared database ("linpath" in ASCII). */
const MIGRATION_LOCK_ID = 0x6c696e70617468;

/**
 * Connects to Postgres. Both drivers of linpath end here: a real server (`DATABASE_URL`) and the embedded
 * PGlite, which src/embedded serves on a loopback port so that the server, workers and the CLI share it.
 */
export function connectDatabase(url: string, options: { max?: number; statementTimeoutMs?: number } = {}): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: 10_000,
    ...(options.statementTimeoutMs !== undefined ? { statement_timeout: options.statementTimeoutMs } : {}),
  });
  // An idle client that loses its server (a Postgres restart) emits 'error' on the pool; without a
  // listener that would end the process. The next query opens a new connection.
  pool.on('error', () => undefined);
  // pg-pool listens for errors of idle connections only; a connection lost while checked out (between two
  // statements of a transaction, say) would otherwise emit an unhandled 'error' and end the process. Its
  // next statement fails instead, and the pool discards it on release.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
    // linpath's statements are short lookups and batched reads; Postgres' JIT compiler, which starts above a
    // plan cost that a sort of 10,000 runs by a stored metric passes, spent ~200 ms compiling such a query that
    // runs in less (docs/performance-analytics.md). PGlite accepts the setting too. Queued before any statement.
    client.query('SET jit = off').catch(() => undefined);
  });
  const db = drizzle(pool, { schema: tables });
  return { db, pool, close: () => pool.end() };
}

/**
 * Applies the committed migrations. Several processes may start at once against one database (API nodes,
 * workers, the CLI), so the migration runs under an advisory lock.
 */
export async function migrateDatabase(database: Database): Promise<void> {
  const client = await database.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    client.release();
  }
}

/**
 * Keeps the planner's statistics current where nothing else does (PGlite has no autovacuum, and a Postgres may
 * run without it): ANALYZEs each table of linpath changed by more than 50 rows + 10% of its rows since it was
 * last analysed — autovacuum's default rule. Cheap and bounded: ANALYZE reads a sample of at most 30,000 rows
 * per table. Returns the tables analysed.
 */
export async function analyzeStaleTables(database: Pick<Database, 'pool'>): Promise<string[]> {
  // A connection of its own, so that it never queues behind a request's statements on pool.query.
  const client = await database.pool.connect();
  try {
    // Counters of this connection's backend reach the statistics at once (PGlite runs one backend for all).
    await client.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
    const stale = await client.query<{ relname: string }>(
      `SELECT relname FROM pg_stat_user_tables
        WHERE schemaname = 'public' AND n_mod_since_analyze > 50 + 0.1 * greatest(n_live_tup, 0)
        ORDER BY relname`,
    );
    const tables = stale.rows.map((row) => row.relname);
    if (tables.length > 0) await client.query(`ANALYZE ${tables.map((t) => `"${t}"`).join(', ')}`);
    return tables;
  } finally {
    client.release();
  }
}

/** analyzeStaleTables now and every `intervalMs` (never two at once); stop() ends it. */
export function keepStatisticsCurrent(
  database: Pick<Database, 'pool'>,
  intervalMs: number,
  onError: (error: unknown) => void,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const tick = () => {
    running = analyzeStaleTables(database).catch(onError);
  };
  const timer = setInterval(() => void running.then(tick), intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';

export interface TestDatabase {
  url: string;
  kind: 'postgres' | 'pglite';
  drop(): Promise<void>;
}

/** The server the suite runs against: `DATABASE_URL` (CI's second pass) or PGlite. */
export const testDatabaseKind = (): TestDatabase['kind'] => (process.env.DATABASE_URL ? 'postgres' : 'pglite');

/**
 * A fresh, empty database for one test file: a new database on the real Postgres server of DATABASE_URL
 * (dropped afterwards), or an in-memory PGlite served on a loopback port.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const embedded = await startEmbeddedPostgres(undefined);
    return { url: embedded.url, kind: 'pglite', drop: embedded.stop };
  }
  const name = `linpath_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    kind: 'postgres',
    drop: async () => {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { inject } from 'vitest';
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
    const embedded = await startEmbeddedPostgres(undefined, { initialData: emptyCluster() });
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

let emptyClusterDump: Blob | undefined;

/**
 * The empty PGlite cluster that test/setup/global-setup.ts dumped once for the run: each in-memory test
 * database starts from it instead of running initdb again (~8 s of CPU each). Without one (a tier that made
 * none) PGlite runs initdb. test/storage/embedded-postgres.int.test.ts and every e2e server start from initdb.
 */
function emptyCluster(): Blob | undefined {
  const file = inject('emptyPgliteCluster');
  if (file === undefined) return undefined;
  emptyClusterDump ??= new Blob([readFileSync(file)]);
  return emptyClusterDump;
}

/**
 * For test files of the int tier that use no database of DATABASE_URL (the embedded PGlite itself, the S3
 * store): CI's second pass (DATABASE_URL set) would only repeat what its PGlite pass ran, so they skip then.
 */
export const usesNoDatabaseHere = testDatabaseKind() === 'postgres';
export const SKIPPED_WITH_DATABASE_URL =
  ' (skipped with DATABASE_URL: uses no configured database, runs in the PGlite pass)';

import { existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { TestProject } from 'vitest/node';
import { startEmbeddedS3 } from '../../src/embedded/embedded-s3.js';

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string;
    /** A directory for what the run's files share (test/helpers/run-once.ts), removed at the end. */
    testRunDir: string;
    /**
     * A dump of an empty PGlite cluster (PGlite's dumpDataDir) that test/helpers/database.ts starts each
     * in-memory test database from; absent with DATABASE_URL and for the unit tier, which needs none.
     */
    emptyPgliteCluster?: string;
  }
}

/**
 * One real S3 server (s3rver over HTTP on loopback) for the whole run; each test file makes its own bucket.
 * The database is chosen per file by test/helpers/database.ts: real Postgres when DATABASE_URL is set,
 * PGlite otherwise.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const directory = mkdtempSync(path.join(tmpdir(), 'linpath-test-s3-'));
  // A fixed key pair (test/helpers/s3.ts), so that spawned servers and CLIs can be handed it; every request is
  // still signature-checked, as in the embedded default.
  const s3 = await startEmbeddedS3(directory, {
    bucket: 'linpath-test',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  project.provide('s3Endpoint', s3.settings.endpoint!);
  const runDir = mkdtempSync(path.join(tmpdir(), 'linpath-test-run-'));
  project.provide('testRunDir', runDir);
  // Made here, before any file starts, rather than by the first file that asks: under a hook's timeout the
  // first file would pay initdb and the dump, and the others would wait for it.
  if (!process.env.DATABASE_URL && (project.name === 'int' || project.name === 'e2e'))
    project.provide('emptyPgliteCluster', await emptyPgliteCluster());
  return async () => {
    await s3.stop();
    rmSync(directory, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
    rmSync(EMPTY_CLUSTER, { force: true });
  };
}

/** One file for the run's projects (they set up one after the other in this process). */
const EMPTY_CLUSTER = path.join(tmpdir(), `linpath-test-pglite-empty-${process.pid}.tar`);

/** An empty cluster as initdb leaves it (~8 s of CPU), dumped as an uncompressed tar. */
async function emptyPgliteCluster(): Promise<string> {
  if (existsSync(EMPTY_CLUSTER)) return EMPTY_CLUSTER;
  const db = await PGlite.create();
  try {
    const dump = await db.dumpDataDir('none');
    writeFileSync(`${EMPTY_CLUSTER}.tmp`, Buffer.from(await dump.arrayBuffer()));
    renameSync(`${EMPTY_CLUSTER}.tmp`, EMPTY_CLUSTER);
  } finally {
    await db.close();
  }
  return EMPTY_CLUSTER;
}

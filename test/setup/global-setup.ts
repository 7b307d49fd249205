import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedS3 } from '../../src/embedded/embedded-s3.js';

declare module 'vitest' {
  export interface ProvidedContext {
    s3Endpoint: string;
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
  return async () => {
    await s3.stop();
    rmSync(directory, { recursive: true, force: true });
  };
}

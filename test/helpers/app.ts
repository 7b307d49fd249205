import type { DestinationStream } from 'pino';
import { createLinpath, createLogger, type Linpath } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { startHttpServer, type HttpServer } from '../../src/server/http.js';
import { createTestDatabase } from './database.js';
import { createTestStore, testS3Settings } from './s3.js';
import { createApiKey, type ApiKeyScope } from '../../src/usecases/api-keys.usecases.js';

export interface TestApp {
  app: Linpath;
  http: HttpServer;
  /** A new API key of this scope, as `linpath keys create` makes it. */
  createKey(scope: ApiKeyScope, name?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * The whole server in this process, as `linpath start` builds it, on a fresh database (Postgres or PGlite)
 * and a fresh bucket of the test S3 server, listening on a free port.
 */
export async function startTestApp(env: Record<string, string> = {}, log?: DestinationStream): Promise<TestApp> {
  const database = await createTestDatabase();
  const s3 = testS3Settings();
  (await createTestStore(s3)).destroy();
  const config = loadConfig({
    DATABASE_URL: database.url,
    S3_ENDPOINT: s3.endpoint!,
    S3_BUCKET: s3.bucket,
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    PORT: '0',
    LINPATH_POLL_MS: '50',
    ...env,
  });
  // Errors only, unless the test asks for more with LOG_LEVEL.
  const logLevel = env.LOG_LEVEL !== undefined ? config.logLevel : 'error';
  const app = await createLinpath(config, 'server', createLogger({ logLevel }, log));
  const http = await startHttpServer(app, await buildLinpathSchema());
  // As `linpath start`: LINPATH_WORKERS (default 1) in-process workers.
  if (config.queue.workers > 0) await app.startWorkers(config.queue.workers);
  return {
    app,
    http,
    createKey: async (scope, name) => (await createApiKey(app.apiKeys, { scope, name: name ?? `test ${scope}` })).key,
    close: async () => {
      await http.stop();
      await app.close();
      await database.drop();
    },
  };
}

/** POSTs a GraphQL request (with `key` as `Authorization: Bearer`) and returns the HTTP status and the parsed body. */
export async function postGraphql(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  options: { key?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(options.key !== undefined ? { authorization: `Bearer ${options.key}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });

  return { status: response.status, body: (await response.json()) as { data?: any; errors?: any[] } };
}

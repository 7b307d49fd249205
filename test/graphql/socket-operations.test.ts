import { GraphQLError, type GraphQLSchema } from 'graphql';
import { Writable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import type { GraphQLContext } from '../../src/graphql/context.js';
import { formatError } from '../../src/graphql/pipeline/errors.js';
import { SLOW_CONSUMER_CLOSE_CODE, socketOperations } from '../../src/graphql/pipeline/socket-operations.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';

/** graphql-ws's hooks as the boundary (pure: fake sockets, no server). */
describe('socketOperations', () => {
  let schema: GraphQLSchema;
  const logged: string[] = [];
  const logger = createLogger(
    { logLevel: 'warn' },
    new Writable({
      write: (chunk, _encoding, done) => {
        logged.push(String(chunk));
        done();
      },
    }),
  );
  const config = loadConfig({});
  const hooks = (authenticate: () => Promise<never> | Promise<{ kind: 'anonymous'; client: string }>) =>
    socketOperations({
      schema,
      guard: { auth: config.auth, limits: config.limits },
      authenticate,
      context: () => ({}) as GraphQLContext,
      formatError: formatError(logger),
      logger,
      maxSubscriptionsPerSocket: 2,
      maxSocketBufferBytes: 1000,
    });
  const closes: Array<[number, string]> = [];
  const ctx = (bufferedAmount: number) =>
    ({
      subscriptions: { a: null },
      connectionParams: {},
      extra: {
        request: { socket: { remoteAddress: '127.0.0.1' } },
        socket: { bufferedAmount, close: (code: number, reason: string) => closes.push([code, reason]) },
      },
    }) as never;

  beforeAll(async () => {
    schema = await buildLinpathSchema();
  });

  it('masks an unexpected failure (SQL, TypeError) as INTERNAL_SERVER_ERROR and logs it', async () => {
    const secret = 'select "key_hash" from "api_keys" where "id" = $1 -- params: lp_secret';
    const options = hooks(() => Promise.reject(new Error(secret)));
    const errors = (await options.onSubscribe!(ctx(0), 'a', { query: '{ datasets { id } }' })) as GraphQLError[];
    const sent = await options.onError!(ctx(0), 'a', { query: '' }, errors);
    expect(sent).toEqual([{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    expect(JSON.stringify(sent)).not.toContain('api_keys');
    expect(logged.join('')).toContain('api_keys');
    // A resolver's TypeError in a result: masked the same way, its path kept.
    const typeError = new GraphQLError("Cannot read properties of undefined (reading 'x')", {
      path: ['datasets'],
      originalError: new TypeError("Cannot read properties of undefined (reading 'x')"),
    });
    const result = await options.onNext!(ctx(0), 'a', { query: '' }, {} as never, { data: null, errors: [typeError] });
    expect(result).toEqual({
      data: null,
      errors: [{ message: 'Internal server error', path: ['datasets'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
    });
  });

  it('refuses an operation past LINPATH_MAX_SUBSCRIPTIONS_PER_SOCKET with TOO_MANY_REQUESTS', async () => {
    const options = hooks(() => Promise.resolve({ kind: 'anonymous', client: '127.0.0.1' }));
    const busy = { ...(ctx(0) as object), subscriptions: { a: null, b: null, c: null } } as never;
    const errors = (await options.onSubscribe!(busy, 'c', { query: '{ datasets { id } }' })) as GraphQLError[];
    expect(await options.onError!(busy, 'c', { query: '' }, errors)).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('LINPATH_MAX_SUBSCRIPTIONS_PER_SOCKET'),
        extensions: { code: 'TOO_MANY_REQUESTS' },
      }),
    ]);
  });

  it('closes a socket whose unsent data passes LINPATH_MAX_SOCKET_BUFFER_BYTES (1013)', async () => {
    const options = hooks(() => Promise.resolve({ kind: 'anonymous', client: '127.0.0.1' }));
    await options.onNext!(ctx(999), 'a', { query: '' }, {} as never, { data: {} });
    expect(closes).toEqual([]);
    await options.onNext!(ctx(1001), 'a', { query: '' }, {} as never, { data: {} });
    expect(closes).toEqual([[SLOW_CONSUMER_CLOSE_CODE, expect.stringContaining('LINPATH_MAX_SOCKET_BUFFER_BYTES')]]);
  });
});

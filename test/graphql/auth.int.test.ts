import { createClient } from 'graphql-ws';
import {
  getNamedType,
  getNullableType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Linpath } from '../../src/app.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { startHttpServer, type HttpServer } from '../../src/server/http.js';
import { revokeApiKey } from '../../src/usecases/api-keys.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';

/** A value of an input type that passes GraphQL validation (not necessarily the use case's). */
function sampleValue(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sampleValue(type.ofType);
  if (isListType(type)) return [];
  if (isEnumType(type)) return type.getValues()[0]!.value;
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((field) => isNonNullType(field.type) && field.defaultValue === undefined)
        .map((field) => [field.name, sampleValue(field.type)]),
    );
  }
  if (isScalarType(type)) {
    if (type.name === 'Int' || type.name === 'Float') return 0;
    if (type.name === 'Boolean') return false;
    if (type.name.startsWith('JSON')) return {};
    return '00000000-0000-0000-0000-000000000000';
  }
  throw new Error(`no sample for ${String(type)}`);
}

/** One request per Mutation field of the schema, with variables for its required arguments: new mutations are covered too. */
function everyMutation(
  schema: GraphQLSchema,
): Array<{ name: string; query: string; variables: Record<string, unknown> }> {
  return Object.values(schema.getMutationType()!.getFields()).map((field) => {
    const args = field.args.filter((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined);
    const declarations = args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
    const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
    const call =
      args.length === 0 ? field.name : `${field.name}(${args.map((arg) => `${arg.name}: $${arg.name}`).join(', ')})`;
    return {
      name: field.name,
      query: `mutation${declarations === '' ? '' : ` (${declarations})`} { ${call}${selection} }`,
      variables: Object.fromEntries(args.map((arg) => [arg.name, sampleValue(arg.type)])),
    };
  });
}

describe('API keys over GraphQL', () => {
  let test: TestApp;
  let app: Linpath;
  let http: HttpServer;
  let schema: GraphQLSchema;
  let mutations: ReturnType<typeof everyMutation>;
  const keys: Record<'read' | 'write' | 'admin', string> = { read: '', write: '', admin: '' };

  beforeAll(async () => {
    // No workers: the sample mutations must not start real work.
    test = await startTestApp({ LINPATH_WORKERS: '0' });
    ({ app, http } = test);
    schema = await buildLinpathSchema();
    mutations = everyMutation(schema);
    for (const scope of ['read', 'write', 'admin'] as const) keys[scope] = await test.createKey(scope);
  });
  afterAll(async () => {
    await test?.close();
  });

  it('finds the mutations of the schema', () => {
    expect(mutations.map((m) => m.name)).toEqual(
      expect.arrayContaining(['createRun', 'registerCheckpoint', 'registerDataset', 'cancelPath']),
    );
    expect(getNullableType(schema.getMutationType()!.getFields().createRun!.type)).toBeDefined();
  });

  it('refuses every mutation without a key: UNAUTHENTICATED (HTTP 401), saying how to send one', async () => {
    for (const { name, query, variables } of mutations) {
      const { status, body } = await postGraphql(http.url, query, variables);
      expect(body.errors?.[0]?.extensions?.code, `${name}: ${JSON.stringify(body)}`).toBe('UNAUTHENTICATED');
      expect(body.errors?.[0]?.message).toContain('Authorization: Bearer <key>');
      expect(body.data, name).toBeUndefined();
      expect(status, name).toBe(401);
    }
  });

  it('refuses every mutation with a read key: FORBIDDEN (HTTP 403), naming the scope needed', async () => {
    for (const { name, query, variables } of mutations) {
      const { status, body } = await postGraphql(http.url, query, variables, { key: keys.read });
      expect(body.errors?.[0]?.extensions?.code, `${name}: ${JSON.stringify(body)}`).toBe('FORBIDDEN');
      expect(body.errors?.[0]?.message).toMatch(/has scope "read"; a mutation needs scope "write"/);
      expect(status, name).toBe(403);
    }
  });

  it('lets write and admin keys through to the use cases (which may still refuse the sample values)', async () => {
    for (const scope of ['write', 'admin'] as const) {
      for (const { name, query, variables } of mutations) {
        const { body } = await postGraphql(http.url, query, variables, { key: keys[scope] });
        for (const error of body.errors ?? [])
          expect(['UNAUTHENTICATED', 'FORBIDDEN'], `${scope} ${name}: ${error.message}`).not.toContain(
            error.extensions?.code,
          );
      }
    }
    const created = await postGraphql(
      http.url,
      `mutation { createRun(input: { name: "auth-run" }) { name } }`,
      undefined,
      { key: keys.write },
    );
    expect(created.body).toEqual({ data: { createRun: { name: 'auth-run' } } });
    // The x-api-key header works as well as Authorization.
    const other = await postGraphql(
      http.url,
      `mutation { createRun(input: { name: "auth-run-2" }) { name } }`,
      undefined,
      { headers: { 'x-api-key': keys.admin } },
    );
    expect(other.body.errors).toBeUndefined();
  });

  it('answers reads without a key by default (LINPATH_AUTH_READS=open)', async () => {
    const { body } = await postGraphql(
      http.url,
      `{ runs(filter: { nameContains: "auth-run" }) { edges { node { name } } } }`,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.runs.edges).toHaveLength(2);
  });

  it('refuses unknown, malformed and revoked keys even for reads', async () => {
    const forged = `${keys.write.slice(0, -4)}AAAA`;
    const answers = [
      ['unknown API key', forged],
      ['malformed API key', 'not-a-key'],
    ] as const;
    for (const [message, key] of answers) {
      const { status, body } = await postGraphql(http.url, `{ datasets { id } }`, undefined, { key });
      expect(status).toBe(401);
      expect(body.errors?.[0]).toMatchObject({
        extensions: { code: 'UNAUTHENTICATED' },
        message: expect.stringContaining(message),
      });
    }
    const revocable = await test.createKey('write', 'to revoke');
    expect(
      (
        await postGraphql(http.url, `mutation { createRun(input: { name: "before-revoke" }) { id } }`, undefined, {
          key: revocable,
        })
      ).body.errors,
    ).toBeUndefined();
    await revokeApiKey(app.apiKeys, revocable.split('_')[1]!);
    const after = await postGraphql(
      http.url,
      `mutation { createRun(input: { name: "after-revoke" }) { id } }`,
      undefined,
      { key: revocable },
    );
    expect(after.body.errors?.[0]).toMatchObject({
      extensions: { code: 'UNAUTHENTICATED' },
      message: expect.stringContaining('was revoked at'),
    });
  });

  it('stores keys hashed: no secret in the table, a sha256 and the last use instead', async () => {
    const { rows } = await app.database.pool.query('SELECT * FROM api_keys');
    const table = JSON.stringify(rows);
    for (const key of Object.values(keys)) {
      const [, id, secret] = /^lp_([0-9a-f]{16})_(.+)$/.exec(key)!;
      expect(table).not.toContain(secret);
      const row = rows.find((r: { id: string }) => r.id === id);
      expect(row.secret_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(row.last_used_at).toBeInstanceOf(Date);
    }
  });

  it('guards graphql-ws too: mutations need a key in connectionParams', async () => {
    const run = (query: string, connectionParams?: Record<string, unknown>) => {
      const client = createClient({
        url: http.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        ...(connectionParams ? { connectionParams } : {}),
      });
      return new Promise<{ data?: any; errors?: any[] }>((resolve) => {
        client.subscribe(
          { query },
          {
            next: (value) => resolve(value as any),
            error: (errors) => resolve({ errors: errors as any[] }),
            complete: () => undefined,
          },
        );
      }).finally(() => client.dispose());
    };
    const anonymous = await run(`mutation { createRun(input: { name: "ws-anon" }) { id } }`);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const readOnly = await run(`mutation { createRun(input: { name: "ws-read" }) { id } }`, {
      authorization: `Bearer ${keys.read}`,
    });
    expect(readOnly.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const written = await run(`mutation { createRun(input: { name: "ws-write" }) { name } }`, {
      authorization: `Bearer ${keys.write}`,
    });
    expect(written).toEqual({ data: { createRun: { name: 'ws-write' } } });
  });

  describe('with LINPATH_AUTH_READS=key', () => {
    let readsKey: HttpServer;
    beforeAll(async () => {
      readsKey = await startHttpServer(
        { ...app, config: { ...app.config, auth: { enabled: true, reads: 'key', trustedProxies: [] } } },
        schema,
      );
    });
    afterAll(async () => {
      await readsKey?.stop();
    });

    it('refuses reads without a key and answers them with a read key', async () => {
      const anonymous = await postGraphql(readsKey.url, `{ datasets { id } }`);
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.errors?.[0]).toMatchObject({
        extensions: { code: 'UNAUTHENTICATED' },
        message: expect.stringContaining('LINPATH_AUTH_READS=key'),
      });
      const read = await postGraphql(readsKey.url, `{ datasets { id } }`, undefined, { key: keys.read });
      expect(read.body).toEqual({ data: { datasets: [] } });
    });

    it('refuses subscriptions without a key', async () => {
      const client = createClient({
        url: readsKey.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        retryAttempts: 0,
      });
      const errors = await new Promise<any[]>((resolve) => {
        client.subscribe(
          { query: `subscription { pathUpdated(id: "nope") { status } }` },
          { next: () => undefined, error: (e) => resolve(e as any[]), complete: () => resolve([]) },
        );
      }).finally(() => client.dispose());
      expect(errors[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });
  });

  describe('with LINPATH_AUTH=off', () => {
    it('lets mutations through without a key', async () => {
      const open = await startHttpServer(
        { ...app, config: { ...app.config, auth: { enabled: false, reads: 'open', trustedProxies: [] } } },
        schema,
      );
      try {
        const { body } = await postGraphql(open.url, `mutation { createRun(input: { name: "auth-off" }) { name } }`);
        expect(body).toEqual({ data: { createRun: { name: 'auth-off' } } });
      } finally {
        await open.stop();
      }
    });
  });
});

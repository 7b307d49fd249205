import { request as httpRequest } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';

/** A graphql-transport-ws client spoken by hand, to see every message, close code and refused handshake. */
interface GqlSocket {
  ws: WebSocket;
  send(message: Record<string, unknown>): void;
  /** The next message (after those already taken) that matches. */
  next(match: (message: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Every message of a subscription until its `complete` or `error`. */
  collect(id: string): Promise<any[]>;
  closed: Promise<number>;
  close(): Promise<number>;
}

/** An open socket, or the status and JSON body of a refused handshake. */
interface Handshake {
  socket?: GqlSocket;
  status?: number;
  body?: any;
}

function openSocket(
  url: string,
  options: { localAddress?: string; origin?: string; connectionParams?: Record<string, unknown> } = {},
): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws', {
      ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
      ...(options.origin !== undefined ? { headers: { origin: options.origin } } : {}),
    });
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk) => (body += String(chunk)));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(body) }));
    });
    ws.once('error', reject);
    const messages: any[] = [];
    const waiters = new Set<() => void>();
    ws.on('message', (data) => {
      messages.push(JSON.parse(String(data)));
      for (const wake of waiters) wake();
    });
    const closed = new Promise<number>((done) => ws.once('close', (code) => done(code)));
    const socket: GqlSocket = {
      ws,
      closed,
      send: (message) => ws.send(JSON.stringify(message)),
      next: (match, timeoutMs = 20_000) =>
        new Promise((found, fail) => {
          const look = () => {
            const index = messages.findIndex(match);
            if (index < 0) return false;
            waiters.delete(look);
            clearTimeout(timer);
            found(messages.splice(index, 1)[0]);
            return true;
          };
          const timer = setTimeout(() => {
            waiters.delete(look);
            fail(
              new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages).slice(0, 500)}`),
            );
          }, timeoutMs);
          if (!look()) waiters.add(look);
        }),
      collect: async (id) => {
        const got: any[] = [];
        for (;;) {
          const message = await socket.next((m) => m.id === id);
          got.push(message);
          if (message.type !== 'next') return got;
        }
      },
      close: () => {
        ws.close();
        return closed;
      },
    };
    ws.once('open', () => {
      socket.send({ type: 'connection_init', payload: options.connectionParams ?? {} });
      socket.next((m) => m.type === 'connection_ack').then(() => resolve({ socket }), reject);
    });
  });
}

/** One operation over a fresh socket: its messages until complete or error. */
async function overSocket(url: string, query: string, variables?: Record<string, unknown>) {
  const { socket } = await openSocket(url);
  socket!.send({ id: '1', type: 'subscribe', payload: { query, variables } });
  const messages = await socket!.collect('1');
  await socket!.close();
  return messages;
}

/** Every error of a socket's answers; each must carry a code. */
const socketErrors = (messages: any[]): any[] =>
  messages.flatMap((m) => (m.type === 'error' ? m.payload : m.type === 'next' ? (m.payload.errors ?? []) : []));

/** A plain HTTP request with chosen headers (fetch may not set Host), from an optional local address. */
function rawGet(url: string, path: string, headers: Record<string, string>) {
  const { hostname, port } = new URL(url);
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, path, method: 'GET', headers }, (response) => {
      let body = '';
      response.on('data', (chunk) => (body += String(chunk)));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    request.once('error', reject);
    request.end();
  });
}

describe('request boundary', () => {
  let test: TestApp;
  let url: string;
  let pathId: string;
  let stored: number[];
  /** A subscription that stays open: its α is queued and no worker runs. */
  const pending = () => `subscription { pathUpdated(id: "${pathId}", alphas: [0.123]) { status } }`;
  const healthz = async () => (await fetch(url.replace(/\/graphql$/, '/healthz'))).status;

  beforeAll(async () => {
    // No workers: queued alphas stay queued, so subscriptions to them stay open. Small socket caps.
    test = await startTestApp({
      LINPATH_WORKERS: '0',
      LINPATH_MAX_SOCKETS: '8',
      LINPATH_MAX_SOCKETS_PER_CLIENT: '4',
      LINPATH_MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
      LINPATH_MAX_REPLAY_POINTS: '10',
      LINPATH_MAX_CONNECTIONS_PER_CLIENT: '12',
    });
    url = test.http.url;
    const registry = test.app.registry;
    const from = await importCheckpointFile(registry, fixturePath('mlp/init.safetensors'), {
      run: 'boundary',
      step: 0,
      role: 'INITIAL',
      architecture: 'mlp',
    });
    const to = await importCheckpointFile(registry, fixturePath('mlp/final.safetensors'), {
      run: 'boundary',
      step: 1200,
      role: 'FINAL',
    });
    const { dataset } = await importDatasetFile(registry, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    // 60 stored points (written here: this test is about the replay, not the values), and one queued α.
    stored = Array.from({ length: 60 }, (_, i) => i / 59);
    const input = { from: from.checkpoint.id, to: to.checkpoint.id, dataset: dataset.id };
    const queued = await interpolationPath(test.app.paths, { ...input, alphas: stored }, { wait: false });
    pathId = queued.path.id;
    for (const alpha of stored)
      await test.app.paths.paths.storePoint({
        pathId,
        alpha,
        lossSum: 2000,
        correct: 4000,
        n: 5000,
        nonFinite: 0,
        engine: 'onnx',
        engineVersion: 'test',
        durationMs: 1,
      });
    await interpolationPath(test.app.paths, { ...input, alphas: [0.123] }, { wait: false });
  }, 180_000);
  afterAll(async () => {
    await test?.close();
  });

  const SCHEMA_FRAGMENT = `fragment F on __Schema { types { name fields { name args { name type { name kind ofType { name kind } } } } } }`;
  const aliasedSchema = (n: number) =>
    `{${Array.from({ length: n }, (_, i) => `a${i}:__schema{...F}`).join(' ')}} ${SCHEMA_FRAGMENT}`;

  it('C1: refuses 2,000 aliased __schema with BAD_USER_INPUT (LINPATH_MAX_ROOT_FIELDS), and stays up', async () => {
    const { status, body } = await postGraphql(url, aliasedSchema(2000));
    expect(status).toBe(400);
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([
      {
        message: expect.stringContaining('(LINPATH_MAX_ROOT_FIELDS; aliases and fragments included), got 33 or more'),
        extensions: { code: 'BAD_USER_INPUT' },
      },
    ]);
    expect(await healthz()).toBe(200);
  });

  it('C1: applies the root-field cap before validation (a wide document is refused for its width, not validated)', async () => {
    // Invalid as well as too wide: validated first, it would be GRAPHQL_VALIDATION_FAILED ("Cannot query field").
    const wideAndInvalid = `{${Array.from({ length: 2000 }, (_, i) => `a${i}: nope`).join(' ')}}`;
    // Twice: the second answer comes through Apollo's cache of parsed documents, and must be the same refusal.
    for (let attempt = 0; attempt < 2; attempt++) {
      const { status, body } = await postGraphql(url, wideAndInvalid);
      expect(status).toBe(400);
      expect(body.errors).toEqual([
        {
          message: expect.stringContaining('(LINPATH_MAX_ROOT_FIELDS; aliases and fragments included), got 33 or more'),
          extensions: { code: 'BAD_USER_INPUT' },
        },
      ]);
    }
    expect(socketErrors(await overSocket(url, wideAndInvalid))).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('LINPATH_MAX_ROOT_FIELDS'),
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
    expect(await healthz()).toBe(200);
  });

  it('C1: refuses 20,000 aliased __schema (429 KB) before validating them (LINPATH_MAX_QUERY_TOKENS)', async () => {
    const query = aliasedSchema(20_000);
    expect(query.length).toBeGreaterThan(400_000);
    const [answer, health] = await Promise.all([postGraphql(url, query), healthz()]);
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([
      {
        message: expect.stringContaining('tokens. Parsing aborted. (LINPATH_MAX_QUERY_TOKENS'),
        locations: expect.any(Array),
        extensions: { code: 'GRAPHQL_PARSE_FAILED' },
      },
    ]);
    expect(health).toBe(200);
    expect(await healthz()).toBe(200);
  });

  it("C1: answers GraphiQL's and codegen's introspection query at the default limits", async () => {
    for (const query of [
      getIntrospectionQuery(),
      getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, schemaDescription: true }),
    ]) {
      const { status, body } = await postGraphql(url, query);
      expect(status).toBe(200);
      expect(body.errors).toBeUndefined();
      expect(body.data.__schema.types.map((type: { name: string }) => type.name)).toContain('Run');
    }
  });

  it('M2: every error over graphql-ws carries a code, as over HTTP', async () => {
    const cases: Array<[string, string, string]> = [
      ['{ runs(first: ', 'GRAPHQL_PARSE_FAILED', 'Syntax Error'],
      ['{ nope }', 'GRAPHQL_VALIDATION_FAILED', 'Cannot query field "nope"'],
      ['mutation { createRun(input: { name: "x" }) { id } }', 'UNAUTHENTICATED', 'needs an API key'],
      [`subscription { pathUpdated(id: "nope") { status } }`, 'NOT_FOUND', 'nope'],
      [aliasedSchema(2000), 'BAD_USER_INPUT', 'LINPATH_MAX_ROOT_FIELDS'],
      [aliasedSchema(20_000), 'GRAPHQL_PARSE_FAILED', 'LINPATH_MAX_QUERY_TOKENS'],
    ];
    for (const [query, code, message] of cases) {
      const errors = socketErrors(await overSocket(url, query));
      expect(errors, query.slice(0, 60)).toEqual([
        expect.objectContaining({ message: expect.stringContaining(message), extensions: { code } }),
      ]);
    }
    // A key that does not work: refused whatever the operation, with the same code as over HTTP.
    const { socket } = await openSocket(url, { connectionParams: { authorization: 'Bearer lp_0000000000000000_x' } });
    socket!.send({ id: 'k', type: 'subscribe', payload: { query: '{ datasets { id } }' } });
    expect(socketErrors(await socket!.collect('k'))).toEqual([
      expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } }),
    ]);
    await socket!.close();
  });

  it('L4: closes a WebSocket that sends a message over LINPATH_MAX_REQUEST_BYTES (1009), and stays up', async () => {
    const { socket } = await openSocket(url);
    const big = `{ datasets { id } } # ${'x'.repeat(test.app.config.maxRequestBytes)}`;
    socket!.send({ id: 'big', type: 'subscribe', payload: { query: big } });
    expect(await socket!.closed).toBe(1009);
    expect(await healthz()).toBe(200);
  });

  it('M1: refuses WebSocket upgrades and requests from pages of other origins (FORBIDDEN, 403)', async () => {
    const { port } = new URL(url);
    for (const origin of ['http://evil.example', 'null', `http://evil.example:${port}`, 'http://localhost:1']) {
      const refused = await openSocket(url, { origin });
      expect(refused.status, origin).toBe(403);
      expect(refused.body.errors[0]).toMatchObject({
        message: expect.stringContaining('LINPATH_ALLOWED_ORIGINS'),
        extensions: { code: 'FORBIDDEN' },
      });
      const post = await postGraphql(url, '{ datasets { id } }', undefined, { headers: { origin } });
      expect(post.status, origin).toBe(403);
      expect(post.body.errors?.[0].extensions.code).toBe('FORBIDDEN');
    }
    // The server's own pages, under either loopback name, and programs that send no Origin.
    for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
      const { socket } = await openSocket(url, { origin });
      await socket!.close();
      expect((await postGraphql(url, '{ datasets { id } }', undefined, { headers: { origin } })).status).toBe(200);
    }
  });

  it('M1: refuses host names other than its own (DNS rebinding), but for /healthz', async () => {
    const { port } = new URL(url);
    for (const path of ['/graphql?query=%7B__typename%7D', '/metrics', '/']) {
      const refused = await rawGet(url, path, { host: `rebound.example:${port}` });
      expect(refused.status, path).toBe(403);
      expect(JSON.parse(refused.body).errors[0]).toMatchObject({
        message: expect.stringContaining('LINPATH_ALLOWED_HOSTS'),
        extensions: { code: 'FORBIDDEN' },
      });
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`]) {
      const answer = await rawGet(url, '/graphql?query=%7B__typename%7D', { host, 'apollo-require-preflight': '1' });
      expect(answer.status, host).toBe(200);
    }
    expect((await rawGet(url, '/healthz', { host: 'rebound.example' })).status).toBe(200);
  });

  it('H1: caps WebSockets per client (429) and in all (503), and operations per socket', async () => {
    // Four sockets of 127.0.0.2 (its cap), each running its three operations (the cap per socket).
    const sockets: GqlSocket[] = [];
    for (let i = 0; i < 4; i++) sockets.push((await openSocket(url, { localAddress: '127.0.0.2' })).socket!);
    const perClient = await openSocket(url, { localAddress: '127.0.0.2' });
    expect(perClient.status).toBe(429);
    expect(perClient.body.errors[0]).toMatchObject({
      message: expect.stringContaining('LINPATH_MAX_SOCKETS_PER_CLIENT'),
      extensions: { code: 'TOO_MANY_REQUESTS' },
    });
    for (const [i, socket] of sockets.entries())
      for (let id = 0; id < 3; id++)
        socket.send({ id: `${i}.${id}`, type: 'subscribe', payload: { query: pending() } });
    sockets[0]!.send({ id: 'one too many', type: 'subscribe', payload: { query: pending() } });
    expect(socketErrors(await sockets[0]!.collect('one too many'))).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('LINPATH_MAX_SUBSCRIPTIONS_PER_SOCKET'),
        extensions: { code: 'TOO_MANY_REQUESTS' },
      }),
    ]);
    // Completing one makes room on that socket.
    sockets[0]!.send({ id: '0.0', type: 'complete' });
    sockets[0]!.send({ id: 'room', type: 'subscribe', payload: { query: `{ datasets { name } }` } });
    expect((await sockets[0]!.collect('room'))[0].payload.data.datasets).toEqual([{ name: 'spiral' }]);
    // Four more from other clients reach the cap in all (8); the next is refused whoever sends it.
    for (let i = 3; i < 7; i++) sockets.push((await openSocket(url, { localAddress: `127.0.0.${i}` })).socket!);
    const total = await openSocket(url, { localAddress: '127.0.0.9' });
    expect(total.status).toBe(503);
    expect(total.body.errors[0]).toMatchObject({
      message: expect.stringContaining('LINPATH_MAX_SOCKETS'),
      extensions: { code: 'UNAVAILABLE' },
    });
    expect(await healthz()).toBe(200);
    await Promise.all(sockets.map((socket) => socket.close()));
    // Closed sockets are counted out: a new client gets in again.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await (await openSocket(url, { localAddress: '127.0.0.9' })).socket!.close();
  });

  it('H1: replays at most LINPATH_MAX_REPLAY_POINTS stored points, evenly spaced, and counts them all', async () => {
    const messages = await overSocket(
      url,
      `subscription ($id: ID!, $alphas: [Float!]) { pathUpdated(id: $id, alphas: $alphas) { point { alpha } status progress { done total } } }`,
      { id: pathId, alphas: stored },
    );
    const updates = messages.filter((m) => m.type === 'next').map((m) => m.payload.data.pathUpdated);
    expect(socketErrors(messages)).toEqual([]);
    const replayed = updates.filter((u) => u.point !== null).map((u) => u.point.alpha);
    expect(replayed).toHaveLength(10);
    expect(replayed[0]).toBe(0);
    expect(replayed[9]).toBe(1);
    expect(updates.at(-1)).toEqual({ point: null, status: 'COMPLETE', progress: { done: 60, total: 60 } });
  });

  it('L6: caps HTTP connections per client (429 naming LINPATH_MAX_CONNECTIONS_PER_CLIENT)', async () => {
    const { hostname, port } = new URL(url);
    const idle: Socket[] = [];
    for (let i = 0; i < 12; i++) {
      const socket = netConnect({ host: hostname, port: Number(port), localAddress: '127.0.0.10' });
      await new Promise((resolve) => socket.once('connect', resolve));
      idle.push(socket);
    }
    const over = netConnect({ host: hostname, port: Number(port), localAddress: '127.0.0.10' });
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      over.on('data', (chunk) => (text += String(chunk)));
      over.once('close', () => resolve(text));
      over.once('connect', () => over.write(`GET /healthz HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 429/);
    expect(answer).toContain('"code":"TOO_MANY_REQUESTS"');
    expect(answer).toContain('LINPATH_MAX_CONNECTIONS_PER_CLIENT');
    for (const socket of idle) socket.destroy();
    expect(await healthz()).toBe(200);
  });

  it('L7: /metrics on the API port needs an admin key (LINPATH_METRICS=admin); the dashboard cannot be framed', async () => {
    const metrics = url.replace(/\/graphql$/, '/metrics');
    const anonymous = await fetch(metrics);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).toContain('LINPATH_METRICS');
    const write = await fetch(metrics, { headers: { authorization: `Bearer ${await test.createKey('write')}` } });
    expect(write.status).toBe(401);
    const admin = await fetch(metrics, { headers: { authorization: `Bearer ${await test.createKey('admin')}` } });
    expect(admin.status).toBe(200);
    expect(await admin.text()).toContain('linpath_queue_jobs');
    const page = await fetch(url.replace(/\/graphql$/, '/'));
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const policy = page.headers.get('content-security-policy') ?? '';
    expect(policy).toContain("frame-ancestors 'none'");
    // Scripts only from the server's own files: no inline script, no eval (test/browser/security-headers.browser.test.ts
    // checks the dashboard and GraphiQL work under it, and that an injected script is blocked).
    expect(policy).toMatch(/(^|; )script-src 'self'(;|$)/);
    expect(policy).toMatch(/(^|; )default-src 'self'(;|$)/);
  });

  it('L1: refuses U+0000 in any string, literal or variable, over HTTP and WebSocket (BAD_USER_INPUT)', async () => {
    const write = await test.createKey('write');
    const cases: Array<[string, Record<string, unknown> | undefined]> = [
      ['{ runs(filter: { nameContains: "a\\u0000b" }) { edges { node { id } } } }', undefined],
      ['query ($f: RunFilter) { runs(filter: $f) { edges { node { id } } } }', { f: { tags: ['x\u0000'] } }],
      [
        'mutation ($input: CreateRunInput!) { createRun(input: $input) { id } }',
        { input: { name: 'nul', hyperparameters: { optimizer: { name: 's\u0000gd' } } } },
      ],
      [
        'mutation ($input: CreateRunInput!) { createRun(input: $input) { id } }',
        { input: { name: 'nul', hyperparameters: { 'l\u0000r': 0.1 } } },
      ],
    ];
    for (const [query, variables] of cases) {
      const { status, body } = await postGraphql(url, query, variables, { key: write });
      expect(status, query).toBe(400);
      expect(body.errors).toEqual([
        { message: expect.stringContaining('the NUL character (U+0000)'), extensions: { code: 'BAD_USER_INPUT' } },
      ]);
    }
    expect(socketErrors(await overSocket(url, cases[1]![0], cases[1]![1]))).toEqual([
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } }),
    ]);
    expect((await postGraphql(url, '{ runs { edges { node { name } } } }')).body.data.runs.edges).not.toContainEqual({
      node: { name: 'nul' },
    });
  });

  it('L3: answers persisted-query errors Apollo gives no code with BAD_REQUEST (HTTP 400)', async () => {
    for (const persistedQuery of [
      { version: 1, sha256Hash: '0'.repeat(64) },
      { version: 2, sha256Hash: '0'.repeat(64) },
    ]) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ datasets { id } }', extensions: { persistedQuery } }),
      });
      expect(response.status).toBe(400);
      const body = (await response.json()) as { errors: unknown[] };
      expect(body.errors).toEqual([{ message: expect.any(String), extensions: { code: 'BAD_REQUEST' } }]);
    }
  });

  it('L8: refuses an S3 key segment over 255 bytes with BAD_USER_INPUT, before any S3 call', async () => {
    const write = await test.createKey('write');
    const { body } = await postGraphql(
      url,
      'mutation ($uri: String!) { registerCheckpoint(input: { run: "l8", step: 0, role: FINAL, uri: $uri }) { id } }',
      { uri: `s3://${test.app.config.s3!.bucket}/runs/${'é'.repeat(128)}.safetensors` },
      { key: write },
    );

    expect(body.errors).toEqual([
      expect.objectContaining({
        message: expect.stringContaining('key segments (between "/") of at most 255 bytes, got one of 268'),
        extensions: { code: 'BAD_USER_INPUT' },
      }),
    ]);
  });
});

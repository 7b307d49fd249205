import { connect as netConnect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { startTestApp, type TestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';

/**
 * Issue 13, H1 and L6, with real slow clients over loopback (no fake sockets): a WebSocket client that stops
 * reading while a subscription replays megabytes is closed with 1013 once LINPATH_MAX_SOCKET_BUFFER_BYTES is
 * queued for it, while a client that reads gets every event; a client that sends its headers, or its body,
 * a few bytes at a time is cut off (408) at LINPATH_HEADERS_TIMEOUT_MS and LINPATH_REQUEST_TIMEOUT_MS.
 */
describe('slow clients', () => {
  let test: TestApp;
  let url: string;
  let pathId: string;
  const STORED = 60;
  const BUFFER_BYTES = 256 * 1024;
  const SUBSCRIPTIONS = 16;
  const logLines: string[] = [];
  const healthz = async () => (await fetch(url.replace(/\/graphql$/, '/healthz'))).status;
  // 3,000 aliases of `alpha` in each update (~90 KB of JSON; within the token and cost limits).
  const aliases = Array.from({ length: 3000 }, (_, i) => `a${i}:alpha`).join(' ');
  const subscription = (id: number) =>
    JSON.stringify({
      id: String(id),
      type: 'subscribe',
      payload: { query: `subscription { pathUpdated(id: "${pathId}") { status point { ${aliases} } } }` },
    });

  beforeAll(async () => {
    const log = new Writable({
      write(chunk, _encoding, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    test = await startTestApp(
      {
        LINPATH_WORKERS: '0',
        LINPATH_MAX_SOCKET_BUFFER_BYTES: String(BUFFER_BYTES),
        LINPATH_MAX_REPLAY_POINTS: String(STORED),
        LINPATH_HEADERS_TIMEOUT_MS: '1000',
        LINPATH_REQUEST_TIMEOUT_MS: '2000',
        LOG_LEVEL: 'warn',
      },
      log,
    );
    url = test.http.url;
    const registry = test.app.registry;
    const from = await importCheckpointFile(registry, fixturePath('mlp/init.safetensors'), {
      run: 'slow-clients',
      step: 0,
      role: 'INITIAL',
      architecture: 'mlp',
    });
    const to = await importCheckpointFile(registry, fixturePath('mlp/final.safetensors'), {
      run: 'slow-clients',
      step: 1200,
      role: 'FINAL',
    });
    const { dataset } = await importDatasetFile(registry, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    // Stored points written here: this test is about what a socket sends, not the values.
    const alphas = Array.from({ length: STORED }, (_, i) => i / (STORED - 1));
    const queued = await interpolationPath(
      test.app.paths,
      { from: from.checkpoint.id, to: to.checkpoint.id, dataset: dataset.id, alphas },
      { wait: false },
    );
    pathId = queued.path.id;
    for (const alpha of alphas)
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
  }, 180_000);
  afterAll(async () => {
    await test?.close();
  });

  /**
   * A graphql-transport-ws client with `count` subscriptions on one socket; `read: false` stops reading from
   * its TCP socket once it has subscribed. Counts the replayed points it received and the completions.
   */
  function subscribe(read: boolean, count: number) {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    let updates = 0;
    let completions = 0;
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload?: any };
      if (message.type === 'connection_ack') {
        for (let id = 1; id <= count; id++) ws.send(subscription(id));
        if (!read) ws.pause();
      }
      if (message.type === 'next' && message.payload.data?.pathUpdated.point !== null) updates++;
      if (message.type === 'complete') completions++;
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} })));
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    return { ws, closed, updates: () => updates, completions: () => completions };
  }

  const until = async (condition: () => boolean, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('a client that reads gets every replayed update and the completion', { timeout: 60_000 }, async () => {
    const client = subscribe(true, 1);
    await until(() => client.completions() === 1, 50_000, 'the subscription completes');
    expect(client.updates()).toBe(STORED);
    client.ws.close();
    expect(await client.closed).toBe(1005); // closed by the client, no code
  });

  it(
    'H1: a client that stops reading is closed with 1013 (LINPATH_MAX_SOCKET_BUFFER_BYTES); the server answers throughout',
    { timeout: 60_000 },
    async () => {
      // graphql-ws sends an operation's next update only once its last one left: a socket holds at most one
      // update per operation. With 16 operations of ~90 KB updates that is ~1.4 MB for a client that reads
      // nothing (up to 16 × what the cost limit lets one update hold): the bound closes it first.
      const client = subscribe(false, SUBSCRIPTIONS);
      const closing = () => logLines.some((line) => line.includes('reads too slowly'));
      await until(closing, 40_000, 'the server closes the socket that reads too slowly');
      const warning = JSON.parse(logLines.find((line) => line.includes('reads too slowly'))!) as { buffered: number };
      expect(warning.buffered).toBeGreaterThan(BUFFER_BYTES);
      expect(await healthz()).toBe(200);
      // The client reads again: what was queued, then the server's close frame.
      client.ws.resume();
      expect(await client.closed).toBe(1013);
      expect(client.completions()).toBe(0);
      expect(client.updates()).toBeLessThan(SUBSCRIPTIONS * STORED);
      expect(await healthz()).toBe(200);
    },
  );

  /** Opens a raw connection, sends `head`, then `drip` every 200 ms until the server closes it; what it answered. */
  function dribble(head: string, drip: string) {
    const { hostname, port } = new URL(url);
    return new Promise<{ answer: string; closedAfterMs: number }>((resolve, reject) => {
      const started = Date.now();
      const socket: Socket = netConnect({ host: hostname, port: Number(port) });
      let answer = '';
      let timer: NodeJS.Timeout | undefined;
      socket.on('data', (chunk) => (answer += String(chunk)));
      socket.on('error', () => undefined); // EPIPE/ECONNRESET once the server has closed it
      socket.on('close', () => {
        clearInterval(timer);
        resolve({ answer, closedAfterMs: Date.now() - started });
      });
      socket.on('connect', () => {
        socket.write(head);
        timer = setInterval(() => socket.write(drip), 200);
      });
      setTimeout(() => {
        socket.destroy();
        reject(new Error('the server kept a dribbling connection for 8 s (timeouts of 1 and 2 s)'));
      }, 8_000);
    });
  }

  it(
    'L6: headers sent a line at a time are cut off at LINPATH_HEADERS_TIMEOUT_MS (408)',
    { timeout: 30_000 },
    async () => {
      const host = new URL(url).host;
      // Node enforces the timeout only every connectionsCheckingInterval: 30 s by default, which is what
      // `serverOptions()` shortens; on today's main such a client stays up to 31 s.
      const { answer } = await dribble(`POST /graphql HTTP/1.1\r\nHost: ${host}\r\n`, 'x-slow: 1\r\n');
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(await healthz()).toBe(200);
    },
  );

  it(
    'L6: a body sent a few bytes at a time is cut off at LINPATH_REQUEST_TIMEOUT_MS (408)',
    { timeout: 30_000 },
    async () => {
      const host = new URL(url).host;
      const head =
        `POST /graphql HTTP/1.1\r\nHost: ${host}\r\ncontent-type: application/json\r\n` +
        'content-length: 100000\r\n\r\n';
      // 100,000 bytes at 10 bytes per 200 ms would take 2,000 s.
      const { answer } = await dribble(head, '          ');
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(await healthz()).toBe(200);
    },
  );
});

import { request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';

/**
 * Evaluation slots and waits end when their client leaves (issue 13, M4): with one slot per client and no
 * worker, a waiting request holds the client's only slot; once its connection closes, the next request of
 * that client gets the slot at once instead of TOO_MANY_REQUESTS for up to LINPATH_MAX_WAIT_MS.
 */
describe('a client that leaves', () => {
  let test: TestApp;
  let url: string;
  let input: { from: string; to: string; dataset: string };
  const QUERY = `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status } }`;
  let next = 0;
  const waiting = () => ({ input: { ...input, alphas: [0.5 + ++next / 1000], wait: true, timeoutMs: 60_000 } });
  const askWithoutWaiting = () =>
    postGraphql(url, QUERY, { input: { ...input, alphas: [0.25 + ++next / 1000], wait: false } });
  /** Retries for a moment: the server learns of a closed connection asynchronously. */
  const slotFreed = async () => {
    for (let i = 0; i < 40; i++) {
      const answer = await askWithoutWaiting();
      if (answer.body.errors === undefined) return answer;
      expect(answer.body.errors[0].extensions.code).toBe('TOO_MANY_REQUESTS');
      await sleep(50);
    }
    return askWithoutWaiting();
  };

  beforeAll(async () => {
    test = await startTestApp({ LINPATH_WORKERS: '0', LINPATH_MAX_EVALUATIONS_PER_KEY: '1' });
    url = test.http.url;
    const registry = test.app.registry;
    const from = await importCheckpointFile(registry, fixturePath('mlp/init.safetensors'), {
      run: 'leaves',
      step: 0,
      role: 'INITIAL',
      architecture: 'mlp',
    });
    const to = await importCheckpointFile(registry, fixturePath('mlp/final.safetensors'), {
      run: 'leaves',
      step: 1200,
      role: 'FINAL',
    });
    const { dataset } = await importDatasetFile(registry, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    input = { from: from.checkpoint.id, to: to.checkpoint.id, dataset: dataset.id };
  });
  afterAll(async () => {
    await test?.close();
  });

  it('over HTTP: closing the connection frees the slot at once', async () => {
    const body = JSON.stringify({ query: QUERY, variables: waiting() });
    const held = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } });
    held.on('error', () => undefined); // destroyed below
    held.end(body);
    // While it waits, the client's one slot is taken.
    await sleep(500);
    const refused = await askWithoutWaiting();
    expect(refused.body.errors?.[0]?.extensions.code).toBe('TOO_MANY_REQUESTS');
    const left = Date.now();
    held.destroy();
    const answer = await slotFreed();
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data.interpolationPath.status).toBe('PENDING');
    expect(Date.now() - left).toBeLessThan(5_000); // on today's main: refused for the whole 60 s wait
  });

  it('over WebSocket: closing the socket frees the slot at once', async () => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const messages: Array<{ type: string }> = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as { type: string }));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    for (let i = 0; i < 100 && !messages.some((m) => m.type === 'connection_ack'); i++) await sleep(20);
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: QUERY, variables: waiting() } }));
    await sleep(500);
    expect(messages.filter((m) => m.type !== 'connection_ack')).toEqual([]); // still waiting
    const refused = await askWithoutWaiting();
    expect(refused.body.errors?.[0]?.extensions.code).toBe('TOO_MANY_REQUESTS');
    const left = Date.now();
    socket.terminate();
    const answer = await slotFreed();
    expect(answer.body.errors).toBeUndefined();
    expect(Date.now() - left).toBeLessThan(5_000);
  });
});

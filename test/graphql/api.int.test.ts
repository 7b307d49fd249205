import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Linpath } from '../../src/app.js';
import type { HttpServer } from '../../src/server/http.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { postGraphql, startTestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';

/** The GraphQL API over HTTP, on a real database and S3 server. */
describe('GraphQL API', () => {
  let app: Linpath;
  let http: HttpServer;
  let close: () => Promise<void>;
  let logged = '';
  let key: string;
  const graphql = (query: string, variables?: Record<string, unknown>) =>
    postGraphql(http.url, query, variables, { key });

  beforeAll(async () => {
    let createKey: (scope: 'write') => Promise<string>;
    ({ app, http, close, createKey } = await startTestApp(
      { LINPATH_MAX_REQUEST_BYTES: '65536' },
      { write: (line: string) => void (logged += line) },
    ));
    key = await createKey('write');
  });
  afterAll(async () => {
    await close?.();
  });

  it('serves /healthz', async () => {
    const response = await fetch(http.url.replace('/graphql', '/healthz'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok', database: 'ok', store: 'ok' });
  });

  it('creates runs, registers a checkpoint by URI and reads it back', async () => {
    const created = await graphql(
      `
        mutation ($input: CreateRunInput!) {
          createRun(input: $input) {
            id
            name
            architecture
            hyperparameters
            tags
            seed
          }
        }
      `,
      {
        input: { name: 'api-run', architecture: 'mlp', hyperparameters: { lr: 0.001 }, tags: ['a', 'a', 'b'], seed: 3 },
      },
    );
    expect(created.body.errors).toBeUndefined();
    expect(created.body.data.createRun).toMatchObject({
      name: 'api-run',
      architecture: 'mlp',
      hyperparameters: { lr: 0.001 },
      tags: ['a', 'b'],
      seed: 3,
    });

    const ref = { bucket: app.store.bucket, key: 'runs/api-run/init.safetensors' };
    await app.store.uploadFile(ref, fixturePath('mlp/init.safetensors'));
    const registered = await graphql(
      `
        mutation ($input: RegisterCheckpointInput!) {
          registerCheckpoint(input: $input) {
            id
            step
            role
            uri
            size
            sha256
            tensorCount
            parameterCount
            architecture
            run {
              name
            }
            tensors {
              name
              dtype
              shape
            }
          }
        }
      `,
      {
        input: { run: created.body.data.createRun.id, step: 0, role: 'INITIAL', uri: `s3://${ref.bucket}/${ref.key}` },
      },
    );
    expect(registered.body.errors).toBeUndefined();
    const checkpoint = registered.body.data.registerCheckpoint;
    expect(checkpoint).toMatchObject({
      step: 0,
      role: 'INITIAL',
      size: readFileSync(fixturePath('mlp/init.safetensors')).length,
      sha256: null,
      tensorCount: 6,
      parameterCount: 2751,
      architecture: 'mlp',
      run: { name: 'api-run' },
    });
    expect(checkpoint.tensors[2]).toEqual({ name: 'fc2.weight', dtype: 'F32', shape: [50, 50] });

    const read = await graphql(
      `
        query ($id: ID!) {
          run(id: $id) {
            checkpoints {
              id
              role
            }
          }
        }
      `,
      { id: created.body.data.createRun.id },
    );
    expect(read.body.data.run.checkpoints).toEqual([{ id: checkpoint.id, role: 'INITIAL' }]);
  });

  it('takes JSON objects written inline in the query, as well as in variables', async () => {
    const created = await graphql(`
      mutation {
        createRun(
          input: {
            name: "inline-json"
            hyperparameters: { lr: 0.05, optimizer: { name: "sgd", betas: [0.9, 0.99] }, __proto__: { admin: true } }
            reportedMetrics: { test_accuracy: 0.91 }
          }
        ) {
          id
          hyperparameters
          reportedMetrics
        }
      }
    `);
    expect(created.body.errors).toBeUndefined();
    const hyperparameters = created.body.data.createRun.hyperparameters;
    expect(hyperparameters).toMatchObject({ lr: 0.05, optimizer: { name: 'sgd', betas: [0.9, 0.99] } });
    expect(Object.getOwnPropertyNames(hyperparameters).sort()).toEqual(['__proto__', 'lr', 'optimizer']);
    expect(created.body.data.createRun.reportedMetrics).toEqual({ test_accuracy: 0.91 });

    const found = await graphql(`
      {
        runs(filter: { hyperparametersContain: { optimizer: { name: "sgd" } } }) {
          edges {
            node {
              name
            }
          }
        }
      }
    `);
    expect(found.body.errors).toBeUndefined();
    expect(found.body.data.runs.edges.map((edge: { node: { name: string } }) => edge.node.name)).toEqual([
      'inline-json',
    ]);
  });

  it('refuses a malformed safetensors object in the bucket and registers nothing', async () => {
    // A header that claims more bytes than the object has: found from the header alone, before any tensor is read.
    const header = Buffer.from(
      JSON.stringify({ 'fc1.weight': { dtype: 'F32', shape: [50, 2], data_offsets: [0, 400] } }),
    );
    const bytes = Buffer.concat([Buffer.alloc(8), header, Buffer.alloc(16)]);
    bytes.writeBigUInt64LE(BigInt(header.length));
    const file = join(mkdtempSync(join(tmpdir(), 'linpath-api-')), 'short.safetensors');
    writeFileSync(file, bytes);
    const ref = { bucket: app.store.bucket, key: 'runs/api-run/short.safetensors' };
    await app.store.uploadFile(ref, file);
    const { body } = await graphql(
      `mutation { registerCheckpoint(input: { run: "api-run", step: 7, role: INTERMEDIATE, uri: "s3://${ref.bucket}/${ref.key}" }) { id } }`,
    );
    expect(body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining('data_offsets'),
    });
    const runs = await graphql(`
      {
        runs(filter: { nameContains: "api-run" }) {
          edges {
            node {
              name
              checkpoints {
                step
              }
            }
          }
        }
      }
    `);
    expect(runs.body.data.runs.edges).toEqual([{ node: { name: 'api-run', checkpoints: [{ step: 0 }] } }]);
  });

  it('answers WebSocket upgrades of other paths, or with a malformed target, with 400 and keeps serving', async () => {
    const { port } = new URL(http.url);
    /** The status line the server answers a raw upgrade request with (empty when it just closes). */
    const upgrade = (target: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () =>
          socket.write(
            `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
              'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n',
          ),
        );
        let received = '';
        socket.on('data', (chunk) => {
          received += chunk.toString('latin1');
          if (received.includes('\r\n')) {
            socket.destroy();
            resolve(received.slice(0, received.indexOf('\r\n')));
          }
        });
        socket.on('close', () => resolve(received));
        socket.on('error', reject);
      });
    expect(await upgrade('/graphql?client=dashboard')).toBe('HTTP/1.1 101 Switching Protocols');
    expect(await upgrade('/other')).toBe('HTTP/1.1 400 Bad Request');
    expect(await upgrade('http://[')).toMatch(/^(HTTP\/1\.1 400 Bad Request)?$/);
    const response = await fetch(http.url.replace('/graphql', '/healthz'));
    expect(response.status).toBe(200);
  });

  it('pages runs as a Relay connection', async () => {
    for (const name of ['page-1', 'page-2', 'page-3']) {
      await graphql(
        `
          mutation ($name: String!) {
            createRun(input: { name: $name, tags: ["paged"] }) {
              id
            }
          }
        `,
        { name },
      );
    }
    const query = `query ($after: String) { runs(first: 2, after: $after, filter: { tags: ["paged"] }) {
      edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`;
    const first = (await graphql(query)).body.data.runs;
    expect(first.edges.map((e: any) => e.node.name)).toEqual(['page-1', 'page-2']);
    expect(first.pageInfo).toMatchObject({
      hasNextPage: true,
      hasPreviousPage: false,
      endCursor: first.edges[1].cursor,
    });
    const second = (await graphql(query, { after: first.pageInfo.endCursor })).body.data.runs;
    expect(second.edges.map((e: any) => e.node.name)).toEqual(['page-3']);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('serves checkpoints and datasets imported through the use cases', async () => {
    const { checkpoint } = await importCheckpointFile(app.registry, fixturePath('mlp/final.safetensors'), {
      run: 'api-import',
      step: 1200,
      role: 'FINAL',
    });
    const result = await graphql(
      `
        query ($id: ID!) {
          checkpoint(id: $id) {
            sha256
            tensorCount
            parameterCount
            elementCount
            metadata
          }
        }
      `,
      { id: checkpoint.id },
    );
    expect(result.body.data.checkpoint).toEqual({
      sha256: '8aea33bf39915fd5fa8c6b8713dbef8d7ab5c8b6878a2dff90321ddb8dfee4a1',
      tensorCount: 6,
      parameterCount: 2751,
      elementCount: 2751,
      metadata: expect.any(Object),
    });
  });

  it.each([
    [
      'an unknown checkpoint',
      `{ checkpoint(id: "00000000-0000-0000-0000-000000000000") { id } }`,
      'NOT_FOUND',
      'no checkpoint with id',
    ],
    ['an unknown run', `{ run(id: "nope") { id } }`, 'NOT_FOUND', 'no run with id "nope"'],
    ['an unknown dataset', `{ dataset(id: "nope") { id } }`, 'NOT_FOUND', 'no dataset with id "nope"'],
    [
      'a URL that is not s3://',
      `mutation { registerCheckpoint(input: { run: "api-run", step: 1, role: INTERMEDIATE, uri: "http://169.254.169.254/latest" }) { id } }`,
      'BAD_USER_INPUT',
      'expected s3://<bucket>/<key>',
    ],
    [
      'another bucket',
      `mutation { registerDataset(input: { name: "d", split: TEST, uri: "s3://other-bucket/d.safetensors" }) { id } }`,
      'BAD_USER_INPUT',
      'bucket "other-bucket" is not configured',
    ],
    [
      'a page too large',
      `{ runs(first: 100000) { edges { cursor } } }`,
      'BAD_USER_INPUT',
      'first: expected an integer from 0 to 500',
    ],
    [
      'a bad enum value',
      `mutation { registerCheckpoint(input: { run: "api-run", step: 1, role: MIDDLE, uri: "s3://x/y" }) { id } }`,
      'GRAPHQL_VALIDATION_FAILED',
      'MIDDLE',
    ],
    ['a syntax error', `{ runs { `, 'GRAPHQL_PARSE_FAILED', 'Syntax Error'],
  ])('answers %s with a coded error', async (_label, query, code, fragment) => {
    const { body } = await graphql(query);
    expect(body.errors?.[0]).toMatchObject({ extensions: { code }, message: expect.stringContaining(fragment) });
    expect(body.errors?.[0].extensions.stacktrace).toBeUndefined();
  });

  it('answers BAD_USER_INPUT for variables of the wrong type', async () => {
    const { body } = await graphql(
      `
        mutation ($input: CreateRunInput!) {
          createRun(input: $input) {
            id
          }
        }
      `,
      {
        input: { name: 'x', hyperparameters: [1, 2] },
      },
    );
    expect(body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('refuses bodies over LINPATH_MAX_REQUEST_BYTES with a coded error', async () => {
    const response = await fetch(http.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ runs { edges { cursor } } }`, variables: { pad: 'x'.repeat(70_000) } }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({
      errors: [
        {
          message: 'request body larger than LINPATH_MAX_REQUEST_BYTES (65536 bytes)',
          extensions: { code: 'BAD_REQUEST' },
        },
      ],
    });
  });

  it('masks unexpected errors as INTERNAL_SERVER_ERROR, logs them, and keeps serving', async () => {
    // A database failure that is no user mistake: the checkpoints table is briefly renamed away.
    await app.database.pool.query('ALTER TABLE checkpoints RENAME TO checkpoints_away');
    try {
      const { body } = await graphql(`
        {
          checkpoint(id: "00000000-0000-0000-0000-000000000000") {
            id
          }
        }
      `);
      expect(body.errors?.[0]).toEqual({
        message: 'Internal server error',
        path: ['checkpoint'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      expect(JSON.stringify(body)).not.toMatch(/checkpoints|relation|select/i);
      expect(logged).toContain('relation \\"checkpoints\\" does not exist');
    } finally {
      await app.database.pool.query('ALTER TABLE checkpoints_away RENAME TO checkpoints');
    }
    const { body } = await graphql(`
      {
        runs(first: 1) {
          edges {
            node {
              name
            }
          }
        }
      }
    `);
    expect(body.errors).toBeUndefined();
  });
});

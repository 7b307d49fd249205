import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Linpath } from '../../src/app.js';
import type { HttpServer } from '../../src/server/http.js';
import { postGraphql, startTestApp } from '../helpers/app.js';
import { onnxFixturePath } from '../helpers/onnx-fixtures.js';

/** registerModel, architectures and architecture(name) over HTTP, on a real database and S3 server. */
describe('GraphQL architectures', () => {
  let app: Linpath;
  let http: HttpServer;
  let close: () => Promise<void>;
  let key: string;
  const graphql = (query: string, variables?: Record<string, unknown>) =>
    postGraphql(http.url, query, variables, { key });

  beforeAll(async () => {
    let createKey: (scope: 'write') => Promise<string>;
    ({ app, http, close, createKey } = await startTestApp({ LINPATH_WORKERS: '0' }));
    key = await createKey('write');
  });
  afterAll(async () => {
    await close?.();
  });

  const register = (name: string, uri: string) =>
    graphql(
      `
        mutation ($input: RegisterModelInput!) {
          registerModel(input: $input) {
            name
            builtIn
            sha256
            engines
          }
        }
      `,
      { input: { name, uri } },
    );

  it('registers an export from the bucket and describes it; built-ins are listed too', async () => {
    const ref = { bucket: app.store.bucket, key: 'models/mlp-bn.onnx' };
    await app.store.uploadFile(ref, onnxFixturePath('mlp-bn/model.onnx'));
    const uri = `s3://${ref.bucket}/${ref.key}`;
    const registered = await register('mlp-bn', uri);
    expect(registered.body.errors).toBeUndefined();
    expect(registered.body.data.registerModel).toMatchObject({
      name: 'mlp-bn',
      builtIn: false,
      engines: ['onnx', 'tfjs'],
    });

    const described = await graphql(`
      {
        architecture(name: "mlp-bn") {
          parameters {
            name
            shape
          }
          blocks
          inputShape
          outputs
          engines
          ops {
            op
            count
          }
        }
        architectures {
          name
          builtIn
        }
        missing: architecture(name: "nothing") {
          name
        }
      }
    `);
    expect(described.body.errors).toBeUndefined();
    const { architecture, architectures, missing } = described.body.data;
    expect(architecture.parameters[0]).toEqual({ name: 'fc1.weight', shape: [32, 16] });
    expect(architecture.parameters).toHaveLength(14);
    expect(architecture).toMatchObject({
      blocks: ['fc1', 'bn1', 'fc2', 'bn2', 'head'],
      inputShape: [16],
      outputs: 3,
      ops: [
        { op: 'Gemm', count: 3 },
        { op: 'BatchNormalization', count: 2 },
        { op: 'Relu', count: 2 },
      ],
    });
    expect(architectures.map((a: { name: string }) => a.name)).toEqual([
      'mlp',
      'resnet18-cifar',
      'resnet34-cifar',
      'vgg11-bn-cifar',
      'mlp-bn',
    ]);
    expect(missing).toBeNull();

    // The same name for another graph: CONFLICT.
    const other = { bucket: app.store.bucket, key: 'models/noparams.onnx' };
    await app.store.uploadFile(other, onnxFixturePath('mlp-bn/model.noparams.onnx'));
    const conflict = await register('mlp-bn', `s3://${other.bucket}/${other.key}`);
    expect(conflict.body.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it('refuses a folded export with BAD_USER_INPUT naming the export flags', async () => {
    const ref = { bucket: app.store.bucket, key: 'models/folded.onnx' };
    await app.store.uploadFile(ref, onnxFixturePath('folded/model.onnx'));
    const refused = await register('folded', `s3://${ref.bucket}/${ref.key}`);
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.body.errors?.[0]?.message).toMatch(/do_constant_folding=False/);
  });
});

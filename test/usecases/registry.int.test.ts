import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { objectSource, readSafetensorsHeader, readTensor } from '../../src/storage/safetensors.source.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import {
  getCheckpoint,
  importCheckpointFile,
  registerCheckpoint,
} from '../../src/usecases/registry/checkpoints.usecases.js';
import { getDataset, importDatasetFile, listDatasets } from '../../src/usecases/registry/datasets.usecases.js';
import { checkpointsOfRun, createRun, getRun, listRuns } from '../../src/usecases/registry/runs.usecases.js';
import { RESNET18_FIXTURES, fixturePath, itWithFixtures } from '../helpers/fixtures.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

const MLP_TENSORS = [
  { name: 'fc1.weight', dtype: 'F32', shape: [50, 2] },
  { name: 'fc1.bias', dtype: 'F32', shape: [50] },
  { name: 'fc2.weight', dtype: 'F32', shape: [50, 50] },
  { name: 'fc2.bias', dtype: 'F32', shape: [50] },
  { name: 'fc3.weight', dtype: 'F32', shape: [1, 50] },
  { name: 'fc3.bias', dtype: 'F32', shape: [1] },
];

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

describe('registry use cases on a real database and S3 server', () => {
  let f: RegistryFixture;
  let dir: string;
  const counts = async () => ({
    runs: await f.deps.repository.countRuns(),
    datasets: (await listDatasets(f.deps)).length,
  });

  beforeAll(async () => {
    f = await createRegistryFixture();
    dir = await mkdtemp(path.join(tmpdir(), 'linpath-registry-'));
  });
  afterAll(async () => {
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('imports the PyTorch MLP checkpoint: sha256, 6 tensors in state_dict order, 2751 parameters', async () => {
    const file = fixturePath('mlp/final.safetensors');
    const { checkpoint, run, created } = await importCheckpointFile(f.deps, file, {
      run: 'mlp-adam',
      step: 1200,
      role: 'FINAL',
      architecture: 'mlp',
    });
    expect(created).toBe(true);
    expect(run.name).toBe('mlp-adam');
    expect(checkpoint.sha256).toBe('8aea33bf39915fd5fa8c6b8713dbef8d7ab5c8b6878a2dff90321ddb8dfee4a1');
    expect(checkpoint.sha256).toBe(sha256(file));
    expect(checkpoint.size).toBe(readFileSync(file).length);
    expect(checkpoint.tensorCount).toBe(6);
    expect(checkpoint.parameterCount).toBe(2751);
    expect(checkpoint.elementCount).toBe(2751);
    expect(checkpoint.architecture).toBe('mlp');
    expect(checkpoint.header.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape }))).toEqual(MLP_TENSORS);
    expect(checkpoint.uri).toBe(`s3://${f.store.bucket}/objects/sha256/${checkpoint.sha256}.safetensors`);

    // The stored bytes are the file's: a tensor read back by range equals the local one.
    const source = objectSource(
      f.store,
      { bucket: checkpoint.bucket, key: checkpoint.key },
      checkpoint,
      checkpoint.uri,
    );
    const header = await readSafetensorsHeader(source, f.deps.maxHeaderBytes);
    const bias = await readTensor(
      source,
      header,
      header.tensors.find((t) => t.name === 'fc3.bias')!,
    );
    const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8'));
    expect(Math.abs(Number(bias[0]))).toBeCloseTo(reference.distances.per_tensor['fc3.bias'].final_fro, 6);
  });

  it('is idempotent for the same object and refuses a different one in the same slot', async () => {
    const again = await importCheckpointFile(f.deps, fixturePath('mlp/final.safetensors'), {
      run: 'mlp-adam',
      step: 1200,
      role: 'FINAL',
    });
    expect(again.created).toBe(false);
    await expect(
      importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
        run: 'mlp-adam',
        step: 1200,
        role: 'FINAL',
      }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('already has a FINAL checkpoint at step 1200'),
    });
    // A run ends once: a second FINAL at another step is a conflict too.
    await expect(
      importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
        run: 'mlp-adam',
        step: 5,
        role: 'FINAL',
      }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    const run = await f.deps.repository.findRunByName('mlp-adam');
    expect((await checkpointsOfRun(f.deps, run!.id)).map((c) => c.role)).toEqual(['FINAL']);
  });

  itWithFixtures(
    RESNET18_FIXTURES,
    'registers a 45 MB ResNet-18 by reading only its header (two range requests, under 1 MB)',
    async () => {
      const file = path.join(dir, 'resnet18-final.safetensors');
      writeFileSync(file, gunzipSync(readFileSync(fixturePath('resnet18/final.safetensors.gz'))));
      const ref = { bucket: f.store.bucket, key: 'users/me/resnet18/final.safetensors' };
      await f.s3.uploadFile(ref, file);
      await createRun(f.deps, { name: 'resnet', architecture: 'resnet18-cifar', tags: ['cifar'] });
      const before = { bytes: f.store.bytesRead, requests: f.store.requests };

      const { checkpoint } = await registerCheckpoint(f.deps, {
        run: 'resnet',
        step: 150,
        role: 'FINAL',
        uri: `s3://${ref.bucket}/${ref.key}`,
      });

      expect(f.store.requests - before.requests).toBe(2);
      expect(f.store.bytesRead - before.bytes).toBeLessThan(1024 * 1024);
      expect(checkpoint.size).toBe(44748472);
      expect(checkpoint.tensorCount).toBe(122);
      expect(checkpoint.parameterCount).toBe(11_173_962);
      expect(checkpoint.elementCount).toBe(11_173_962 + 9_600 + 20);
      expect(checkpoint.sha256).toBeNull();
      expect(checkpoint.architecture).toBe('resnet18-cifar');
      expect(checkpoint.header.tensors[0]).toMatchObject({ name: 'conv1.weight', dtype: 'F32', shape: [64, 3, 3, 3] });
      expect(checkpoint.header.tensors.find((t) => t.name === 'layer1.0.bn1.num_batches_tracked')).toMatchObject({
        dtype: 'I64',
        shape: [],
      });
    },
  );

  it('registers datasets with example count, input shape and classes, reading labels only', async () => {
    const { dataset } = await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    expect(dataset).toMatchObject({
      exampleCount: 5000,
      inputShape: [2],
      inputDtype: 'F32',
      labelKind: 'CLASS_INDEX',
      labelDtype: 'U8',
      numClasses: 2,
      sha256: '8b1abfc5ba05e263267687f52386dd17a4d996f62bc42f70255fdd561155d41c',
    });
  });

  itWithFixtures(RESNET18_FIXTURES, 'registers an image dataset with its input shape and classes', async () => {
    const images = await importDatasetFile(f.deps, fixturePath('resnet18/test_set.safetensors'), {
      name: 'synthetic-cifar',
      split: 'TEST',
      inputKey: 'images_f32_nchw',
      labelKey: 'labels',
    });
    expect(images.dataset).toMatchObject({ exampleCount: 500, inputShape: [3, 32, 32], numClasses: 10 });
    expect((await getDataset(f.deps, images.dataset.id)).name).toBe('synthetic-cifar');
  });

  describe('refuses malformed input with BAD_USER_INPUT and registers nothing', () => {
    const write = (name: string, bytes: Uint8Array | string) => {
      const file = path.join(dir, name);
      writeFileSync(file, bytes);
      return file;
    };
    const tensorsFile = (tensors: Parameters<typeof encodeSafetensors>[0]) =>
      write(`t-${Math.random()}.safetensors`, encodeSafetensors(tensors));

    it.each([
      [
        'a truncated checkpoint',
        () => write('truncated.safetensors', readFileSync(fixturePath('mlp/final.safetensors')).subarray(0, 5000)),
        'not a valid safetensors file',
      ],
      [
        'a JSON file',
        () => write('x.json', '{"a": 1, "b": [1, 2, 3], "c": "long enough to be read"}'),
        'not a valid safetensors file',
      ],
      ['a 3-byte file', () => write('tiny.safetensors', 'abc'), 'not a valid safetensors file'],
      ['a missing file', () => path.join(dir, 'does-not-exist.safetensors'), 'cannot read'],
      ['a file without tensors', () => tensorsFile([]), 'expected a checkpoint with tensors'],
      // Issue 13, L1: Postgres text cannot hold U+0000; refused when the header is read, before any upload.
      [
        'a tensor name holding U+0000',
        () => tensorsFile([{ name: 'fc.\u0000weight', dtype: 'F32', shape: [1], data: new Float32Array([1]) }]),
        'contains the NUL character (U+0000)',
      ],
    ])('checkpoint: %s', async (_label, makeFile, fragment) => {
      const before = await counts();
      const file = makeFile();
      await expect(
        importCheckpointFile(f.deps, file, { run: `bad-${Math.random()}`, step: 0, role: 'INITIAL' }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) });
      expect(await counts()).toEqual(before);
      // Nothing was uploaded: no object at the file's content-addressed key (stored-objects.ts).
      const readable = await readFile(file).catch(() => undefined);
      if (readable !== undefined) {
        const key = `objects/sha256/${createHash('sha256').update(readable).digest('hex')}.safetensors`;
        await expect(f.deps.store.head({ bucket: f.deps.store.bucket, key })).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
      }
    });

    it.each([
      ['missing input key', { inputKey: 'images' }, 'expected a tensor "images" (inputKey), found tensors "x", "y"'],
      ['missing label key', { labelKey: 'labels' }, 'expected a tensor "labels" (labelKey)'],
    ])('dataset: %s', async (_label, keys, fragment) => {
      const before = await counts();
      await expect(
        importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
          name: 'bad',
          split: 'TRAIN',
          ...keys,
        }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) });
      expect(await counts()).toEqual(before);
    });

    it.each([
      [
        'labels of another length',
        [
          { name: 'x', dtype: 'F32' as const, shape: [3, 2], data: new Float32Array(6) },
          { name: 'y', dtype: 'U8' as const, shape: [2], data: new Uint8Array(2) },
        ],
        'expected labels "y" of shape [3]',
      ],
      [
        'inputs without an example axis',
        [
          { name: 'x', dtype: 'F32' as const, shape: [3], data: new Float32Array(3) },
          { name: 'y', dtype: 'U8' as const, shape: [3], data: new Uint8Array(3) },
        ],
        'of shape [N, ...]',
      ],
      [
        'negative class labels',
        [
          { name: 'x', dtype: 'F32' as const, shape: [2, 1], data: new Float32Array(2) },
          { name: 'y', dtype: 'I64' as const, shape: [2], data: new BigInt64Array([0n, -1n]) },
        ],
        'expected class labels ≥ 0, got -1 at index 1',
      ],
      [
        'boolean inputs',
        [
          { name: 'x', dtype: 'BOOL' as const, shape: [2, 1], data: new Uint8Array(2) },
          { name: 'y', dtype: 'U8' as const, shape: [2], data: new Uint8Array(2) },
        ],
        'of dtype F32, F64, F16, BF16 or U8, got BOOL',
      ],
    ])('dataset: %s', async (_label, tensors, fragment) => {
      const before = await counts();
      await expect(
        importDatasetFile(f.deps, tensorsFile(tensors), { name: `bad-${Math.random()}`, split: 'TRAIN' }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) });
      expect(await counts()).toEqual(before);
    });

    it.each([
      [{ step: -1 }, 'step: expected an integer ≥ 0, got -1'],
      [{ step: 1.5 }, 'step: expected an integer ≥ 0, got 1.5'],
      [{ uri: 'https://example.com/model.safetensors' }, 'expected s3://<bucket>/<key>'],
      [{ uri: 's3://someone-elses-bucket/model.safetensors' }, 'is not configured for linpath'],
      [{ run: '   ' }, 'run: expected a run id or name'],
      [{ architecture: ' padded ' }, 'architecture: expected 1 to 200 printable characters'],
    ])('registerCheckpoint %j', async (override, fragment) => {
      await expect(
        registerCheckpoint(f.deps, {
          run: 'mlp-adam',
          step: 0,
          role: 'INITIAL',
          uri: `s3://${f.store.bucket}/x`,
          ...override,
        }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) });
    });
  });

  it('answers NOT_FOUND for a missing object, run, checkpoint or dataset', async () => {
    await expect(
      registerCheckpoint(f.deps, {
        run: 'mlp-adam',
        step: 0,
        role: 'INITIAL',
        uri: `s3://${f.store.bucket}/missing.safetensors`,
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: `no object at s3://${f.store.bucket}/missing.safetensors` });
    await expect(
      registerCheckpoint(f.deps, {
        run: 'no-such-run',
        step: 0,
        role: 'INITIAL',
        uri: `s3://${f.store.bucket}/x`,
      }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining('create it first with createRun') });
    await expect(getCheckpoint(f.deps, '00000000-0000-0000-0000-000000000000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(getRun(f.deps, 'not-a-uuid')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(getDataset(f.deps, 'x')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses a duplicate run name with CONFLICT', async () => {
    await createRun(f.deps, { name: 'dup' });
    await expect(createRun(f.deps, { name: 'dup' })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('a run named "dup" already exists'),
    });
  });

  it('pages and filters runs', async () => {
    for (let i = 0; i < 5; i++) {
      await createRun(f.deps, {
        name: `sweep-${i}`,
        architecture: 'vgg11-bn-cifar',
        datasetName: 'cifar10',
        hyperparameters: { weightDecay: i % 2 === 0 ? 0.0005 : 0, lr: 0.1 },
        tags: i < 3 ? ['sweep', 'early'] : ['sweep'],
      });
    }
    const names = async (filter: Parameters<typeof listRuns>[1]['filter'], first = 50) =>
      (await listRuns(f.deps, { first, filter })).runs.map((r) => r.run.name);

    expect(await names({ architecture: 'vgg11-bn-cifar' })).toEqual([
      'sweep-0',
      'sweep-1',
      'sweep-2',
      'sweep-3',
      'sweep-4',
    ]);
    expect(await names({ tags: ['sweep', 'early'] })).toEqual(['sweep-0', 'sweep-1', 'sweep-2']);
    expect(await names({ hyperparametersContain: { weightDecay: 0.0005 } })).toEqual(['sweep-0', 'sweep-2', 'sweep-4']);
    expect(await names({ hyperparameters: [{ path: 'weightDecay', gt: 0 }] })).toEqual([
      'sweep-0',
      'sweep-2',
      'sweep-4',
    ]);
    expect(
      await names({
        hyperparameters: [
          { path: 'weightDecay', eq: 0 },
          { path: 'lr', lte: 0.1, gte: 0.1 },
        ],
      }),
    ).toEqual(['sweep-1', 'sweep-3']);
    expect(
      await names({
        hyperparameters: [
          { path: 'lr', in: [0.2, 0.1] },
          { path: 'momentum', exists: false },
        ],
      }),
    ).toHaveLength(5);
    // ne holds for runs that lack the path too.
    expect(await names({ tags: ['sweep'], hyperparameters: [{ path: 'weightDecay', ne: 0 }] })).toEqual([
      'sweep-0',
      'sweep-2',
      'sweep-4',
    ]);
    expect(await names({ hyperparameters: [{ path: 'weightDecay', ne: 0 }] })).toContain('mlp-adam');
    expect(await names({ nameContains: 'EEP-3' })).toEqual(['sweep-3']);
    expect(await names({ nameContains: '%' })).toEqual([]);
    expect(await names({ datasetName: 'cifar10', tags: ['early'], hyperparametersContain: { lr: 0.1 } })).toEqual([
      'sweep-0',
      'sweep-1',
      'sweep-2',
    ]);

    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = await listRuns(f.deps, { first: 2, after, filter: { tags: ['sweep'] } });
      pages.push(page.runs.map((r) => r.run.name));
      if (!page.hasNextPage) break;
      after = page.runs.at(-1)!.cursor;
    }
    expect(pages).toEqual([['sweep-0', 'sweep-1'], ['sweep-2', 'sweep-3'], ['sweep-4']]);
    await expect(listRuns(f.deps, { first: 2, after: 'garbage' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(listRuns(f.deps, { first: 501 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('sorts runs by a reported metric, a hyper-parameter or name, with stable cursors and missing values last', async () => {
    const accuracies = [0.91, 0.87, undefined, 0.87, 0.95];
    for (const [i, accuracy] of accuracies.entries()) {
      await createRun(f.deps, {
        name: `sorted-${i}`,
        tags: ['sorted'],
        hyperparameters: { optimizer: { lr: 0.1 * (5 - i) } },
        reportedMetrics: accuracy === undefined ? { note: 'crashed' } : { testAccuracy: accuracy },
      });
    }
    const walk = async (orderBy: Parameters<typeof listRuns>[1]['orderBy'], first: number) => {
      const names: string[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await listRuns(f.deps, { first, after, filter: { tags: ['sorted'] }, orderBy });
        names.push(...page.runs.map((r) => r.run.name));
        if (!page.hasNextPage) return names;
        after = page.runs.at(-1)!.cursor;
      }
    };
    const byAccuracy = ['sorted-1', 'sorted-3', 'sorted-0', 'sorted-4', 'sorted-2'];
    expect(await walk({ field: 'REPORTED_METRIC', direction: 'ASC', path: 'testAccuracy' }, 2)).toEqual(byAccuracy);
    expect(await walk({ field: 'REPORTED_METRIC', direction: 'ASC', path: 'testAccuracy' }, 1)).toEqual(byAccuracy);
    expect(await walk({ field: 'REPORTED_METRIC', direction: 'DESC', path: 'testAccuracy' }, 2)).toEqual([
      'sorted-4',
      'sorted-0',
      'sorted-1',
      'sorted-3',
      'sorted-2',
    ]);
    expect(await walk({ field: 'HYPERPARAMETER', direction: 'ASC', path: 'optimizer.lr' }, 3)).toEqual([
      'sorted-4',
      'sorted-3',
      'sorted-2',
      'sorted-1',
      'sorted-0',
    ]);
    expect(await walk({ field: 'NAME', direction: 'DESC' }, 2)).toEqual([
      'sorted-4',
      'sorted-3',
      'sorted-2',
      'sorted-1',
      'sorted-0',
    ]);

    // A run added after the first page was read does not shift the pages that follow.
    const first = await listRuns(f.deps, {
      first: 2,
      filter: { tags: ['sorted'] },
      orderBy: { field: 'REPORTED_METRIC', direction: 'ASC', path: 'testAccuracy' },
    });
    await createRun(f.deps, { name: 'sorted-late', tags: ['sorted'], reportedMetrics: { testAccuracy: 0.5 } });
    const rest = await listRuns(f.deps, {
      first: 10,
      after: first.runs[1]!.cursor,
      filter: { tags: ['sorted'] },
      orderBy: { field: 'REPORTED_METRIC', direction: 'ASC', path: 'testAccuracy' },
    });
    expect(rest.runs.map((r) => r.run.name)).toEqual(['sorted-0', 'sorted-4', 'sorted-2']);

    await expect(
      listRuns(f.deps, {
        first: 2,
        after: first.runs[1]!.cursor,
        orderBy: { field: 'NAME', direction: 'ASC' },
      }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('with the same orderBy'),
    });
    const forged = Buffer.from(JSON.stringify(['abc', 1, 'CREATED_AT:ASC:'])).toString('base64url');
    await expect(listRuns(f.deps, { first: 2, after: forged })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(
      listRuns(f.deps, { first: 2, orderBy: { field: 'REPORTED_METRIC', direction: 'ASC' } }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('needs a path') });
    await expect(
      listRuns(f.deps, {
        first: 2,
        orderBy: { field: 'HYPERPARAMETER', direction: 'ASC', path: "a'); drop table runs; --" },
      }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining('dot-separated path') });
    await expect(listRuns(f.deps, { first: 2, filter: { hyperparameters: [{ path: 'lr' }] } })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('needs one of eq'),
    });
  });
});

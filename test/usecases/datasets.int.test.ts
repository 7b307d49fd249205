import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitToModel, loadExamples } from '../../src/storage/dataset-loader.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import { importDatasetFile, listDatasets, registerDataset } from '../../src/usecases/registry/datasets.usecases.js';
import { RESNET18_FIXTURES, fixturePath, itWithFixtures } from '../helpers/fixtures.js';
import { idxFile } from '../helpers/idx.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

// type-graphql builds the schema with graphql's CommonJS build; executing it needs that same module.
const { graphql } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const bits = (values: Float32Array) => new Uint32Array(values.buffer, values.byteOffset, values.length);

/** Index of the first value whose float32 bits differ (or the shorter length), -1 when identical: a deep
 * equality over a million elements takes seconds. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const [x, y] = [bits(a), bits(b)];
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

// ------------------------------------------------------------------------------- generated test files

/** Pixel of a generated image: any deterministic spread over 0..255. */
const pixel = (example: number, position: number) =>
  (example * 131 + position * 7 + ((position * position) % 13)) % 256;

/** A CIFAR-10 binary file: records of (label, R plane, G plane, B plane). */
function cifarFile(labels: number[]): Uint8Array {
  const bytes = new Uint8Array(labels.length * 3073);
  labels.forEach((label, i) => {
    bytes[i * 3073] = label;
    for (let p = 0; p < 3072; p++) bytes[i * 3073 + 1 + p] = pixel(i, p);
  });
  return bytes;
}

const MNIST_N = 6;
const MNIST_H = 4;
const MNIST_W = 5;
const MNIST_LABELS = [7, 2, 1, 0, 4, 1];
const mnistImages = () =>
  idxFile(
    0x08,
    [MNIST_N, MNIST_H, MNIST_W],
    Uint8Array.from({ length: MNIST_N * MNIST_H * MNIST_W }, (_, j) => pixel(Math.floor(j / 20), j % 20)),
  );
const mnistLabels = (labels = MNIST_LABELS) => idxFile(0x08, [labels.length], Uint8Array.from(labels));

const CIFAR_LABELS = [6, 9, 9, 4, 1];
const CIFAR_MEAN = [125.3, 123, 113.9];
const CIFAR_STD = [63, 62.1, 66.7];

describe('datasets of three formats on a real database and S3 server', () => {
  let f: RegistryFixture;
  let dir: string;
  const write = (name: string, bytes: Uint8Array) => {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    return file;
  };
  const count = async () => (await listDatasets(f.deps)).length;
  /** Uploads bytes to a user key of the test bucket, as data already in S3 would be. */
  const upload = async (key: string, bytes: Uint8Array) => {
    await f.s3.uploadFile({ bucket: f.store.bucket, key }, write(key.replaceAll('/', '_'), bytes));
    return `s3://${f.store.bucket}/${key}`;
  };

  beforeAll(async () => {
    f = await createRegistryFixture();
    dir = await mkdtemp(path.join(tmpdir(), 'linpath-datasets-'));
  });
  afterAll(async () => {
    await f.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('CIFAR10_BINARY', () => {
    it('imports a *_batch.bin file: sha256, 5 examples [3, 32, 32], classes, pinned object', async () => {
      const file = write('test_batch.bin', cifarFile(CIFAR_LABELS));
      const { dataset, created } = await importDatasetFile(f.deps, file, {
        name: 'cifar10',
        split: 'TEST',
        format: 'CIFAR10_BINARY',
        normalization: { mean: CIFAR_MEAN, std: CIFAR_STD },
      });
      expect(created).toBe(true);
      expect(dataset).toMatchObject({
        format: 'CIFAR10_BINARY',
        exampleCount: 5,
        inputShape: [3, 32, 32],
        inputDtype: 'U8',
        inputLayout: 'NCHW',
        normalization: { mean: CIFAR_MEAN, std: CIFAR_STD },
        labelKind: 'CLASS_INDEX',
        numClasses: 10,
        inputKey: 'images',
        labelKey: 'labels',
        size: 5 * 3073,
        sha256: sha256(file),
        labelsUri: null,
      });
      expect(dataset.uri).toBe(`s3://${f.store.bucket}/objects/sha256/${sha256(file)}.bin`);

      const again = await importDatasetFile(f.deps, file, {
        name: 'cifar10',
        split: 'TEST',
        format: 'CIFAR10_BINARY',
        normalization: { mean: CIFAR_MEAN, std: CIFAR_STD },
      });
      expect(again).toMatchObject({ created: false, dataset: { id: dataset.id } });
      await expect(
        importDatasetFile(f.deps, file, { name: 'cifar10', split: 'TEST', format: 'CIFAR10_BINARY' }),
      ).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringContaining('different object, format or settings'),
      });
    });

    it('loads the first examples by range, channels-first, normalised per channel', async () => {
      const [dataset] = (await listDatasets(f.deps)).filter((d) => d.name === 'cifar10');
      const before = { bytes: f.store.bytesRead, requests: f.store.requests };
      const examples = await loadExamples(f.store, dataset!, { limit: 3 });
      expect(f.store.bytesRead - before.bytes).toBe(3 * 3073);
      expect(f.store.requests - before.requests).toBe(1);
      expect(examples.n).toBe(3);
      expect(examples.exampleShape).toEqual([3, 32, 32]);
      expect([...examples.labels]).toEqual(CIFAR_LABELS.slice(0, 3));
      const expected = new Float32Array(3 * 3072);
      for (let i = 0; i < 3; i++) {
        for (let p = 0; p < 3072; p++) {
          const c = Math.floor(p / 1024);
          expected[i * 3072 + p] = Math.fround((pixel(i, p) - CIFAR_MEAN[c]!) / CIFAR_STD[c]!);
        }
      }
      expect(bits(examples.x)).toEqual(bits(expected));

      // A later batch reads only its own records.
      const tail = await loadExamples(f.store, dataset!, { offset: 3, limit: 2 });
      expect([...tail.labels]).toEqual(CIFAR_LABELS.slice(3));
      expect(tail.x[0]).toBe(Math.fround((pixel(3, 0) - CIFAR_MEAN[0]!) / CIFAR_STD[0]!));
    });

    it('registers an object already in the bucket (several batches concatenated)', async () => {
      const uri = await upload('cifar/data_batches_1_2.bin', cifarFile([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]));
      const { dataset } = await registerDataset(f.deps, {
        name: 'cifar10',
        split: 'TRAIN',
        uri,
        format: 'CIFAR10_BINARY',
      });
      expect(dataset).toMatchObject({ uri, exampleCount: 12, numClasses: 10, sha256: null, normalization: null });
      // Without normalisation the values are the stored bytes.
      const examples = await loadExamples(f.store, dataset, { limit: 1 });
      expect(examples.x.slice(0, 4)).toEqual(Float32Array.from([0, 1, 2, 3], (p) => pixel(0, p)));
    });

    it.each([
      [
        'a partial record',
        () => cifarFile([1, 2]).subarray(0, 3073 + 100),
        'is not a valid CIFAR-10 binary file: expected a size that is a multiple of 3073 bytes',
      ],
      ['an empty file', () => new Uint8Array(0), 'expected at least one 3073-byte record'],
      ['label 10', () => cifarFile([1, 10, 2]), 'expected labels 0..9, got 10 in record 1'],
    ])('refuses %s and registers nothing', async (_label, make, fragment) => {
      const before = await count();
      await expect(
        importDatasetFile(f.deps, write(`bad-${Math.random()}.bin`, make()), {
          name: 'bad',
          split: 'TEST',
          format: 'CIFAR10_BINARY',
        }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) });
      const uri = await upload(`bad/${Math.random()}.bin`, make());
      await expect(
        registerDataset(f.deps, { name: 'bad', split: 'TEST', uri, format: 'CIFAR10_BINARY' }),
      ).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        message: expect.stringContaining(`${uri} is not a valid CIFAR-10 binary file`),
      });
      expect(await count()).toBe(before);
    });
  });

  describe('MNIST_IDX', () => {
    it('imports images and labels files: both uploaded, pinned and hashed; [1, H, W] examples', async () => {
      const images = write('t10k-images-idx3-ubyte', mnistImages());
      const labels = write('t10k-labels-idx1-ubyte', mnistLabels());
      const { dataset } = await importDatasetFile(f.deps, images, {
        name: 'mnist',
        split: 'TEST',
        format: 'MNIST_IDX',
        labelsFile: labels,
        normalization: { mean: [33.3], std: [78.6] },
      });
      expect(dataset).toMatchObject({
        format: 'MNIST_IDX',
        exampleCount: MNIST_N,
        inputShape: [1, MNIST_H, MNIST_W],
        inputLayout: null,
        numClasses: 8,
        sha256: sha256(images),
        labelsSha256: sha256(labels),
        size: 16 + MNIST_N * MNIST_H * MNIST_W,
        labelsSize: 8 + MNIST_N,
      });
      expect(dataset.uri).toBe(`s3://${f.store.bucket}/objects/sha256/${sha256(images)}.idx`);
      expect(dataset.labelsUri).toBe(`s3://${f.store.bucket}/objects/sha256/${sha256(labels)}.idx`);
      expect(dataset.labelsEtag).toMatch(/^"/);

      const examples = await loadExamples(f.store, dataset, { offset: 2, limit: 3 });
      expect([...examples.labels]).toEqual(MNIST_LABELS.slice(2, 5));
      const expected = Float32Array.from({ length: 3 * 20 }, (_, j) =>
        Math.fround((pixel(2 + Math.floor(j / 20), j % 20) - 33.3) / 78.6),
      );
      expect(bits(examples.x)).toEqual(bits(expected));

      // Into an MLP of 20 inputs: the same values, flattened; into a CNN of other shape: refused.
      const flat = fitToModel(examples, [20]);
      expect(flat.exampleShape).toEqual([20]);
      expect(flat.x).toBe(examples.x);
      expect(fitToModel(examples, [1, 4, 5])).toBe(examples);
      expect(() => fitToModel(examples, [3, 32, 32])).toThrow(
        expect.objectContaining({
          code: 'BAD_USER_INPUT',
          message: 'model expects inputs [3, 32, 32], dataset mnist (TEST) gives [1, 4, 5]',
        }),
      );
      expect(() => fitToModel(examples, [21])).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    });

    it('pins the labels object too: a labels file overwritten after registration is a CONFLICT', async () => {
      const uri = await upload('mnist/images.idx', mnistImages());
      const labelsUri = await upload('mnist/labels.idx', mnistLabels());
      const { dataset } = await registerDataset(f.deps, {
        name: 'mnist',
        split: 'TRAIN',
        uri,
        labelsUri,
        format: 'MNIST_IDX',
      });
      expect(dataset).toMatchObject({ labelsUri, labelsSha256: null, exampleCount: MNIST_N });
      expect((await loadExamples(f.store, dataset)).n).toBe(MNIST_N);
      await upload('mnist/labels.idx', mnistLabels([1, 1, 1, 1, 1, 1]));
      await expect(loadExamples(f.store, dataset, { limit: 1 })).rejects.toMatchObject({ code: 'CONFLICT' });
    });

    it.each([
      [
        'labels of another count',
        () => [mnistImages(), mnistLabels([1, 2, 3])],
        'does not match the images of',
        'expected as many labels as images (6), got 3 labels',
      ],
      [
        'images and labels swapped',
        () => [mnistLabels(), mnistImages()],
        'is not a valid IDX images file',
        'got magic 0x00000801',
      ],
      [
        'truncated images',
        () => [mnistImages().subarray(0, 50), mnistLabels()],
        'is not a valid IDX images file',
        'expected 16 + 6 × 4 × 5 = 136 bytes',
      ],
      [
        'gzip-compressed labels',
        () => [mnistImages(), new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])],
        'is not a valid IDX labels file',
        'gzip',
      ],
    ])('refuses %s and registers nothing', async (_label, make, fragment1, fragment2) => {
      const before = await count();
      const [images, labels] = make() as [Uint8Array, Uint8Array];
      const imagesFile = write(`i-${Math.random()}`, images);
      const labelsFile = write(`l-${Math.random()}`, labels);
      for (const attempt of [
        () =>
          importDatasetFile(f.deps, imagesFile, {
            name: 'bad',
            split: 'TEST',
            format: 'MNIST_IDX',
            labelsFile,
          }),
        async () =>
          registerDataset(f.deps, {
            name: 'bad',
            split: 'TEST',
            format: 'MNIST_IDX',
            uri: await upload(`bad/${Math.random()}`, images),
            labelsUri: await upload(`bad/${Math.random()}`, labels),
          }),
      ]) {
        const error = await attempt().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'BAD_USER_INPUT' });
        expect((error as Error).message).toContain(fragment1);
        expect((error as Error).message).toContain(fragment2);
      }
      expect(await count()).toBe(before);
    });
  });

  describe('SAFETENSORS', () => {
    itWithFixtures(
      RESNET18_FIXTURES,
      'loads U8 NHWC images normalised bit for bit equal to the fixture float32 NCHW inputs',
      async () => {
        const file = fixturePath('resnet18/test_set.safetensors');
        const u8 = await importDatasetFile(f.deps, file, {
          name: 'synthetic-u8',
          split: 'TEST',
          inputKey: 'images_u8_nhwc',
          labelKey: 'labels',
          normalization: { mean: [127.5, 127.5, 127.5], std: [64, 64, 64] },
        });
        // [500, 32, 32, 3] U8: only the last axis can hold channels, so NHWC is inferred.
        expect(u8.dataset).toMatchObject({
          inputShape: [3, 32, 32],
          inputLayout: 'NHWC',
          inputDtype: 'U8',
          exampleCount: 500,
        });
        const explicit = await importDatasetFile(f.deps, file, {
          name: 'synthetic-u8-explicit',
          split: 'TEST',
          inputKey: 'images_u8_nhwc',
          labelKey: 'labels',
          inputLayout: 'NHWC',
          normalization: { mean: [127.5, 127.5, 127.5], std: [64, 64, 64] },
        });
        const f32 = await importDatasetFile(f.deps, file, {
          name: 'synthetic-f32',
          split: 'TEST',
          inputKey: 'images_f32_nchw',
          labelKey: 'labels',
        });
        expect(f32.dataset).toMatchObject({ inputShape: [3, 32, 32], inputLayout: 'NCHW', normalization: null });
        const fromU8 = await loadExamples(f.store, u8.dataset);
        const fromExplicit = await loadExamples(f.store, explicit.dataset);
        const fromF32 = await loadExamples(f.store, f32.dataset);
        // The reference: the PyTorch network input, decoded straight from the local file.
        const local = new Uint8Array(readFileSync(file));
        const header = parseSafetensors(local);
        const info = header.tensors.find((t) => t.name === 'images_f32_nchw')!;
        const reference = decodeTensor(info, tensorBytes(local, header, info)) as Float32Array;
        expect(reference.length).toBe(500 * 3 * 32 * 32);
        expect(firstBitDifference(fromU8.x, reference)).toBe(-1);
        expect(firstBitDifference(fromExplicit.x, reference)).toBe(-1);
        expect(firstBitDifference(fromF32.x, reference)).toBe(-1);
        expect([...fromU8.labels]).toEqual([...fromF32.labels]);
        expect(fromU8.exampleShape).toEqual([3, 32, 32]);

        // The first 10 examples only: 10 rows of inputs and labels, nothing more.
        const before = f.store.bytesRead;
        const first = await loadExamples(f.store, u8.dataset, { limit: 10 });
        expect(f.store.bytesRead - before).toBe(10 * 32 * 32 * 3 + 10);
        expect(firstBitDifference(first.x, reference.subarray(0, 10 * 3072))).toBe(-1);
      },
    );

    it('transposes float inputs declared NHWC', async () => {
      const nhwc = Float32Array.from({ length: 12 }, (_, j) => j + 0.5); // one example [H=2, W=2, C=3]
      const file = write(
        'nhwc.safetensors',
        encodeSafetensors([
          { name: 'x', dtype: 'F32', shape: [1, 2, 2, 3], data: nhwc },
          { name: 'y', dtype: 'I64', shape: [1], data: new BigInt64Array([2n]) },
        ]),
      );
      const { dataset } = await importDatasetFile(f.deps, file, {
        name: 'tiny-nhwc',
        split: 'TEST',
        inputLayout: 'NHWC',
      });
      expect(dataset).toMatchObject({ inputShape: [3, 2, 2], inputLayout: 'NHWC' });
      const examples = await loadExamples(f.store, dataset);
      // x[h, w, c] = 0.5 + (h·2 + w)·3 + c  →  out[c, h, w]
      expect([...examples.x]).toEqual([0.5, 3.5, 6.5, 9.5, 1.5, 4.5, 7.5, 10.5, 2.5, 5.5, 8.5, 11.5]);
      expect([...examples.labels]).toEqual([2]);
    });

    it('refuses out-of-range limits and float targets', async () => {
      // A dataset of its own (the committed MLP fixture's test set), whatever the tests before it imported.
      const { dataset: spiral } = await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral-limits',
        split: 'TEST',
      });
      for (const limit of [0, 5001, 1.5, -1]) {
        await expect(loadExamples(f.store, spiral, { limit })).rejects.toMatchObject({
          code: 'BAD_USER_INPUT',
          message: `limit: expected an integer from 1 to 5000 (dataset spiral-limits (TEST) has 5000 examples), got ${limit}`,
        });
      }
      await expect(loadExamples(f.store, spiral, { offset: 5000 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      await expect(loadExamples(f.store, spiral, { offset: 4999, limit: 2 })).rejects.toMatchObject({
        message: expect.stringContaining('from 1 to 1'),
      });
      const file = write(
        'targets.safetensors',
        encodeSafetensors([
          { name: 'x', dtype: 'F32', shape: [2, 1], data: new Float32Array(2) },
          { name: 'y', dtype: 'F32', shape: [2], data: new Float32Array([0.5, 1.5]) },
        ]),
      );
      const { dataset } = await importDatasetFile(f.deps, file, { name: 'regression', split: 'TEST' });
      await expect(loadExamples(f.store, dataset)).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
        message: expect.stringContaining(
          'has float targets (F32); only datasets of class labels (CLASS_INDEX) can be evaluated',
        ),
      });
    });

    const u8 = (shape: number[]) => ({
      name: 'x',
      dtype: 'U8' as const,
      shape,
      data: new Uint8Array(shape.reduce((a, b) => a * b, 1)),
    });
    const y = (n: number) => ({ name: 'y', dtype: 'U8' as const, shape: [n], data: new Uint8Array(n) });
    it.each([
      [
        'an ambiguous U8 image shape',
        [u8([2, 3, 8, 3]), y(2)],
        {},
        'inputLayout: expected NCHW or NHWC for U8 images of shape [3, 8, 3]',
      ],
      [
        'a layout for vectors',
        [u8([2, 5]), y(2)],
        { inputLayout: 'NCHW' },
        'inputLayout: applies to image inputs of 3 dimensions per example',
      ],
      [
        'normalisation of vectors',
        [u8([2, 5]), y(2)],
        { normalization: { mean: [0], std: [1] } },
        'normalization: applies per channel to image examples [C, H, W]',
      ],
      [
        'one mean per channel missing',
        [u8([2, 4, 4, 3]), y(2)],
        { normalization: { mean: [0, 0], std: [1, 1] } },
        'normalization: expected 3 means and 3 standard deviations (one per channel of [3, 4, 4]), got 2',
      ],
      [
        'a zero std',
        [u8([2, 3, 4, 4]), y(2)],
        { normalization: { mean: [0, 0, 0], std: [1, 0, 1] } },
        'normalization.std[1]: expected a finite number > 0, got 0',
      ],
      [
        'means and stds of different lengths',
        [u8([2, 3, 4, 4]), y(2)],
        { normalization: { mean: [0, 0, 0], std: [1] } },
        'got 3 means and 1 standard deviations',
      ],
      [
        'a labels file',
        [u8([2, 3, 4, 4]), y(2)],
        { labelsFile: '/tmp/labels' },
        'labelsFile: only MNIST_IDX datasets have a separate labels file',
      ],
    ] as const)('refuses %s and registers nothing', async (_label, tensors, options, fragment) => {
      const before = await count();
      const file = write(`s-${Math.random()}.safetensors`, encodeSafetensors([...tensors]));
      await expect(
        importDatasetFile(f.deps, file, { name: 'bad', split: 'TEST', ...(options as object) }),
      ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) });
      expect(await count()).toBe(before);
    });
  });

  it.each([
    [
      { format: 'CIFAR10_BINARY', inputKey: 'x' },
      'inputKey: applies to SAFETENSORS datasets only; CIFAR10_BINARY files have a fixed layout',
    ],
    [{ format: 'CIFAR10_BINARY', inputLayout: 'NHWC' }, 'inputLayout: applies to SAFETENSORS datasets only'],
    [{ format: 'MNIST_IDX' }, 'labelsUri: expected the IDX labels file of the MNIST_IDX images, got none'],
    [{ format: 'MNIST_IDX', labelsUri: 'https://example.com/labels' }, 'labelsUri: expected s3://<bucket>/<key>'],
    [
      { format: 'SAFETENSORS', labelsUri: 's3://x/y' },
      'labelsUri: only MNIST_IDX datasets have a separate labels file',
    ],
    [{ format: 'PICKLE' }, 'format: expected SAFETENSORS, CIFAR10_BINARY or MNIST_IDX, got "PICKLE"'],
  ])('registerDataset refuses %j before reading anything', async (options, fragment) => {
    const before = f.store.requests;
    await expect(
      registerDataset(f.deps, {
        name: 'bad',
        split: 'TEST',
        uri: `s3://${f.store.bucket}/x`,
        ...(options as object),
      }),
    ).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) });
    expect(f.store.requests).toBe(before);
  });

  it('registers and describes datasets over GraphQL', async () => {
    const schema = await buildLinpathSchema();
    const uri = await upload('gql/cifar.bin', cifarFile([3, 5]));
    const result = await graphql({
      schema,
      source: `mutation ($uri: String!) {
        registerDataset(input: { name: "gql-cifar", split: VALIDATION, uri: $uri, format: CIFAR10_BINARY,
                                 normalization: { mean: [125.3, 123, 113.9], std: [63, 62.1, 66.7] } }) {
          name split format uri inputKey labelKey exampleCount inputShape inputDtype inputLayout normalization { mean std }
          labelKind numClasses labelsUri labelsSize labelsEtag labelsSha256
        }
      }`,
      variableValues: { uri },
      contextValue: { registry: f.deps },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data?.registerDataset).toEqual({
      name: 'gql-cifar',
      split: 'VALIDATION',
      format: 'CIFAR10_BINARY',
      uri,
      inputKey: 'images',
      labelKey: 'labels',
      exampleCount: 2,
      inputShape: [3, 32, 32],
      inputDtype: 'U8',
      inputLayout: 'NCHW',
      normalization: { mean: CIFAR_MEAN, std: CIFAR_STD },
      labelKind: 'CLASS_INDEX',
      numClasses: 6,
      labelsUri: null,
      labelsSize: null,
      labelsEtag: null,
      labelsSha256: null,
    });
  });
});

import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseS3Uri } from '../../src/storage/object-store.js';
import type { S3ObjectStore } from '../../src/storage/object-store.s3.js';
import { SKIPPED_WITH_DATABASE_URL, usesNoDatabaseHere } from '../helpers/database.js';
import { createTestStore, testS3Settings } from '../helpers/s3.js';

/** The store contract against a real S3 server over HTTP. */
describe.skipIf(usesNoDatabaseHere)('S3ObjectStore against s3rver' + SKIPPED_WITH_DATABASE_URL, () => {
  const settings = testS3Settings();
  let store: S3ObjectStore;
  let dir: string;
  const raw = new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    forcePathStyle: true,
    credentials: settings.credentials!,
  });
  const put = (key: string, body: Uint8Array | string) =>
    raw.send(new PutObjectCommand({ Bucket: settings.bucket, Key: key, Body: body }));

  beforeAll(async () => {
    store = await createTestStore(settings);
    dir = await mkdtemp(path.join(tmpdir(), 'linpath-store-'));
  });
  afterAll(async () => {
    store.destroy();
    raw.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads size and ETag, and byte ranges of the pinned version', async () => {
    await put('a/digits', '0123456789');
    const version = await store.head({ bucket: settings.bucket, key: 'a/digits' });
    expect(version.size).toBe(10);
    expect(version.etag).toMatch(/^".+"$/);
    const bytes = await store.readRange({ bucket: settings.bucket, key: 'a/digits' }, 2, 5, version);
    expect(Buffer.from(bytes).toString()).toBe('234');
    expect(await store.readRange({ bucket: settings.bucket, key: 'a/digits' }, 4, 4, version)).toHaveLength(0);
  });

  it('refuses reads once the object was overwritten (CONFLICT), never mixing contents', async () => {
    const ref = { bucket: settings.bucket, key: 'a/overwritten' };
    await put(ref.key, 'first version');
    const version = await store.head(ref);
    await put(ref.key, 'other version');
    await expect(store.readRange(ref, 0, 5, version)).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('changed since it was registered'),
    });
  });

  it('reports a missing object or bucket as NOT_FOUND naming it', async () => {
    await expect(store.head({ bucket: settings.bucket, key: 'nope' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: `no object at s3://${settings.bucket}/nope`,
    });
  });

  it('uploads large files in parts and reports the stored version', async () => {
    const file = path.join(dir, 'large.bin');
    const content = Buffer.alloc(17 * 1024 * 1024 + 3);
    for (let i = 0; i < content.length; i += 4096) content[i] = i % 251;
    writeFileSync(file, content);
    const ref = { bucket: settings.bucket, key: 'uploads/large.bin' };
    const version = await store.uploadFile(ref, file);
    expect(version.size).toBe(content.length);
    const tail = await store.readRange(ref, content.length - 5000, content.length, version);
    expect(Buffer.from(tail).equals(content.subarray(content.length - 5000))).toBe(true);
  });

  it('answers UNAVAILABLE when S3 cannot be reached', async () => {
    const { S3ObjectStore: Store } = await import('../../src/storage/object-store.s3.js');
    const down = new Store({ ...settings, endpoint: 'http://127.0.0.1:9', requestTimeoutMs: 2000 });
    await expect(down.head({ bucket: settings.bucket, key: 'x' })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    down.destroy();
  });
});

describe.skipIf(usesNoDatabaseHere)('parseS3Uri' + SKIPPED_WITH_DATABASE_URL, () => {
  const buckets = ['linpath', 'archive'];
  it('accepts s3:// URIs in configured buckets', () => {
    expect(parseS3Uri('s3://linpath/runs/a/final.safetensors', buckets)).toEqual({
      bucket: 'linpath',
      key: 'runs/a/final.safetensors',
    });
    expect(parseS3Uri('s3://archive/x', buckets)).toEqual({ bucket: 'archive', key: 'x' });
  });

  it.each([
    ['https://example.com/x.safetensors', 'expected s3://<bucket>/<key>'],
    ['file:///etc/passwd', 'expected s3://<bucket>/<key>'],
    ['s3://linpath', 'expected s3://<bucket>/<key>'],
    ['s3://linpath/', 'expected s3://<bucket>/<key>'],
    ['s3://elsewhere/x', 'bucket "elsewhere" is not configured'],
    ['s3://linpath/../x', 'without ".", ".."'],
    ['s3://linpath/a//b', 'non-empty path segments'],
    ['s3://linpath/a\\b', 'backslashes'],
    ['s3://linpath/a\u0000b', 'control characters'],
    [`s3://linpath/${'k'.repeat(1025)}`, 'at most 1024 bytes'],
  ])('refuses %j', (uri, fragment) => {
    expect(() => parseS3Uri(uri, buckets)).toThrowError(
      expect.objectContaining({ code: 'BAD_USER_INPUT', message: expect.stringContaining(fragment) }),
    );
  });
});

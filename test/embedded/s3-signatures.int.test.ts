import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type S3Settings } from '../../src/config/config.js';
import { startEmbeddedS3, type EmbeddedS3 } from '../../src/embedded/embedded-s3.js';
import { openServices } from '../../src/embedded/services.js';
import { S3ObjectStore } from '../../src/storage/object-store.s3.js';

/**
 * Issue 13, M3: the embedded S3 server listens on a loopback port that every local user can reach, and s3rver
 * checks no Signature V4 (unsigned requests pass). Each start makes a random secret; a request that is not
 * signed with it — anonymous, another secret, or a signed request changed on the way — is refused with 403
 * before s3rver sees it. The AWS SDK's own signer is the reference the verifier is held to.
 */
describe('the embedded S3 server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'linpath-s3sig-'));
  let s3: EmbeddedS3;
  let store: S3ObjectStore;
  const bucket = 'linpath';
  afterAll(async () => {
    store?.destroy();
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeAll(async () => {
    s3 = await startEmbeddedS3(path.join(dir, 's3'));
    store = new S3ObjectStore(s3.settings);
  });
  const url = (key: string) => `${s3.settings.endpoint}/${bucket}/${key}`;
  /** A raw SDK client with these credentials; `tamper` changes the request after it was signed. */
  const client = (
    secretAccessKey: string,
    tamper?: (request: { path: string; headers: Record<string, string>; query: Record<string, unknown> }) => void,
  ) => {
    const raw = new S3Client({
      endpoint: s3.settings.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: s3.settings.credentials!.accessKeyId, secretAccessKey },
    });
    if (tamper !== undefined) {
      // The deserialize step runs after signing (finalizeRequest), just before the request is sent.
      raw.middlewareStack.add(
        (next) => async (args) => {
          tamper((args as unknown as { request: Parameters<typeof tamper>[0] }).request);
          return next(args);
        },
        { step: 'deserialize' },
      );
    }
    return raw;
  };

  it(
    'serves requests signed with its secret: single and multipart uploads, keys with any characters',
    { timeout: 60_000 },
    async () => {
      expect(s3.settings.credentials!.secretAccessKey).not.toBe('S3RVER'); // today's main: the fixed S3RVER pair
      expect(s3.settings.credentials!.secretAccessKey.length).toBeGreaterThanOrEqual(40);
      const small = path.join(dir, 'small.bin');
      writeFileSync(small, 'ten bytes!');
      const key = "runs/a b+c(1)!'*~é/ckpt=1&x.safetensors";
      const version = await store.uploadFile({ bucket, key }, small);
      expect(version.size).toBe(10);
      expect(Buffer.from(await store.readRange({ bucket, key }, 4, 9, version)).toString()).toBe('bytes');
      // Over the 16 MiB part size: CreateMultipartUpload (?uploads), UploadPart (?partNumber&uploadId), Complete.
      const large = path.join(dir, 'large.bin');
      const bytes = Buffer.alloc(16 * 1024 * 1024 + 3, 7);
      bytes.write('tail', bytes.length - 4);
      writeFileSync(large, bytes);
      const big = await store.uploadFile({ bucket, key: 'big/large.bin' }, large);
      expect(big.size).toBe(bytes.length);
      expect(
        Buffer.from(
          await store.readRange({ bucket, key: 'big/large.bin' }, bytes.length - 4, bytes.length, big),
        ).toString(),
      ).toBe('tail');
    },
  );

  it('refuses anonymous reads and writes (403), leaving the object as it was', async () => {
    const ref = { bucket, key: 'victim.bin' };
    writeFileSync(path.join(dir, 'victim.bin'), 'original');
    const before = await store.uploadFile(ref, path.join(dir, 'victim.bin'));
    const get = await fetch(url('victim.bin'));
    expect(get.status).toBe(403); // today's main: 200 and the object's bytes
    expect(await get.text()).toContain('AccessDenied');
    const put = await fetch(url('victim.bin'), { method: 'PUT', body: 'overwritten by another local user' });
    expect(put.status).toBe(403); // today's main: 200, and the registered object changed
    expect((await fetch(url('planted.bin'), { method: 'PUT', body: 'x' })).status).toBe(403);
    expect((await fetch(`${s3.settings.endpoint}/`)).status).toBe(403); // ListBuckets
    expect((await fetch(`${s3.settings.endpoint}/${bucket}?list-type=2`)).status).toBe(403);
    expect(await store.head(ref)).toEqual(before);
    await expect(store.head({ bucket, key: 'planted.bin' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses requests signed with another secret, or changed after signing', async () => {
    await client(s3.settings.credentials!.secretAccessKey).send(
      new PutObjectCommand({ Bucket: bucket, Key: 'k1', Body: 'one' }),
    );
    const read = async (raw: S3Client, key = 'k1') => {
      try {
        const response = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return { status: 200, body: await response.Body!.transformToString() };
      } catch (error) {
        return { status: (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, body: '' };
      } finally {
        raw.destroy();
      }
    };
    expect(await read(client(s3.settings.credentials!.secretAccessKey))).toEqual({ status: 200, body: 'one' });
    // The fixed pair every s3rver accepts, and any other secret.
    expect((await read(client('S3RVER'))).status).toBe(403);
    expect((await read(client(`${s3.settings.credentials!.secretAccessKey}x`))).status).toBe(403);
    const secret = s3.settings.credentials!.secretAccessKey;
    // Signed for k1, sent for k2 (a signature seen once must not open other objects).
    await client(secret).send(new PutObjectCommand({ Bucket: bucket, Key: 'k2', Body: 'two' }));
    expect((await read(client(secret, (r) => void (r.path = r.path.replace('/k1', '/k2'))))).status).toBe(403);
    expect((await read(client(secret, (r) => void (r.query['partNumber'] = '1')))).status).toBe(403);
    expect((await read(client(secret, (r) => void (r.headers['x-amz-date'] = '20200101T000000Z')))).status).toBe(403);
    expect((await read(client(secret, (r) => void delete r.headers['authorization']))).status).toBe(403);
    // A request signed 20 minutes ago (a replay) is refused; the clock's own skew stays within AWS's 15 minutes.
    const stale = new S3Client({
      endpoint: s3.settings.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      systemClockOffset: -20 * 60 * 1000,
      credentials: s3.settings.credentials!,
    });
    expect((await read(stale)).status).toBe(403);
  });

  it(
    'gets a new secret at each start, published only in runtime.json (0600) for this user’s processes',
    { timeout: 60_000 },
    async () => {
      const home = path.join(dir, 'home');
      const first = await openServices(loadConfig({ LINPATH_HOME: home }), 'server');
      let firstSecret: string;
      try {
        const runtime = path.join(home, 'runtime.json');
        expect(statSync(runtime).mode & 0o777).toBe(0o600);
        const published = JSON.parse(readFileSync(runtime, 'utf8')) as {
          s3: { credentials: { secretAccessKey: string } };
        };
        firstSecret = first.endpoints.s3.credentials!.secretAccessKey;
        expect(published.s3.credentials.secretAccessKey).toBe(firstSecret);
        const anonymous = await fetch(`${first.endpoints.s3.endpoint}/${first.endpoints.s3.bucket}/anything`, {
          method: 'PUT',
          body: 'x',
        });
        expect(anonymous.status).toBe(403);
        // What a CLI of the same user reads from runtime.json opens the store (the CLI e2e tests run it for real).
        const cliStore = new S3ObjectStore((published as unknown as { s3: S3Settings }).s3);
        await cliStore.ping();
        cliStore.destroy();
      } finally {
        await first.release();
      }
      const again = await startEmbeddedS3(path.join(dir, 'again'));
      await again.stop();
      expect(again.settings.credentials!.secretAccessKey).not.toBe(firstSecret);
      expect(again.settings.credentials!.secretAccessKey).not.toBe(s3.settings.credentials!.secretAccessKey);
    },
  );
});

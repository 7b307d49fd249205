import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { S3Settings } from '../../src/config/config.js';
import { S3ObjectStore } from '../../src/storage/object-store.s3.js';

/** Settings for a new, empty bucket on the suite's S3 server (started by test/setup/global-setup.ts). */
export function testS3Settings(): S3Settings {
  return {
    endpoint: inject('s3Endpoint'),
    region: 'us-east-1',
    bucket: `t-${randomBytes(6).toString('hex')}`,
    extraBuckets: [],
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  };
}

export async function createTestStore(settings: S3Settings = testS3Settings()): Promise<S3ObjectStore> {
  const store = new S3ObjectStore(settings);
  await store.ensureBucket();
  return store;
}

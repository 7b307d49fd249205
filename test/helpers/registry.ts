import { connectDatabase, migrateDatabase, type Database } from '../../src/storage/database.js';
import type { ObjectRef, ObjectStore, ObjectVersion } from '../../src/storage/object-store.js';
import type { S3ObjectStore } from '../../src/storage/object-store.s3.js';
import type { S3Settings } from '../../src/config/config.js';
import { RegistryRepository } from '../../src/storage/registry.repository.js';
import type { RegistryDeps } from '../../src/usecases/registry/registry.deps.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { createTestStore, testS3Settings } from './s3.js';

/** A real store that also counts the bytes it reads, to check that registration reads only headers. */
export class CountingStore implements ObjectStore {
  bytesRead = 0;
  requests = 0;
  constructor(private readonly inner: S3ObjectStore) {}
  get bucket() {
    return this.inner.bucket;
  }
  get readableBuckets() {
    return this.inner.readableBuckets;
  }
  head(ref: ObjectRef) {
    return this.inner.head(ref);
  }
  async readRange(ref: ObjectRef, start: number, end: number, expected: ObjectVersion) {
    this.requests++;
    const bytes = await this.inner.readRange(ref, start, end, expected);
    this.bytesRead += bytes.length;
    return bytes;
  }
  uploadFile(ref: ObjectRef, filePath: string) {
    return this.inner.uploadFile(ref, filePath);
  }
  ping() {
    return this.inner.ping();
  }
}

export interface RegistryFixture {
  deps: RegistryDeps;
  store: CountingStore;
  s3: S3ObjectStore;
  database: Database;
  testDatabase: TestDatabase;
  close(): Promise<void>;
}

/**
 * Registry dependencies on a fresh database (Postgres or PGlite) and a fresh bucket on the test S3 server
 * (or on `s3Settings`, e.g. through test/helpers/faulty-proxy.ts).
 */
export async function createRegistryFixture(
  options: { s3Settings?: S3Settings; testDatabase?: TestDatabase } = {},
): Promise<RegistryFixture> {
  const testDatabase = options.testDatabase ?? (await createTestDatabase());
  const database = connectDatabase(testDatabase.url);
  await migrateDatabase(database);
  const s3 = await createTestStore(options.s3Settings ?? testS3Settings());
  const store = new CountingStore(s3);
  return {
    deps: { repository: new RegistryRepository(database.db), store, maxHeaderBytes: 100 * 1024 * 1024 },
    store,
    s3,
    database,
    testDatabase,
    close: async () => {
      await database.close();
      s3.destroy();
      await testDatabase.drop();
    },
  };
}

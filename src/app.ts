import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/config.js';
import { openServices, type ServicesRole, type ServiceEndpoints } from './embedded/services.js';
import { connectDatabase, migrateDatabase, type Database } from './storage/database.js';
import { S3ObjectStore } from './storage/object-store.s3.js';
import { RegistryRepository } from './storage/registry.repository.js';
import { EngineProvider } from './compute/engines.js';
import { ExamplesCache } from './compute/examples-cache.js';
import { CheckpointStateCache } from './storage/checkpoint-state.js';
import { PathsRepository } from './storage/paths.repository.js';
import type { AnalyticsDeps } from './usecases/analytics.usecases.js';
import type { PathDeps } from './usecases/paths.usecases.js';
import { AnalyticsRepository } from './storage/analytics.repository.js';
import type { RegistryDeps } from './usecases/registry.usecases.js';

/** Everything a linpath process works with, built in one place from the configuration. */
export interface Linpath {
  config: Config;
  logger: Logger;
  endpoints: ServiceEndpoints;
  database: Database;
  store: S3ObjectStore;
  registry: RegistryDeps;
  paths: PathDeps;
  analytics: AnalyticsDeps;
  close(): Promise<void>;
}

/**
 * The composition root: configuration → services (embedded or configured) → database (migrated) → object
 * store → use-case dependencies. Nothing else constructs clients.
 */
export async function createLinpath(config: Config, role: ServicesRole, logger: Logger = createLogger(config)): Promise<Linpath> {
  const services = await openServices(config, role);
  const closers: Array<() => Promise<void> | void> = [services.release];
  const close = async (): Promise<void> => {
    for (const closeOne of closers.reverse()) await closeOne();
  };
  try {
    const database = connectDatabase(services.endpoints.databaseUrl);
    closers.push(database.close);
    await migrateDatabase(database);
    const store = new S3ObjectStore(services.endpoints.s3);
    closers.push(() => store.destroy());
    if (services.endpoints.embedded.s3) await store.ensureBucket();
    const registry: RegistryDeps = {
      repository: new RegistryRepository(database.db),
      store,
      maxHeaderBytes: config.maxHeaderBytes,
    };
    const engines = new EngineProvider(config.compute);
    closers.push(() => engines.close());
    const examples = new ExamplesCache(store, config.compute.datasetCacheBytes);
    const paths: PathDeps = {
      registry: registry.repository,
      paths: new PathsRepository(database.db),
      engines,
      states: new CheckpointStateCache(store, config.compute.checkpointCacheBytes, config.maxHeaderBytes, (checkpoint, sha256) =>
        registry.repository.recordCheckpointSha256(checkpoint.id, sha256),
      ),
      examples: (dataset, limit, inputShape) => examples.get(dataset, limit, inputShape),
      settings: {
        maxAlphas: config.compute.maxAlphas,
        maxAbsAlpha: config.compute.maxAbsAlpha,
        batchSize: config.compute.batchSize,
        defaultEngine: config.compute.engine,
      },
      inflight: new Map(),
    };
    const analytics: AnalyticsDeps = { paths, analytics: new AnalyticsRepository(database.db) };
    return { config, logger, endpoints: services.endpoints, database, store, registry, paths, analytics, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino({ level: config.logLevel, base: { service: 'linpath' } }, destination ?? process.stderr);
}

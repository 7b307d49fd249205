import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config/config.js';
import { openServices, type ServicesRole, type ServiceEndpoints } from './embedded/services.js';
import {
  analyzeStaleTables,
  connectDatabase,
  keepStatisticsCurrent,
  migrateDatabase,
  type Database,
} from './storage/database.js';
import { S3ObjectStore } from './storage/object-store.s3.js';
import { RegistryRepository } from './storage/registry.repository.js';
import { EngineProvider } from './compute/engines.js';
import { ExamplesCache } from './storage/examples-cache.js';
import { CheckpointStateCache } from './storage/checkpoint-state.js';
import { PathsRepository } from './storage/paths.repository.js';
import type { AnalyticsDeps } from './usecases/analytics/analytics.deps.js';
import { ArchitectureGraphs } from './usecases/paths/architecture-graphs.js';
import type { PathDeps, PathSettings } from './usecases/paths/paths.deps.js';
import type { QueueSettings } from './config/config.js';
import type { ObjectStore } from './storage/object-store.js';
import { AnalyticsRepository } from './storage/analytics.repository.js';
import type { RegistryDeps } from './usecases/registry/registry.deps.js';
import { EVALUATE_QUEUE, EvalQueue } from './queue/eval-queue.js';
import { evaluationWorker } from './usecases/paths/evaluation.job.js';
import { CurveCache } from './usecases/paths/curve-summaries.js';
import { PathWatcher, SnapshotWatcher } from './usecases/paths/path-watcher.js';
import { CombinationsRepository } from './storage/combinations.repository.js';
import { combinationWorker } from './usecases/landscapes/combination.job.js';
import { isCombinationJob } from './queue/eval-queue.js';
import { Metrics } from './metrics/metrics.js';
import { TRAIN_QUEUE, TrainingQueue } from './queue/training-queue.js';
import { releaseOrphanedJobs } from './queue/orphaned-jobs.js';
import { TrainingRepository } from './storage/training.repository.js';
import { trainingWorker } from './usecases/training/training.job.js';
import type { TrainingDeps } from './usecases/training/training.usecases.js';
import type { TrainingLimits } from './usecases/training/training.limits.js';
import { ApiKeysRepository } from './storage/api-keys.repository.js';
import type { ApiKeyDeps } from './usecases/api-keys.usecases.js';

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
  training: TrainingDeps;
  apiKeys: ApiKeyDeps;
  queue: EvalQueue;
  metrics: Metrics;
  /** True when this process hosts the embedded database (a CLI command with no server running). */
  hostsDatabase: boolean;
  /**
   * Starts `count` queue workers in this process. They stop with `close()`: a running job ends after its
   * current α and hands the rest back to the queue.
   */
  startWorkers(count: number): Promise<void>;
  close(): Promise<void>;
}

/** How often a process checks for tables whose statistics went stale (storage/database.ts analyzeStaleTables). */
const STATISTICS_INTERVAL_MS = 30_000;

/**
 * The composition root: configuration → services (embedded or configured) → database (migrated) → object
 * store → use-case dependencies. Nothing else constructs clients.
 */
export async function createLinpath(
  config: Config,
  role: ServicesRole,
  logger: Logger = createLogger(config),
): Promise<Linpath> {
  const services = await openServices(config, role);
  const closers: Array<() => Promise<void> | void> = [services.release];
  const close = async (): Promise<void> => {
    for (const closeOne of closers.reverse()) await closeOne();
  };
  try {
    const database = connectDatabase(services.endpoints.databaseUrl, {
      ...(config.limits.databaseStatementTimeoutMs > 0
        ? { statementTimeoutMs: config.limits.databaseStatementTimeoutMs }
        : {}),
    });
    closers.push(database.close);
    await migrateDatabase(database);
    // The planner needs current statistics (the embedded database has no autovacuum): now, and after bulk writes.
    await analyzeStaleTables(database);
    const statistics = keepStatisticsCurrent(database, STATISTICS_INTERVAL_MS, (error) =>
      logger.warn({ err: error }, 'analysing the database failed'),
    );
    closers.push(statistics.stop);
    const store = new S3ObjectStore({ ...services.endpoints.s3, requestTimeoutMs: config.limits.s3TimeoutMs });
    closers.push(() => store.destroy());
    if (services.endpoints.embedded.s3) await store.ensureBucket();
    const registry: RegistryDeps = {
      repository: new RegistryRepository(database.db),
      store,
      maxHeaderBytes: config.maxHeaderBytes,
    };
    const engines = new EngineProvider(config.compute);
    closers.push(() => engines.close());
    const evaluation = await startEvaluation({
      database,
      databaseUrl: services.endpoints.databaseUrl,
      registry: registry.repository,
      store,
      engines,
      settings: {
        maxAlphas: config.compute.maxAlphas,
        maxAbsAlpha: config.compute.maxAbsAlpha,
        batchSize: config.compute.batchSize,
        prefixCacheBytes: config.compute.prefixCacheBytes,
        defaultEngine: config.compute.engine,
        maxExamples: config.compute.maxExamples,
        jobAlphas: config.queue.jobAlphas,
        maxWaitMs: config.queue.maxWaitMs,
      },
      queue: config.queue,
      cacheBytes: { checkpoints: config.compute.checkpointCacheBytes, datasets: config.compute.datasetCacheBytes },
      maxHeaderBytes: config.maxHeaderBytes,
      trainingBackend: config.compute.tfjsBackend,
      trainingLimits: config.compute.training,
      logger,
    });
    closers.push(evaluation.close);
    if (services.hosted) {
      // This process serves the embedded database alone, on a new port: jobs still active in it were left by
      // a process that died with the previous host. They are retried now, not after LINPATH_JOB_EXPIRE_SECONDS.
      const released = await releaseOrphanedJobs(
        evaluation.queue.boss,
        database.pool,
        [EVALUATE_QUEUE, TRAIN_QUEUE],
        'the process running this job ended without finishing it (killed?); released when the embedded database was opened again',
      );
      if (released.length > 0) logger.warn({ jobs: released }, 'jobs of a process that died were released for retry');
    }
    const { paths, training, queue, metrics, startWorkers } = evaluation;
    const analytics: AnalyticsDeps = {
      paths,
      analytics: new AnalyticsRepository(database.db),
      limits: {
        maxBlocks: config.limits.maxBlocks,
        maxCorrelationRuns: config.limits.maxCorrelationRuns,
        maxRequestEvaluations: config.limits.maxRequestEvaluations,
      },
    };
    return {
      config,
      logger,
      endpoints: services.endpoints,
      database,
      store,
      registry,
      paths,
      analytics,
      training,
      apiKeys: { repository: new ApiKeysRepository(database.db) },
      queue,
      metrics,
      hostsDatabase: services.hosted,
      startWorkers,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

export interface EvaluationOptions {
  database: Database;
  databaseUrl: string;
  registry: RegistryRepository;
  store: ObjectStore;
  engines: EngineProvider;
  settings: PathSettings;
  queue: QueueSettings;
  cacheBytes: { checkpoints: number; datasets: number };
  maxHeaderBytes: number;
  /** tfjs backend for training; default the fastest with the kernels a model needs. */
  trainingBackend?: 'tensorflow' | 'wasm' | 'cpu' | undefined;
  /** Bounds on one training; default DEFAULT_TRAINING_LIMITS. */
  trainingLimits?: TrainingLimits;
  logger: Logger;
}

export interface Evaluation {
  paths: PathDeps;
  training: TrainingDeps;
  queue: EvalQueue;
  metrics: Metrics;
  /** `count` evaluation workers and, when count > 0, one training worker. */
  startWorkers(count: number): Promise<void>;
  /** Waiting requests answer, running jobs hand their remaining alphas back, the queue stops. */
  close(): Promise<void>;
}

/** The evaluation side of linpath: the queue, the watcher of stored points, the caches and the workers. */
export async function startEvaluation(options: EvaluationOptions): Promise<Evaluation> {
  const { database, registry, store, logger } = options;
  const queue = new EvalQueue(database.pool, options.databaseUrl, options.queue, logger);
  await queue.start();
  const stopping = new AbortController();
  const repository = new PathsRepository(database.db);
  const watcher = new PathWatcher((ids) => repository.snapshot(ids, EVALUATE_QUEUE), options.queue.pollMs, logger);
  const combinations = new CombinationsRepository(database.db);
  const combinationWatcher = new SnapshotWatcher(
    (ids) => combinations.snapshots(ids, EVALUATE_QUEUE),
    options.queue.pollMs,
    logger,
  );
  const states = new CheckpointStateCache(
    store,
    options.cacheBytes.checkpoints,
    options.maxHeaderBytes,
    (checkpoint, sha256) => registry.recordCheckpointSha256(checkpoint.id, sha256),
  );
  const examples = new ExamplesCache(store, options.cacheBytes.datasets);
  const paths: PathDeps = {
    registry,
    architectures: new ArchitectureGraphs(registry, store),
    paths: repository,
    engines: options.engines,
    states,
    examples: (dataset, limit, inputShape) => examples.get(dataset, limit, inputShape),
    settings: options.settings,
    queue,
    watcher,
    combinations,
    combinationWatcher,
    curves: new CurveCache(),
  };
  const trainingQueue = new TrainingQueue(queue.boss, database.pool, options.queue, logger);
  await trainingQueue.start();
  const training: TrainingDeps = {
    registry: { repository: registry, store, maxHeaderBytes: options.maxHeaderBytes },
    paths,
    training: new TrainingRepository(database.db),
    queue: trainingQueue,
    ...(options.trainingBackend === undefined ? {} : { backend: options.trainingBackend }),
    ...(options.trainingLimits === undefined ? {} : { limits: options.trainingLimits }),
  };
  const metrics = new Metrics(queue, states);
  let closing: Promise<void> | undefined;
  return {
    paths,
    training,
    queue,
    metrics,
    startWorkers: async (count) => {
      const pathJobs = evaluationWorker(paths, logger, stopping.signal, metrics);
      const combinationJobs = combinationWorker(paths, logger, stopping.signal, metrics);
      await queue.work(count, (job) => (isCombinationJob(job.data) ? combinationJobs(job) : pathJobs(job)));
      if (count > 0) await trainingQueue.work(trainingWorker(training, logger, stopping.signal));
    },
    close: () =>
      (closing ??= (async () => {
        watcher.close();
        combinationWatcher.close();
        stopping.abort();
        await queue.stop();
      })()),
  };
}

export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino({ level: config.logLevel, base: { service: 'linpath' } }, destination ?? process.stderr);
}

import { startEvaluation, createLogger, type Evaluation } from '../../src/app.js';
import { EngineProvider } from '../../src/compute/engines.js';
import type { QueueSettings } from '../../src/config/config.js';
import { AnalyticsRepository } from '../../src/storage/analytics.repository.js';
import { DEFAULT_ANALYTICS_LIMITS, type AnalyticsDeps } from '../../src/usecases/analytics/analytics.deps.js';
import type { PathSettings } from '../../src/usecases/paths/paths.deps.js';
import type { RegistryFixture } from './registry.js';

/** Queue settings for tests: quick polls, quick maintenance, short expiry. */
export const TEST_QUEUE: QueueSettings = {
  workers: 1,
  jobAlphas: 0,
  jobExpireSeconds: 60,
  retryLimit: 2,
  retryDelaySeconds: 1,
  workerPollMs: 500,
  pollMs: 50,
  maintenanceSeconds: 5,
  maxWaitMs: 120_000,
  quotas: { perClient: 2000, anonymous: 10_000, perKey: 100_000, total: 1_000_000 },
};

export const TEST_PATH_SETTINGS: PathSettings = {
  maxAlphas: 101,
  maxAbsAlpha: 10,
  batchSize: 1000,
  defaultEngine: 'onnx',
  maxExamples: 1_000_000,
  jobAlphas: 0,
  maxWaitMs: 120_000,
};

export interface PathFixture extends Evaluation {
  analytics: AnalyticsDeps;
  engines: EngineProvider;
}

/**
 * The evaluation side on a registry fixture as `linpath start` builds it: the pg-boss queue on the
 * fixture's database, real engines (ONNX Runtime by default) and `workers` in-process workers.
 */
export async function createPathDeps(
  f: RegistryFixture,
  options: {
    engines?: EngineProvider;
    workers?: number;
    settings?: Partial<PathSettings>;
    queue?: Partial<QueueSettings>;
  } = {},
): Promise<PathFixture> {
  const engines = options.engines ?? new EngineProvider({ onnxProvider: 'cpu', threads: 0, tfjsBackend: undefined });
  const evaluation = await startEvaluation({
    database: f.database,
    databaseUrl: f.testDatabase.url,
    registry: f.deps.repository,
    store: f.store,
    engines,
    settings: { ...TEST_PATH_SETTINGS, ...options.settings },
    queue: { ...TEST_QUEUE, ...options.queue },
    cacheBytes: { checkpoints: 256 * 1024 * 1024, datasets: 64 * 1024 * 1024 },
    maxHeaderBytes: f.deps.maxHeaderBytes,
    logger: createLogger({ logLevel: 'error' }),
  });
  const workers = options.workers ?? 1;
  if (workers > 0) await evaluation.startWorkers(workers);
  const analytics: AnalyticsDeps = {
    paths: evaluation.paths,
    analytics: new AnalyticsRepository(f.database.db),
    limits: DEFAULT_ANALYTICS_LIMITS,
  };
  return { ...evaluation, analytics, engines };
}

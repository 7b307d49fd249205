import { EngineProvider } from '../../src/compute/engines.js';
import { ExamplesCache } from '../../src/compute/examples-cache.js';
import { AnalyticsRepository } from '../../src/storage/analytics.repository.js';
import { CheckpointStateCache } from '../../src/storage/checkpoint-state.js';
import { PathsRepository } from '../../src/storage/paths.repository.js';
import type { AnalyticsDeps } from '../../src/usecases/analytics.usecases.js';
import type { PathDeps } from '../../src/usecases/paths.usecases.js';
import type { RegistryFixture } from './registry.js';

/** Path and analytics dependencies on a registry fixture, with real engines (ONNX Runtime by default). */
export function createPathDeps(f: RegistryFixture, engines: EngineProvider = new EngineProvider({ onnxProvider: 'cpu', threads: 0, tfjsBackend: undefined })) {
  const examples = new ExamplesCache(f.store, 64 * 1024 * 1024);
  const paths: PathDeps = {
    registry: f.deps.repository,
    paths: new PathsRepository(f.database.db),
    engines,
    states: new CheckpointStateCache(f.store, 256 * 1024 * 1024, f.deps.maxHeaderBytes, (c, sha) => f.deps.repository.recordCheckpointSha256(c.id, sha)),
    examples: (dataset, limit, shape) => examples.get(dataset, limit, shape),
    settings: { maxAlphas: 101, maxAbsAlpha: 10, batchSize: 1000, defaultEngine: 'onnx' },
    inflight: new Map(),
  };
  const analytics: AnalyticsDeps = { paths, analytics: new AnalyticsRepository(f.database.db) };
  return { paths, analytics, engines };
}

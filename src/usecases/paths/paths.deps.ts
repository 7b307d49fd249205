import type { EngineName } from '../../compute/engine.js';
import type { EngineProvider } from '../../compute/engines.js';
import type { Examples } from '../../domain/examples.js';
import type { EvalQueue, Requester } from '../../queue/eval-queue.js';
import type { CheckpointStateCache } from '../../storage/checkpoint-state.js';
import type { PathsRepository } from '../../storage/paths.repository.js';
import type { RegistryRepository } from '../../storage/registry.repository.js';
import type { DatasetRow } from '../../storage/registry.tables.js';
import type { ArchitectureGraphs } from './architecture-graphs.js';
import type { CurveCache } from './curve-summaries.js';
import type { PathWatcher, SnapshotWatcher } from './path-watcher.js';
import type { CombinationsRepository, CombinationSnapshot } from '../../storage/combinations.repository.js';

export interface PathSettings {
  /** Most alphas one request may ask for. */
  maxAlphas: number;
  /** |α| may not exceed this (extrapolation beyond the end points is allowed up to it). */
  maxAbsAlpha: number;
  /** Examples per forward pass. */
  batchSize: number;
  /** Most bytes of activations kept at the cuts of a block-wise evaluation (evaluatePaths); default 512 MiB; 0: off. */
  prefixCacheBytes?: number;
  defaultEngine: EngineName;
  /** Most examples one path may evaluate. */
  maxExamples: number;
  /** α per queue job; 0: sized from the model and the examples (see jobChunk). */
  jobAlphas: number;
  /** Longest wait of a `wait: true` request, and its default. */
  maxWaitMs: number;
}

/** Examples of a dataset in a model's input layout; cached by the caller. */
export type ExamplesSource = (dataset: DatasetRow, limit: number, inputShape: readonly number[]) => Promise<Examples>;

export interface PathDeps {
  registry: RegistryRepository;
  /** Graphs of the architectures registered from ONNX exports; without it, only built-ins are known. */
  architectures?: ArchitectureGraphs | undefined;
  paths: PathsRepository;
  engines: EngineProvider;
  states: CheckpointStateCache;
  examples: ExamplesSource;
  settings: PathSettings;
  /** Every evaluation goes through it, from this process or any other. */
  queue: EvalQueue;
  watcher: PathWatcher;
  /** Memoized points of combinations of several states (planes, curves: usecases/landscapes/). */
  combinations: CombinationsRepository;
  /** The watcher of stored combination points, polled like `watcher`. */
  combinationWatcher: SnapshotWatcher<CombinationSnapshot>;
  /**
   * The client on whose behalf work is queued (set per request by the GraphQL server): its work counts
   * against the queue quotas, and work without a key runs after keyed work. Undefined: the CLI, not bounded.
   */
  requester?: Requester | undefined;
  /** Aborted when the request's client has gone (set per request by the GraphQL server): waits end then. */
  signal?: AbortSignal | undefined;
  /** Finished curves in memory (absent: none kept). */
  curves?: CurveCache;
}

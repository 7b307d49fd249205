import type { Logger } from 'pino';
import type { AnalyticsDeps } from '../usecases/analytics/analytics.deps.js';
import type { Requester } from '../queue/eval-queue.js';
import type { Loaders } from './loaders.js';
import type { PathDeps } from '../usecases/paths/paths.deps.js';
import type { RegistryDeps } from '../usecases/registry/registry.deps.js';
import type { TrainingDeps } from '../usecases/training/training.usecases.js';
import type { RequestAuth } from './pipeline/auth.js';
import type { EvaluationSlots } from './pipeline/evaluation-slots.js';

/**
 * The use cases' dependencies as one client sees them: the evaluation work it queues (directly or through
 * analytics, reports and loaders) is counted against its queue quotas and ordered by whether it has a key.
 */
export function forRequester(
  base: { paths: PathDeps; analytics: AnalyticsDeps },
  requester: Requester | undefined,
  signal?: AbortSignal,
): { paths: PathDeps; analytics: AnalyticsDeps } {
  const paths: PathDeps = { ...base.paths, requester, signal };
  return { paths, analytics: { ...base.analytics, paths } };
}

/** What every resolver receives: the use cases' dependencies, built once by the composition root. */
export interface GraphQLContext {
  registry: RegistryDeps;
  paths: PathDeps;
  loaders: Loaders;
  analytics: AnalyticsDeps;
  training: TrainingDeps;
  /** How often subscriptions that poll the database look again. */
  pollMs: number;
  logger: Logger;
  /** Who sent the request (set by the HTTP and WebSocket servers; absent when a tool executes the schema in-process). */
  auth?: RequestAuth;
  /** Per-key slots of evaluation-queuing fields, shared by every request of the server. */
  evaluations?: EvaluationSlots;
  /** Aborted when the client has gone (its HTTP connection or WebSocket closed): its slots are freed at once. */
  signal?: AbortSignal;
  /**
   * Whether the request may write (store objects) from a query: false when keys are required and it presents
   * none with scope `write`. Absent: in-process tools, which may.
   */
  mayWrite?: boolean;
  /** LINPATH_MAX_REPLAY_POINTS: stored points a `pathUpdated` subscription replays (all when absent). */
  maxReplayPoints?: number;
}

import DataLoader from 'dataloader';
import type { CheckpointRow, RunRow } from '../storage/registry.tables.js';
import type { BarrierMetrics } from '../domain/barrier.metrics.js';
import {
  DEFAULT_MAX_EVALUATIONS,
  NOT_EVALUATED_REASON,
  runBarriers,
  runEndpointMetrics,
  type AnalyticsDeps,
  type EndpointMetric,
  type Split,
} from '../usecases/analytics.usecases.js';
import type { RegistryDeps } from '../usecases/registry.usecases.js';

/**
 * Per-request batching: the fields of a page of runs resolve with one query per kind of data, not one per
 * run. Made anew for every request, so nothing is cached across requests.
 */
export interface Loaders {
  checkpointsByRun: DataLoader<string, CheckpointRow[]>;
  runById: DataLoader<string, RunRow | undefined>;
  /** End-point metrics of runs, by split and whether missing ones may be evaluated. */
  runMetrics(split: Split, evaluate: boolean): DataLoader<RunRow, EndpointMetric, string>;
  /** Loss barriers of runs' INITIAL → FINAL paths, from stored points. */
  runBarrier: DataLoader<RunRow, BarrierMetrics | null, string>;
}

export interface LoaderOptions {
  /**
   * Takes one of the caller's evaluation slots (LINPATH_MAX_EVALUATIONS_PER_KEY) for a batch that may queue
   * evaluations and wait for them; returns the function that gives it back. Absent: not limited.
   */
  evaluationSlot?: () => () => void;
}

export function createLoaders(registry: RegistryDeps, analytics: AnalyticsDeps, options: LoaderOptions = {}): Loaders {
  const metricLoaders = new Map<string, DataLoader<RunRow, EndpointMetric, string>>();
  return {
    runMetrics: (split, evaluate) => {
      const key = `${split}:${evaluate}`;
      let loader = metricLoaders.get(key);
      if (loader === undefined) {
        loader = new DataLoader(
          async (runs) => {
            const stored = (await runEndpointMetrics(analytics, runs, split, { evaluate: false })).metrics;
            const missing = runs.filter((run) => {
              const metric = stored.get(run.id)!;
              return evaluate && 'missing' in metric && metric.missing === NOT_EVALUATED_REASON;
            });
            if (missing.length === 0) return runs.map((run) => stored.get(run.id)!);
            // A page of runs evaluates at most DEFAULT_MAX_EVALUATIONS missing end points (the rest stay null
            // until asked again), holding one evaluation slot of the caller while it waits.
            const release = options.evaluationSlot?.();
            try {
              const { metrics } = await runEndpointMetrics(analytics, missing, split, { evaluate: true, maxEvaluations: DEFAULT_MAX_EVALUATIONS });
              return runs.map((run) => metrics.get(run.id) ?? stored.get(run.id)!);
            } finally {
              release?.();
            }
          },
          { cacheKeyFn: (run) => run.id },
        );
        metricLoaders.set(key, loader);
      }
      return loader;
    },
    runBarrier: new DataLoader((runs) => runBarriers(analytics, runs), { cacheKeyFn: (run) => run.id }),
    checkpointsByRun: new DataLoader(async (runIds) => {
      const checkpoints = await registry.repository.checkpointsOfRuns(runIds);
      const byRun = new Map<string, CheckpointRow[]>(runIds.map((id) => [id, []]));
      for (const checkpoint of checkpoints) byRun.get(checkpoint.runId)?.push(checkpoint);
      return runIds.map((id) => byRun.get(id)!);
    }),
    runById: new DataLoader(async (ids) => {
      const runs = new Map((await registry.repository.findRunsByIds(ids)).map((run) => [run.id, run]));
      return ids.map((id) => runs.get(id));
    }),
  };
}

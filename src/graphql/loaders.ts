import DataLoader from 'dataloader';
import type { CheckpointRow, RunRow } from '../storage/registry.tables.js';
import type { BarrierMetrics } from '../domain/barrier.metrics.js';
import type { AnalyticsDeps } from '../usecases/analytics/analytics.deps.js';
import { DEFAULT_MAX_EVALUATIONS } from '../usecases/analytics/correlation.usecases.js';
import {
  NOT_EVALUATED_REASON,
  runBarriers,
  runEndpointMetrics,
  type EndpointMetric,
  type Split,
} from '../usecases/analytics/run-metrics.usecases.js';
import type { RegistryDeps } from '../usecases/registry/registry.deps.js';
import type { LearningCurveEpochRow } from '../storage/training.tables.js';
import { learningCurves } from '../usecases/training/learning-curve.usecases.js';
import type { TrainingDeps } from '../usecases/training/training.usecases.js';

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
  /** Learning curves of runs, by run id. */
  learningCurve: DataLoader<string, LearningCurveEpochRow[]>;
}

export interface LoaderOptions {
  /**
   * Takes one of the caller's evaluation slots (LINPATH_MAX_EVALUATIONS_PER_KEY) for a batch that may queue
   * evaluations and wait for them; returns the function that gives it back. Absent: not limited.
   */
  evaluationSlot?: () => () => void;
}

export function createLoaders(
  registry: RegistryDeps,
  analytics: AnalyticsDeps,
  training: Pick<TrainingDeps, 'training'>,
  options: LoaderOptions = {},
): Loaders {
  const metricLoaders = new Map<string, DataLoader<RunRow, EndpointMetric, string>>();
  // Run metrics that are not stored yet, for the whole request (all splits and batches): at most
  // DEFAULT_MAX_EVALUATIONS of them are evaluated, under one evaluation slot of the caller.
  let evaluationsLeft = DEFAULT_MAX_EVALUATIONS;
  const slot = sharedSlot(options.evaluationSlot);
  return {
    runMetrics: (split, evaluate) => {
      const key = `${split}:${evaluate}`;
      let loader = metricLoaders.get(key);
      if (loader === undefined) {
        loader = new DataLoader(
          async (runs): Promise<Array<EndpointMetric | Error>> => {
            const stored = (await runEndpointMetrics(analytics, runs, split, { evaluate: false })).metrics;
            const storedOf = (run: RunRow) => stored.get(run.id)!;
            const missing = runs.filter((run) => {
              const metric = storedOf(run);
              return evaluate && 'missing' in metric && metric.missing === NOT_EVALUATED_REASON;
            });
            const allowed = Math.min(missing.length, evaluationsLeft);
            if (allowed === 0) return runs.map(storedOf);
            let release: () => void;
            try {
              release = slot();
            } catch (error) {
              // TOO_MANY_REQUESTS for the runs that needed an evaluation; stored values are still answered.
              return runs.map((run) => (missing.includes(run) ? (error as Error) : storedOf(run)));
            }
            evaluationsLeft -= allowed;
            try {
              const { metrics, evaluations } = await runEndpointMetrics(analytics, missing, split, {
                evaluate: true,
                maxEvaluations: allowed,
              });
              evaluationsLeft += allowed - evaluations;
              return runs.map((run) => metrics.get(run.id) ?? storedOf(run));
            } finally {
              release();
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
    learningCurve: new DataLoader((runIds) => learningCurves(training, runIds)),
    runById: new DataLoader(async (ids) => {
      const runs = new Map((await registry.repository.findRunsByIds(ids)).map((run) => [run.id, run]));
      return ids.map((id) => runs.get(id));
    }),
  };
}

/** One slot for several holders: taken by the first, given back by the last. */
function sharedSlot(acquire: (() => () => void) | undefined): () => () => void {
  let holders = 0;
  let release: (() => void) | undefined;
  return () => {
    if (acquire === undefined) return () => undefined;
    if (holders === 0) release = acquire();
    holders++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      holders--;
      if (holders === 0) {
        release?.();
        release = undefined;
      }
    };
  };
}

import type { Logger } from 'pino';
import { evaluateAlphas } from '../../compute/evaluator.js';
import { irUnavailable } from '../../compute/model-ir.js';
import type { PathRow } from '../../storage/paths.tables.js';
import { planOfPath } from './path-plan.js';
import type { PathDeps } from './paths.deps.js';
import { isCombinationJob, type JobHandler, type QueuedEvaluation } from '../../queue/eval-queue.js';
import { NO_OBSERVER, taskJobHandler, type WorkerObserver } from '../task-job.js';
import { continueRefinement } from './refinement.js';

export type { WorkerObserver } from '../task-job.js';

/**
 * The job handler of every evaluation worker for paths (task-job.ts gives the claim, checks and policy). A job
 * holds alphas of one path: the worker reads both checkpoints and the examples once (or finds them cached),
 * evaluates its alphas one after the other, and stores each point as it completes, dropping the point's task in
 * the same step. Failures follow the policy of every job (job-policy.ts): the path is FAILED with the error's
 * code, or retried.
 */
export function evaluationWorker(
  deps: PathDeps,
  logger: Logger,
  stopping: AbortSignal,
  observer: WorkerObserver = NO_OBSERVER,
): JobHandler {
  return taskJobHandler<PathRow, number>(
    { queue: deps.queue, logger, stopping, observer },
    {
      accepts: (job) => !isCombinationJob(job.data),
      find: async (job) => (isCombinationJob(job.data) ? undefined : deps.paths.findPath(job.data.pathId)),
      pending: (jobId) => deps.paths.jobAlphas(jobId),
      fail: (path, code, message) => deps.queue.failPath(path.id, code, message),
      logBindings: (job) => ({ path: isCombinationJob(job.data) ? undefined : job.data.pathId }),
      evaluate: async (job, path, alphas, next, log) => evaluate(deps, job, path, alphas, next, observer, log),
    },
  );
}

async function evaluate(
  deps: PathDeps,
  job: QueuedEvaluation,
  path: PathRow,
  alphas: number[],
  next: () => Promise<void>,
  observer: WorkerObserver,
  log: Logger,
): Promise<void> {
  const plan = await planOfPath(deps, path);
  // An architecture that runs only as its ONNX export runs on ONNX Runtime whatever the default engine.
  const engine = await deps.engines.get(
    job.data.engine ?? (irUnavailable(plan.graph) === undefined ? deps.settings.defaultEngine : 'onnx'),
  );
  const [from, to, examples, statsExamples] = await Promise.all([
    deps.states.get(plan.from),
    deps.states.get(plan.to),
    deps.examples(plan.dataset, plan.limit, plan.graph.inputShape),
    plan.bnStatsData === undefined
      ? undefined
      : deps.examples(plan.bnStatsData.dataset, plan.bnStatsData.limit, plan.graph.inputShape),
  ]);
  let left = alphas.length;
  await evaluateAlphas({
    engine,
    graph: plan.graph,
    from: from.tensors,
    to: to.tensors,
    moving: plan.selection.moving,
    examples,
    recomputeBatchNorm: statsExamples,
    alphas,
    batchSize: deps.settings.batchSize,
    prefixCacheBytes: deps.settings.prefixCacheBytes,
    onPlan: (evaluation) =>
      log.debug(
        evaluation.cut === undefined
          ? { prefixReuse: false, reason: evaluation.reason }
          : { prefixReuse: true, cut: evaluation.cut.value, cutIndex: evaluation.cut.index },
        'evaluation plan',
      ),
    onPoint: async ({ alpha, tally, durationMs }) => {
      const point = { pathId: path.id, alpha, lossSum: tally.lossSum, correct: tally.correct, n: tally.n };
      // Adaptive α: the next round is queued before the last point of this one is stored, and checked after.
      const refined = async (pending?: typeof point) =>
        left === 1 && continueRefinement(deps, job, pending, (err) => log.warn({ err }, 'refinement not queued'));
      await refined(point);
      await deps.paths.storePoint({
        ...point,
        nonFinite: tally.nonFinite,
        engine: engine.name,
        engineVersion: engine.version,
        durationMs,
        chosenBy: job.data.refinement?.chosenBy ?? 'GRID',
      });
      observer.pointEvaluated(engine.name, durationMs / 1000);
      deps.watcher.nudge();
      await refined();
      if (--left > 0) await next();
    },
  });
}

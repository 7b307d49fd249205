import type { Logger } from 'pino';
import { evaluateStates } from '../../compute/evaluator.js';
import { irUnavailable } from '../../compute/model-ir.js';
import { coefficientsOfKey } from '../../domain/combination-key.js';
import { combineStates } from '../../domain/combination.js';
import { isCombinationJob, type JobHandler, type QueuedEvaluation } from '../../queue/eval-queue.js';
import type { CombinationRow } from '../../storage/combinations.tables.js';
import { NO_OBSERVER, taskJobHandler, type WorkerObserver } from '../task-job.js';
import type { PathDeps } from '../paths/paths.deps.js';
import { planOfCombination } from './combination-plan.js';

/**
 * The job handler of combination points (planes, curves), beside evaluationWorker's for paths and with the same
 * shell (task-job.ts: claim, checks between points, the policy of job-policy.ts): the states and examples are
 * read once per job, each point's state is combined (domain/combination.ts combineStates, coefficients decoded
 * from its key) and evaluated (compute/evaluator.ts evaluateStates), and stored as it completes, dropping its task.
 */
export function combinationWorker(
  deps: PathDeps,
  logger: Logger,
  stopping: AbortSignal,
  observer: WorkerObserver = NO_OBSERVER,
): JobHandler {
  return taskJobHandler<CombinationRow, string>(
    { queue: deps.queue, logger, stopping, observer },
    {
      accepts: (job) => isCombinationJob(job.data),
      find: async (job) => (isCombinationJob(job.data) ? deps.combinations.find(job.data.combinationId) : undefined),
      pending: (jobId) => deps.combinations.jobPoints(jobId),
      fail: (combination, code, message) => deps.queue.failCombination(combination.id, code, message),
      logBindings: (job) => ({ combination: isCombinationJob(job.data) ? job.data.combinationId : undefined }),
      evaluate: async (job, combination, keys, next) => evaluate(deps, job, combination, keys, next, observer),
    },
  );
}

async function evaluate(
  deps: PathDeps,
  job: QueuedEvaluation,
  combination: CombinationRow,
  keys: string[],
  next: () => Promise<void>,
  observer: WorkerObserver,
): Promise<void> {
  const plan = await planOfCombination(deps, combination);
  const { graph } = plan.base;
  const engine = await deps.engines.get(
    job.data.engine ?? (irUnavailable(graph) === undefined ? deps.settings.defaultEngine : 'onnx'),
  );
  const [states, examples, statsExamples] = await Promise.all([
    Promise.all(plan.states.map((state) => deps.states.get(state))),
    deps.examples(plan.base.dataset, plan.base.limit, graph.inputShape),
    plan.base.bnStatsData === undefined
      ? undefined
      : deps.examples(plan.base.bnStatsData.dataset, plan.base.bnStatsData.limit, graph.inputShape),
  ]);
  const tensors = states.map((state) => state.tensors);
  let left = keys.length;
  await evaluateStates({
    engine,
    graph,
    examples,
    recomputeBatchNorm: statsExamples,
    batchSize: deps.settings.batchSize,
    points: keys.map((key) => ({ state: () => combineStates(tensors, coefficientsOfKey(key)) })),
    onPoint: async (index, tally, durationMs) => {
      await deps.combinations.storePoint({
        combinationId: combination.id,
        coefficients: keys[index]!,
        lossSum: tally.lossSum,
        correct: tally.correct,
        n: tally.n,
        nonFinite: tally.nonFinite,
        engine: engine.name,
        engineVersion: engine.version,
        durationMs,
      });
      observer.pointEvaluated(engine.name, durationMs / 1000);
      deps.combinationWatcher.nudge();
      if (--left > 0) await next();
    },
  });
}

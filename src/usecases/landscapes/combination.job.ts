import type { Logger } from 'pino';
import { evaluateStates } from '../../compute/evaluator.js';
import { irUnavailable } from '../../compute/model-ir.js';
import { coefficientsOfKey } from '../../domain/combination-key.js';
import { combineStates } from '../../domain/combination.js';
import { isCombinationJob, type JobHandler, type QueuedEvaluation } from '../../queue/eval-queue.js';
import type { CombinationRow } from '../../storage/combinations.tables.js';
import { EndJob, runJob } from '../job-policy.js';
import type { WorkerObserver } from '../paths/evaluation.job.js';
import type { PathDeps } from '../paths/paths.deps.js';
import { planOfCombination, type CombinationPlan } from './combination-plan.js';

const NO_OBSERVER: WorkerObserver = { pointEvaluated: () => undefined, jobEnded: () => undefined };

/** A job hands its remaining points back once it has run this fraction of its expiry time (as path jobs do). */
const HAND_BACK_AT = 0.8;

/**
 * The job handler of combination points (planes, curves), beside evaluationWorker's for paths and under the same
 * policy (job-policy.ts): the states and examples are read once per job, each point's state is combined
 * (domain/combination.ts combineStates, coefficients decoded from its key) and evaluated (compute/evaluator.ts
 * evaluateStates), and stored as it completes, dropping its task; after each point the job checks it still has
 * work, still holds its job, and is not stopping or near its expiry.
 */
export function combinationWorker(
  deps: PathDeps,
  logger: Logger,
  stopping: AbortSignal,
  observer: WorkerObserver = NO_OBSERVER,
): JobHandler {
  return async (job) => {
    if (!isCombinationJob(job.data)) throw new Error(`job ${job.id} holds alphas of a path, not combination points`);
    const log = logger.child({ job: job.id, combination: job.data.combinationId });
    const combination = await deps.combinations.find(job.data.combinationId);
    const keys =
      combination === undefined || combination.failureCode !== null ? [] : await deps.combinations.jobPoints(job.id);
    if (combination === undefined || keys.length === 0) {
      observer.jobEnded('cancelled');
      return;
    }
    if (stopping.aborted) {
      await deps.queue.requeue(job, keys);
      observer.jobEnded('released');
      return;
    }
    await runJob(
      job,
      {
        what: 'evaluation',
        log,
        stopping,
        retryAdvice: '; ask again to retry',
        ending: {
          handBack: async () => deps.queue.requeue(job, await deps.combinations.jobPoints(job.id)),
          fail: (code, message) => deps.queue.failCombination(combination.id, code, message),
        },
        onEnd: (outcome) => observer.jobEnded(outcome),
      },
      async () =>
        evaluate(deps, job, await planOfCombination(deps, combination), combination, keys, stopping, observer),
    );
  };
}

async function evaluate(
  deps: PathDeps,
  job: QueuedEvaluation,
  plan: CombinationPlan,
  combination: CombinationRow,
  keys: string[],
  stopping: AbortSignal,
  observer: WorkerObserver,
): Promise<void> {
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
      if (--left === 0) return;
      if (stopping.aborted) throw new EndJob('stopping');
      if (!(await deps.queue.holds(job))) throw new EndJob('lost');
      if ((await deps.combinations.jobPoints(job.id)).length === 0) throw new EndJob('cancelled');
      if (Date.now() - new Date(job.startedOn).getTime() > HAND_BACK_AT * deps.queue.expireSeconds * 1000)
        throw new EndJob('expiring');
    },
  });
}

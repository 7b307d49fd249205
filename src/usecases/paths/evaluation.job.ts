import type { Logger } from 'pino';
import { evaluateAlphas } from '../../compute/evaluator.js';
import { irUnavailable } from '../../compute/model-ir.js';
import type { PathRow } from '../../storage/paths.tables.js';
import { planOfPath, type PathPlan } from './path-plan.js';
import type { PathDeps } from './paths.deps.js';
import { isCombinationJob, type JobHandler, type QueuedEvaluation } from '../../queue/eval-queue.js';
import { EndJob, runJob, type JobOutcome } from '../job-policy.js';
import { continueRefinement } from './refinement.js';

/** What an evaluation worker reports, for /metrics. */
export interface WorkerObserver {
  pointEvaluated(engine: string, seconds: number): void;
  jobEnded(outcome: JobOutcome): void;
}

const NO_OBSERVER: WorkerObserver = { pointEvaluated: () => undefined, jobEnded: () => undefined };

/** A job hands its remaining alphas back once it has run this fraction of its expiry time. */
const HAND_BACK_AT = 0.8;

/**
 * The job handler of every evaluation worker. A job holds alphas of one path: the worker reads both checkpoints
 * and the examples once (or finds them cached), evaluates its alphas one after the other, and stores each point
 * as it completes, dropping the point's task in the same step. After each point it checks that the job still
 * has work (cancelled work is dropped), that the queue still gives it to this worker, and that the worker is not
 * stopping and the job not near its expiry (then the rest goes back to the queue as a new job at once).
 * Failures follow the policy of every job (job-policy.ts): the path is FAILED with the error's code, or retried.
 */
export function evaluationWorker(
  deps: PathDeps,
  logger: Logger,
  stopping: AbortSignal,
  observer: WorkerObserver = NO_OBSERVER,
): JobHandler {
  return async (job) => {
    if (isCombinationJob(job.data)) throw new Error(`job ${job.id} holds combination points, not alphas of a path`);
    const log = logger.child({ job: job.id, path: job.data.pathId });
    const path = await deps.paths.findPath(job.data.pathId);
    const alphas = path === undefined || path.failureCode !== null ? [] : await deps.paths.jobAlphas(job.id);
    if (path === undefined || alphas.length === 0) {
      observer.jobEnded('cancelled');
      return;
    }
    if (stopping.aborted) {
      await deps.queue.requeue(job, alphas);
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
          handBack: async () => deps.queue.requeue(job, await deps.paths.jobAlphas(job.id)),
          fail: (code, message) => deps.queue.failPath(path.id, code, message),
        },
        onEnd: (outcome) => observer.jobEnded(outcome),
      },
      async () => evaluate(deps, job, await planOfPath(deps, path), path, alphas, stopping, observer, log),
    );
  };
}

async function evaluate(
  deps: PathDeps,
  job: QueuedEvaluation,
  plan: PathPlan,
  path: PathRow,
  alphas: number[],
  stopping: AbortSignal,
  observer: WorkerObserver,
  log: Logger,
): Promise<void> {
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
      if (--left === 0) return;
      if (stopping.aborted) throw new EndJob('stopping');
      if (!(await deps.queue.holds(job))) throw new EndJob('lost');
      if ((await deps.paths.jobAlphas(job.id)).length === 0) throw new EndJob('cancelled');
      if (Date.now() - new Date(job.startedOn).getTime() > HAND_BACK_AT * deps.queue.expireSeconds * 1000)
        throw new EndJob('expiring');
    },
  });
}

import type { Logger } from 'pino';
import type PgBoss from 'pg-boss';
import { evaluateAlphas } from '../../compute/evaluator.js';
import { isLinpathError } from '../../errors.js';
import type { PathRow } from '../../storage/paths.tables.js';
import { planOfPath, type PathDeps, type PathPlan } from './paths.usecases.js';
import type { EvaluateJob, JobHandler } from '../../queue/eval-queue.js';

/** What a worker reports, for /metrics. */
export interface WorkerObserver {
  pointEvaluated(engine: string, seconds: number): void;
  jobEnded(outcome: 'completed' | 'failed' | 'retried' | 'released' | 'cancelled'): void;
}

const NO_OBSERVER: WorkerObserver = { pointEvaluated: () => undefined, jobEnded: () => undefined };

/**
 * Thrown inside an evaluation to end it after the current α: its work was cancelled; the worker stops or
 * the job nears its expiry (the rest goes back to the queue); or pg-boss already gave the job to another
 * worker (lost: nothing to hand back).
 */
class EndEarly extends Error {
  constructor(readonly reason: 'cancelled' | 'stopping' | 'expiring' | 'lost') {
    super(reason);
  }
}

/** A job hands its remaining alphas back once it has run this fraction of its expiry time. */
const HAND_BACK_AT = 0.8;

/**
 * The job handler of every worker. A job holds alphas of one path: the worker reads both checkpoints and
 * the examples once (or finds them cached), evaluates its alphas one after the other, and stores each
 * point as it completes, dropping the point's task in the same step. After each point it checks that the
 * job still has work (cancelled work is dropped) and that the worker is not stopping (then the rest goes
 * back to the queue as a new job at once).
 *
 * Errors: a linpath error other than UNAVAILABLE (a changed object, a checkpoint that does not fit) will
 * not pass by retrying, so the path is marked FAILED with its message. Anything else is retried with
 * backoff; when the retries run out, the path is FAILED as UNAVAILABLE, which the next request retries.
 */
export function evaluationWorker(
  deps: PathDeps,
  logger: Logger,
  stopping: AbortSignal,
  observer: WorkerObserver = NO_OBSERVER,
): JobHandler {
  return async (job) => {
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
    try {
      const plan = await planOfPath(deps, path);
      await evaluate(deps, job, plan, path, alphas, stopping, observer);
      observer.jobEnded('completed');
    } catch (error) {
      if (error instanceof EndEarly) {
        const handBack = error.reason === 'stopping' || error.reason === 'expiring';
        if (handBack) await deps.queue.requeue(job, await deps.paths.jobAlphas(job.id));
        log.info({ reason: error.reason }, 'evaluation job ended early');
        observer.jobEnded(handBack ? 'released' : 'cancelled');
        return;
      }
      if (isLinpathError(error) && error.code !== 'UNAVAILABLE') {
        log.warn({ err: error }, 'evaluation failed; the path is FAILED');
        await deps.queue.failPath(path.id, error.code, error.message);
        observer.jobEnded('failed');
        return;
      }
      if (job.retryCount >= job.retryLimit) {
        log.error({ err: error }, 'evaluation failed and its retries ran out; the path is FAILED');
        const attempts = job.retryCount + 1;
        await deps.queue.failPath(
          path.id,
          'UNAVAILABLE',
          `evaluation failed ${attempts} time(s), last: ${(error as Error).message}; ask again to retry`,
        );
        observer.jobEnded('failed');
        return;
      }
      log.warn({ err: error, retry: job.retryCount + 1, of: job.retryLimit }, 'evaluation failed; it will be retried');
      observer.jobEnded('retried');
      throw error;
    }
  };
}

async function evaluate(
  deps: PathDeps,
  job: PgBoss.JobWithMetadata<EvaluateJob>,
  plan: PathPlan,
  path: PathRow,
  alphas: number[],
  stopping: AbortSignal,
  observer: WorkerObserver,
): Promise<void> {
  const engine = await deps.engines.get(job.data.engine ?? deps.settings.defaultEngine);
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
    onPoint: async ({ alpha, tally, durationMs }) => {
      await deps.paths.storePoint({
        pathId: path.id,
        alpha,
        lossSum: tally.lossSum,
        correct: tally.correct,
        n: tally.n,
        nonFinite: tally.nonFinite,
        engine: engine.name,
        engineVersion: engine.version,
        durationMs,
      });
      observer.pointEvaluated(engine.name, durationMs / 1000);
      deps.watcher.nudge();
      if (--left === 0) return;
      if (stopping.aborted) throw new EndEarly('stopping');
      if (!(await deps.queue.holds(job))) throw new EndEarly('lost');
      if ((await deps.paths.jobAlphas(job.id)).length === 0) throw new EndEarly('cancelled');
      if (Date.now() - new Date(job.startedOn).getTime() > HAND_BACK_AT * deps.queue.expireSeconds * 1000)
        throw new EndEarly('expiring');
    },
  });
}

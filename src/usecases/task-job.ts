import type { Logger } from 'pino';
import type { EvalQueue, JobHandler, QueuedEvaluation } from '../queue/eval-queue.js';
import { EndJob, runJob, type JobOutcome } from './job-policy.js';

/** What an evaluation worker reports, for /metrics. */
export interface WorkerObserver {
  pointEvaluated(engine: string, seconds: number): void;
  jobEnded(outcome: JobOutcome): void;
}

export const NO_OBSERVER: WorkerObserver = { pointEvaluated: () => undefined, jobEnded: () => undefined };

/** A job hands its remaining points back once it has run this fraction of its expiry time. */
const HAND_BACK_AT = 0.8;

/** The work a task job holds: its owner (a path, a combination) and the keys of its points (alphas, coefficients). */
export interface TaskOwner {
  id: string;
  failureCode: string | null;
}

/** What a task job needs of its kind of work; the claim, checks and policy are taskJobHandler's. */
export interface TaskJobKind<O extends TaskOwner, K extends number | string> {
  /** Whether the job is of this kind (a job of the other kind reaching this handler is a wiring error). */
  accepts(job: QueuedEvaluation): boolean;
  /** The job's owner row, or undefined when it is gone. */
  find(job: QueuedEvaluation): Promise<O | undefined>;
  /** The points the job still holds (its task rows): none once they were stored, cancelled or failed. */
  pending(jobId: string): Promise<K[]>;
  /** Marks the owner FAILED and drops its queued work. */
  fail(owner: O, code: string, message: string): Promise<void>;
  /** Log bindings of the job, e.g. `{ path: id }`. */
  logBindings(job: QueuedEvaluation): Record<string, unknown>;
  /**
   * Evaluates and stores the points; `next()` is awaited after every point but the last, and throws EndJob
   * when the job must stop (see taskJobHandler).
   */
  evaluate(job: QueuedEvaluation, owner: O, keys: K[], next: () => Promise<void>, log: Logger): Promise<void>;
}

export interface TaskJobContext {
  queue: Pick<EvalQueue, 'requeue' | 'holds' | 'expireSeconds'>;
  logger: Logger;
  /** Aborted when the worker stops. */
  stopping: AbortSignal;
  observer?: WorkerObserver | undefined;
}

/**
 * The job handler shell shared by every kind of evaluation task (a path's alphas, a combination's points): the
 * job claims the points it still holds (none: cancelled; the owner gone or FAILED: nothing to do), hands them
 * back at once when the worker is stopping, and otherwise evaluates them under the policy of every job
 * (job-policy.ts runJob: the owner FAILED with the error's code, or retried, or the rest handed back). Between
 * points it checks that it still has work (cancelled work is dropped), that the queue still gives the job to this
 * worker, and that the worker is not stopping and the job not near its expiry (the rest then goes back to the
 * queue as a new job at once).
 */
export function taskJobHandler<O extends TaskOwner, K extends number | string>(
  context: TaskJobContext,
  kind: TaskJobKind<O, K>,
): JobHandler {
  const { queue, stopping } = context;
  const observer = context.observer ?? NO_OBSERVER;
  return async (job) => {
    if (!kind.accepts(job)) throw new Error(`job ${job.id} is not of the kind this handler runs`);
    const log = context.logger.child({ job: job.id, ...kind.logBindings(job) });
    const owner = await kind.find(job);
    const keys = owner === undefined || owner.failureCode !== null ? [] : await kind.pending(job.id);
    if (owner === undefined || keys.length === 0) {
      observer.jobEnded('cancelled');
      return;
    }
    if (stopping.aborted) {
      await queue.requeue(job, keys);
      observer.jobEnded('released');
      return;
    }
    const next = async () => {
      if (stopping.aborted) throw new EndJob('stopping');
      if (!(await queue.holds(job))) throw new EndJob('lost');
      if ((await kind.pending(job.id)).length === 0) throw new EndJob('cancelled');
      if (Date.now() - new Date(job.startedOn).getTime() > HAND_BACK_AT * queue.expireSeconds * 1000)
        throw new EndJob('expiring');
    };
    await runJob(
      job,
      {
        what: 'evaluation',
        log,
        stopping,
        retryAdvice: '; ask again to retry',
        ending: {
          handBack: async () => queue.requeue(job, await kind.pending(job.id)),
          fail: (code, message) => kind.fail(owner, code, message),
        },
        onEnd: (outcome) => observer.jobEnded(outcome),
      },
      async () => kind.evaluate(job, owner, keys, next, log),
    );
  };
}

import type { Logger } from 'pino';
import { isLinpathError, type ErrorCode } from '../errors.js';

/** How a job ended, as /metrics counts it. */
export type JobOutcome = 'completed' | 'failed' | 'retried' | 'released' | 'cancelled';

/**
 * Thrown inside a job to end it before its work is done: its work was cancelled; the worker stops or the job
 * nears its expiry (the rest goes back to the queue); or the queue gave the job to another worker already
 * (lost: nothing to hand back).
 */
export class EndJob extends Error {
  constructor(readonly reason: 'cancelled' | 'stopping' | 'expiring' | 'lost') {
    super(reason);
  }
}

/** The queue's count of a job's attempts: pg-boss retries it `retryLimit` times. */
export interface JobAttempts {
  retryCount: number;
  retryLimit: number;
}

/** What a job does with its work when it cannot finish it. */
export interface JobEnding {
  /** Gives the work not done back to the queue as a new job, at once (not counted as a retry). */
  handBack(): Promise<void>;
  /** Marks the work FAILED for its user; it is not tried again until asked. */
  fail(code: ErrorCode, message: string): Promise<void>;
  /** Before the error goes back to the queue, which retries the job with backoff. */
  beforeRetry?(): Promise<void>;
}

export interface JobPolicyOptions {
  /** The work, for messages: "evaluation", "training". */
  what: string;
  log: Logger;
  /** Aborted when the worker stops. */
  stopping: AbortSignal;
  ending: JobEnding;
  /** Appended to the FAILED message when the retries ran out, e.g. how to try again. */
  retryAdvice?: string;
  onEnd?(outcome: JobOutcome): void;
}

/**
 * The one fail/retry/hand-back policy of every job handler (evaluations and trainings):
 * - `EndJob` cancelled or lost: the job ends, nothing is handed back;
 * - `EndJob` stopping or expiring, or any error while the worker stops: the rest is handed back at once;
 * - a linpath error other than UNAVAILABLE (a changed object, a checkpoint that does not fit) will not pass by
 *   retrying: the work is FAILED with its code and message;
 * - anything else is thrown back to the queue, which retries it with backoff; when its retries ran out, the
 *   work is FAILED as UNAVAILABLE (a later request may try again).
 */
export async function runJob(job: JobAttempts, options: JobPolicyOptions, work: () => Promise<void>): Promise<void> {
  const { what, log, ending } = options;
  const end = (outcome: JobOutcome) => options.onEnd?.(outcome);
  try {
    await work();
    end('completed');
  } catch (error) {
    const reason = error instanceof EndJob ? error.reason : options.stopping.aborted ? 'stopping' : undefined;
    if (reason !== undefined) {
      const handBack = reason === 'stopping' || reason === 'expiring';
      if (handBack) await ending.handBack();
      log.info({ reason, ...(error instanceof EndJob ? {} : { err: error }) }, `${what} job ended early`);
      end(handBack ? 'released' : 'cancelled');
      return;
    }
    if (isLinpathError(error) && error.code !== 'UNAVAILABLE') {
      log.warn({ err: error }, `${what} failed; it is FAILED`);
      await ending.fail(error.code, error.message);
      end('failed');
      return;
    }
    if (job.retryCount >= job.retryLimit) {
      log.error({ err: error }, `${what} failed and its retries ran out; it is FAILED`);
      const message = error instanceof Error ? error.message : String(error);
      await ending.fail(
        'UNAVAILABLE',
        `${what} failed ${job.retryCount + 1} time(s), last: ${message}${options.retryAdvice ?? ''}`,
      );
      end('failed');
      return;
    }
    log.warn({ err: error, retry: job.retryCount + 1, of: job.retryLimit }, `${what} failed; it will be retried`);
    await ending.beforeRetry?.();
    end('retried');
    throw error;
  }
}

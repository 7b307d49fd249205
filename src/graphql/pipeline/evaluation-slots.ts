import type { MiddlewareFn } from 'type-graphql';
import { tooManyRequests } from '../../errors.js';
import { limitBucket } from './auth.js';
import type { GraphQLContext } from '../context.js';

/**
 * Counts the evaluation-queuing requests in flight per API key (per client address for requests without a
 * key), so that one client cannot hold every waiting slot of the server; over the limit, TOO_MANY_REQUESTS.
 */
export class EvaluationSlots {
  private readonly inFlight = new Map<string, number>();

  constructor(readonly maxPerKey: number) {}

  /** Takes a slot for `bucket`; the returned function gives it back (once). */
  acquire(bucket: string): () => void {
    const held = this.inFlight.get(bucket) ?? 0;
    if (held >= this.maxPerKey) {
      throw tooManyRequests(
        `${bucket} has ${held} evaluation requests in flight, the most allowed (LINPATH_MAX_EVALUATIONS_PER_KEY: ${this.maxPerKey}); ` +
          'retry when one has answered, or ask with wait: false and follow the path',
      );
    }
    this.inFlight.set(bucket, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(bucket) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(bucket);
      else this.inFlight.set(bucket, left);
    };
  }

  /**
   * A slot that is also given back when `signal` aborts (the client has gone), whatever its field is still
   * doing; the returned function gives it back too (once).
   */
  acquireUntil(bucket: string, signal: AbortSignal | undefined): () => void {
    const release = this.acquire(bucket);
    if (signal === undefined) return release;
    if (signal.aborted) {
      release();
      return release;
    }
    signal.addEventListener('abort', release, { once: true });
    return () => {
      signal.removeEventListener('abort', release);
      release();
    };
  }

  held(bucket: string): number {
    return this.inFlight.get(bucket) ?? 0;
  }
}

/**
 * On fields that may queue evaluations and wait for them: holds one slot of the caller while the field
 * resolves. Contexts without slots (a schema executed in-process by tests or tools) are not limited.
 */
export const LimitEvaluations: MiddlewareFn<GraphQLContext> = async ({ context }, next) => {
  if (context.evaluations === undefined || context.auth === undefined) return next();
  const release = context.evaluations.acquireUntil(limitBucket(context.auth), context.signal);
  try {
    return await next();
  } finally {
    release();
  }
};

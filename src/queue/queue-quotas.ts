import type pg from 'pg';
import type { WorkQuotas } from '../config/config.js';
import { tooManyRequests } from '../errors.js';

import { EVALUATE_QUEUE } from './eval-tasks.js';

/**
 * Who queues work, for the quotas on queued work (WorkQuotas): an API key, or a client without one (by
 * address). Work queued without a requester (the CLI, in-process tools) is neither bounded nor lowered.
 */
export interface Requester {
  /** What the quota counts by: `key <label>` or `client <address>`. */
  bucket: string;
  anonymous: boolean;
}

/** Queued, not yet stored points of API clients (see EvalQueue.queuedWork). */
interface QueuedWork {
  own: number;
  anonymous: number;
  total: number;
}

/** The advisory lock that serialises quota-counted enqueues (an arbitrary constant, "linpath quota"). */
const QUOTA_LOCK = 0x6c_71_75_6f;

/**
 * The points queued by API clients and not yet stored: the requester's own, all anonymous ones, all.
 * Enqueues that count hold a transaction-scoped lock first, so that concurrent requests (of any process)
 * cannot each see room for their work and together go over a quota.
 */
export async function queuedWork(client: pg.PoolClient, requester: Requester): Promise<QueuedWork> {
  await client.query('SELECT pg_advisory_xact_lock($1)', [QUOTA_LOCK]);
  const { rows } = await client.query<{ own: string; anonymous: string; total: string }>(
    `SELECT count(*) FILTER (WHERE j.data->>'owner' = $2) AS own,
              count(*) FILTER (WHERE j.data->>'anonymous' = 'true') AS anonymous,
              count(*) AS total
         FROM (SELECT job_id FROM path_tasks UNION ALL SELECT job_id FROM combination_tasks) t
         JOIN pgboss.job j ON j.name = $1 AND j.id = t.job_id
        WHERE j.state < 'completed' AND j.data ? 'owner'`,
    [EVALUATE_QUEUE, requester.bucket],
  );
  const row = rows[0]!;
  return { own: Number(row.own), anonymous: Number(row.anonymous), total: Number(row.total) };
}

/** Throws TOO_MANY_REQUESTS, naming the quota and what is queued, when `adding` points go over one. */
export function checkQuotas(quotas: WorkQuotas, requester: Requester, usage: QueuedWork, adding: number): void {
  if (adding === 0) return;
  const bounds: Array<[string, number, number, string]> = requester.anonymous
    ? [
        [requester.bucket, usage.own, quotas.perClient, 'LINPATH_QUEUE_QUOTA_PER_CLIENT'],
        ['clients without a key', usage.anonymous, quotas.anonymous, 'LINPATH_QUEUE_QUOTA_ANONYMOUS'],
      ]
    : [[requester.bucket, usage.own, quotas.perKey, 'LINPATH_QUEUE_QUOTA_PER_KEY']];
  bounds.push(['all clients', usage.total, quotas.total, 'LINPATH_QUEUE_QUOTA_TOTAL']);
  for (const [who, queued, quota, variable] of bounds) {
    if (queued + adding <= quota) continue;
    throw tooManyRequests(
      `queue quota: ${who}: ${queued} points queued and not yet evaluated; ` +
        `this request would queue ${adding} more, over the quota of ${quota} (${variable}). ` +
        (requester.anonymous
          ? 'Ask again once they are evaluated, ask for fewer alphas, or use an API key (keyed work has its own quota and runs first)'
          : 'Ask again once they are evaluated, ask for fewer alphas, or cancel paths you no longer need'),
    );
  }
}

import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import PgBoss from 'pg-boss';
import pg from 'pg';
import type { QueueSettings } from '../config/config.js';
import { isConnectionLoss } from '../errors.js';
import { checkQuotas, queuedWork, type Requester } from './queue-quotas.js';
import {
  COMBINATION_TASKS,
  EVALUATE_QUEUE,
  isCombinationJob,
  PATH_TASKS,
  tablesOf,
  type EvaluateJob,
  type JobCommon,
  type JobRefinement,
  type PathJob,
  type TaskTables,
} from './eval-tasks.js';

export type { Requester } from './queue-quotas.js';
export { EVALUATE_QUEUE, isCombinationJob, type CombinationJob, type EvaluateJob, type PathJob } from './eval-tasks.js';

/** pg-boss runs higher priorities first. Interactive requests overtake background and bulk work. */
export const PRIORITY = { interactive: 20, background: 10, bulk: 0 } as const;
export type Priority = keyof typeof PRIORITY;

/** Work of clients without a key runs after all other work: its priorities are these below the keyed ones. */
export const ANONYMOUS_PRIORITY_OFFSET = 100;

export interface EnqueueRequest {
  pathId: string;
  alphas: readonly number[];
  engine: 'onnx' | 'tfjs' | null;
  priority: Priority;
  /** α per job. */
  chunk: number;
  /** Undefined: trusted (the CLI); the quotas apply to the others. */
  requester?: Requester | undefined;
  refinement?: JobRefinement | undefined;
}

export interface EnqueueResult {
  /** Alphas this call queued (the others were stored or queued already). */
  queued: number[];
  jobIds: string[];
}

/** As EnqueueRequest, for points of a combination (by coefficient key). */
export interface EnqueueCombinationRequest extends Omit<EnqueueRequest, 'pathId' | 'alphas'> {
  combinationId: string;
  points: readonly string[];
}

/** A job as a worker's handler gets it: its data, id, priority, start time and retry count. */
export type QueuedEvaluation = PgBoss.JobWithMetadata<EvaluateJob>;

export type JobHandler = (job: QueuedEvaluation) => Promise<void>;

export interface QueueDepth {
  created: number;
  retry: number;
  active: number;
}

async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    await client.query('BEGIN');
    result = await work(client);
    await client.query('COMMIT');
  } catch (error) {
    // A connection whose ROLLBACK failed is discarded, not returned to the pool inside a transaction.
    const discard = await client.query('ROLLBACK').then(
      () => undefined,
      (rollbackError: unknown) => rollbackError as Error,
    );
    client.release(discard);
    throw error;
  }
  client.release();
  return result;
}

/** pg-boss statements on our transaction's connection. */
const executor = (client: pg.PoolClient): PgBoss.Db => ({ executeSql: (text, values) => client.query(text, values) });

/** Cancels the jobs (of these ids) that have not started; a running one ends when it finds no tasks left. */
const CANCEL_WAITING_JOBS = `UPDATE pgboss.job SET state = 'cancelled', completed_on = now()
  WHERE name = $1 AND id = ANY($2::uuid[]) AND state IN ('created', 'retry')`;

/**
 * The statements with which pg-boss 10 completes and fails a job after its handler: it runs them without
 * awaiting them (src/manager.js, `onFetch`), so when the database is away at that moment (a restart) their
 * rejection is unhandled, and the job stays active until it expires (LINPATH_JOB_EXPIRE_SECONDS, 15 min by
 * default) before anyone retries it.
 */
const UNAWAITED_BOSS_STATEMENTS: ReadonlySet<string> = (() => {
  const plans = createRequire(import.meta.url)('pg-boss/src/plans.js') as Record<string, (schema: string) => string>;
  return new Set([plans.completeJobs!('pgboss'), plans.failJobsById!('pgboss')]);
})();

/**
 * pg-boss, plus the `path_tasks` table that makes each (path, α) a single flight: a point's task row and
 * its job are written in one transaction, so a point is queued at most once however many processes ask,
 * and never left with a task that no job will run.
 */
export class EvalQueue {
  readonly boss: PgBoss;
  private readonly workerIds: string[] = [];
  /** pg-boss's own connections (its polling must not wait behind requests for the shared pool). */
  private readonly bossPool: pg.Pool;
  private stopped = false;

  constructor(
    private readonly pool: pg.Pool,
    databaseUrl: string,
    private readonly settings: QueueSettings,
    private readonly logger: Logger,
  ) {
    this.bossPool = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'linpath-queue' });
    // An idle connection lost in a restart; the next statement opens a new one.
    this.bossPool.on('error', (error) => logger.warn({ err: error }, 'job queue connection lost (it reconnects)'));
    this.boss = new PgBoss({
      db: { executeSql: (text, values) => this.executeBossSql(text, values) },
      schedule: false,
      maintenanceIntervalSeconds: settings.maintenanceSeconds,
    });
    this.boss.on('error', (error) => logger.warn({ err: error }, 'job queue error (it retries)'));
  }

  /**
   * Every pg-boss statement. A job's completion or failure that finds the database away is tried again
   * until it answers (for at most the job expiry), so that a restart neither leaves an unhandled rejection
   * nor holds the job until it expires; other statements fail as they are (pg-boss retries its polls).
   */
  private async executeBossSql(text: string, values?: unknown[]): Promise<{ rows: unknown[] }> {
    if (!UNAWAITED_BOSS_STATEMENTS.has(text)) return this.bossPool.query(text, values);
    const deadline = Date.now() + this.settings.jobExpireSeconds * 1000;
    for (let delayMs = 250; ; delayMs = Math.min(2 * delayMs, 5000)) {
      try {
        return await this.bossPool.query(text, values);
      } catch (error) {
        if (this.stopped || !isConnectionLoss(error) || Date.now() + delayMs > deadline) {
          // pg-boss does not await this statement: the job stays active and expires as a lost one would.
          this.logger.warn(
            { err: error },
            'a job could not be marked completed or failed; it will be retried when it expires',
          );
          return { rows: [{ count: 0 }] };
        }
        await sleep(delayMs);
      }
    }
  }

  async start(): Promise<void> {
    await this.boss.start();
    const options = {
      name: EVALUATE_QUEUE,
      policy: 'standard' as const,
      retryLimit: this.settings.retryLimit,
      retryDelay: this.settings.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: this.settings.jobExpireSeconds,
    };
    // createQueue is a no-op for an existing queue; updateQueue applies changed settings.
    await this.boss.createQueue(EVALUATE_QUEUE, options);
    await this.boss.updateQueue(EVALUATE_QUEUE, options);
  }

  /**
   * Queues the alphas of a path that are neither stored nor queued, in jobs of `chunk` alphas, and raises
   * the priority of queued (not yet running) jobs that hold the others.
   */
  async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    const result = await this.enqueueTasks(PATH_TASKS, request.pathId, request.alphas, request);
    return { queued: result.queued as number[], jobIds: result.jobIds };
  }

  /** enqueue for the points of a combination: the same single flight, quotas and priorities. */
  async enqueueCombination(request: EnqueueCombinationRequest): Promise<{ queued: string[]; jobIds: string[] }> {
    const result = await this.enqueueTasks(COMBINATION_TASKS, request.combinationId, request.points, request);
    return { queued: result.queued as string[], jobIds: result.jobIds };
  }

  private async enqueueTasks(
    t: TaskTables,
    ownerId: string,
    keys: ReadonlyArray<number | string>,
    request: Omit<EnqueueRequest, 'pathId' | 'alphas'>,
  ): Promise<{ queued: Array<number | string>; jobIds: string[] }> {
    const { requester } = request;
    const priority = PRIORITY[request.priority] - (requester?.anonymous === true ? ANONYMOUS_PRIORITY_OFFSET : 0);
    const result = await inTransaction(this.pool, async (client) => {
      const usage = requester === undefined ? undefined : await queuedWork(client, requester);
      // Tasks whose job is gone (ended without storing its point, cancelled, failed, archived) are
      // released, so that their points can be queued again.
      await client.query(
        `DELETE FROM ${t.tasks} t WHERE t.${t.owner} = $1
           AND NOT EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = $2 AND j.id = t.job_id AND j.state < 'completed')`,
        [ownerId, EVALUATE_QUEUE],
      );
      const { rows } = await client.query<{ key: number | string }>(
        `INSERT INTO ${t.tasks} (${t.owner}, ${t.key}, job_id)
           SELECT $1, a, $3 FROM unnest($2::${t.keyType}[]) WITH ORDINALITY AS u(a, i)
            WHERE NOT EXISTS (SELECT 1 FROM ${t.points} p WHERE p.${t.owner} = $1 AND p.${t.key} = a)
            ORDER BY i
         ON CONFLICT DO NOTHING
         RETURNING ${t.key} AS key`,
        [ownerId, keys, randomUUID()],
      );
      // Alphas in ascending order; combination points in the order asked (a plane's rows, a curve's t).
      const order = new Map(keys.map((key, i) => [key, i]));
      const queued = rows.map((r) => r.key).sort((a, b) => order.get(a)! - order.get(b)!);
      if (t === PATH_TASKS) (queued as number[]).sort((a, b) => a - b);
      if (requester !== undefined && usage !== undefined)
        checkQuotas(this.settings.quotas, requester, usage, queued.length);
      const owner = requester === undefined ? {} : { owner: requester.bucket, anonymous: requester.anonymous };
      const jobs: Array<PgBoss.JobInsert<EvaluateJob> & { keys: Array<number | string> }> = [];
      for (let start = 0; start < queued.length; start += request.chunk) {
        const chunk = queued.slice(start, start + request.chunk);
        jobs.push({
          id: randomUUID(),
          name: EVALUATE_QUEUE,
          priority,
          data: t.job(ownerId, chunk, {
            engine: request.engine,
            ...owner,
            ...(request.refinement && { refinement: request.refinement }),
          }),
          keys: chunk,
        });
      }
      if (jobs.length > 0) {
        // Each task row names its job; then all jobs go in with one insert, in this transaction.
        await client.query(
          `UPDATE ${t.tasks} t SET job_id = c.job_id
             FROM unnest($2::uuid[], $3::${t.keyType}[]) AS c(job_id, key)
            WHERE t.${t.owner} = $1 AND t.${t.key} = c.key`,
          [ownerId, jobs.flatMap((j) => j.keys.map(() => j.id)), jobs.flatMap((j) => j.keys)],
        );
        await this.boss.insert(
          jobs.map(({ keys: _, ...job }) => job),
          { db: executor(client) },
        );
      }
      const jobIds = jobs.map((j) => j.id!);
      await client.query(
        `UPDATE pgboss.job j SET priority = $3
           FROM ${t.tasks} t
          WHERE t.${t.owner} = $1 AND t.${t.key} = ANY($2::${t.keyType}[])
            AND j.name = $4 AND j.id = t.job_id AND j.state IN ('created', 'retry') AND j.priority < $3`,
        [ownerId, keys, priority, EVALUATE_QUEUE],
      );
      return { queued, jobIds };
    });
    if (result.jobIds.length > 0) for (const id of this.workerIds) this.boss.notifyWorker(id);
    return result;
  }

  /**
   * Cancels the queued work of a path: its tasks are dropped and jobs not yet running are cancelled; a
   * running job stops after its current α. Returns the alphas that will not be evaluated.
   */
  async cancel(pathId: string): Promise<number[]> {
    const keys = (await this.cancelTasks(PATH_TASKS, pathId)) as number[];
    return keys.sort((a, b) => a - b);
  }

  /** cancel for a combination: returns the coefficient keys that will not be evaluated. */
  async cancelCombination(combinationId: string): Promise<string[]> {
    return (await this.cancelTasks(COMBINATION_TASKS, combinationId)) as string[];
  }

  private async cancelTasks(t: TaskTables, ownerId: string): Promise<Array<number | string>> {
    return inTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ key: number | string; job_id: string }>(
        `DELETE FROM ${t.tasks} WHERE ${t.owner} = $1 RETURNING ${t.key} AS key, job_id`,
        [ownerId],
      );
      await client.query(CANCEL_WAITING_JOBS, [EVALUATE_QUEUE, [...new Set(rows.map((r) => r.job_id))]]);
      return rows.map((r) => r.key);
    });
  }

  /**
   * Marks a path FAILED with a message for its user and drops its queued work (other jobs of the path find
   * no tasks and end at once).
   */
  async failPath(pathId: string, code: string, message: string): Promise<void> {
    await this.failOwner(PATH_TASKS, pathId, code, message);
  }

  /** failPath for a combination. */
  async failCombination(combinationId: string, code: string, message: string): Promise<void> {
    await this.failOwner(COMBINATION_TASKS, combinationId, code, message);
  }

  private async failOwner(t: TaskTables, ownerId: string, code: string, message: string): Promise<void> {
    await inTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE ${t.owners} SET failure_code = $2, failure_message = $3, failed_at = now() WHERE id = $1 AND failure_code IS NULL`,
        [ownerId, code, message],
      );
      const { rows } = await client.query<{ job_id: string }>(
        `DELETE FROM ${t.tasks} WHERE ${t.owner} = $1 RETURNING job_id`,
        [ownerId],
      );
      await client.query(CANCEL_WAITING_JOBS, [EVALUATE_QUEUE, [...new Set(rows.map((r) => r.job_id))]]);
    });
  }

  /**
   * Puts the points (alphas, or coefficient keys of a combination job) a job has not evaluated into a new job
   * (same priority) and drops them from this one: how a worker that is shutting down hands its work back at
   * once instead of leaving it to expire.
   */
  async requeue(job: QueuedEvaluation, keys: ReadonlyArray<number | string>): Promise<void> {
    if (keys.length === 0) return;
    const t = tablesOf(job.data);
    await inTransaction(this.pool, async (client) => {
      const id = randomUUID();
      const { rows } = await client.query<{ key: number | string }>(
        `UPDATE ${t.tasks} SET job_id = $1 WHERE job_id = $2 AND ${t.key} = ANY($3::${t.keyType}[]) RETURNING ${t.key} AS key`,
        [id, job.id, keys],
      );
      if (rows.length === 0) return;
      const left = new Set(rows.map((r) => r.key));
      const { engine, owner, anonymous, refinement } = job.data;
      const common: JobCommon = {
        engine,
        ...(refinement && { refinement }),
        ...(owner === undefined ? {} : { owner }),
        ...(anonymous === undefined ? {} : { anonymous }),
      };
      const ownerId = isCombinationJob(job.data) ? job.data.combinationId : job.data.pathId;
      const data = t.job(
        ownerId,
        t.keysOf(job.data).filter((key) => left.has(key)),
        common,
      );
      if (t === PATH_TASKS) (data as PathJob).alphas = [...left].map(Number).sort((a, b) => a - b);
      await this.boss.insert([{ id, name: EVALUATE_QUEUE, priority: job.priority, data }], { db: executor(client) });
    });
  }

  /** Runs `count` workers in this process, each one job at a time (an engine uses every core already). */
  async work(count: number, handler: JobHandler): Promise<void> {
    for (let i = 0; i < count; i++) {
      const id = await this.boss.work<EvaluateJob>(
        EVALUATE_QUEUE,
        { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.settings.workerPollMs / 1000 },
        async ([job]) => handler(job!),
      );
      this.workerIds.push(id);
    }
  }

  /** A job older than this is taken for lost by pg-boss; a worker hands its rest back well before. */
  get expireSeconds(): number {
    return this.settings.jobExpireSeconds;
  }

  /**
   * Whether this worker still runs the job: pg-boss expires a job that runs too long and gives it to
   * another worker (a retry) without stopping the first, which must then stop on its own.
   */
  async holds(job: QueuedEvaluation): Promise<boolean> {
    const { rows } = await this.pool.query<{ state: string; started_on: Date | null }>(
      'SELECT state, started_on FROM pgboss.job WHERE name = $1 AND id = $2',
      [EVALUATE_QUEUE, job.id],
    );
    const row = rows[0];
    return (
      row !== undefined && row.state === 'active' && row.started_on?.getTime() === new Date(job.startedOn).getTime()
    );
  }

  async depth(): Promise<QueueDepth> {
    const { rows } = await this.pool.query<{ state: string; count: string }>(
      `SELECT state, count(*) AS count FROM pgboss.job WHERE name = $1 AND state < 'completed' GROUP BY state`,
      [EVALUATE_QUEUE],
    );
    const count = (state: string) => Number(rows.find((r) => r.state === state)?.count ?? 0);
    return { created: count('created'), retry: count('retry'), active: count('active') };
  }

  /** Stops fetching jobs and waits up to `timeoutMs` for the running ones (their handlers end early on `stopping`). */
  async stop(timeoutMs = 30_000): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
    this.stopped = true;
    await this.bossPool.end();
    this.logger.debug('job queue stopped');
  }
}

import type { Logger } from 'pino';
import type PgBoss from 'pg-boss';
import type pg from 'pg';
import type { QueueSettings } from '../config/config.js';

/** The queue of training jobs, on the same pg-boss as evaluations. */
export const TRAIN_QUEUE = 'linpath-train';

/**
 * A training job runs for minutes to hours; pg-boss gives a job that outlives its expiry to another worker.
 * 23 hours is the most pg-boss 10 allows.
 */
const TRAIN_EXPIRE_SECONDS = 82_800;

export interface TrainJob {
  trainingJobId: string;
}

/** A job as the worker's handler gets it: its data, id and retry count. */
export type QueuedTraining = PgBoss.JobWithMetadata<TrainJob>;

export type TrainJobHandler = (job: QueuedTraining) => Promise<void>;

export class TrainingQueue {
  private readonly workerIds: string[] = [];

  constructor(
    private readonly boss: PgBoss,
    private readonly pool: pg.Pool,
    private readonly settings: QueueSettings,
    private readonly logger: Logger,
  ) {}

  /** Creates or updates the queue; call after pg-boss has started. */
  async start(): Promise<void> {
    const options = {
      name: TRAIN_QUEUE,
      policy: 'standard' as const,
      retryLimit: this.settings.retryLimit,
      retryDelay: this.settings.retryDelaySeconds,
      retryBackoff: true,
      expireInSeconds: TRAIN_EXPIRE_SECONDS,
    };
    await this.boss.createQueue(TRAIN_QUEUE, options);
    await this.boss.updateQueue(TRAIN_QUEUE, options);
  }

  /**
   * Queues the training job unless a queue job for it is waiting or running already: a request repeated after
   * its run was created but before its job was sent (a crash between the two) queues it then.
   */
  async ensureQueued(trainingJobId: string): Promise<void> {
    const { rows } = await this.pool.query(
      `SELECT 1 FROM pgboss.job WHERE name = $1 AND data->>'trainingJobId' = $2 AND state < 'completed' LIMIT 1`,
      [TRAIN_QUEUE, trainingJobId],
    );
    if (rows.length > 0) return;
    await this.boss.send(TRAIN_QUEUE, { trainingJobId } satisfies TrainJob);
    for (const id of this.workerIds) this.boss.notifyWorker(id);
    this.logger.debug({ trainingJobId }, 'training job queued');
  }

  /**
   * A new queue job for a training job whose worker stops: another worker (or this one, restarted) takes it up
   * at once, and the stop does not count as one of its retries. The job being handed back ends as completed.
   */
  async handBack(trainingJobId: string): Promise<void> {
    await this.boss.send(TRAIN_QUEUE, { trainingJobId } satisfies TrainJob);
    for (const id of this.workerIds) this.boss.notifyWorker(id);
  }

  /** One training worker in this process: a job uses every core the tfjs backend can. */
  async work(handler: TrainJobHandler): Promise<void> {
    const id = await this.boss.work<TrainJob>(
      TRAIN_QUEUE,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: this.settings.workerPollMs / 1000 },
      async ([job]) => handler(job!),
    );
    this.workerIds.push(id);
  }
}

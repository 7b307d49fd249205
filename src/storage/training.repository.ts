import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './database.js';
import { runsTable, type RunRow } from './registry.tables.js';
import {
  learningCurveEpochsTable,
  trainingJobsTable,
  type LearningCurveEpochRow,
  type TrainingJobRow,
  type TrainingStatus,
} from './training.tables.js';

type NewRun = typeof runsTable.$inferInsert;

const LIVE: TrainingStatus[] = ['QUEUED', 'RUNNING'];

/** Training jobs and the runs they fill. */
export class TrainingRepository {
  constructor(private readonly db: Db) {}

  /**
   * Creates the run and its job in one transaction; undefined when a run of that name exists (nothing is
   * written then).
   */
  async create(
    run: NewRun,
    spec: Record<string, unknown>,
    epochs: number,
  ): Promise<{ run: RunRow; job: TrainingJobRow } | undefined> {
    return this.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(runsTable)
        .values(run)
        .onConflictDoNothing({ target: runsTable.name })
        .returning();
      if (created === undefined) return undefined;
      const [job] = await tx.insert(trainingJobsTable).values({ runId: created.id, spec, epochs }).returning();
      return { run: created, job: job! };
    });
  }

  async find(id: string): Promise<TrainingJobRow | undefined> {
    return this.db.query.trainingJobsTable.findFirst({ where: eq(trainingJobsTable.id, id) });
  }

  async findByRun(runId: string): Promise<TrainingJobRow | undefined> {
    return this.db.query.trainingJobsTable.findFirst({ where: eq(trainingJobsTable.runId, runId) });
  }

  async findByRuns(runIds: readonly string[]): Promise<TrainingJobRow[]> {
    if (runIds.length === 0) return [];
    return this.db
      .select()
      .from(trainingJobsTable)
      .where(inArray(trainingJobsTable.runId, [...runIds]));
  }

  /**
   * QUEUED or RUNNING (a retry) → RUNNING from epoch 0, the learning curve of an earlier attempt cleared;
   * undefined when the job has ended meanwhile.
   */
  async start(id: string): Promise<TrainingJobRow | undefined> {
    const row = await this.db.transaction(async (tx) => {
      const [started] = await tx
        .update(trainingJobsTable)
        .set({
          status: 'RUNNING',
          epoch: 0,
          step: 0,
          trainLoss: null,
          attempts: sql`${trainingJobsTable.attempts} + 1`,
          startedAt: sql`now()`,
          updatedAt: sql`now()`,
        })
        .where(and(eq(trainingJobsTable.id, id), inArray(trainingJobsTable.status, LIVE)))
        .returning();
      if (started !== undefined)
        await tx.delete(learningCurveEpochsTable).where(eq(learningCurveEpochsTable.runId, started.runId));
      return started;
    });
    return row;
  }

  /** Records an epoch; returns the job's status, so a worker sees a cancellation. */
  async progress(
    id: string,
    progress: { epoch: number; step: number; trainLoss: number },
  ): Promise<TrainingStatus | undefined> {
    const [row] = await this.db
      .update(trainingJobsTable)
      .set({
        ...progress,
        trainLoss: Number.isFinite(progress.trainLoss) ? progress.trainLoss : null,
        updatedAt: sql`now()`,
      })
      .where(and(eq(trainingJobsTable.id, id), eq(trainingJobsTable.status, 'RUNNING')))
      .returning({ status: trainingJobsTable.status });
    return row?.status ?? (await this.find(id))?.status;
  }

  /** RUNNING → `status` (COMPLETE, FAILED, or QUEUED for a retry); a job cancelled meanwhile stays so. */
  async finish(
    id: string,
    status: 'COMPLETE' | 'FAILED' | 'QUEUED',
    failure?: { code: string; message: string },
  ): Promise<TrainingJobRow | undefined> {
    const [row] = await this.db
      .update(trainingJobsTable)
      .set({
        status,
        failureCode: failure?.code ?? null,
        failureMessage: failure?.message ?? null,
        finishedAt: status === 'QUEUED' ? null : sql`now()`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(trainingJobsTable.id, id), inArray(trainingJobsTable.status, LIVE)))
      .returning();
    return row;
  }

  /** QUEUED or RUNNING → CANCELLED; the job as it is afterwards. */
  async cancel(id: string): Promise<TrainingJobRow | undefined> {
    await this.db
      .update(trainingJobsTable)
      .set({ status: 'CANCELLED', finishedAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(eq(trainingJobsTable.id, id), inArray(trainingJobsTable.status, LIVE)));
    return this.find(id);
  }

  /** Writes one epoch of a run's learning curve (again, for a retried job). */
  async recordEpoch(row: LearningCurveEpochRow): Promise<void> {
    const { runId: _runId, epoch: _epoch, ...values } = row;
    await this.db
      .insert(learningCurveEpochsTable)
      .values(row)
      .onConflictDoUpdate({ target: [learningCurveEpochsTable.runId, learningCurveEpochsTable.epoch], set: values });
  }

  /** The learning curves of runs, each in epoch order; a run with none has no rows. */
  async learningCurves(runIds: readonly string[]): Promise<LearningCurveEpochRow[]> {
    if (runIds.length === 0) return [];
    return this.db
      .select()
      .from(learningCurveEpochsTable)
      .where(inArray(learningCurveEpochsTable.runId, [...runIds]))
      .orderBy(asc(learningCurveEpochsTable.runId), asc(learningCurveEpochsTable.epoch));
  }

  async setReportedMetrics(runId: string, metrics: Record<string, unknown>): Promise<void> {
    await this.db
      .update(runsTable)
      .set({
        reportedMetrics: sql`${runsTable.reportedMetrics} || ${JSON.stringify(metrics)}::jsonb`,
        updatedAt: sql`now()`,
      })
      .where(eq(runsTable.id, runId));
  }
}

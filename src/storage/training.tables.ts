import { doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { runsTable } from './registry.tables.js';

export type TrainingStatus = 'QUEUED' | 'RUNNING' | 'COMPLETE' | 'FAILED' | 'CANCELLED';

/**
 * A training job: the run it fills (created with the job), its full specification, and where it stands.
 * The queue job (pg-boss, `linpath-train`) carries only this row's id; progress is written here after every
 * epoch, so any API node can answer `trainingJob` and `trainingJobUpdated`.
 */
export const trainingJobsTable = pgTable(
  'training_jobs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    runId: uuid('run_id')
      .notNull()
      .unique()
      .references(() => runsTable.id, { onDelete: 'cascade' }),
    /** The validated request (see usecases/training/training.usecases.ts TrainingSpec). */
    spec: jsonb('spec').$type<Record<string, unknown>>().notNull(),
    status: text('status').$type<TrainingStatus>().notNull().default('QUEUED'),
    epoch: integer('epoch').notNull().default(0),
    epochs: integer('epochs').notNull(),
    step: integer('step').notNull().default(0),
    /** Mean training loss of the last completed epoch. */
    trainLoss: doublePrecision('train_loss'),
    /** Times a worker started it (a retry after a worker died starts over, deterministically). */
    attempts: integer('attempts').notNull().default(0),
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('training_jobs_status_idx').on(t.status)],
);

export type TrainingJobRow = typeof trainingJobsTable.$inferSelect;

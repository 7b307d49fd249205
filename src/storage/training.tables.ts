import {
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
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

/**
 * A run's learning curve: one row per completed epoch, written by the training worker as the epoch ends (a
 * retried job starts over and rewrites them). Train loss and accuracy are the running means over the
 * epoch's batches, each measured before its step; test loss and accuracy are measured after the epoch, in
 * eval mode, on the job's test dataset (null without one, or for a non-finite loss).
 */
export const learningCurveEpochsTable = pgTable(
  'learning_curve_epochs',
  {
    runId: uuid('run_id')
      .notNull()
      .references(() => runsTable.id, { onDelete: 'cascade' }),
    /** Epochs completed, 1-based. */
    epoch: integer('epoch').notNull(),
    /** Optimizer steps taken by the end of the epoch. */
    step: integer('step').notNull(),
    learningRate: doublePrecision('learning_rate').notNull(),
    trainLoss: doublePrecision('train_loss'),
    trainAccuracy: doublePrecision('train_accuracy').notNull(),
    testLoss: doublePrecision('test_loss'),
    testAccuracy: doublePrecision('test_accuracy'),
  },
  (t) => [primaryKey({ columns: [t.runId, t.epoch] })],
);

export type LearningCurveEpochRow = typeof learningCurveEpochsTable.$inferSelect;

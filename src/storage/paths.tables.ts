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
import { evaluatedPointColumns } from './point-columns.js';
import { checkpointsTable, datasetsTable } from './registry.tables.js';

/**
 * A path is identified by its content (see domain/path-key.ts): both checkpoints' pinned objects, the moving
 * tensors, the dataset object and subset, the BatchNorm mode. Its points are memoized: one row per
 * (path, α), written with ON CONFLICT DO NOTHING so a retried or duplicated evaluation cannot double a curve.
 */
export const pathsTable = pgTable(
  'paths',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    key: text('key').notNull().unique(),
    fromCheckpointId: uuid('from_checkpoint_id')
      .notNull()
      .references(() => checkpointsTable.id, { onDelete: 'restrict' }),
    toCheckpointId: uuid('to_checkpoint_id')
      .notNull()
      .references(() => checkpointsTable.id, { onDelete: 'restrict' }),
    datasetId: uuid('dataset_id')
      .notNull()
      .references(() => datasetsTable.id, { onDelete: 'restrict' }),
    /** Requested blocks, sorted; null: the whole model moves. */
    blocks: text('blocks').array(),
    movingTensorCount: integer('moving_tensor_count').notNull(),
    /**
     * BatchNorm running statistics: INTERPOLATE (they move with α), KEEP_TO (they stay at `to`) or RECOMPUTE
     * (recomputed at each α over the first `bn_stats_examples` examples of `bn_stats_dataset_id`).
     */
    bnStats: text('bn_stats').notNull().default('INTERPOLATE'),
    bnStatsDatasetId: uuid('bn_stats_dataset_id').references(() => datasetsTable.id, { onDelete: 'restrict' }),
    bnStatsExamples: integer('bn_stats_examples'),
    /** Which tensors of the blocks move: ALL, WEIGHTS (not the running statistics) or RUNNING_STATS. */
    tensorGroup: text('tensor_group').notNull().default('ALL'),
    /** Examples evaluated: the first `example_count` of the dataset. */
    exampleCount: integer('example_count').notNull(),
    /**
     * Set when an evaluation failed for good (a changed object, a checkpoint that does not fit, retries
     * exhausted): the path is FAILED and no work is queued for it until the failure is cleared.
     */
    failureCode: text('failure_code'),
    failureMessage: text('failure_message'),
    failedAt: timestamp('failed_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('paths_endpoints_idx').on(t.fromCheckpointId, t.toCheckpointId),
    // The stored end-point metrics of runs (run-query.ts, AnalyticsRepository.endpointPoints) join paths on their end.
    index('paths_to_checkpoint_idx').on(t.toCheckpointId),
  ],
);

export const pathPointsTable = pgTable(
  'path_points',
  {
    pathId: uuid('path_id')
      .notNull()
      .references(() => pathsTable.id, { onDelete: 'cascade' }),
    alpha: doublePrecision('alpha').notNull(),
    ...evaluatedPointColumns(),
    /** How the α was chosen: GRID (asked for by a request) or REFINEMENT (adaptive α around a peak, refinement.ts). */
    chosenBy: text('chosen_by').notNull().default('GRID'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'path_points_pkey', columns: [t.pathId, t.alpha] })],
);

/**
 * Queued work: one row per (path, α) that a queue job (pg-boss, job_id) will evaluate. The primary key is
 * the single flight: a point is queued once however many requests, from however many API nodes, ask for
 * it. A row is written in the transaction that queues its job, and deleted right after its point is stored
 * (or when its work is cancelled or fails for good).
 */
export const pathTasksTable = pgTable(
  'path_tasks',
  {
    pathId: uuid('path_id')
      .notNull()
      .references(() => pathsTable.id, { onDelete: 'cascade' }),
    alpha: doublePrecision('alpha').notNull(),
    jobId: uuid('job_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'path_tasks_pkey', columns: [t.pathId, t.alpha] }),
    index('path_tasks_job_idx').on(t.jobId),
  ],
);

/**
 * The summary of a finished curve: every α of `grid` stored, so the curve never changes again. Written by the
 * first read that finds the curve complete, read instead of its points by analytics (correlation, runs' barrier
 * columns, the report). `version` fingerprints the barrier measures that computed it: a summary of another
 * version is computed anew from the points.
 */
export const pathSummariesTable = pgTable(
  'path_summaries',
  {
    pathId: uuid('path_id')
      .notNull()
      .references(() => pathsTable.id, { onDelete: 'cascade' }),
    /** The alphas summarised, ascending, as a comma-separated list. */
    grid: text('grid').notNull(),
    version: text('version').notNull(),
    summary: jsonb('summary').$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'path_summaries_pkey', columns: [t.pathId, t.grid] })],
);

export type PathRow = typeof pathsTable.$inferSelect;
export type PathSummaryRow = typeof pathSummariesTable.$inferSelect;
export type PathPointRow = typeof pathPointsTable.$inferSelect;
export type PathTaskRow = typeof pathTasksTable.$inferSelect;

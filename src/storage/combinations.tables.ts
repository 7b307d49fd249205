import { index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { evaluatedPointColumns } from './point-columns.js';
import { datasetsTable } from './registry.tables.js';

/**
 * The states a combination point is made of, in order: registered checkpoints (directions are DERIVED
 * checkpoints, see usecases/landscapes/directions.usecases.ts) by id.
 */
export type CombinationStates = string[];

/**
 * A set of states (2–4 checkpoints or directions) evaluated on one dataset subset with one BatchNorm mode,
 * identified by its content (domain/combination-key.ts): the states' pinned objects in order, the
 * architecture, the dataset object and view, the examples, the BatchNorm mode. Planes and curves are ordered
 * sets of its points; two planes over the same states share every point they have in common.
 */
export const combinationsTable = pgTable('combinations', {
  id: uuid('id').primaryKey().defaultRandom(),
  key: text('key').notNull().unique(),
  architecture: text('architecture').notNull(),
  /** Checkpoint ids of the states, in the order of the coefficients. */
  states: jsonb('states').$type<CombinationStates>().notNull(),
  datasetId: uuid('dataset_id')
    .notNull()
    .references(() => datasetsTable.id, { onDelete: 'restrict' }),
  /** INTERPOLATE (running statistics combined like the weights) or RECOMPUTE (at each point). */
  bnStats: text('bn_stats').notNull().default('INTERPOLATE'),
  bnStatsDatasetId: uuid('bn_stats_dataset_id').references(() => datasetsTable.id, { onDelete: 'restrict' }),
  bnStatsExamples: integer('bn_stats_examples'),
  exampleCount: integer('example_count').notNull(),
  failureCode: text('failure_code'),
  failureMessage: text('failure_message'),
  failedAt: timestamp('failed_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * The memo of combination points: one row per (combination, coefficients), the coefficients written as the
 * hex float64 bit patterns of the numbers the combination multiplies by (domain/combination-key.ts
 * coefficientsKey), so the same θ is one row however it was asked for.
 */
export const combinationPointsTable = pgTable(
  'combination_points',
  {
    combinationId: uuid('combination_id')
      .notNull()
      .references(() => combinationsTable.id, { onDelete: 'cascade' }),
    coefficients: text('coefficients').notNull(),
    ...evaluatedPointColumns(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'combination_points_pkey', columns: [t.combinationId, t.coefficients] })],
);

/** Queued combination points, as path_tasks for paths: the single flight of each (combination, coefficients). */
export const combinationTasksTable = pgTable(
  'combination_tasks',
  {
    combinationId: uuid('combination_id')
      .notNull()
      .references(() => combinationsTable.id, { onDelete: 'cascade' }),
    coefficients: text('coefficients').notNull(),
    jobId: uuid('job_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'combination_tasks_pkey', columns: [t.combinationId, t.coefficients] }),
    index('combination_tasks_job_idx').on(t.jobId),
  ],
);

export type CombinationRow = typeof combinationsTable.$inferSelect;
export type CombinationPointRow = typeof combinationPointsTable.$inferSelect;
export type NewCombination = typeof combinationsTable.$inferInsert;
export type NewCombinationPoint = typeof combinationPointsTable.$inferInsert;

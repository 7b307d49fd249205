import { doublePrecision, integer, real, text } from 'drizzle-orm/pg-core';

/**
 * The measures of one evaluated state, the same columns in path_points and combination_points: a fresh set of
 * column builders for each table (drizzle binds a builder to the table it is built into).
 */
export const evaluatedPointColumns = () => ({
  /** Sum of per-example losses (float64); NaN or ±Infinity when the state diverged. */
  lossSum: doublePrecision('loss_sum').notNull(),
  correct: integer('correct').notNull(),
  n: integer('n').notNull(),
  nonFinite: integer('non_finite').notNull(),
  engine: text('engine').notNull(),
  engineVersion: text('engine_version').notNull(),
  durationMs: real('duration_ms').notNull(),
  /** Times the point was computed: 1, unless a worker died after computing it and before its job ended. */
  evaluations: integer('evaluations').notNull().default(1),
});

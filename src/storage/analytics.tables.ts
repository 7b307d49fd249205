import { doublePrecision, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { checkpointsTable } from './registry.tables.js';

/**
 * Memoized distances between two checkpoints. Keyed by content like paths: both pinned objects, the metric
 * and the tensors it covers, so re-registering an object or restricting to other blocks gets its own row.
 */
export const distancesTable = pgTable('distances', {
  id: uuid('id').primaryKey().defaultRandom(),
  key: text('key').notNull().unique(),
  fromCheckpointId: uuid('from_checkpoint_id')
    .notNull()
    .references(() => checkpointsTable.id, { onDelete: 'restrict' }),
  toCheckpointId: uuid('to_checkpoint_id')
    .notNull()
    .references(() => checkpointsTable.id, { onDelete: 'restrict' }),
  metric: text('metric').notNull(),
  /** Requested blocks, sorted; null: every tensor the metric covers. */
  blocks: text('blocks').array(),
  /** Tensors that entered the value. */
  tensorCount: integer('tensor_count').notNull(),
  value: doublePrecision('value').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});

export type DistanceRow = typeof distancesTable.$inferSelect;

import { and, eq, inArray, ne } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { distancesTable, type DistanceRow } from './analytics.tables.js';
import { anyOf } from './any-of.js';
import type { Db } from './database.js';
import { pathPointsTable, pathsTable } from './paths.tables.js';
import { checkpointsTable, datasetsTable, type DatasetRow } from './registry.tables.js';

export type NewDistance = typeof distancesTable.$inferInsert;

/** A stored evaluation of a checkpoint's own state (an α = 1 point) on all examples of a dataset. */
export interface EndpointPoint {
  checkpointId: string;
  datasetId: string;
  lossSum: number;
  correct: number;
  n: number;
}

/** Reads for the analytics: memoized distances, end-point metrics, datasets by name. */
export class AnalyticsRepository {
  constructor(private readonly db: Db) {}

  async findDistance(key: string): Promise<DistanceRow | undefined> {
    return this.db.query.distancesTable.findFirst({ where: eq(distancesTable.key, key) });
  }

  /** Stored distances by key, for many keys at once. */
  async findDistances(keys: readonly string[]): Promise<DistanceRow[]> {
    if (keys.length === 0) return [];
    return this.db
      .select()
      .from(distancesTable)
      .where(inArray(distancesTable.key, [...new Set(keys)]));
  }

  async insertDistance(distance: NewDistance): Promise<DistanceRow> {
    const [inserted] = await this.db
      .insert(distancesTable)
      .values(distance)
      .onConflictDoNothing({ target: distancesTable.key })
      .returning();
    return inserted ?? (await this.findDistance(distance.key))!;
  }

  /**
   * For each (checkpoint, dataset), a stored α = 1 point of any path ending at that checkpoint over the whole
   * dataset: at α = 1 every path is the checkpoint itself, whatever its start, blocks or tensor group — except
   * a bnStats RECOMPUTE path, whose α = 1 state has recomputed BatchNorm statistics. The first stored such point
   * (then by path id), as registry.repository's storedEndpointValue sorts by. One query for all.
   */
  async endpointPoints(pairs: ReadonlyArray<{ checkpointId: string; datasetId: string }>): Promise<EndpointPoint[]> {
    if (pairs.length === 0) return [];
    // Paths are keyed by content, so a path may end at another registration of the same object.
    const pathEnd = alias(checkpointsTable, 'path_end');
    const rows = await this.db
      .selectDistinctOn([checkpointsTable.id, pathsTable.datasetId], {
        checkpointId: checkpointsTable.id,
        datasetId: pathsTable.datasetId,
        lossSum: pathPointsTable.lossSum,
        correct: pathPointsTable.correct,
        n: pathPointsTable.n,
      })
      .from(checkpointsTable)
      .innerJoin(
        pathEnd,
        and(
          eq(pathEnd.bucket, checkpointsTable.bucket),
          eq(pathEnd.key, checkpointsTable.key),
          eq(pathEnd.etag, checkpointsTable.etag),
        ),
      )
      .innerJoin(pathsTable, eq(pathsTable.toCheckpointId, pathEnd.id))
      .innerJoin(pathPointsTable, eq(pathPointsTable.pathId, pathsTable.id))
      .innerJoin(datasetsTable, eq(datasetsTable.id, pathsTable.datasetId))
      .where(
        and(
          anyOf(checkpointsTable.id, [...new Set(pairs.map((p) => p.checkpointId))], 'uuid'),
          anyOf(pathsTable.datasetId, [...new Set(pairs.map((p) => p.datasetId))], 'uuid'),
          eq(pathPointsTable.alpha, 1),
          eq(pathsTable.exampleCount, datasetsTable.exampleCount),
          ne(pathsTable.bnStats, 'RECOMPUTE'),
        ),
      )
      .orderBy(checkpointsTable.id, pathsTable.datasetId, pathPointsTable.createdAt, pathPointsTable.pathId);
    const wanted = new Set(pairs.map((p) => `${p.checkpointId}:${p.datasetId}`));
    return rows.filter((row) => wanted.has(`${row.checkpointId}:${row.datasetId}`));
  }

  /** Datasets by (name, split), for many names at once. */
  async datasetsByName(names: readonly string[]): Promise<DatasetRow[]> {
    if (names.length === 0) return [];
    return this.db
      .select()
      .from(datasetsTable)
      .where(anyOf(datasetsTable.name, [...new Set(names)], 'text'));
  }
}

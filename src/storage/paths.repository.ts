import { and, asc, eq, inArray } from 'drizzle-orm';
import type { Db } from './database.js';
import { pathPointsTable, pathsTable, type PathPointRow, type PathRow } from './paths.tables.js';

export type NewPath = typeof pathsTable.$inferInsert;
export type NewPathPoint = typeof pathPointsTable.$inferInsert;

/** Memoized paths and their points. Every write is idempotent. */
export class PathsRepository {
  constructor(private readonly db: Db) {}

  /** The path with this key, created when there is none (race-free). */
  async findOrCreatePath(path: NewPath): Promise<PathRow> {
    const [inserted] = await this.db.insert(pathsTable).values(path).onConflictDoNothing({ target: pathsTable.key }).returning();
    if (inserted !== undefined) return inserted;
    return (await this.db.query.pathsTable.findFirst({ where: eq(pathsTable.key, path.key) }))!;
  }

  async findPathByKey(key: string): Promise<PathRow | undefined> {
    return this.db.query.pathsTable.findFirst({ where: eq(pathsTable.key, key) });
  }

  async findPath(id: string): Promise<PathRow | undefined> {
    return this.db.query.pathsTable.findFirst({ where: eq(pathsTable.id, id) });
  }

  async points(pathId: string, alphas?: readonly number[]): Promise<PathPointRow[]> {
    return this.db
      .select()
      .from(pathPointsTable)
      .where(
        alphas === undefined
          ? eq(pathPointsTable.pathId, pathId)
          : and(eq(pathPointsTable.pathId, pathId), inArray(pathPointsTable.alpha, [...alphas])),
      )
      .orderBy(asc(pathPointsTable.alpha));
  }

  /** Stores a point unless one exists for (path, α); returns the stored row either way. */
  async insertPoint(point: NewPathPoint): Promise<PathPointRow> {
    const [inserted] = await this.db.insert(pathPointsTable).values(point).onConflictDoNothing().returning();
    if (inserted !== undefined) return inserted;
    const [existing] = await this.points(point.pathId, [point.alpha]);
    return existing!;
  }
}

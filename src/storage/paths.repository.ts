import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { anyOf } from './any-of.js';
import type { Db } from './database.js';
import {
  pathPointsTable,
  pathsTable,
  pathSummariesTable,
  pathTasksTable,
  type PathPointRow,
  type PathRow,
} from './paths.tables.js';

export type NewPath = typeof pathsTable.$inferInsert;
export type NewPathPoint = typeof pathPointsTable.$inferInsert;
export type NewPathSummary = typeof pathSummariesTable.$inferInsert;

/** A queued point and the state of the job that holds it (null when the job is gone: a stale task). */
export interface PathTaskState {
  pathId: string;
  alpha: number;
  jobId: string;
  jobState: 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed' | null;
}

/** Everything the status of some paths is computed from, read in three queries. */
export interface PathsSnapshot {
  paths: PathRow[];
  points: PathPointRow[];
  tasks: PathTaskState[];
}

/** Memoized paths and their points. Every write is idempotent. */
export class PathsRepository {
  constructor(private readonly db: Db) {}

  /** The path with this key, created when there is none (race-free). */
  async findOrCreatePath(path: NewPath): Promise<PathRow> {
    const [inserted] = await this.db
      .insert(pathsTable)
      .values(path)
      .onConflictDoNothing({ target: pathsTable.key })
      .returning();
    if (inserted !== undefined) return inserted;
    return (await this.db.query.pathsTable.findFirst({ where: eq(pathsTable.key, path.key) }))!;
  }

  async findPathByKey(key: string): Promise<PathRow | undefined> {
    return this.db.query.pathsTable.findFirst({ where: eq(pathsTable.key, key) });
  }

  async findPathsByKeys(keys: readonly string[]): Promise<PathRow[]> {
    if (keys.length === 0) return [];
    return this.db
      .select()
      .from(pathsTable)
      .where(inArray(pathsTable.key, [...new Set(keys)]));
  }

  /**
   * Paths by key, each with its stored summary of `grid` written by `version` (null when there is none): one
   * query for any number of keys.
   */
  async findPathsWithSummaries(
    keys: readonly string[],
    grid: string,
    version: string,
  ): Promise<Array<{ id: string; key: string; summary: Record<string, unknown> | null }>> {
    if (keys.length === 0) return [];
    return this.db
      .select({ id: pathsTable.id, key: pathsTable.key, summary: pathSummariesTable.summary })
      .from(pathsTable)
      .leftJoin(
        pathSummariesTable,
        and(
          eq(pathSummariesTable.pathId, pathsTable.id),
          eq(pathSummariesTable.grid, grid),
          eq(pathSummariesTable.version, version),
        ),
      )
      .where(anyOf(pathsTable.key, [...new Set(keys)], 'text'));
  }

  /** Stores summaries of finished curves (one statement per 1,000); a summary of another version is replaced. */
  async storeSummaries(rows: readonly NewPathSummary[]): Promise<void> {
    for (let start = 0; start < rows.length; start += 1000) {
      await this.db
        .insert(pathSummariesTable)
        .values(rows.slice(start, start + 1000))
        .onConflictDoUpdate({
          target: [pathSummariesTable.pathId, pathSummariesTable.grid],
          set: { version: sql`excluded.version`, summary: sql`excluded.summary`, createdAt: sql`now()` },
          setWhere: sql`${pathSummariesTable.version} <> excluded.version`,
        });
    }
  }

  /** Stored points of many paths at once (only the given alphas, when given), by path and α. */
  async pointsOfPaths(pathIds: readonly string[], alphas?: readonly number[]): Promise<PathPointRow[]> {
    if (pathIds.length === 0) return [];
    const ofPaths = anyOf(pathPointsTable.pathId, pathIds, 'uuid');
    return this.db
      .select()
      .from(pathPointsTable)
      .where(alphas === undefined ? ofPaths : and(ofPaths, inArray(pathPointsTable.alpha, [...alphas])))
      .orderBy(asc(pathPointsTable.pathId), asc(pathPointsTable.alpha));
  }

  /** The newest paths (of these checkpoints, when given) with how many points each has stored. */
  async listPaths(options: {
    limit: number;
    checkpointIds?: readonly string[] | undefined;
  }): Promise<Array<PathRow & { storedPoints: number }>> {
    const ids = options.checkpointIds === undefined ? undefined : [...options.checkpointIds];
    if (ids !== undefined && ids.length === 0) return [];
    const rows = await this.db
      .select()
      .from(pathsTable)
      .where(
        ids === undefined
          ? undefined
          : sql`${inArray(pathsTable.fromCheckpointId, ids)} or ${inArray(pathsTable.toCheckpointId, ids)}`,
      )
      .orderBy(sql`${pathsTable.createdAt} desc`)
      .limit(options.limit);
    if (rows.length === 0) return [];
    const counts = await this.db
      .select({ pathId: pathPointsTable.pathId, n: sql<number>`count(*)::int` })
      .from(pathPointsTable)
      .where(
        inArray(
          pathPointsTable.pathId,
          rows.map((r) => r.id),
        ),
      )
      .groupBy(pathPointsTable.pathId);
    const byPath = new Map(counts.map((c) => [c.pathId, c.n]));
    return rows.map((row) => ({ ...row, storedPoints: byPath.get(row.id) ?? 0 }));
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

  async findPaths(ids: readonly string[]): Promise<PathRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(pathsTable)
      .where(inArray(pathsTable.id, [...ids]));
  }

  /**
   * The queued tasks, stored points and failures of some paths, read in that order: a worker stores a
   * point before it drops the point's task, and a failure drops the tasks in the transaction that sets
   * it, so an α is never missed between two of the reads (it may show as stored and still queued).
   */
  async snapshot(pathIds: readonly string[], jobQueue: string): Promise<PathsSnapshot> {
    if (pathIds.length === 0) return { paths: [], points: [], tasks: [] };
    const ids = [...pathIds];
    const tasks = await this.db.execute<{
      path_id: string;
      alpha: number;
      job_id: string;
      state: PathTaskState['jobState'];
    }>(sql`
      SELECT t.path_id, t.alpha, t.job_id, j.state
        FROM ${pathTasksTable} t
        LEFT JOIN pgboss.job j ON j.name = ${jobQueue} AND j.id = t.job_id
       WHERE t.path_id IN ${ids}`);
    const points = await this.db
      .select()
      .from(pathPointsTable)
      .where(inArray(pathPointsTable.pathId, ids))
      .orderBy(asc(pathPointsTable.alpha));
    const paths = await this.findPaths(ids);
    return {
      paths,
      points,
      tasks: tasks.rows.map((r) => ({ pathId: r.path_id, alpha: r.alpha, jobId: r.job_id, jobState: r.state })),
    };
  }

  /** The alphas a job still has to evaluate: its tasks whose point is not stored. */
  async jobAlphas(jobId: string): Promise<number[]> {
    const rows = await this.db
      .select({ alpha: pathTasksTable.alpha })
      .from(pathTasksTable)
      .where(
        and(
          eq(pathTasksTable.jobId, jobId),
          sql`NOT EXISTS (SELECT 1 FROM ${pathPointsTable} p WHERE p.path_id = ${pathTasksTable.pathId} AND p.alpha = ${pathTasksTable.alpha})`,
        ),
      )
      .orderBy(asc(pathTasksTable.alpha));
    return rows.map((r) => r.alpha);
  }

  /**
   * Stores an evaluated point, then drops its task (in this order: see snapshot). A point stored before
   * (by a worker that died after storing it and before its job ended) keeps its values; its
   * `evaluations` count goes up.
   */
  async storePoint(point: NewPathPoint): Promise<PathPointRow> {
    const [inserted] = await this.db
      .insert(pathPointsTable)
      .values(point)
      .onConflictDoUpdate({
        target: [pathPointsTable.pathId, pathPointsTable.alpha],
        set: { evaluations: sql`${pathPointsTable.evaluations} + 1` },
      })
      .returning();
    await this.db
      .delete(pathTasksTable)
      .where(and(eq(pathTasksTable.pathId, point.pathId), eq(pathTasksTable.alpha, point.alpha)));
    return inserted!;
  }

  /** Clears a path's failure so its missing points can be queued again; false when it had none. */
  async clearFailure(pathId: string): Promise<boolean> {
    const rows = await this.db
      .update(pathsTable)
      .set({ failureCode: null, failureMessage: null, failedAt: null })
      .where(and(eq(pathsTable.id, pathId), sql`${pathsTable.failureCode} IS NOT NULL`))
      .returning({ id: pathsTable.id });
    return rows.length > 0;
  }
}

import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from './database.js';
import {
  combinationPointsTable,
  combinationsTable,
  combinationTasksTable,
  type CombinationPointRow,
  type CombinationRow,
  type NewCombination,
  type NewCombinationPoint,
} from './combinations.tables.js';
import type { PathTaskState } from './paths.repository.js';

/** A queued combination point and the state of its job (null when the job is gone). */
export interface CombinationTaskState {
  combinationId: string;
  coefficients: string;
  jobId: string;
  jobState: PathTaskState['jobState'];
}

/** Everything the status of a combination's points is computed from (read as paths' snapshots are). */
export interface CombinationSnapshot {
  combination: CombinationRow;
  points: CombinationPointRow[];
  tasks: CombinationTaskState[];
}

/** Memoized combination points; every write is idempotent, as for paths (paths.repository.ts). */
export class CombinationsRepository {
  constructor(private readonly db: Db) {}

  /** The combination with this key, created when there is none (race-free). */
  async findOrCreate(combination: NewCombination): Promise<CombinationRow> {
    const [inserted] = await this.db
      .insert(combinationsTable)
      .values(combination)
      .onConflictDoNothing({ target: combinationsTable.key })
      .returning();
    if (inserted !== undefined) return inserted;
    return (await this.db.query.combinationsTable.findFirst({ where: eq(combinationsTable.key, combination.key) }))!;
  }

  async findByKey(key: string): Promise<CombinationRow | undefined> {
    return this.db.query.combinationsTable.findFirst({ where: eq(combinationsTable.key, key) });
  }

  async find(id: string): Promise<CombinationRow | undefined> {
    return this.db.query.combinationsTable.findFirst({ where: eq(combinationsTable.id, id) });
  }

  /** Stored points of a combination (only these coefficient keys, when given). */
  async points(combinationId: string, keys?: readonly string[]): Promise<CombinationPointRow[]> {
    const own = eq(combinationPointsTable.combinationId, combinationId);
    return this.db
      .select()
      .from(combinationPointsTable)
      .where(keys === undefined ? own : and(own, inArray(combinationPointsTable.coefficients, [...keys])));
  }

  /** Tasks, then points, then the row (the order of PathsRepository.snapshot, for the same reason). */
  async snapshots(ids: readonly string[], jobQueue: string): Promise<Map<string, CombinationSnapshot>> {
    const result = new Map<string, CombinationSnapshot>();
    if (ids.length === 0) return result;
    const tasks = await this.db.execute<{
      combination_id: string;
      coefficients: string;
      job_id: string;
      state: PathTaskState['jobState'];
    }>(sql`
      SELECT t.combination_id, t.coefficients, t.job_id, j.state
        FROM ${combinationTasksTable} t
        LEFT JOIN pgboss.job j ON j.name = ${jobQueue} AND j.id = t.job_id
       WHERE t.combination_id IN ${[...ids]}`);
    const points = await this.db
      .select()
      .from(combinationPointsTable)
      .where(inArray(combinationPointsTable.combinationId, [...ids]));
    const rows = await this.db
      .select()
      .from(combinationsTable)
      .where(inArray(combinationsTable.id, [...ids]));
    for (const combination of rows) result.set(combination.id, { combination, points: [], tasks: [] });
    for (const point of points) result.get(point.combinationId)?.points.push(point);
    for (const r of tasks.rows) {
      result.get(r.combination_id)?.tasks.push({
        combinationId: r.combination_id,
        coefficients: r.coefficients,
        jobId: r.job_id,
        jobState: r.state,
      });
    }
    return result;
  }

  /** The coefficient keys a job still has to evaluate: its tasks whose point is not stored. */
  async jobPoints(jobId: string): Promise<string[]> {
    const rows = await this.db
      .select({ coefficients: combinationTasksTable.coefficients })
      .from(combinationTasksTable)
      .where(
        and(
          eq(combinationTasksTable.jobId, jobId),
          sql`NOT EXISTS (SELECT 1 FROM ${combinationPointsTable} p WHERE p.combination_id = ${combinationTasksTable.combinationId} AND p.coefficients = ${combinationTasksTable.coefficients})`,
        ),
      )
      .orderBy(asc(combinationTasksTable.createdAt), asc(combinationTasksTable.coefficients));
    return rows.map((r) => r.coefficients);
  }

  /** Stores an evaluated point, then drops its task; a point stored before keeps its values. */
  async storePoint(point: NewCombinationPoint): Promise<void> {
    await this.db
      .insert(combinationPointsTable)
      .values(point)
      .onConflictDoUpdate({
        target: [combinationPointsTable.combinationId, combinationPointsTable.coefficients],
        set: { evaluations: sql`${combinationPointsTable.evaluations} + 1` },
      });
    await this.db
      .delete(combinationTasksTable)
      .where(
        and(
          eq(combinationTasksTable.combinationId, point.combinationId),
          eq(combinationTasksTable.coefficients, point.coefficients),
        ),
      );
  }

  /** Clears a combination's failure; false when it had none. */
  async clearFailure(id: string): Promise<boolean> {
    const rows = await this.db
      .update(combinationsTable)
      .set({ failureCode: null, failureMessage: null, failedAt: null })
      .where(and(eq(combinationsTable.id, id), sql`${combinationsTable.failureCode} IS NOT NULL`))
      .returning({ id: combinationsTable.id });
    return rows.length > 0;
  }
}

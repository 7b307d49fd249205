import { and, arrayContains, asc, eq, gt, ilike, isNull, sql, type SQL } from 'drizzle-orm';
import { conflict } from '../errors.js';
import type { Db } from './database.js';
import {
  checkpointsTable,
  datasetsTable,
  runsTable,
  type CheckpointRow,
  type DatasetRow,
  type Normalization,
  type RunRow,
} from './registry.tables.js';

export type NewRun = typeof runsTable.$inferInsert;
export type NewCheckpoint = typeof checkpointsTable.$inferInsert;
export type NewDataset = typeof datasetsTable.$inferInsert;

export interface RunFilter {
  architecture?: string | undefined;
  datasetName?: string | undefined;
  /** Runs carrying every one of these tags. */
  tags?: string[] | undefined;
  nameContains?: string | undefined;
  /** Runs whose hyper-parameters contain this object (jsonb `@>`). */
  hyperparameters?: Record<string, unknown> | undefined;
}

/** Queries of runs, checkpoints and datasets. Unique-key violations become CONFLICT errors. */
export class RegistryRepository {
  constructor(private readonly db: Db) {}

  async insertRun(run: NewRun): Promise<RunRow> {
    const rows = await this.db.insert(runsTable).values(run).onConflictDoNothing({ target: runsTable.name }).returning();
    if (rows[0] === undefined) {
      const existing = await this.findRunByName(run.name);
      throw conflict(`a run named "${run.name}" already exists (id ${existing?.id ?? '?'}); choose another name`);
    }
    return rows[0];
  }

  /** The run of that name, created with `defaults` when there is none (race-free). */
  async findOrCreateRun(run: NewRun): Promise<RunRow> {
    await this.db.insert(runsTable).values(run).onConflictDoNothing({ target: runsTable.name });
    return (await this.findRunByName(run.name))!;
  }

  async findRunById(id: string): Promise<RunRow | undefined> {
    return this.db.query.runsTable.findFirst({ where: eq(runsTable.id, id) });
  }

  async findRunByName(name: string): Promise<RunRow | undefined> {
    return this.db.query.runsTable.findFirst({ where: eq(runsTable.name, name) });
  }

  /** Runs in creation order after the cursor `afterSeq`; one more than `limit` tells whether a page follows. */
  async listRuns(filter: RunFilter, limit: number, afterSeq: number | undefined): Promise<RunRow[]> {
    const conditions: SQL[] = [];
    if (filter.architecture !== undefined) conditions.push(eq(runsTable.architecture, filter.architecture));
    if (filter.datasetName !== undefined) conditions.push(eq(runsTable.datasetName, filter.datasetName));
    if (filter.tags !== undefined && filter.tags.length > 0) conditions.push(arrayContains(runsTable.tags, filter.tags));
    if (filter.nameContains !== undefined) conditions.push(ilike(runsTable.name, `%${escapeLike(filter.nameContains)}%`));
    if (filter.hyperparameters !== undefined) {
      conditions.push(sql`${runsTable.hyperparameters} @> ${JSON.stringify(filter.hyperparameters)}::jsonb`);
    }
    if (afterSeq !== undefined) conditions.push(gt(runsTable.seq, afterSeq));
    return this.db
      .select()
      .from(runsTable)
      .where(and(...conditions))
      .orderBy(asc(runsTable.seq))
      .limit(limit);
  }

  async countRuns(): Promise<number> {
    const [row] = await this.db.select({ count: sql<number>`count(*)::int` }).from(runsTable);
    return row?.count ?? 0;
  }

  async checkpointsOfRun(runId: string): Promise<CheckpointRow[]> {
    return this.db.query.checkpointsTable.findMany({
      where: eq(checkpointsTable.runId, runId),
      orderBy: [asc(checkpointsTable.step), asc(checkpointsTable.role)],
    });
  }

  async findCheckpoint(id: string): Promise<CheckpointRow | undefined> {
    return this.db.query.checkpointsTable.findFirst({ where: eq(checkpointsTable.id, id) });
  }

  /**
   * Inserts a checkpoint, creating its run in the same transaction when `createRun` is given, so a failed
   * registration leaves neither. Returns the stored row and whether it was new.
   */
  async insertCheckpoint(
    checkpoint: Omit<NewCheckpoint, 'runId'>,
    run: { id: string } | { create: NewRun },
  ): Promise<{ checkpoint: CheckpointRow; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const runId =
        'id' in run
          ? run.id
          : (await tx.insert(runsTable).values(run.create).onConflictDoNothing({ target: runsTable.name }).returning())[0]?.id ??
            (await tx.query.runsTable.findFirst({ where: eq(runsTable.name, run.create.name) }))!.id;
      const inserted = await tx
        .insert(checkpointsTable)
        .values({ ...checkpoint, runId })
        .onConflictDoNothing()
        .returning();
      if (inserted[0] !== undefined) return { checkpoint: inserted[0], created: true };
      const existing = await tx.query.checkpointsTable.findFirst({
        where: and(
          eq(checkpointsTable.runId, runId),
          eq(checkpointsTable.role, checkpoint.role),
          ...(checkpoint.role === 'INITIAL' || checkpoint.role === 'FINAL' ? [] : [eq(checkpointsTable.step, checkpoint.step)]),
        ),
      });
      if (existing === undefined) throw new Error('checkpoint insert conflicted but no conflicting row was found');
      if (existing.bucket !== checkpoint.bucket || existing.key !== checkpoint.key || existing.etag !== checkpoint.etag) {
        throw conflict(
          `run ${runId} already has ${describeSlot(existing)} (checkpoint ${existing.id}, ${existing.uri}); ` +
            `got a different object for ${describeSlot(checkpoint)}: ${checkpoint.uri}`,
        );
      }
      if (existing.step !== checkpoint.step) {
        throw conflict(`run ${runId} already has ${describeSlot(existing)} (checkpoint ${existing.id}); got ${describeSlot(checkpoint)}`);
      }
      // The same object registered again: idempotent, and a now-known sha256 is kept.
      if (existing.sha256 === null && checkpoint.sha256 != null) {
        const [updated] = await tx
          .update(checkpointsTable)
          .set({ sha256: checkpoint.sha256 })
          .where(eq(checkpointsTable.id, existing.id))
          .returning();
        return { checkpoint: updated!, created: false };
      }
      return { checkpoint: existing, created: false };
    });
  }

  /** Records a sha256 learned from a full read; never overwrites a known one. */
  async recordCheckpointSha256(id: string, sha256: string): Promise<void> {
    await this.db
      .update(checkpointsTable)
      .set({ sha256 })
      .where(and(eq(checkpointsTable.id, id), isNull(checkpointsTable.sha256)));
  }

  async listDatasets(): Promise<DatasetRow[]> {
    return this.db.select().from(datasetsTable).orderBy(asc(datasetsTable.seq));
  }

  async findDataset(id: string): Promise<DatasetRow | undefined> {
    return this.db.query.datasetsTable.findFirst({ where: eq(datasetsTable.id, id) });
  }

  async insertDataset(dataset: NewDataset): Promise<{ dataset: DatasetRow; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const inserted = await tx.insert(datasetsTable).values(dataset).onConflictDoNothing().returning();
      if (inserted[0] !== undefined) return { dataset: inserted[0], created: true };
      const existing = await tx.query.datasetsTable.findFirst({
        where: and(eq(datasetsTable.name, dataset.name), eq(datasetsTable.split, dataset.split)),
      });
      if (existing === undefined) throw new Error('dataset insert conflicted but no conflicting row was found');
      if (!sameDataset(existing, dataset)) {
        throw conflict(
          `dataset "${dataset.name}" already has a ${dataset.split} split (id ${existing.id}, ${existing.uri}); ` +
            `got a different object, format or settings: ${dataset.uri}`,
        );
      }
      // The same object(s) registered again: idempotent, and a now-known sha256 is kept.
      const known = {
        ...(existing.sha256 === null && dataset.sha256 != null ? { sha256: dataset.sha256 } : {}),
        ...(existing.labelsSha256 === null && dataset.labelsSha256 != null ? { labelsSha256: dataset.labelsSha256 } : {}),
      };
      if (Object.keys(known).length > 0) {
        const [updated] = await tx.update(datasetsTable).set(known).where(eq(datasetsTable.id, existing.id)).returning();
        return { dataset: updated!, created: false };
      }
      return { dataset: existing, created: false };
    });
  }
}

/** Whether a registration describes the dataset already stored: the same pinned objects, read the same way. */
function sameDataset(existing: DatasetRow, dataset: NewDataset): boolean {
  return (
    existing.bucket === dataset.bucket &&
    existing.key === dataset.key &&
    existing.etag === dataset.etag &&
    existing.format === (dataset.format ?? 'SAFETENSORS') &&
    existing.inputKey === dataset.inputKey &&
    existing.labelKey === dataset.labelKey &&
    existing.labelsBucket === (dataset.labelsBucket ?? null) &&
    existing.labelsKey === (dataset.labelsKey ?? null) &&
    existing.labelsEtag === (dataset.labelsEtag ?? null) &&
    existing.inputLayout === (dataset.inputLayout ?? null) &&
    sameNormalization(existing.normalization, dataset.normalization ?? null)
  );
}

// Compared field by field: jsonb does not keep the key order of what was inserted.
const sameNormalization = (a: Normalization | null, b: Normalization | null): boolean =>
  a === null || b === null ? a === b : sameNumbers(a.mean, b.mean) && sameNumbers(a.std, b.std);

const sameNumbers = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

const describeSlot = (c: { role: string; step: number }): string => `a ${c.role} checkpoint at step ${c.step}`;

const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);


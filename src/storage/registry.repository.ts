import { and, asc, eq, getTableColumns, inArray, isNull, sql } from 'drizzle-orm';
import { conflict } from '../errors.js';
import { anyOf } from './any-of.js';
import type { Db } from './database.js';
import {
  afterCursor,
  runFilterConditions,
  sortExpression,
  type RunCursor,
  type RunFilter,
  type RunOrder,
} from './run-query.js';
import {
  architecturesTable,
  checkpointsTable,
  datasetsTable,
  runsTable,
  type ArchitectureRow,
  type CheckpointRef,
  type CheckpointRow,
  type DatasetRow,
  type Derivation,
  type Normalization,
  type RunRow,
} from './registry.tables.js';

export type NewRun = typeof runsTable.$inferInsert;
export type NewCheckpoint = typeof checkpointsTable.$inferInsert;
export type NewDataset = typeof datasetsTable.$inferInsert;
export type NewArchitecture = typeof architecturesTable.$inferInsert;

/** Queries of runs, checkpoints and datasets. Unique-key violations become CONFLICT errors. */
export class RegistryRepository {
  constructor(private readonly db: Db) {}

  async insertRun(run: NewRun): Promise<RunRow> {
    const rows = await this.db
      .insert(runsTable)
      .values(run)
      .onConflictDoNothing({ target: runsTable.name })
      .returning();
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

  /**
   * Changes a run's description; a new architecture is set on the run and on every checkpoint of it in one
   * transaction (each checkpoint keeps the architecture it was registered with, which paths read).
   */
  async updateRun(
    id: string,
    patch: Partial<
      Pick<NewRun, 'architecture' | 'datasetName' | 'hyperparameters' | 'seed' | 'tags' | 'reportedMetrics'>
    >,
  ): Promise<RunRow | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(runsTable)
        .set({ ...patch, updatedAt: new Date() })
        .where(eq(runsTable.id, id))
        .returning();
      if (row !== undefined && patch.architecture !== undefined) {
        await tx
          .update(checkpointsTable)
          .set({ architecture: patch.architecture })
          .where(eq(checkpointsTable.runId, id));
      }
      return row;
    });
  }

  async findRunById(id: string): Promise<RunRow | undefined> {
    return this.db.query.runsTable.findFirst({ where: eq(runsTable.id, id) });
  }

  async findRunsByIds(ids: readonly string[]): Promise<RunRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(runsTable)
      .where(anyOf(runsTable.id, ids, 'uuid'));
  }

  async findRunByName(name: string): Promise<RunRow | undefined> {
    return this.db.query.runsTable.findFirst({ where: eq(runsTable.name, name) });
  }

  /**
   * Runs matching `filter`, sorted by `order` then by creation, after `after`; one more than `limit` tells
   * whether a page follows. Keyset pagination: a cursor stays valid while runs are added.
   */
  async listRuns(
    filter: RunFilter,
    order: RunOrder,
    limit: number,
    after: RunCursor | undefined,
  ): Promise<Array<RunRow & { sortValue: string | number | null }>> {
    const conditions = runFilterConditions(filter);
    const value = sortExpression(order);
    if (after !== undefined) conditions.push(afterCursor(value, order.direction, after));
    const direction = order.direction === 'ASC' ? sql`ASC` : sql`DESC`;
    return this.db
      .select({ run: runsTable, sortValue: sql<string | number | null>`${value}` })
      .from(runsTable)
      .where(and(...conditions))
      .orderBy(sql`${value} ${direction} NULLS LAST`, asc(runsTable.seq))
      .limit(limit)
      .then((rows) =>
        rows.map(({ run, sortValue }) => ({
          ...run,
          sortValue:
            sortValue === null
              ? null
              : typeof sortValue === 'string' && order.field !== 'NAME'
                ? Number(sortValue)
                : sortValue,
        })),
      );
  }

  /** How many runs match `filter` (all runs without one). */
  async countRuns(filter: RunFilter = {}): Promise<number> {
    const [row] = await this.db
      .select({ count: sql<number>`count(*)::int` })
      .from(runsTable)
      .where(and(...runFilterConditions(filter)));
    return row?.count ?? 0;
  }

  /** Checkpoints of many runs in one query (for DataLoader), by step then role. */
  async checkpointsOfRuns(runIds: readonly string[]): Promise<CheckpointRow[]> {
    if (runIds.length === 0) return [];
    return this.db.query.checkpointsTable.findMany({
      where: anyOf(checkpointsTable.runId, runIds, 'uuid'),
      orderBy: [asc(checkpointsTable.step), asc(checkpointsTable.role)],
    });
  }

  /**
   * checkpointsOfRuns without the tensor headers (~1.4 KB of JSON a checkpoint): what bulk analytics need to
   * pick each run's ends and to recognise a path they have planned before. One query.
   */
  async checkpointRefsOfRuns(runIds: readonly string[]): Promise<CheckpointRef[]> {
    if (runIds.length === 0) return [];
    const { header: _header, ...columns } = getTableColumns(checkpointsTable);
    return this.db
      .select(columns)
      .from(checkpointsTable)
      .where(anyOf(checkpointsTable.runId, runIds, 'uuid'))
      .orderBy(asc(checkpointsTable.step), asc(checkpointsTable.role));
  }

  /** Checkpoints by id, headers included, for many ids at once (in no particular order). */
  async findCheckpointsByIds(ids: readonly string[]): Promise<CheckpointRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(checkpointsTable)
      .where(anyOf(checkpointsTable.id, [...new Set(ids)], 'uuid'));
  }

  async checkpointsOfRun(runId: string): Promise<CheckpointRow[]> {
    return this.db.query.checkpointsTable.findMany({
      where: eq(checkpointsTable.runId, runId),
      orderBy: [asc(checkpointsTable.step), asc(checkpointsTable.role)],
    });
  }

  /** Both checkpoints of a path and its dataset, by id, in one statement (undefined: not found). */
  async findPathEnds(
    fromId: string,
    toId: string,
    datasetId: string,
  ): Promise<{ from?: CheckpointRow; to?: CheckpointRow; dataset?: DatasetRow }> {
    const rows = await this.db
      .select({ checkpoint: checkpointsTable, dataset: datasetsTable })
      .from(checkpointsTable)
      .leftJoin(datasetsTable, eq(datasetsTable.id, datasetId))
      .where(inArray(checkpointsTable.id, [fromId, toId]));
    return {
      from: rows.find((r) => r.checkpoint.id === fromId)?.checkpoint,
      to: rows.find((r) => r.checkpoint.id === toId)?.checkpoint,
      dataset: rows[0]?.dataset ?? undefined,
    };
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
          : ((
              await tx.insert(runsTable).values(run.create).onConflictDoNothing({ target: runsTable.name }).returning()
            )[0]?.id ?? (await tx.query.runsTable.findFirst({ where: eq(runsTable.name, run.create.name) }))!.id);
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
          ...(checkpoint.role === 'INITIAL' || checkpoint.role === 'FINAL'
            ? []
            : [eq(checkpointsTable.step, checkpoint.step)]),
        ),
      });
      if (existing === undefined) throw new Error('checkpoint insert conflicted but no conflicting row was found');
      if (
        existing.bucket !== checkpoint.bucket ||
        existing.key !== checkpoint.key ||
        existing.etag !== checkpoint.etag
      ) {
        throw conflict(
          `run ${runId} already has ${describeSlot(existing)} (checkpoint ${existing.id}, ${existing.uri}); ` +
            `got a different object for ${describeSlot(checkpoint)}: ${checkpoint.uri}`,
        );
      }
      if (existing.step !== checkpoint.step) {
        throw conflict(
          `run ${runId} already has ${describeSlot(existing)} (checkpoint ${existing.id}); got ${describeSlot(checkpoint)}`,
        );
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
  /** Records the lineage of a DERIVED checkpoint. */
  async setDerivation(id: string, derivation: Derivation): Promise<CheckpointRow> {
    const [row] = await this.db
      .update(checkpointsTable)
      .set({ derivation })
      .where(eq(checkpointsTable.id, id))
      .returning();
    return row!;
  }

  async recordCheckpointSha256(id: string, sha256: string): Promise<void> {
    await this.db
      .update(checkpointsTable)
      .set({ sha256 })
      .where(and(eq(checkpointsTable.id, id), isNull(checkpointsTable.sha256)));
  }

  /**
   * Registers a user architecture. The same name for the same graph (sha256) is the existing row (created
   * false); the name taken by another graph is CONFLICT.
   */
  async insertArchitecture(
    architecture: NewArchitecture,
  ): Promise<{ architecture: ArchitectureRow; created: boolean }> {
    const rows = await this.db
      .insert(architecturesTable)
      .values(architecture)
      .onConflictDoNothing({ target: architecturesTable.name })
      .returning();
    if (rows[0] !== undefined) return { architecture: rows[0], created: true };
    const existing = (await this.findArchitecture(architecture.name))!;
    if (existing.sha256 !== architecture.sha256) {
      throw conflict(
        `architecture "${architecture.name}" is registered for another graph (sha256 ${existing.sha256}, this one ${architecture.sha256}); a name cannot be re-pointed, choose another name`,
      );
    }
    return { architecture: existing, created: false };
  }

  async findArchitecture(name: string): Promise<ArchitectureRow | undefined> {
    return this.db.query.architecturesTable.findFirst({ where: eq(architecturesTable.name, name) });
  }

  async listArchitectures(): Promise<ArchitectureRow[]> {
    return this.db.select().from(architecturesTable).orderBy(asc(architecturesTable.name));
  }

  async listDatasets(): Promise<DatasetRow[]> {
    return this.db.select().from(datasetsTable).orderBy(asc(datasetsTable.seq));
  }

  async findDataset(id: string): Promise<DatasetRow | undefined> {
    return this.db.query.datasetsTable.findFirst({ where: eq(datasetsTable.id, id) });
  }

  async findDatasetByName(name: string, split: DatasetRow['split']): Promise<DatasetRow | undefined> {
    return this.db.query.datasetsTable.findFirst({
      where: and(eq(datasetsTable.name, name), eq(datasetsTable.split, split)),
    });
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
        ...(existing.labelsSha256 === null && dataset.labelsSha256 != null
          ? { labelsSha256: dataset.labelsSha256 }
          : {}),
      };
      if (Object.keys(known).length > 0) {
        const [updated] = await tx
          .update(datasetsTable)
          .set(known)
          .where(eq(datasetsTable.id, existing.id))
          .returning();
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

const sameNumbers = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((v, i) => v === b[i]);

const describeSlot = (c: { role: string; step: number }): string => `a ${c.role} checkpoint at step ${c.step}`;

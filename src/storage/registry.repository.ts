import { and, arrayContains, asc, eq, ilike, inArray, isNull, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { conflict } from '../errors.js';
import type { Db } from './database.js';
import {
  checkpointsTable,
  datasetsTable,
  runsTable,
  type CheckpointRow,
  type DatasetRow,
  type Derivation,
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
  hyperparametersContain?: Record<string, unknown> | undefined;
  /** Conditions on values at JSON paths of the hyper-parameters; all must hold. */
  hyperparameters?: HyperparameterCondition[] | undefined;
}

/**
 * A condition on the hyper-parameter at `path` (segments of a JSON path, e.g. ["optimizer", "lr"]).
 * Comparisons (gt, gte, lt, lte) hold only for JSON numbers; eq, ne and in compare JSON values.
 */
export interface HyperparameterCondition {
  path: string[];
  eq?: unknown;
  ne?: unknown;
  in?: unknown[];
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  /** true: the path is present; false: it is absent. */
  exists?: boolean;
}

export type RunOrderField =
  | 'CREATED_AT'
  | 'NAME'
  | 'REPORTED_METRIC'
  | 'HYPERPARAMETER'
  | 'TEST_ACCURACY'
  | 'TEST_LOSS'
  | 'TRAIN_ACCURACY'
  | 'TRAIN_LOSS';

export interface RunOrder {
  field: RunOrderField;
  direction: 'ASC' | 'DESC';
  /** For REPORTED_METRIC and HYPERPARAMETER: the JSON path of the value (numbers sort numerically). */
  path?: string[] | undefined;
}

/** Where the previous page ended: the sort value (null sorts last) and the creation sequence. */
export interface RunCursor {
  value: string | number | null;
  seq: number;
}

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

  async findRunById(id: string): Promise<RunRow | undefined> {
    return this.db.query.runsTable.findFirst({ where: eq(runsTable.id, id) });
  }

  async findRunsByIds(ids: readonly string[]): Promise<RunRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(runsTable)
      .where(inArray(runsTable.id, [...ids]));
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
    const conditions: SQL[] = [];
    if (filter.architecture !== undefined) conditions.push(eq(runsTable.architecture, filter.architecture));
    if (filter.datasetName !== undefined) conditions.push(eq(runsTable.datasetName, filter.datasetName));
    if (filter.tags !== undefined && filter.tags.length > 0)
      conditions.push(arrayContains(runsTable.tags, filter.tags));
    if (filter.nameContains !== undefined)
      conditions.push(ilike(runsTable.name, `%${escapeLike(filter.nameContains)}%`));
    if (filter.hyperparametersContain !== undefined) {
      conditions.push(sql`${runsTable.hyperparameters} @> ${JSON.stringify(filter.hyperparametersContain)}::jsonb`);
    }
    for (const condition of filter.hyperparameters ?? []) conditions.push(...hyperparameterConditions(condition));

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

  async countRuns(): Promise<number> {
    const [row] = await this.db.select({ count: sql<number>`count(*)::int` }).from(runsTable);
    return row?.count ?? 0;
  }

  /** Checkpoints of many runs in one query (for DataLoader), by step then role. */
  async checkpointsOfRuns(runIds: readonly string[]): Promise<CheckpointRow[]> {
    if (runIds.length === 0) return [];
    return this.db.query.checkpointsTable.findMany({
      where: inArray(checkpointsTable.runId, [...runIds]),
      orderBy: [asc(checkpointsTable.step), asc(checkpointsTable.role)],
    });
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

const escapeLike = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

const jsonAt = (column: AnyColumn, path: string[]): SQL =>
  sql`(${column} #> ${`{${path.map((p) => `"${p}"`).join(',')}}`}::text[])`;

/** A JSON number as numeric; NULL for anything else (so comparisons are false, never an error). */
const numberAt = (json: SQL): SQL => sql`(CASE WHEN jsonb_typeof(${json}) = 'number' THEN (${json})::numeric END)`;

function hyperparameterConditions(condition: HyperparameterCondition): SQL[] {
  const json = jsonAt(runsTable.hyperparameters, condition.path);
  const conditions: SQL[] = [];
  if (condition.exists !== undefined)
    conditions.push(condition.exists ? sql`${json} IS NOT NULL` : sql`${json} IS NULL`);
  if (condition.eq !== undefined) conditions.push(sql`${json} = ${JSON.stringify(condition.eq)}::jsonb`);
  if (condition.ne !== undefined) conditions.push(sql`${json} IS DISTINCT FROM ${JSON.stringify(condition.ne)}::jsonb`);
  if (condition.in !== undefined) {
    conditions.push(
      sql`${json} = ANY (ARRAY[${sql.join(
        condition.in.map((v) => sql`${JSON.stringify(v)}::jsonb`),
        sql`, `,
      )}]::jsonb[])`,
    );
  }
  const comparisons = [
    [condition.gt, sql`>`],
    [condition.gte, sql`>=`],
    [condition.lt, sql`<`],
    [condition.lte, sql`<=`],
  ] as const;
  for (const [bound, operator] of comparisons) {
    if (bound !== undefined) conditions.push(sql`${numberAt(json)} ${operator} ${bound}`);
  }
  return conditions;
}

function sortExpression(order: RunOrder): SQL {
  switch (order.field) {
    case 'CREATED_AT':
      return sql`${runsTable.seq}`;
    case 'NAME':
      return sql`${runsTable.name}`;
    case 'REPORTED_METRIC':
      return numberAt(jsonAt(runsTable.reportedMetrics, order.path ?? []));
    case 'HYPERPARAMETER':
      return numberAt(jsonAt(runsTable.hyperparameters, order.path ?? []));
    case 'TEST_ACCURACY':
      return storedEndpointValue('TEST', 'accuracy');
    case 'TEST_LOSS':
      return storedEndpointValue('TEST', 'loss');
    case 'TRAIN_ACCURACY':
      return storedEndpointValue('TRAIN', 'accuracy');
    case 'TRAIN_LOSS':
      return storedEndpointValue('TRAIN', 'loss');
  }
}

/**
 * The run's stored end-point metric, as Run.testAccuracy and friends read it (AnalyticsRepository.endpointPoints):
 * the first stored α = 1 point of a whole-dataset path, not bnStats RECOMPUTE, ending at (an object equal to) the
 * run's FINAL checkpoint, on the split of the dataset the run names. Null when none is stored, or a loss is not finite.
 */
function storedEndpointValue(split: 'TEST' | 'TRAIN', value: 'accuracy' | 'loss'): SQL {
  const metric =
    value === 'accuracy'
      ? sql.raw(`point.correct::float8 / point.n`)
      : sql.raw(
          `CASE WHEN point.loss_sum IN ('NaN'::float8, 'Infinity'::float8, '-Infinity'::float8) THEN NULL ELSE point.loss_sum / point.n END`,
        );
  return sql`(SELECT ${metric}
    FROM checkpoints final
    JOIN checkpoints path_end ON path_end.bucket = final.bucket AND path_end.key = final.key AND path_end.etag = final.etag
    JOIN paths path ON path.to_checkpoint_id = path_end.id
    JOIN path_points point ON point.path_id = path.id
    JOIN datasets dataset ON dataset.id = path.dataset_id
    WHERE final.run_id = ${runsTable.id} AND final.role = 'FINAL'
      AND dataset.name = ${runsTable.datasetName} AND dataset.split = ${split}
      AND point.alpha = 1 AND path.example_count = dataset.example_count AND path.bn_stats <> 'RECOMPUTE'
    ORDER BY point.created_at, point.path_id
    LIMIT 1)`;
}

/** Rows after the cursor in (value direction NULLS LAST, seq ASC) order. */
function afterCursor(value: SQL, direction: RunOrder['direction'], after: RunCursor): SQL {
  if (after.value === null) return sql`(${value} IS NULL AND ${runsTable.seq} > ${after.seq})`;
  const beyond = direction === 'ASC' ? sql`>` : sql`<`;
  return sql`(${value} ${beyond} ${after.value} OR (${value} = ${after.value} AND ${runsTable.seq} > ${after.seq}) OR ${value} IS NULL)`;
}

import { arrayContains, eq, ilike, sql, type AnyColumn, type SQL } from 'drizzle-orm';
import { runsTable } from './registry.tables.js';

export interface RunFilter {
  architecture?: string | undefined;
  datasetName?: string | undefined;
  /** Runs carrying every one of these tags. */
  tags?: string[] | undefined;
  nameContains?: string | undefined;
  /** Exactly the run of this name (the CLI's `--run`). */
  name?: string | undefined;
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

/** The WHERE conditions of a run filter, all of which must hold. */
export function runFilterConditions(filter: RunFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.architecture !== undefined) conditions.push(eq(runsTable.architecture, filter.architecture));
  if (filter.datasetName !== undefined) conditions.push(eq(runsTable.datasetName, filter.datasetName));
  if (filter.tags !== undefined && filter.tags.length > 0) conditions.push(arrayContains(runsTable.tags, filter.tags));
  if (filter.nameContains !== undefined) conditions.push(ilike(runsTable.name, `%${escapeLike(filter.nameContains)}%`));
  if (filter.name !== undefined) conditions.push(eq(runsTable.name, filter.name));
  if (filter.hyperparametersContain !== undefined) {
    conditions.push(sql`${runsTable.hyperparameters} @> ${JSON.stringify(filter.hyperparametersContain)}::jsonb`);
  }
  for (const condition of filter.hyperparameters ?? []) conditions.push(...hyperparameterConditions(condition));
  return conditions;
}

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

export function sortExpression(order: RunOrder): SQL {
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
 * The SQL form of domain/losses.ts reportedMetrics, so that runs sort by the values Run reports.
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
export function afterCursor(value: SQL, direction: RunOrder['direction'], after: RunCursor): SQL {
  if (after.value === null) return sql`(${value} IS NULL AND ${runsTable.seq} > ${after.seq})`;
  const beyond = direction === 'ASC' ? sql`>` : sql`<`;
  return sql`(${value} ${beyond} ${after.value} OR (${value} = ${after.value} AND ${runsTable.seq} > ${after.seq}) OR ${value} IS NULL)`;
}

import { isUuid } from '../../domain/ids.js';
import { badUserInput, notFound } from '../../errors.js';
import type { HyperparameterCondition, RunCursor, RunFilter, RunOrder } from '../../storage/run-query.js';
import type { CheckpointRow, RunRow } from '../../storage/registry.tables.js';
import type { RegistryDeps } from './registry.deps.js';
import { checkCheckpointArchitecture } from './architectures.usecases.js';
import { validateRun } from './registry.validation.js';

export interface CreateRunInput {
  name: string;
  architecture?: string | null | undefined;
  datasetName?: string | null | undefined;
  hyperparameters?: Record<string, unknown> | null | undefined;
  seed?: number | null | undefined;
  tags?: string[] | null | undefined;
  reportedMetrics?: Record<string, unknown> | null | undefined;
}

export async function createRun(deps: Pick<RegistryDeps, 'repository'>, input: CreateRunInput): Promise<RunRow> {
  return deps.repository.insertRun(validateRun(input));
}

export async function getRun(deps: Pick<RegistryDeps, 'repository'>, id: string): Promise<RunRow> {
  const run = isUuid(id) ? await deps.repository.findRunById(id) : undefined;
  if (run === undefined) throw notFound(`no run with id "${id}"`);
  return run;
}

export interface RunPage {
  runs: Array<{ run: RunRow; cursor: string }>;
  hasNextPage: boolean;
}

export const MAX_PAGE_SIZE = 500;

export interface RunOrderInput {
  field: RunOrder['field'];
  direction: RunOrder['direction'];
  /** Dot-separated JSON path, for REPORTED_METRIC and HYPERPARAMETER. */
  path?: string | null | undefined;
}

export interface HyperparameterConditionInput extends Omit<HyperparameterCondition, 'path'> {
  /** Dot-separated JSON path into the hyper-parameters, e.g. "optimizer.lr". */
  path: string;
}

export interface RunFilterInput extends Omit<RunFilter, 'hyperparameters'> {
  hyperparameters?: HyperparameterConditionInput[] | undefined;
}

export async function listRuns(
  deps: Pick<RegistryDeps, 'repository'>,
  args: {
    first: number;
    after?: string | null | undefined;
    filter?: RunFilterInput | null | undefined;
    orderBy?: RunOrderInput | null | undefined;
  },
): Promise<RunPage> {
  if (!Number.isInteger(args.first) || args.first < 0 || args.first > MAX_PAGE_SIZE) {
    throw badUserInput(`first: expected an integer from 0 to ${MAX_PAGE_SIZE}, got ${args.first}`);
  }
  const order = validateOrder(args.orderBy);
  const orderKey = `${order.field}:${order.direction}:${(order.path ?? []).join('.')}`;
  const after = args.after == null ? undefined : decodeCursor(args.after, orderKey);
  const rows = await deps.repository.listRuns(validateFilter(args.filter), order, args.first + 1, after);
  return {
    runs: rows
      .slice(0, args.first)
      .map(({ sortValue, ...run }) => ({ run, cursor: encodeCursor({ value: sortValue, seq: run.seq }, orderKey) })),
    hasNextPage: rows.length > args.first,
  };
}

/** How many runs match the filter, whatever the page. */
export async function countRuns(
  deps: Pick<RegistryDeps, 'repository'>,
  filter: RunFilterInput | null | undefined,
): Promise<number> {
  return deps.repository.countRuns(validateFilter(filter));
}

export function validateFilter(filter: RunFilterInput | null | undefined): RunFilter {
  if (filter == null) return {};
  return {
    ...filter,
    hyperparameters: filter.hyperparameters?.map((condition) => {
      const operators = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'exists'] as const;
      if (!operators.some((op) => condition[op] !== undefined && condition[op] !== null)) {
        throw badUserInput(
          `hyperparameters: condition on "${condition.path}" needs one of ${operators.join(', ')}, got none`,
        );
      }
      const clean = Object.fromEntries(Object.entries(condition).filter(([, v]) => v !== null && v !== undefined));
      return { ...clean, path: jsonPath('hyperparameters', condition.path) } as HyperparameterCondition;
    }),
  };
}

function validateOrder(order: RunOrderInput | null | undefined): RunOrder {
  if (order == null) return { field: 'CREATED_AT', direction: 'ASC' };
  const needsPath = order.field === 'REPORTED_METRIC' || order.field === 'HYPERPARAMETER';
  if (needsPath !== (order.path != null)) {
    throw badUserInput(
      needsPath
        ? `orderBy: ${order.field} needs a path (e.g. "testAccuracy"), got none`
        : `orderBy: ${order.field} takes no path, got "${order.path}"`,
    );
  }
  return {
    field: order.field,
    direction: order.direction,
    path: order.path == null ? undefined : jsonPath('orderBy.path', order.path),
  };
}

/** "optimizer.lr" → ["optimizer", "lr"]; segments of letters, digits, _ and -. */
function jsonPath(field: string, path: string): string[] {
  const segments = path.split('.');
  if (path.length > 200 || segments.some((s) => !/^[A-Za-z0-9_-]+$/.test(s))) {
    throw badUserInput(
      `${field}: expected a dot-separated path of names (letters, digits, _ and -), got "${path.slice(0, 220)}"`,
    );
  }
  return segments;
}

const encodeCursor = (cursor: RunCursor, orderKey: string): string =>
  Buffer.from(JSON.stringify([cursor.value, cursor.seq, orderKey])).toString('base64url');

function decodeCursor(text: string, orderKey: string): RunCursor {
  const invalid = () =>
    badUserInput(
      `after: expected a cursor returned by runs { edges { cursor } } with the same orderBy, got "${text.slice(0, 100)}"`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw invalid();
  const [value, seq, key] = parsed as [unknown, unknown, unknown];
  // The sort value's type follows the order: a name is text, creation order and metrics are numbers.
  const field = orderKey.slice(0, orderKey.indexOf(':'));
  const valueFits =
    field === 'NAME'
      ? typeof value === 'string'
      : field === 'CREATED_AT'
        ? Number.isSafeInteger(value)
        : value === null || Number.isFinite(value);
  if (key !== orderKey || !Number.isSafeInteger(seq) || !valueFits) throw invalid();
  return { value: value as RunCursor['value'], seq: seq as number };
}

export async function checkpointsOfRun(
  deps: Pick<RegistryDeps, 'repository'>,
  runId: string,
): Promise<CheckpointRow[]> {
  return deps.repository.checkpointsOfRun(runId);
}

/** What `updateRun` changes: absent fields stay; null clears a field that may be empty. */
export interface UpdateRunInput {
  /** A run id, or the name of a run. */
  run: string;
  architecture?: string | null | undefined;
  datasetName?: string | null | undefined;
  /** Replaces the hyper-parameters. */
  hyperparameters?: Record<string, unknown> | null | undefined;
  seed?: number | null | undefined;
  /** Replaces the tags. */
  tags?: string[] | null | undefined;
  reportedMetrics?: Record<string, unknown> | null | undefined;
}

/** The run of that id or name; NOT_FOUND naming what was asked for. */
export async function findRun(deps: Pick<RegistryDeps, 'repository'>, idOrName: string): Promise<RunRow> {
  const key = idOrName.trim();
  const run = isUuid(key) ? await deps.repository.findRunById(key) : await deps.repository.findRunByName(key);
  if (run === undefined) throw notFound(`no run with id or name "${key}"`);
  return run;
}

/**
 * Describes a run after the fact (an imported run without its dataset, tags, hyper-parameters or
 * architecture). A new architecture is checked against every checkpoint of the run first and then set on the
 * run and on all its checkpoints, so that their paths can be planned.
 */
export async function updateRun(deps: Pick<RegistryDeps, 'repository'>, input: UpdateRunInput): Promise<RunRow> {
  const run = await findRun(deps, input.run);
  const valid = validateRun({
    name: run.name,
    architecture: input.architecture,
    datasetName: input.datasetName,
    hyperparameters: input.hyperparameters,
    seed: input.seed,
    tags: input.tags,
    reportedMetrics: input.reportedMetrics,
  });
  const patch: Parameters<RegistryDeps['repository']['updateRun']>[1] = {};
  if (input.architecture !== undefined) patch.architecture = valid.architecture;
  if (input.datasetName !== undefined) patch.datasetName = valid.datasetName;
  if (input.hyperparameters !== undefined) patch.hyperparameters = valid.hyperparameters;
  if (input.seed !== undefined) patch.seed = valid.seed;
  if (input.tags !== undefined) patch.tags = valid.tags;
  if (input.reportedMetrics !== undefined) patch.reportedMetrics = valid.reportedMetrics;
  if (patch.architecture != null) {
    for (const checkpoint of await deps.repository.checkpointsOfRun(run.id)) {
      await checkCheckpointArchitecture(deps, patch.architecture, checkpoint.header.tensors);
    }
  }
  if (Object.keys(patch).length === 0) return run;
  return (await deps.repository.updateRun(run.id, patch))!;
}

import { LRUCache } from 'lru-cache';
import { isLinpathError, notFound, type LinpathError } from '../../errors.js';
import type { CheckpointRef, CheckpointRow, DatasetRow } from '../../storage/registry.tables.js';
import {
  decodeSummary,
  encodeSummary,
  gridKey,
  summarizeCurve,
  SUMMARY_VERSION,
  type CurveBarriers,
  type CurvePoint,
  type CurveSummary,
} from './curve-summaries.js';
import { endpointsOf, planPathOf } from './path-plan.js';
import type { PathDeps } from './paths.deps.js';
import { DEFAULT_ALPHAS, validateAlphas } from './paths.usecases.js';

/**
 * One path of storedPointsOfRows: checkpoints already read (with their tensor headers, or without: then read by
 * id when the path must be planned); the dataset read, or how to read it.
 */
export interface StoredPathRequest {
  from: CheckpointRef;
  to: CheckpointRef;
  dataset: DatasetRow | (() => Promise<DatasetRow>);
  blocks?: readonly string[] | null | undefined;
  limit?: number | null | undefined;
}

/**
 * The stored points of a path (of the requested alphas, by α) and the alphas it lacks; for a finished curve
 * (none lacking) also its barrier measures with default options, from its summary.
 */
export interface StoredCurve {
  points: CurvePoint[];
  missingAlphas: number[];
  barriers?: CurveBarriers;
}

/**
 * The stored points of many paths whose checkpoints (and datasets) are already read, evaluating and writing
 * nothing but summaries: what analytics read before deciding whether to spend an evaluation. A finished curve
 * comes from memory (CurveCache) or from its stored summary; the rest from their points, and those found
 * finished get their summary stored. At most five queries for any number of paths (the headers of checkpoints
 * given without them, for the paths this process has not planned before; the paths with their summaries; the
 * points of those without; the new summaries, by the thousand), one or none once summarised.
 * A request that does not plan (checkpoints that do not fit their architecture, a dataset that is not there)
 * gets its error.
 */
export async function storedPointsOfRows(
  deps: PathDeps,
  requests: readonly StoredPathRequest[],
  alphas: readonly number[] = DEFAULT_ALPHAS,
): Promise<Array<StoredCurve | LinpathError>> {
  const valid = validateAlphas(alphas, deps.settings);
  const grid = gridKey(valid);
  // Planning builds the model graph and hashes the identity: done once per request's rows, then remembered.
  const identities = requests.map((rows) =>
    typeof rows.dataset === 'function'
      ? undefined
      : JSON.stringify([
          [rows.from.id, rows.from.uri, rows.from.etag, rows.from.size, rows.from.architecture],
          [rows.to.id, rows.to.uri, rows.to.etag, rows.to.size, rows.to.architecture],
          datasetIdentity(rows.dataset),
          rows.blocks ?? null,
          rows.limit ?? null,
        ]),
  );
  const knownKeys = identities.map((identity) => (identity === undefined ? undefined : deps.curves?.getKey(identity)));
  // The tensor headers of the checkpoints to plan with that were given without them, in one query.
  const headerless = requests.flatMap((rows, i) =>
    knownKeys[i] !== undefined ? [] : [rows.from, rows.to].filter((c) => !('header' in c)).map((c) => c.id),
  );
  const full = new Map((await deps.registry.findCheckpointsByIds(headerless)).map((c) => [c.id, c]));
  const withHeader = (c: CheckpointRef, field: string): CheckpointRow => {
    const row = 'header' in c ? (c as CheckpointRow) : full.get(c.id);
    if (row === undefined) throw notFound(`${field}: no checkpoint with id "${c.id}"`);
    return row;
  };
  const plans = await Promise.all(
    requests.map(async (rows, i): Promise<{ key: string } | LinpathError> => {
      const known = knownKeys[i];
      if (known !== undefined) return { key: known };
      const identity = identities[i];
      const dataset = rows.dataset;
      try {
        const datasetOf = typeof dataset === 'function' ? dataset : async () => dataset;
        const input = { from: rows.from.id, to: rows.to.id, dataset: '', blocks: rows.blocks, limit: rows.limit };
        const [from, to] = [withHeader(rows.from, 'from'), withHeader(rows.to, 'to')];
        const plan = await planPathOf(deps, await endpointsOf(deps, from, to, rows.blocks), datasetOf, input);
        if (identity !== undefined) deps.curves?.setKey(identity, plan.key);
        return plan;
      } catch (error) {
        if (isLinpathError(error)) return error;
        throw error;
      }
    }),
  );

  const finished = new Map<string, CurveSummary>();
  const unknown: string[] = [];
  for (const plan of plans) {
    if (isLinpathError(plan)) continue;
    const cached = deps.curves?.get(plan.key, grid);
    if (cached !== undefined) finished.set(plan.key, cached);
    else unknown.push(plan.key);
  }
  const paths = await deps.paths.findPathsWithSummaries(unknown, grid, SUMMARY_VERSION);
  const unsummarised = new Map<string, string>(); // path id → key
  for (const path of paths) {
    if (path.summary === null) unsummarised.set(path.id, path.key);
    else remember(deps, finished, path.key, grid, decodeSummary(path.id, path.summary));
  }

  const points = await deps.paths.pointsOfPaths([...unsummarised.keys()], valid);
  const partial = new Map<string, CurvePoint[]>();
  for (const point of points) {
    const key = unsummarised.get(point.pathId)!;
    const list = partial.get(key);
    if (list === undefined) partial.set(key, [point]);
    else list.push(point);
  }
  const summaries: Array<{ pathId: string; grid: string; version: string; summary: Record<string, unknown> }> = [];
  for (const [key, curve] of partial) {
    if (curve.length !== valid.length) continue;
    const summary = summarizeCurve(curve);
    summaries.push({ pathId: curve[0]!.pathId, grid, version: SUMMARY_VERSION, summary: encodeSummary(summary) });
    remember(deps, finished, key, grid, summary);
    partial.delete(key);
  }
  await deps.paths.storeSummaries(summaries);

  return plans.map((plan) => {
    if (isLinpathError(plan)) return plan;
    const summary = finished.get(plan.key);
    if (summary !== undefined) return { points: summary.points, missingAlphas: [], barriers: summary.barriers };
    const stored = partial.get(plan.key) ?? [];
    const have = new Set(stored.map((p) => p.alpha));
    return { points: stored, missingAlphas: valid.filter((a) => !have.has(a)) };
  });
}

function remember(
  deps: Pick<PathDeps, 'curves'>,
  finished: Map<string, CurveSummary>,
  key: string,
  grid: string,
  summary: CurveSummary,
): void {
  finished.set(key, summary);
  deps.curves?.set(key, grid, summary);
}

/**
 * Keeps a curve just found finished (every α of `alphas` stored): its summary stored and cached, unless this
 * process has it already. One statement the first time, none after.
 */
export async function rememberFinishedCurve(
  deps: Pick<PathDeps, 'paths' | 'curves'>,
  key: string,
  alphas: readonly number[],
  points: readonly CurvePoint[],
): Promise<void> {
  const grid = gridKey(alphas);
  if (points.length !== alphas.length || deps.curves?.get(key, grid) !== undefined) return;
  // One point has no barrier measures (they need two): nothing to summarize, and the request must not fail.
  if (points.length < 2) return;
  const summary = summarizeCurve(points);
  await deps.paths.storeSummaries([
    { pathId: points[0]!.pathId, grid, version: SUMMARY_VERSION, summary: encodeSummary(summary) },
  ]);
  deps.curves?.set(key, grid, summary);
}

/**
 * Every column of a dataset row (its view is part of a path's key), as a short token: the same columns always
 * give the same token, and a token is never given to other columns. The identities of a correlation's 10,000
 * requests are map keys; with the row's JSON (~1.5 KB) in each, looking them up cost about 0.6 s.
 */
const datasetIdentities = new WeakMap<DatasetRow, string>();
const datasetTokens = new LRUCache<string, string>({ max: 1000 });
let nextDatasetToken = 0;
function datasetIdentity(dataset: DatasetRow): string {
  let identity = datasetIdentities.get(dataset);
  if (identity === undefined) {
    const columns = JSON.stringify(dataset);
    identity = datasetTokens.get(columns);
    if (identity === undefined) {
      identity = `dataset-${nextDatasetToken++}`;
      datasetTokens.set(columns, identity);
    }
    datasetIdentities.set(dataset, identity);
  }
  return identity;
}

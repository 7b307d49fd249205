import { isUuid } from '../../domain/ids.js';
import { isLinpathError, notFound } from '../../errors.js';
import type { CheckpointRow, RunRow } from '../../storage/registry.tables.js';
import type { ResolvedEnds } from '../paths/endpoint-selectors.js';
import { endpointsOf } from '../paths/path-plan.js';
import { pathStates } from '../paths/path-states.js';
import { waitForPaths } from '../paths/path-waits.js';
import { interpolationPath, type PathResult } from '../paths/paths.usecases.js';
import { storedPointsOfRows, type StoredCurve } from '../paths/stored-points.js';
import { pathBarriers } from './barriers.usecases.js';
import type { CurveBarriers } from '../paths/curve-summaries.js';
import type { AnalyticsDeps } from './analytics.deps.js';
import { PENDING_REASON } from './run-metrics.usecases.js';

/** A finished curve: its points (by α) and their barrier measures (default options). */
export interface Curve {
  points: StoredCurve['points'];
  barriers: CurveBarriers;
}

export interface RunCurves {
  run: RunRow;
  /** The whole-model curve between the selected ends, every requested α, and its barrier measures. */
  whole: Curve;
  blocks: Array<{ block: string } & Curve>;
}

export interface CurvesInput {
  dataset: string;
  alphas: readonly number[];
  limit?: number | null | undefined;
  /** Also the block-wise curves. */
  blocks: boolean;
  /** Most paths to queue. */
  budget: number;
  timeoutMs: number;
}

/**
 * The whole-model and block-wise curves of runs between their selected ends (`ends`, from `resolveEndpoints` of
 * paths/endpoint-selectors.ts: INITIAL → FINAL by default), for the report: what is stored is read for all
 * runs at once (the dataset, the paths by key, their points: a fixed number of queries); a run with a missing
 * curve has all of its curves queued (bulk), within the budget of paths, and awaited together. Runs without
 * every curve are listed with why, in run order.
 */
export async function runCurves(
  deps: AnalyticsDeps,
  runs: readonly RunRow[],
  ends: ReadonlyMap<string, ResolvedEnds>,
  input: CurvesInput,
): Promise<{ curves: RunCurves[]; missing: Array<{ run: RunRow; reason: string }> }> {
  // Reasons found before waiting come first, in run order; then those of the awaited paths.
  const early: Array<{ index: number; run: RunRow; reason: string }> = [];
  const index = new Map(runs.map((run, i) => [run.id, i]));
  const leaveOut = (run: RunRow, reason: string) => early.push({ index: index.get(run.id)!, run, reason });
  const planned: Array<{ run: RunRow; from: CheckpointRow; to: CheckpointRow; blocks: string[] }> = [];
  for (const run of runs) {
    const selected = ends.get(run.id);
    if (selected === undefined || 'missing' in selected) {
      leaveOut(run, selected?.missing ?? 'the run has no selected end points');
      continue;
    }
    const { from, to } = selected;
    try {
      const { graph } = await endpointsOf(deps.paths, from, to, null);
      planned.push({ run, from, to, blocks: input.blocks ? graph.blocks : [] });
    } catch (error) {
      if (!isLinpathError(error)) throw error;
      leaveOut(run, `${error.code}: ${error.message}`);
    }
  }
  const sorted = () => early.sort((a, b) => a.index - b.index).map(({ run, reason }) => ({ run, reason }));
  if (planned.length === 0) return { curves: [], missing: sorted() };
  const dataset = isUuid(input.dataset) ? await deps.paths.registry.findDataset(input.dataset) : undefined;
  if (dataset === undefined) throw notFound(`dataset: no dataset with id "${input.dataset}"`);

  const requests = planned.flatMap((p) =>
    [null, ...p.blocks.map((b) => [b])].map((blocks) => ({
      from: p.from,
      to: p.to,
      dataset,
      blocks,
      limit: input.limit,
    })),
  );
  const stored = await storedPointsOfRows(deps.paths, requests, input.alphas);
  // Per run, in run order: its stored curves, or the paths queued for it.
  const outcomes: Array<RunCurves | { run: RunRow; pathIds: string[]; blocks: string[] }> = [];
  let queued = 0;
  let offset = 0;
  for (const plan of planned) {
    const own = stored.slice(offset, offset + 1 + plan.blocks.length);
    const ownRequests = requests.slice(offset, offset + 1 + plan.blocks.length);
    offset += 1 + plan.blocks.length;
    const failed = own.find(isLinpathError);
    if (failed !== undefined) {
      leaveOut(plan.run, `${failed.code}: ${failed.message}`);
      continue;
    }
    const results = own as StoredCurve[];
    const needed = results.filter((r) => r.missingAlphas.length > 0).length;
    if (needed === 0) {
      outcomes.push({
        run: plan.run,
        whole: curveOf(results[0]!),
        blocks: plan.blocks.map((block, i) => ({ block, ...curveOf(results[i + 1]!) })),
      });
      continue;
    }
    // A run whose curves would pass the budget is left out whole.
    if (queued + needed > input.budget) {
      leaveOut(plan.run, `not evaluated: maxEvaluations (${input.budget} paths) reached`);
      continue;
    }
    queued += needed;
    try {
      const states: PathResult[] = [];
      for (const request of ownRequests) {
        const { from, to, blocks, limit } = request;
        const pathInput = { from: from.id, to: to.id, dataset: dataset.id, alphas: input.alphas, limit, blocks };
        states.push(await interpolationPath(deps.paths, pathInput, { wait: false, priority: 'bulk' }));
      }
      outcomes.push({ run: plan.run, pathIds: states.map((s) => s.path.id), blocks: plan.blocks });
    } catch (error) {
      if (!isLinpathError(error)) throw error;
      leaveOut(plan.run, `${error.code}: ${error.message}`);
    }
  }

  const waiting = outcomes.flatMap((o) =>
    'pathIds' in o ? o.pathIds.map((pathId) => ({ pathId, alphas: input.alphas })) : [],
  );
  if (waiting.length > 0) await waitForPaths(deps.paths, waiting, input.timeoutMs);
  const states = waiting.length === 0 ? new Map<string, PathResult>() : await pathStates(deps.paths, waiting);
  const curves: RunCurves[] = [];
  const missing = sorted();
  for (const outcome of outcomes) {
    if ('whole' in outcome) curves.push(outcome);
    else {
      const all = outcome.pathIds.map((id) => states.get(id)!);
      const failed = all.find((s) => s.failure !== null);
      if (failed !== undefined)
        missing.push({ run: outcome.run, reason: `${failed.failure!.code}: ${failed.failure!.message}` });
      else if (all.some((s) => s.status !== 'COMPLETE')) missing.push({ run: outcome.run, reason: PENDING_REASON });
      else
        curves.push({
          run: outcome.run,
          whole: curveOf(all[0]!),
          blocks: outcome.blocks.map((block, i) => ({ block, ...curveOf(all[i + 1]!) })),
        });
    }
  }
  return { curves, missing };
}

const curveOf = (curve: Pick<StoredCurve, 'points' | 'barriers'>): Curve => ({
  points: curve.points,
  barriers: curve.barriers ?? pathBarriers(curve.points),
});

import { isSettled, pathStatus, type PathStatus } from '../domain/path-status.js';
import { badUserInput, isLinpathError } from '../errors.js';
import { EVALUATE_QUEUE } from '../queue/eval-queue.js';
import type { RunRow } from '../storage/registry.tables.js';
import { resolveEndpoints } from './paths/path-plan.js';
import type { PathDeps } from './paths/paths.deps.js';
import { DEFAULT_ALPHAS, interpolationPath } from './paths/paths.usecases.js';
import {
  checkEndpoint,
  checkEndpointPair,
  label,
  resolveEndpoints as selectEndpoints,
  type EndpointDeps,
  type EndpointInput,
} from './paths/endpoint-selectors.js';
import { validateFilter, type RunFilterInput } from './registry/runs.usecases.js';

/** Most runs one sweep may cover. */
const MAX_SWEEP_RUNS = 1000;

export interface SweepInput {
  runs?: RunFilterInput | null | undefined;
  dataset: string;
  /** Default INITIAL → FINAL of each run; or another selector (an intermediate by step, another run's state, a seeded random state). */
  from?: EndpointInput | undefined;
  to?: EndpointInput | undefined;
  /** undefined: the whole model only; 'all': the whole model and each top-level block; else these blocks, one path each. */
  blocks?: 'all' | readonly string[] | undefined;
  alphas?: readonly number[] | null | undefined;
  limit?: number | null | undefined;
  engine?: 'onnx' | 'tfjs' | null | undefined;
}

export interface SweepPath {
  run: Pick<RunRow, 'id' | 'name'>;
  /** null: the whole model. */
  block: string | null;
  pathId: string;
}

export interface Sweep {
  /** The end points as selected, e.g. "random seed 7" → "FINAL". */
  ends: { from: string; to: string };
  alphas: readonly number[];
  paths: SweepPath[];
  /** Runs (or run × block) that could not be queued, with the reason. */
  skipped: Array<{ run: Pick<RunRow, 'id' | 'name'>; block: string | null; reason: string }>;
}

export interface SweepProgress {
  done: number;
  total: number;
  /** Paths by status. */
  paths: Record<PathStatus, number>;
  failures: Array<{ pathId: string; code: string; message: string }>;
  settled: boolean;
}

/**
 * Queues every missing point of the paths of the runs matching a filter (each run's `from` → `to`
 * checkpoints, the whole model and optionally each block) at bulk priority, behind interactive requests.
 * Returns at once; `sweepProgress` tells how far the workers are.
 */
export async function enqueueSweep(
  deps: PathDeps & Pick<EndpointDeps, 'randomInit'>,
  input: SweepInput,
): Promise<Sweep> {
  const fromEnd = checkEndpoint('from', input.from, 'INITIAL');
  const toEnd = checkEndpoint('to', input.to, 'FINAL');
  checkEndpointPair(fromEnd, toEnd);
  const runs = await deps.registry.listRuns(
    validateFilter(input.runs),
    { field: 'CREATED_AT', direction: 'ASC' },
    MAX_SWEEP_RUNS + 1,
    undefined,
  );
  if (runs.length > MAX_SWEEP_RUNS)
    throw badUserInput(`runs: expected at most ${MAX_SWEEP_RUNS} runs per sweep, the filter matches more; narrow it`);
  if (runs.length === 0) throw badUserInput('runs: the filter matches no run');
  const checkpoints = await deps.registry.checkpointsOfRuns(runs.map((r) => r.id));
  const ends = await selectEndpoints(deps, runs, checkpoints, fromEnd, toEnd);

  const sweep: Sweep = {
    ends: { from: label(fromEnd), to: label(toEnd) },
    alphas: input.alphas ?? DEFAULT_ALPHAS,
    paths: [],
    skipped: [],
  };
  for (const { sortValue: _sortValue, ...run } of runs) {
    const named = { id: run.id, name: run.name };
    const selected = ends.get(run.id)!;
    if ('missing' in selected) {
      sweep.skipped.push({ run: named, block: null, reason: selected.missing });
      continue;
    }
    const { from, to } = selected;
    let blocks: Array<string | null>;
    try {
      const { graph } = await resolveEndpoints(deps, { from: from.id, to: to.id });
      blocks =
        input.blocks === undefined ? [null] : input.blocks === 'all' ? [null, ...graph.blocks] : [...input.blocks];
    } catch (error) {
      if (!isLinpathError(error)) throw error;
      sweep.skipped.push({ run: named, block: null, reason: `${error.code}: ${error.message}` });
      continue;
    }
    for (const block of blocks) {
      try {
        const result = await interpolationPath(
          deps,
          {
            from: from.id,
            to: to.id,
            dataset: input.dataset,
            blocks: block === null ? null : [block],
            alphas: input.alphas,
            limit: input.limit,
            engine: input.engine,
          },
          { wait: false, priority: 'bulk' },
        );
        sweep.paths.push({ run: named, block, pathId: result.path.id });
      } catch (error) {
        if (!isLinpathError(error)) throw error;
        // The dataset is the same for every run: a dataset that is not there fails the sweep, not each run.
        if (error.code === 'NOT_FOUND' && error.message.startsWith('dataset:')) throw error;
        sweep.skipped.push({ run: named, block, reason: `${error.code}: ${error.message}` });
      }
    }
  }
  return sweep;
}

/** How far the paths of a sweep are, read in three queries however many paths there are. */
export async function sweepProgress(
  deps: Pick<PathDeps, 'paths'>,
  sweep: Pick<Sweep, 'alphas' | 'paths'>,
): Promise<SweepProgress> {
  const ids = sweep.paths.map((p) => p.pathId);
  const snapshot = await deps.paths.snapshot(ids, EVALUATE_QUEUE);
  const alphas = [...new Set(sweep.alphas.map((a) => (a === 0 ? 0 : a)))];
  const progress: SweepProgress = {
    done: 0,
    total: 0,
    paths: { PENDING: 0, RUNNING: 0, PARTIAL: 0, COMPLETE: 0, FAILED: 0 },
    failures: [],
    settled: true,
  };
  for (const path of snapshot.paths) {
    const state = pathStatus({
      alphas,
      points: snapshot.points.filter((p) => p.pathId === path.id),
      tasks: snapshot.tasks.filter((t) => t.pathId === path.id),
      failed: path.failureCode !== null,
    });
    progress.done += state.progress.done;
    progress.total += state.progress.total;
    progress.paths[state.status]++;
    if (path.failureCode !== null)
      progress.failures.push({ pathId: path.id, code: path.failureCode, message: path.failureMessage ?? '' });
    if (!isSettled(state.status)) progress.settled = false;
  }
  return progress;
}

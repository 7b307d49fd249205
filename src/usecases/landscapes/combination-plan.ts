import { combinationKey } from '../../domain/combination-key.js';
import type { BnStatsMode } from '../../domain/blocks.js';
import { isUuid } from '../../domain/ids.js';
import { badUserInput, isLinpathError, LinpathError, notFound } from '../../errors.js';
import type { CombinationRow } from '../../storage/combinations.tables.js';
import type { CheckpointRow } from '../../storage/registry.tables.js';
import { datasetView, endpointsOf, findCheckpoint, identity, planPathOf, type PathPlan } from '../paths/path-plan.js';
import type { PathDeps } from '../paths/paths.deps.js';

/** The evaluation settings every plane and curve takes, as a path does. */
export interface EvaluationInput {
  dataset: string;
  limit?: number | null | undefined;
  bnStats?: BnStatsMode | null | undefined;
  bnStatsDataset?: string | null | undefined;
  bnStatsExamples?: number | null | undefined;
}

/** A checkpoint (or direction) a combination reads, with the input field that named it (for messages). */
export interface NamedState {
  field: string;
  id: string;
}

export interface CombinationPlan {
  /** The states in the order of the coefficients. */
  states: CheckpointRow[];
  architecture: string;
  /** The checks and settings of a path between the first two states: dataset, examples, BatchNorm, graph. */
  base: PathPlan;
  key: string;
}

/** BatchNorm modes of planes and curves: KEEP_TO has no `to` among several states. */
const COMBINATION_BN_MODES: readonly BnStatsMode[] = ['INTERPOLATE', 'RECOMPUTE'];

/**
 * Checks a combination of registered states (one architecture, the same tensors) on a dataset, as a path's
 * checks go (path-plan.ts, between the first state and each other one), and computes its memo key; reads no
 * tensors.
 */
export async function planCombination(
  deps: Pick<PathDeps, 'registry' | 'settings' | 'architectures'>,
  named: readonly NamedState[],
  input: EvaluationInput,
): Promise<CombinationPlan> {
  const bnStats = input.bnStats ?? 'INTERPOLATE';
  if (!COMBINATION_BN_MODES.includes(bnStats)) {
    throw badUserInput(
      `bnStats: planes and curves take ${COMBINATION_BN_MODES.join(' or ')} (KEEP_TO keeps the statistics of a path's \`to\`, and a combination of several states has none), got "${bnStats}"`,
    );
  }
  const states: CheckpointRow[] = [];
  for (const state of named) states.push(await findCheckpoint(deps, state.field, state.id));
  const first = named[0]!;
  let base: PathPlan | undefined;
  for (const [i, state] of states.entries()) {
    if (i === 0) continue;
    const endpoints = await endpointsOf(deps, state, states[0]!, null).catch((error: unknown) => {
      if (!isLinpathError(error)) throw error;
      throw new LinpathError(
        error.code,
        `${named[i]!.field} and ${first.field}: ${error.message.replace(/^from and to/, 'both')}`,
      );
    });
    base ??= await planPathOf(
      deps,
      endpoints,
      async () => {
        const dataset = isUuid(input.dataset) ? await deps.registry.findDataset(input.dataset) : undefined;
        if (dataset === undefined) throw notFound(`dataset: no dataset with id "${input.dataset}"`);
        return dataset;
      },
      { from: state.id, to: states[0]!.id, ...input, bnStats },
    );
  }
  if (base === undefined) throw new Error('planCombination: a combination needs at least two states');
  const architecture = states[0]!.architecture ?? base.graph.architecture;
  const key = combinationKey({
    architecture,
    architectureSha256: base.graph.onnx?.sha256,
    states: states.map(identity),
    dataset: {
      object: identity(base.dataset),
      labels:
        base.dataset.labelsUri == null
          ? undefined
          : { uri: base.dataset.labelsUri, etag: base.dataset.labelsEtag ?? '', size: base.dataset.labelsSize ?? 0 },
      view: datasetView(base.dataset),
    },
    exampleCount: base.limit,
    bnStats,
    bnStatsData:
      base.bnStatsData === undefined
        ? undefined
        : {
            object: identity(base.bnStatsData.dataset),
            view: datasetView(base.bnStatsData.dataset),
            exampleCount: base.bnStatsData.limit,
          },
  });
  return { states, architecture, base, key };
}

/**
 * The plan of a stored combination as a worker evaluates it, checked against its key: a registry entry changed
 * since it was requested fails it (CONFLICT) instead of mixing two models into one plane.
 */
export async function planOfCombination(
  deps: Pick<PathDeps, 'registry' | 'settings' | 'architectures'>,
  combination: CombinationRow,
): Promise<CombinationPlan> {
  const plan = await planCombination(
    { ...deps, settings: { ...deps.settings, maxExamples: Number.MAX_SAFE_INTEGER } },
    combination.states.map((id, i) => ({ field: `states[${i}]`, id })),
    {
      dataset: combination.datasetId,
      limit: combination.exampleCount,
      bnStats: combination.bnStats as BnStatsMode,
      bnStatsDataset: combination.bnStatsDatasetId,
      bnStatsExamples: combination.bnStatsExamples,
    },
  );
  if (plan.key !== combination.key) {
    throw new LinpathError(
      'CONFLICT',
      `combination ${combination.id}: its checkpoints or dataset were registered anew since it was requested; ask again`,
    );
  }
  return plan;
}

import type { PathDeps } from '../paths/paths.deps.js';
import { examplesPerAlpha } from '../paths/paths.usecases.js';
import type { CombinationPlan } from './combination-plan.js';

/** What a plane or curve request costs, known before anything is queued. */
export interface CostEstimate {
  /** The combination, when one exists already (its points are shared by every plane over the same states). */
  combinationId: string | null;
  points: number;
  stored: number;
  toCompute: number;
  /** Examples evaluated per point. */
  examplesPerPoint: number;
  /** bnStats RECOMPUTE: examples of the training-mode pass that recomputes BatchNorm statistics at every point. */
  bnStatsExamplesPerPoint: number | null;
  /** Forward passes of the points to compute, in examples (RECOMPUTE's passes counted at half depth per layer). */
  forwardExamples: number;
  parameterCount: number;
  /** Seconds of one worker: from this combination's stored points when it has some, else from the model's size. */
  estimatedSeconds: number;
  estimatedFrom: 'STORED_POINTS' | 'MODEL_SIZE';
  note: string;
}

/**
 * Parameter·examples one worker evaluates per second, for estimates without measured points: the rate the
 * queue's job sizing assumes (paths.usecases.ts jobChunk: 3·10¹⁰ in about 10 s on two CPU cores).
 */
const PARAMETER_EXAMPLES_PER_SECOND = 3e9;

/** The cost of `keys` of a combination: how many are stored, how many to compute, and about how long. */
export async function costOf(
  deps: Pick<PathDeps, 'combinations'>,
  plan: CombinationPlan,
  keys: readonly string[],
): Promise<CostEstimate> {
  const combination = await deps.combinations.findByKey(plan.key);
  const stored = combination === undefined ? [] : await deps.combinations.points(combination.id, keys);
  const toCompute = keys.length - stored.length;
  const perPoint = examplesPerAlpha(plan.base);
  const parameterCount = plan.states[0]!.parameterCount;
  const measured =
    stored.length === 0 ? undefined : stored.reduce((sum, p) => sum + p.durationMs, 0) / stored.length / 1000;
  const statsExamples = plan.base.bnStatsData?.limit ?? null;
  const estimatedSeconds = toCompute * (measured ?? (parameterCount * perPoint) / PARAMETER_EXAMPLES_PER_SECOND);
  return {
    combinationId: combination?.id ?? null,
    points: keys.length,
    stored: stored.length,
    toCompute,
    examplesPerPoint: plan.base.limit,
    bnStatsExamplesPerPoint: statsExamples,
    forwardExamples: toCompute * perPoint,
    parameterCount,
    estimatedSeconds,
    estimatedFrom: measured === undefined ? 'MODEL_SIZE' : 'STORED_POINTS',
    note:
      statsExamples === null
        ? `${toCompute} of ${keys.length} points to compute, ${plan.base.limit} examples each`
        : `bnStats RECOMPUTE is expensive: every one of the ${toCompute} points to compute first recomputes the BatchNorm statistics with a training-mode pass over ${statsExamples} examples, then evaluates ${plan.base.limit} examples (${(perPoint / plan.base.limit).toFixed(1)}× the passes of INTERPOLATE)`,
  };
}

import {
  classifyLayerwise,
  type BarrierMetrics,
  type BarrierOptions,
  type LayerwiseClassification,
} from '../../domain/barrier.metrics.js';
import { badUserInput, LinpathError } from '../../errors.js';
import { resolveEndpoints } from '../paths/path-plan.js';
import { pathStates } from '../paths/path-states.js';
import { waitForPaths } from '../paths/path-waits.js';
import {
  interpolationPath,
  DEFAULT_ALPHAS,
  type InterpolationPathInput,
  type PathResult,
} from '../paths/paths.usecases.js';
import type { AnalyticsDeps } from './analytics.deps.js';
import { pathBarriers } from './barriers.usecases.js';
import { reportedMetrics } from '../../domain/losses.js';

export interface BlockwiseInput extends Omit<InterpolationPathInput, 'blocks'> {
  /** Default: the architecture's top-level blocks. */
  blocks?: readonly string[] | null | undefined;
  /** A block is HIGH when its barrier exceeds relativeThreshold × the end point's loss. */
  relativeThreshold?: number | null | undefined;
  barrier?: BarrierOptions | undefined;
}

export interface BlockwiseResult {
  paths: Array<{ block: string; result: PathResult; loss: BarrierMetrics }>;
  /** Loss of θ_to, where every block-wise path ends (α = 1); null when it is not finite. */
  endpointLoss: number | null;
  classification: LayerwiseClassification | null;
}

/**
 * One path per block, each moving only that block (Vlaar & Frankle 2022, Fig. 1B), and the classification
 * of their barriers as high or low (Table 1: H-LB / L-LB) by each block's height above its end points.
 */
export async function blockwisePaths(deps: AnalyticsDeps, input: BlockwiseInput): Promise<BlockwiseResult> {
  const { graph } = await resolveEndpoints(deps.paths, { from: input.from, to: input.to });
  if (input.alphas != null && !(input.alphas.includes(0) && input.alphas.includes(1))) {
    throw badUserInput(
      `alphas: block-wise barriers are measured against the curves' end points, so alphas must include 0 and 1, got [${input.alphas.join(', ')}]`,
    );
  }
  const blocks = input.blocks ?? graph.blocks;
  if (blocks.length === 0) throw badUserInput('blocks: expected at least one block, got []');
  const distinctBlocks = new Set(blocks).size;
  if (distinctBlocks > deps.limits.maxBlocks) {
    throw badUserInput(
      `blocks: expected at most ${deps.limits.maxBlocks} blocks per request (LINPATH_MAX_BLOCKS), got ${distinctBlocks}`,
    );
  }
  const paths: BlockwiseResult['paths'] = [];
  // All blocks are queued first, so that every worker can take one; then they are awaited together.
  const requested: Array<{ block: string; pathId: string; alphas: number[] }> = [];
  for (const block of new Set(blocks)) {
    const state = await interpolationPath(
      deps.paths,
      { ...input, blocks: [block] },
      { wait: false, priority: 'interactive' },
    );
    requested.push({
      block,
      pathId: state.path.id,
      alphas: [...new Set((input.alphas ?? DEFAULT_ALPHAS).map((a) => (a === 0 ? 0 : a)))],
    });
  }
  await waitForPaths(deps.paths, requested, deps.paths.settings.maxWaitMs);
  const states = await pathStates(deps.paths, requested);
  for (const { block, pathId } of requested) {
    const result = states.get(pathId)!;
    if (result.failure !== null)
      throw new LinpathError(result.failure.code as LinpathError['code'], `block ${block}: ${result.failure.message}`);
    paths.push({ block, result, loss: pathBarriers(result.points, { loss: input.barrier ?? {} }).loss });
  }
  const complete = paths.every((p) => p.result.status === 'COMPLETE');
  const atOne = paths[0]?.result.points.find((p) => p.alpha === 1);
  const endpointLoss = atOne === undefined ? null : reportedMetrics(atOne).loss;
  const heights = Object.fromEntries(paths.map(({ block, loss }) => [block, loss.rise ?? Number.POSITIVE_INFINITY]));
  // Blocks are classified against each other only when every curve is complete.
  const classification =
    !complete || endpointLoss === null || !Number.isFinite(endpointLoss) || endpointLoss <= 0
      ? null
      : classifyLayerwise(
          heights,
          endpointLoss,
          input.relativeThreshold == null ? {} : { relativeThreshold: input.relativeThreshold },
        );
  return { paths, endpointLoss, classification };
}

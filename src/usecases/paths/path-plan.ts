import { checkCheckpoint } from '../../compute/architectures/index.js';
import { irUnavailable, runningStatistics, type ModelGraph } from '../../compute/model-ir.js';
import {
  restrictSelection,
  selectBlocks,
  type BlockSelection,
  type BnStatsMode,
  type TensorGroup,
} from '../../domain/blocks.js';
import { isUuid } from '../../domain/ids.js';
import { pathKey } from '../../domain/path-key.js';
import { badUserInput, LinpathError, notFound } from '../../errors.js';
import type { PathRow } from '../../storage/paths.tables.js';
import type { CheckpointRow, DatasetRow } from '../../storage/registry.tables.js';
import { modelGraphFor } from './architecture-graphs.js';
import type { PathDeps } from './paths.deps.js';
import type { InterpolationPathInput } from './paths.usecases.js';

const BN_STATS_MODES: readonly BnStatsMode[] = ['INTERPOLATE', 'KEEP_TO', 'RECOMPUTE'];
/** Examples BatchNorm statistics are recomputed over when a RECOMPUTE path does not say. */
export const DEFAULT_BN_STATS_EXAMPLES = 2048;
const TENSOR_GROUPS: readonly TensorGroup[] = ['ALL', 'WEIGHTS', 'RUNNING_STATS'];

export interface PathPlan {
  from: CheckpointRow;
  to: CheckpointRow;
  dataset: DatasetRow;
  graph: ModelGraph;
  selection: BlockSelection;
  limit: number;
  bnStats: BnStatsMode;
  /** RECOMPUTE: the examples BatchNorm statistics are recomputed over, the first `limit` of `dataset`. */
  bnStatsData: { dataset: DatasetRow; limit: number } | undefined;
  tensors: TensorGroup;
  key: string;
}

/** Two checkpoints of one architecture, with its graph and the blocks that move between them. */
export interface Endpoints {
  from: CheckpointRow;
  to: CheckpointRow;
  architecture: string;
  graph: ModelGraph;
  selection: BlockSelection;
}

/** Finds both checkpoints, checks they are the same architecture with the same tensors, resolves the blocks. */
export async function resolveEndpoints(
  deps: Pick<PathDeps, 'registry' | 'architectures'>,
  input: { from: string; to: string; blocks?: readonly string[] | null | undefined },
): Promise<Endpoints> {
  const from = await findCheckpoint(deps, 'from', input.from);
  const to = await findCheckpoint(deps, 'to', input.to);
  return endpointsOf(deps, from, to, input.blocks);
}

/** resolveEndpoints for checkpoints already read. */
export async function endpointsOf(
  deps: Pick<PathDeps, 'architectures'>,
  from: CheckpointRow,
  to: CheckpointRow,
  blocks: readonly string[] | null | undefined,
): Promise<Endpoints> {
  const architecture = to.architecture ?? from.architecture;
  if (architecture === null) {
    throw badUserInput(
      `checkpoints ${from.id} and ${to.id} have no architecture; register them (or their run) with one, e.g. "mlp" or "resnet18-cifar"`,
    );
  }
  if (from.architecture !== null && from.architecture !== architecture) {
    throw badUserInput(`from and to must share an architecture: from is ${from.architecture}, to is ${architecture}`);
  }
  const graph = await modelGraphFor(deps.architectures, architecture, to.header.tensors);
  try {
    if (graph.onnx === undefined) checkCheckpoint(graph, from.header.tensors);
    else await modelGraphFor(deps.architectures, architecture, from.header.tensors);
  } catch (error) {
    throw badUserInput(`from and to must have the same tensors: ${(error as Error).message}`);
  }
  const floatTensors = graph.state.filter((s) => s.kind === 'float').map((s) => s.name);
  const selection = selectBlocks(floatTensors, blocks, {
    architecture,
    topLevel: graph.blocks,
    aliases: graph.aliases,
  });
  return { from, to, architecture, graph, selection };
}

/** Checks the request against the registry and computes the path's identity; reads no tensors. */
export async function planPath(
  deps: Pick<PathDeps, 'registry' | 'settings' | 'architectures'>,
  input: InterpolationPathInput,
): Promise<PathPlan> {
  const endpoints = await resolveEndpoints(deps, input);
  return planPathOf(
    deps,
    endpoints,
    async () => {
      const dataset = isUuid(input.dataset) ? await deps.registry.findDataset(input.dataset) : undefined;
      if (dataset === undefined) throw notFound(`dataset: no dataset with id "${input.dataset}"`);
      return dataset;
    },
    input,
  );
}

/**
 * planPath for checkpoints already read; the dataset is asked for after the checks that need none, so an
 * invalid request is refused as such whatever its dataset.
 */
export async function planPathOf(
  deps: Pick<PathDeps, 'registry' | 'settings'>,
  endpoints: Endpoints,
  datasetOf: () => Promise<DatasetRow>,
  input: InterpolationPathInput,
): Promise<PathPlan> {
  const { from, to, architecture, graph } = endpoints;
  const bnStats = input.bnStats ?? 'INTERPOLATE';
  const tensors = input.tensors ?? 'ALL';
  if (!BN_STATS_MODES.includes(bnStats))
    throw badUserInput(`bnStats: expected one of ${BN_STATS_MODES.join(', ')}, got "${bnStats}"`);
  if (!TENSOR_GROUPS.includes(tensors))
    throw badUserInput(`tensors: expected one of ${TENSOR_GROUPS.join(', ')}, got "${tensors}"`);
  const runningStats = runningStatistics(graph);
  const floatTensors = graph.state.filter((s) => s.kind === 'float').map((s) => s.name);
  const selection = restrictSelection(endpoints.selection, floatTensors, runningStats, {
    tensors,
    bnStats,
    architecture,
  });
  const dataset = await datasetOf();

  if (dataset.labelKind !== 'CLASS_INDEX') {
    throw badUserInput(
      `dataset "${dataset.name}" has ${dataset.labelKind} labels; evaluation needs CLASS_INDEX labels`,
    );
  }
  if (dataset.numClasses !== null && dataset.numClasses > Math.max(graph.outputs, 2)) {
    throw badUserInput(
      `dataset "${dataset.name}" has labels up to ${dataset.numClasses - 1}, but ${architecture} gives ${graph.outputs} logit(s)`,
    );
  }
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  if (size(dataset.inputShape) !== size(graph.inputShape)) {
    throw badUserInput(
      `dataset "${dataset.name}" holds examples of shape [${dataset.inputShape.join(', ')}], ${architecture} takes [${graph.inputShape.join(', ')}]`,
    );
  }
  const limit = input.limit ?? dataset.exampleCount;
  if (!Number.isInteger(limit) || limit < 1 || limit > dataset.exampleCount) {
    throw badUserInput(
      `limit: expected an integer from 1 to ${dataset.exampleCount} (the dataset's examples), got ${limit}`,
    );
  }
  if (limit > deps.settings.maxExamples) {
    throw badUserInput(
      `limit: expected at most ${deps.settings.maxExamples} examples per path (LINPATH_MAX_EXAMPLES), got ${limit}${input.limit == null ? ' (the whole dataset)' : ''}`,
    );
  }

  const bnStatsData =
    bnStats === 'RECOMPUTE' ? await planBnStatsData(deps, input, graph, dataset, runningStats) : undefined;
  if (bnStats !== 'RECOMPUTE' && (input.bnStatsDataset != null || input.bnStatsExamples != null)) {
    throw badUserInput(`bnStatsDataset and bnStatsExamples apply to bnStats RECOMPUTE only, got bnStats ${bnStats}`);
  }

  const key = pathKey({
    architecture,
    // An architecture registered from an ONNX export is its graph: the same name never means another one, and
    // the key says which all the same.
    architectureSha256: graph.onnx?.sha256,
    from: identity(from),
    to: identity(to),
    movingTensors: selection.moving === 'all' ? ['*'] : selection.movingNames,
    dataset: {
      object: identity(dataset),
      labels:
        dataset.labelsUri == null
          ? undefined
          : { uri: dataset.labelsUri, etag: dataset.labelsEtag ?? '', size: dataset.labelsSize ?? 0 },
      view: datasetView(dataset),
    },
    exampleCount: limit,
    bnStats,
    // Absent unless RECOMPUTE, so the keys of the other modes are those they always had.
    bnStatsData:
      bnStatsData === undefined
        ? undefined
        : {
            object: identity(bnStatsData.dataset),
            view: datasetView(bnStatsData.dataset),
            exampleCount: bnStatsData.limit,
          },
  });
  return { from, to, dataset, graph, selection, limit, bnStats, bnStatsData, tensors, key };
}

export const identity = (row: { uri: string; etag: string; size: number }) => ({
  uri: row.uri,
  etag: row.etag,
  size: row.size,
});

/** How a dataset's bytes are read into examples: part of a path's identity. */
export const datasetView = (dataset: DatasetRow): Record<string, unknown> => ({
  format: dataset.format,
  inputKey: dataset.inputKey,
  labelKey: dataset.labelKey,
  layout: dataset.inputLayout,
  normalization: dataset.normalization,
});

/** The examples a RECOMPUTE path (or θ(α)) recomputes BatchNorm statistics over, checked against the model. */
export async function planBnStatsData(
  deps: Pick<PathDeps, 'registry' | 'settings'>,
  input: Pick<InterpolationPathInput, 'bnStatsDataset' | 'bnStatsExamples'>,
  graph: ModelGraph,
  evaluated: Pick<DatasetRow, 'name'> | undefined,
  runningStats: ReadonlySet<string>,
): Promise<{ dataset: DatasetRow; limit: number }> {
  const noIr = irUnavailable(graph);
  if (noIr !== undefined) throw badUserInput(`bnStats: RECOMPUTE needs the model IR: ${noIr}`);
  if (runningStats.size === 0)
    throw badUserInput(`bnStats: RECOMPUTE needs BatchNorm layers; ${graph.architecture} has none`);
  let dataset: DatasetRow | undefined;
  if (input.bnStatsDataset != null) {
    dataset = isUuid(input.bnStatsDataset) ? await deps.registry.findDataset(input.bnStatsDataset) : undefined;
    if (dataset === undefined) throw notFound(`bnStatsDataset: no dataset with id "${input.bnStatsDataset}"`);
  } else {
    if (evaluated === undefined)
      throw badUserInput(
        'bnStatsDataset: RECOMPUTE needs the dataset whose examples the statistics are recomputed over',
      );
    dataset = await deps.registry.findDatasetByName(evaluated.name, 'TRAIN');
    if (dataset === undefined) {
      throw badUserInput(
        `bnStats: RECOMPUTE needs training examples: register the TRAIN split of "${evaluated.name}" or give bnStatsDataset`,
      );
    }
  }
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  if (size(dataset.inputShape) !== size(graph.inputShape)) {
    throw badUserInput(
      `bnStatsDataset "${dataset.name}" (${dataset.split}) holds examples of shape [${dataset.inputShape.join(', ')}], ${graph.architecture} takes [${graph.inputShape.join(', ')}]`,
    );
  }
  const limit =
    input.bnStatsExamples ?? Math.min(DEFAULT_BN_STATS_EXAMPLES, dataset.exampleCount, deps.settings.maxExamples);
  if (!Number.isInteger(limit) || limit < 2 || limit > dataset.exampleCount) {
    throw badUserInput(
      `bnStatsExamples: expected an integer from 2 to ${dataset.exampleCount} (the dataset's examples), got ${limit}`,
    );
  }
  if (limit > deps.settings.maxExamples) {
    throw badUserInput(
      `bnStatsExamples: expected at most ${deps.settings.maxExamples} examples (LINPATH_MAX_EXAMPLES), got ${limit}`,
    );
  }
  return { dataset, limit };
}

/**
 * The plan of a stored path, as a worker evaluates it: rebuilt from the registry and checked against the
 * path's key, so that a registry entry changed since the path was requested fails it instead of mixing
 * two models into one curve.
 */
export async function planOfPath(
  deps: Pick<PathDeps, 'registry' | 'settings' | 'architectures'>,
  path: PathRow,
): Promise<PathPlan> {
  const plan = await planPath(
    { ...deps, settings: { ...deps.settings, maxExamples: Number.MAX_SAFE_INTEGER } },
    {
      from: path.fromCheckpointId,
      to: path.toCheckpointId,
      dataset: path.datasetId,
      blocks: path.blocks,
      limit: path.exampleCount,
      bnStats: path.bnStats as BnStatsMode,
      bnStatsDataset: path.bnStatsDatasetId,
      bnStatsExamples: path.bnStatsExamples,
      tensors: path.tensorGroup as TensorGroup,
    },
  );
  if (plan.key !== path.key) {
    throw new LinpathError(
      'CONFLICT',
      `path ${path.id}: its checkpoints or dataset were registered anew since it was requested; request the path again`,
    );
  }
  return plan;
}

export async function findCheckpoint(
  deps: Pick<PathDeps, 'registry'>,
  field: string,
  id: string,
): Promise<CheckpointRow> {
  const checkpoint = isUuid(id) ? await deps.registry.findCheckpoint(id) : undefined;
  if (checkpoint === undefined) throw notFound(`${field}: no checkpoint with id "${id}"`);
  return checkpoint;
}

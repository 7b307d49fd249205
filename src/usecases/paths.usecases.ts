import { buildModelGraph, checkCheckpoint } from '../compute/architectures/index.js';
import type { EngineName } from '../compute/engine.js';
import type { EngineProvider } from '../compute/engines.js';
import { evaluateAlphas, type Examples } from '../compute/evaluator.js';
import type { ModelGraph } from '../compute/model-ir.js';
import { selectBlocks, type BlockSelection } from '../domain/blocks.js';
import { pathKey } from '../domain/path-key.js';
import { badUserInput, notFound } from '../errors.js';
import type { CheckpointStateCache } from '../storage/checkpoint-state.js';
import type { PathsRepository } from '../storage/paths.repository.js';
import type { PathPointRow, PathRow } from '../storage/paths.tables.js';
import type { RegistryRepository } from '../storage/registry.repository.js';
import type { CheckpointRow, DatasetRow } from '../storage/registry.tables.js';

export interface PathSettings {
  /** Most alphas one request may ask for. */
  maxAlphas: number;
  /** |α| may not exceed this (extrapolation beyond the end points is allowed up to it). */
  maxAbsAlpha: number;
  /** Examples per forward pass. */
  batchSize: number;
  defaultEngine: EngineName;
}

/** Examples of a dataset in a model's input layout; cached by the caller. */
export type ExamplesSource = (dataset: DatasetRow, limit: number, inputShape: readonly number[]) => Promise<Examples>;

export interface PathDeps {
  registry: RegistryRepository;
  paths: PathsRepository;
  engines: EngineProvider;
  states: CheckpointStateCache;
  examples: ExamplesSource;
  settings: PathSettings;
  /** Points being evaluated in this process, by `${pathId}:${alpha}`: identical requests share them. */
  inflight: Map<string, Promise<void>>;
}

export interface InterpolationPathInput {
  from: string;
  to: string;
  dataset: string;
  blocks?: readonly string[] | null | undefined;
  alphas?: readonly number[] | null | undefined;
  /** Evaluate only the first `limit` examples. */
  limit?: number | null | undefined;
  engine?: EngineName | null | undefined;
}

export interface PathPoint extends PathPointRow {
  /** True when the point was stored before this request asked for it. */
  cached: boolean;
}

export interface PathResult {
  path: PathRow;
  points: PathPoint[];
}

export type PathProgress = (done: number, total: number) => void;

export const DEFAULT_ALPHAS: readonly number[] = Array.from({ length: 11 }, (_, i) => i / 10);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The loss and accuracy along θ(α) = (1 − α)·θ_from + α·θ_to (only `blocks` moving, the rest at θ_to) on a
 * dataset. Stored points are returned as they are; only the missing alphas are evaluated, each stored as it
 * completes, and identical concurrent requests in this process share one evaluation.
 */
export async function interpolationPath(
  deps: PathDeps,
  input: InterpolationPathInput,
  onProgress?: PathProgress,
): Promise<PathResult> {
  const alphas = validateAlphas(input.alphas ?? DEFAULT_ALPHAS, deps.settings);
  const plan = await planPath(deps, input);
  const path = await deps.paths.findOrCreatePath({
    key: plan.key,
    fromCheckpointId: plan.from.id,
    toCheckpointId: plan.to.id,
    datasetId: plan.dataset.id,
    blocks: plan.selection.blocks ?? null,
    movingTensorCount: plan.selection.movingNames.length,
    exampleCount: plan.limit,
  });

  const stored = new Set((await deps.paths.points(path.id, alphas)).map((p) => p.alpha));
  const missing = alphas.filter((alpha) => !stored.has(alpha));
  let done = alphas.length - missing.length;
  onProgress?.(done, alphas.length);
  const progress = () => onProgress?.(++done, alphas.length);

  const waits: Array<Promise<void>> = [];
  const toEvaluate: number[] = [];
  for (const alpha of missing) {
    const running = deps.inflight.get(`${path.id}:${alpha}`);
    if (running !== undefined) waits.push(running.then(progress));
    else toEvaluate.push(alpha);
  }
  if (toEvaluate.length > 0) waits.push(evaluateMissing(deps, plan, path, toEvaluate, progress, input.engine ?? deps.settings.defaultEngine));
  // Wait for all before reporting the first failure, so no evaluation is left running unobserved.
  const outcomes = await Promise.allSettled(waits);
  const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failure !== undefined) throw failure.reason;

  const points = await deps.paths.points(path.id, alphas);
  return { path, points: points.map((point) => ({ ...point, cached: stored.has(point.alpha) })) };
}

/**
 * The stored points of a path and the alphas it lacks, evaluating and writing nothing (not even the path's
 * row): what analytics read before deciding whether to spend an evaluation.
 */
export async function storedPoints(deps: PathDeps, input: InterpolationPathInput): Promise<{ points: PathPoint[]; missingAlphas: number[] }> {
  const alphas = validateAlphas(input.alphas ?? DEFAULT_ALPHAS, deps.settings);
  const plan = await planPath(deps, input);
  const path = await deps.paths.findPathByKey(plan.key);
  const points = path === undefined ? [] : await deps.paths.points(path.id, alphas);
  const stored = new Set(points.map((p) => p.alpha));
  return { points: points.map((point) => ({ ...point, cached: true })), missingAlphas: alphas.filter((a) => !stored.has(a)) };
}

interface PathPlan {
  from: CheckpointRow;
  to: CheckpointRow;
  dataset: DatasetRow;
  graph: ModelGraph;
  selection: BlockSelection;
  limit: number;
  key: string;
}

/** Checks the request against the registry and computes the path's identity; reads no tensors. */
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
  deps: Pick<PathDeps, 'registry'>,
  input: { from: string; to: string; blocks?: readonly string[] | null | undefined },
): Promise<Endpoints> {
  const from = await findCheckpoint(deps, 'from', input.from);
  const to = await findCheckpoint(deps, 'to', input.to);
  const architecture = to.architecture ?? from.architecture;
  if (architecture === null) {
    throw badUserInput(
      `checkpoints ${from.id} and ${to.id} have no architecture; register them (or their run) with one, e.g. "mlp" or "resnet18-cifar"`,
    );
  }
  if (from.architecture !== null && from.architecture !== architecture) {
    throw badUserInput(`from and to must share an architecture: from is ${from.architecture}, to is ${architecture}`);
  }
  const graph = buildModelGraph(architecture, to.header.tensors);
  try {
    checkCheckpoint(graph, from.header.tensors);
  } catch (error) {
    throw badUserInput(`from and to must have the same tensors: ${(error as Error).message}`);
  }
  const floatTensors = graph.state.filter((s) => s.kind === 'float').map((s) => s.name);
  const selection = selectBlocks(floatTensors, input.blocks, {
    architecture,
    topLevel: graph.blocks,
    aliases: graph.aliases,
  });
  return { from, to, architecture, graph, selection };
}

async function planPath(deps: PathDeps, input: InterpolationPathInput): Promise<PathPlan> {
  const { from, to, architecture, graph, selection } = await resolveEndpoints(deps, input);
  const dataset = UUID.test(input.dataset) ? await deps.registry.findDataset(input.dataset) : undefined;
  if (dataset === undefined) throw notFound(`dataset: no dataset with id "${input.dataset}"`);

  if (dataset.labelKind !== 'CLASS_INDEX') {
    throw badUserInput(`dataset "${dataset.name}" has ${dataset.labelKind} labels; evaluation needs CLASS_INDEX labels`);
  }
  if (dataset.numClasses !== null && dataset.numClasses > Math.max(graph.outputs, 2)) {
    throw badUserInput(
      `dataset "${dataset.name}" has labels up to ${dataset.numClasses - 1}, but ${architecture} gives ${graph.outputs} logit(s)`,
    );
  }
  const limit = input.limit ?? dataset.exampleCount;
  if (!Number.isInteger(limit) || limit < 1 || limit > dataset.exampleCount) {
    throw badUserInput(`limit: expected an integer from 1 to ${dataset.exampleCount} (the dataset's examples), got ${limit}`);
  }

  const identity = (row: { uri: string; etag: string; size: number }) => ({ uri: row.uri, etag: row.etag, size: row.size });
  const key = pathKey({
    architecture,
    from: identity(from),
    to: identity(to),
    movingTensors: selection.moving === 'all' ? ['*'] : selection.movingNames,
    dataset: {
      object: identity(dataset),
      labels:
        dataset.labelsUri == null ? undefined : { uri: dataset.labelsUri, etag: dataset.labelsEtag ?? '', size: dataset.labelsSize ?? 0 },
      view: {
        format: dataset.format,
        inputKey: dataset.inputKey,
        labelKey: dataset.labelKey,
        layout: dataset.inputLayout,
        normalization: dataset.normalization,
      },
    },
    exampleCount: limit,
    bnStats: 'INTERPOLATE',
  });
  return { from, to, dataset, graph, selection, limit, key };
}

async function evaluateMissing(
  deps: PathDeps,
  plan: PathPlan,
  path: PathRow,
  alphas: number[],
  progress: () => void,
  engineName: EngineName,
): Promise<void> {
  // One deferred per α, registered before any await, so a concurrent identical request finds them.
  const deferred = new Map<number, { promise: Promise<void>; resolve(): void; reject(error: unknown): void }>();
  for (const alpha of alphas) {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
    deferred.set(alpha, { promise, resolve, reject });
    deps.inflight.set(`${path.id}:${alpha}`, promise);
  }
  const settle = (alpha: number, error?: unknown) => {
    const entry = deferred.get(alpha);
    if (entry === undefined) return;
    deferred.delete(alpha);
    deps.inflight.delete(`${path.id}:${alpha}`);
    if (error === undefined) entry.resolve();
    else entry.reject(error);
  };
  try {
    const engine = await deps.engines.get(engineName);
    const [from, to, examples] = await Promise.all([
      deps.states.get(plan.from),
      deps.states.get(plan.to),
      deps.examples(plan.dataset, plan.limit, plan.graph.inputShape),
    ]);
    await evaluateAlphas({
      engine,
      graph: plan.graph,
      from: from.tensors,
      to: to.tensors,
      moving: plan.selection.moving,
      examples,
      alphas,
      batchSize: deps.settings.batchSize,
      onPoint: async ({ alpha, tally, durationMs }) => {
        await deps.paths.insertPoint({
          pathId: path.id,
          alpha,
          lossSum: tally.lossSum,
          correct: tally.correct,
          n: tally.n,
          nonFinite: tally.nonFinite,
          engine: engine.name,
          engineVersion: engine.version,
          durationMs,
        });
        settle(alpha);
        progress();
      },
    });
  } catch (error) {
    for (const alpha of [...deferred.keys()]) settle(alpha, error);
    throw error;
  }
}

async function findCheckpoint(deps: Pick<PathDeps, 'registry'>, field: string, id: string): Promise<CheckpointRow> {
  const checkpoint = UUID.test(id) ? await deps.registry.findCheckpoint(id) : undefined;
  if (checkpoint === undefined) throw notFound(`${field}: no checkpoint with id "${id}"`);
  return checkpoint;
}

function validateAlphas(alphas: readonly number[], settings: PathSettings): number[] {
  if (alphas.length === 0) throw badUserInput('alphas: expected at least one α, got []');
  if (alphas.length > settings.maxAlphas) {
    throw badUserInput(`alphas: expected at most ${settings.maxAlphas} values (LINPATH_MAX_ALPHAS), got ${alphas.length}`);
  }
  for (const alpha of alphas) {
    if (!Number.isFinite(alpha) || Math.abs(alpha) > settings.maxAbsAlpha) {
      throw badUserInput(`alphas: expected numbers from ${-settings.maxAbsAlpha} to ${settings.maxAbsAlpha}, got ${alpha}`);
    }
  }
  // -0 and 0 are one α.
  return [...new Set(alphas.map((a) => (a === 0 ? 0 : a)))].sort((a, b) => a - b);
}

import { buildModelGraph, buildNewModelGraph } from '../../compute/architectures/index.js';
import type { ModelGraph } from '../../compute/model-ir.js';
import type { TfjsBackendOptions } from '../../compute/tfjs/tfjs.backend.js';
import type { OptimizerSpec, TrainingRecipe } from '../../compute/training/trainer.js';
import { badUserInput, conflict, notFound } from '../../errors.js';
import type { TrainingQueue } from '../../queue/training-queue.js';
import type { CheckpointRow, DatasetRow } from '../../storage/registry.tables.js';
import type { TrainingRepository } from '../../storage/training.repository.js';
import type { TrainingJobRow, TrainingStatus } from '../../storage/training.tables.js';
import { abortableIterator } from '../abortable-iterator.js';
import type { PathDeps } from '../paths/paths.deps.js';
import type { RegistryDeps } from '../registry/registry.deps.js';
import { validateRun } from '../registry/registry.validation.js';
import { isUuid } from '../../domain/ids.js';
import { checkTrainingWork, DEFAULT_TRAINING_LIMITS, type TrainingLimits } from './training.limits.js';

export interface TrainingDeps {
  registry: RegistryDeps;
  paths: Pick<PathDeps, 'registry' | 'states' | 'examples' | 'engines' | 'settings'>;
  training: TrainingRepository;
  queue: TrainingQueue;
  /** The tfjs backend training runs on; default: the fastest one that has every kernel training needs. */
  backend?: TfjsBackendOptions['backend'];
  /** Default: DEFAULT_TRAINING_LIMITS. */
  limits?: TrainingLimits;
}

export interface TrainRunInput {
  /** Name of the new run. */
  run: string;
  /** Default: the architecture of `init`. */
  architecture?: string | null;
  /** `mlp` without `init`: hidden widths, default [50, 50]. */
  hiddenWidths?: readonly number[] | null;
  /** ResNets without `init`: channels of the first stage, default 64. */
  width?: number | null;
  /** The training examples (a dataset id). */
  dataset: string;
  /** Where test metrics are measured; default the TEST split of the training dataset's name, if registered. */
  testDataset?: string | null;
  optimizer: 'SGD' | 'ADAM';
  /** SGD: default 0.9. */
  momentum?: number | null;
  nesterov?: boolean | null;
  /** ADAM: defaults 0.9, 0.999, 1e-8. */
  beta1?: number | null;
  beta2?: number | null;
  epsilon?: number | null;
  learningRate: number;
  /** MultiStepLR: the learning rate is multiplied by `gamma` at each milestone epoch. */
  milestones?: readonly number[] | null;
  gamma?: number | null;
  weightDecay?: number | null;
  epochs: number;
  batchSize: number;
  seed: number;
  /** Start from this checkpoint instead of a random initialisation (e.g. a materialised barrier peak). */
  init?: string | null;
  /** Store a checkpoint after every k epochs, besides the initial and the final state. */
  checkpointEvery?: number | null;
  /**
   * Stop after the first epoch whose running train accuracy reaches this fraction (`epochs` is then the most);
   * its state is the FINAL checkpoint.
   */
  stopAtTrainAccuracy?: number | null;
  /**
   * PyTorch parameter groups (Table A3's per-layer optimisation): the tensors of `blocks` train with
   * learningRate · lrScale and their own weightDecay (see TrainingRecipe.paramGroups).
   */
  /** Train on labels of which this seeded fraction is redrawn uniformly (the paper's adversarial initialisation). */
  randomLabels?: { fraction: number; seed: number } | null;
  paramGroups?: ReadonlyArray<{
    blocks: readonly string[];
    lrScale?: number | null;
    weightDecay?: number | null;
  }> | null;
  tags?: readonly string[] | null;
  /** More hyper-parameters to record on the run, e.g. an intervention label to group a report by. */
  hyperparameters?: Record<string, unknown> | null;
}

/** What a training job does, fully resolved: stored with the job, the same on every retry. */
export interface TrainingSpec {
  architecture: string;
  model: { hiddenWidths?: number[]; width?: number };
  dataset: string;
  testDataset: string | null;
  init: string | null;
  recipe: TrainingRecipe;
  /** The request's extra hyper-parameters, as recorded on the run. */
  labels?: Record<string, unknown>;
}

/** Most epochs one request may ask for. */
const MAX_EPOCHS = 10_000;

/**
 * Queues the training of a new run and returns its job. The run is created at once (with the recipe as its
 * hyperparameters) and filled by a worker: its initial state, a checkpoint every `checkpointEvery` epochs, its
 * final state, then test metrics. The same request again returns the same job; another request for an
 * existing run name is a CONFLICT.
 */
export async function trainRun(deps: TrainingDeps, input: TrainRunInput): Promise<TrainingJobRow> {
  const { spec, run } = await planTraining(deps, input);
  const created = await deps.training.create(run, spec as unknown as Record<string, unknown>, spec.recipe.epochs);
  let job: TrainingJobRow;
  if (created === undefined) {
    const existing = await deps.registry.repository.findRunByName(run.name);
    const existingJob = existing === undefined ? undefined : await deps.training.findByRun(existing.id);
    if (existingJob === undefined || canonical(existingJob.spec) !== canonical(spec)) {
      throw conflict(
        `a run named "${run.name}" already exists${existingJob === undefined ? '' : ' with another training specification'}; choose another name`,
      );
    }
    job = existingJob;
  } else {
    job = created.job;
  }
  if (job.status === 'QUEUED') await deps.queue.ensureQueued(job.id);
  return job;
}

export async function getTrainingJob(deps: Pick<TrainingDeps, 'training'>, id: string): Promise<TrainingJobRow> {
  const job = isUuid(id) ? await deps.training.find(id) : undefined;
  if (job === undefined) throw notFound(`no training job with id "${id}"`);
  return job;
}

/** Stops a queued or running job (a running one after its current step); the checkpoints stored so far stay. */
export async function cancelTraining(deps: Pick<TrainingDeps, 'training'>, id: string): Promise<TrainingJobRow> {
  await getTrainingJob(deps, id);
  return (await deps.training.cancel(id))!;
}

export const isFinished = (status: TrainingStatus): boolean =>
  status === 'COMPLETE' || status === 'FAILED' || status === 'CANCELLED';

/**
 * The job each time it changes (epoch, status), starting with how it stands; ends after a final status.
 * Polls the database, so updates written by a worker in any process arrive. Ending the iteration (a client
 * that goes away) stops polling at once, also while it waits for the next poll.
 */
export async function trainingUpdates(
  deps: Pick<TrainingDeps, 'training'>,
  id: string,
  pollMs: number,
): Promise<AsyncIterableIterator<TrainingJobRow>> {
  await getTrainingJob(deps, id);
  return abortableIterator((ended) => followTraining(deps, id, pollMs, ended));
}

async function* followTraining(
  deps: Pick<TrainingDeps, 'training'>,
  id: string,
  pollMs: number,
  ended: AbortSignal,
): AsyncGenerator<TrainingJobRow> {
  let last = '';
  while (!ended.aborted) {
    const job = await getTrainingJob(deps, id);
    const seen = `${job.status}:${job.epoch}:${job.step}:${job.attempts}`;
    if (seen !== last) {
      last = seen;
      yield job;
    }
    if (isFinished(job.status)) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        ended.removeEventListener('abort', done);
        resolve();
      }
      ended.addEventListener('abort', done, { once: true });
    });
  }
}

// ------------------------------------------------------------------------------------------ planning

async function planTraining(deps: TrainingDeps, input: TrainRunInput) {
  const dataset = await findDataset(deps, 'dataset', input.dataset);
  if (dataset.labelKind !== 'CLASS_INDEX')
    throw badUserInput(`dataset "${dataset.name}" has ${dataset.labelKind} labels; training needs CLASS_INDEX labels`);
  const testDataset =
    input.testDataset != null
      ? await findDataset(deps, 'testDataset', input.testDataset)
      : await deps.paths.registry.findDatasetByName(dataset.name, 'TEST');

  let architecture = input.architecture ?? undefined;
  let init: CheckpointRow | undefined;
  let graph: ModelGraph;
  const model: TrainingSpec['model'] = {};
  if (input.init != null) {
    init = isUuid(input.init) ? await deps.paths.registry.findCheckpoint(input.init) : undefined;
    if (init === undefined) throw notFound(`init: no checkpoint with id "${input.init}"`);
    architecture ??= init.architecture ?? undefined;
    if (architecture === undefined)
      throw badUserInput(`init: checkpoint ${init.id} has no architecture; give architecture`);
    if (init.architecture !== null && init.architecture !== architecture) {
      throw badUserInput(`architecture: init is a ${init.architecture}, got architecture ${architecture}`);
    }
    if (input.hiddenWidths != null || input.width != null)
      throw badUserInput("hiddenWidths and width size a new model; with init the model is the checkpoint's");
    graph = buildModelGraph(architecture, init.header.tensors);
  } else {
    if (architecture === undefined)
      throw badUserInput('architecture: expected an architecture (e.g. "mlp") or an init checkpoint, got neither');
    if (dataset.numClasses === null) {
      throw badUserInput(
        `dataset "${dataset.name}" does not record its number of classes; register it with numClasses to size a new model`,
      );
    }
    if (input.hiddenWidths != null) model.hiddenWidths = [...input.hiddenWidths];
    if (input.width != null) model.width = input.width;
    const outputs = architecture === 'mlp' && dataset.numClasses <= 2 ? 1 : dataset.numClasses;
    graph = buildNewModelGraph(architecture, { inputShape: dataset.inputShape, outputs, ...model });
  }
  checkData(graph, dataset, 'dataset');
  if (testDataset !== undefined) checkData(graph, testDataset, 'testDataset');

  const recipe = validateRecipe(input, dataset);
  checkTrainingWork(graph, recipe, dataset.exampleCount, deps.limits ?? DEFAULT_TRAINING_LIMITS);
  const labels = input.hyperparameters ?? {};
  const spec: TrainingSpec = {
    architecture,
    model,
    dataset: dataset.id,
    testDataset: testDataset?.id ?? null,
    init: init?.id ?? null,
    recipe,
    ...(Object.keys(labels).length === 0 ? {} : { labels }),
  };
  const run = validateRun({
    name: input.run,
    architecture,
    datasetName: dataset.name,
    seed: input.seed,
    tags: input.tags ? [...input.tags] : [],
    hyperparameters: withLabels(labels, {
      framework: 'tfjs',
      ...(init === undefined ? {} : { init: init.id }),
      ...model,
      optimizer: recipe.optimizer.kind.toLowerCase(),
      ...Object.fromEntries(Object.entries(recipe.optimizer).filter(([k]) => k !== 'kind')),
      learningRate: recipe.learningRate,
      ...(recipe.schedule === undefined
        ? {}
        : { milestones: recipe.schedule.milestones, gamma: recipe.schedule.factor }),
      weightDecay: recipe.weightDecay,
      epochs: recipe.epochs,
      ...(recipe.stopAtTrainAccuracy === undefined ? {} : { stopAtTrainAccuracy: recipe.stopAtTrainAccuracy }),
      ...(recipe.paramGroups === undefined ? {} : { paramGroups: recipe.paramGroups }),
      ...(recipe.randomLabels === undefined ? {} : { randomLabels: recipe.randomLabels }),
      batchSize: recipe.batchSize,
    }),
  });
  return { spec, run };
}

/** The recipe's hyper-parameters with the user's extra ones, which may not redefine them. */
function withLabels(labels: Record<string, unknown>, recipe: Record<string, unknown>): Record<string, unknown> {
  const clashes = Object.keys(labels).filter((key) => key in recipe);
  if (clashes.length > 0)
    throw badUserInput(`hyperparameters: ${clashes.join(', ')} come from the training settings; use other names`);
  return { ...recipe, ...labels };
}

function checkData(graph: ModelGraph, dataset: DatasetRow, field: string): void {
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  if (size(dataset.inputShape) !== size(graph.inputShape)) {
    throw badUserInput(
      `${field}: "${dataset.name}" holds examples [${dataset.inputShape.join(', ')}], ${graph.architecture} takes [${graph.inputShape.join(', ')}]`,
    );
  }
  if (dataset.numClasses !== null && dataset.numClasses > Math.max(graph.outputs, 2)) {
    throw badUserInput(
      `${field}: "${dataset.name}" has ${dataset.numClasses} classes, the model gives ${graph.outputs} logit(s)`,
    );
  }
}

function validateRecipe(input: TrainRunInput, dataset: DatasetRow): TrainingRecipe {
  const positive = (field: string, value: number) => {
    if (!Number.isFinite(value) || value <= 0) throw badUserInput(`${field}: expected a number > 0, got ${value}`);
    return value;
  };
  const inRange = (field: string, value: number, low: number, high: number) => {
    if (!Number.isFinite(value) || value < low || value >= high)
      throw badUserInput(`${field}: expected a number in [${low}, ${high}), got ${value}`);
    return value;
  };
  const integer = (field: string, value: number, low: number, high: number) => {
    if (!Number.isInteger(value) || value < low || value > high)
      throw badUserInput(`${field}: expected an integer from ${low} to ${high}, got ${value}`);
    return value;
  };
  let optimizer: OptimizerSpec;
  if (input.optimizer === 'SGD') {
    if (input.beta1 != null || input.beta2 != null || input.epsilon != null)
      throw badUserInput('beta1, beta2 and epsilon are ADAM settings; the optimizer is SGD');
    optimizer = {
      kind: 'SGD',
      momentum: inRange('momentum', input.momentum ?? 0.9, 0, 1),
      nesterov: input.nesterov ?? false,
    };
    if (optimizer.nesterov && optimizer.momentum === 0)
      throw badUserInput('nesterov: needs momentum > 0, got momentum 0');
  } else if (input.optimizer === 'ADAM') {
    if (input.momentum != null || input.nesterov != null)
      throw badUserInput('momentum and nesterov are SGD settings; the optimizer is ADAM');
    optimizer = {
      kind: 'ADAM',
      beta1: inRange('beta1', input.beta1 ?? 0.9, 0, 1),
      beta2: inRange('beta2', input.beta2 ?? 0.999, 0, 1),
      epsilon: positive('epsilon', input.epsilon ?? 1e-8),
    };
  } else {
    throw badUserInput(`optimizer: expected SGD or ADAM, got "${String(input.optimizer)}"`);
  }
  const epochs = integer('epochs', input.epochs, 1, MAX_EPOCHS);
  const recipe: TrainingRecipe = {
    optimizer,
    learningRate: positive('learningRate', input.learningRate),
    weightDecay: inRange('weightDecay', input.weightDecay ?? 0, 0, 1),
    epochs,
    batchSize: integer('batchSize', input.batchSize, 1, dataset.exampleCount),
    seed: integer('seed', input.seed, 0, Number.MAX_SAFE_INTEGER),
  };
  if (input.milestones != null && input.milestones.length > 0) {
    input.milestones.forEach((m, i) => integer(`milestones[${i}]`, m, 1, epochs));
    recipe.schedule = {
      milestones: [...input.milestones].sort((a, b) => a - b),
      factor: positive('gamma', input.gamma ?? 0.1),
    };
  } else if (input.gamma != null) {
    throw badUserInput('gamma: applies at milestones; give milestones too');
  }
  if (input.checkpointEvery != null)
    recipe.checkpointEvery = integer('checkpointEvery', input.checkpointEvery, 1, epochs);
  if (input.stopAtTrainAccuracy != null) {
    const target = input.stopAtTrainAccuracy;
    if (!(Number.isFinite(target) && target > 0 && target <= 1))
      throw badUserInput(`stopAtTrainAccuracy: expected a fraction in (0, 1], got ${target}`);
    recipe.stopAtTrainAccuracy = target;
  }
  if (input.randomLabels != null) {
    const { fraction, seed } = input.randomLabels;
    if (!(Number.isFinite(fraction) && fraction >= 0 && fraction <= 1))
      throw badUserInput(`randomLabels.fraction: expected a fraction in [0, 1], got ${fraction}`);
    recipe.randomLabels = { fraction, seed: integer('randomLabels.seed', seed, 0, Number.MAX_SAFE_INTEGER) };
  }
  if (input.paramGroups != null && input.paramGroups.length > 0) {
    recipe.paramGroups = input.paramGroups.map((g, i) => {
      if (g.blocks.length === 0)
        throw badUserInput(`paramGroups[${i}].blocks: expected one or more block names, got none`);
      return {
        blocks: [...g.blocks],
        ...(g.lrScale == null ? {} : { lrScale: inRange(`paramGroups[${i}].lrScale`, g.lrScale, 0, 1e6) }),
        ...(g.weightDecay == null
          ? {}
          : { weightDecay: inRange(`paramGroups[${i}].weightDecay`, g.weightDecay, 0, 1) }),
      };
    });
  }
  return recipe;
}

export async function findDataset(deps: Pick<TrainingDeps, 'paths'>, field: string, id: string): Promise<DatasetRow> {
  const dataset = isUuid(id) ? await deps.paths.registry.findDataset(id) : undefined;
  if (dataset === undefined) throw notFound(`${field}: no dataset with id "${id}"`);
  return dataset;
}

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );

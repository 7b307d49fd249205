import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Split } from '../../usecases/analytics/run-metrics.usecases.js';
import type { CheckpointRow, DatasetRow, RunRow } from '../../storage/registry.tables.js';
import { getCheckpoint, registerCheckpoint } from '../../usecases/registry/checkpoints.usecases.js';
import { getDataset, listDatasets, registerDataset } from '../../usecases/registry/datasets.usecases.js';
import {
  MAX_PAGE_SIZE,
  type RunFilterInput,
  createRun,
  getRun,
  listRuns,
  countRuns,
  updateRun,
} from '../../usecases/registry/runs.usecases.js';
import type { GraphQLContext } from '../context.js';
import { BarrierMetrics } from '../analytics/barrier.types.js';
import { buildModelGraph, isBuiltInArchitecture } from '../../compute/architectures/index.js';
import { topLevelBlocks } from '../../compute/onnx/onnx.to-ir.js';
import type { DatasetFormatEnum, InputLayoutEnum } from './registry.enums.js';
import { UpdateRunInput } from './run-update.types.js';
import {
  Checkpoint,
  CreateRunInput,
  Dataset,
  RegisterCheckpointInput,
  RegisterDatasetInput,
  Run,
  RunConnection,
  RunFilter,
  RunOrder,
} from './registry.types.js';

export const toRun = (row: RunRow): Run => Object.assign(new Run(), row);

export const toCheckpoint = (row: CheckpointRow): Checkpoint =>
  Object.assign(new Checkpoint(), row, {
    metadata: row.header.metadata,
    tensors: row.header.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
  });

export const toDataset = (row: DatasetRow): Dataset =>
  Object.assign(new Dataset(), row, {
    format: row.format as DatasetFormatEnum,
    inputLayout: row.inputLayout as InputLayoutEnum | null,
    normalization: row.normalization === null ? null : { mean: row.normalization.mean, std: row.normalization.std },
  });

/** GraphQL gives null for omitted optional fields; the use cases take undefined. */
export const stripNulls = (filter: RunFilter | null | undefined): RunFilterInput | undefined =>
  filter == null
    ? undefined
    : {
        architecture: filter.architecture ?? undefined,
        datasetName: filter.datasetName ?? undefined,
        tags: filter.tags ?? undefined,
        nameContains: filter.nameContains ?? undefined,
        hyperparametersContain: filter.hyperparametersContain ?? undefined,
        hyperparameters: filter.hyperparameters?.map(({ path, ...operators }) => ({
          path,
          ...Object.fromEntries(Object.entries(operators).filter(([, v]) => v !== null && v !== undefined)),
        })),
      };

async function endpointValue(
  ctx: GraphQLContext,
  run: Run,
  split: Split,
  evaluate: boolean,
  field: 'accuracy' | 'loss',
): Promise<number | null> {
  const metric = await ctx.loaders.runMetrics(split, evaluate).load(run as unknown as RunRow);
  return 'missing' in metric ? null : metric[field];
}

@Resolver(() => Run)
export class RunResolver {
  @Query(() => RunConnection, {
    description: 'Runs, filtered and sorted; a Relay connection with stable (keyset) cursors.',
  })
  async runs(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 50, description: `At most ${MAX_PAGE_SIZE}.` }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('filter', () => RunFilter, { nullable: true }) filter: RunFilter | null,
    @Arg('orderBy', () => RunOrder, { nullable: true, description: 'Default: creation order, oldest first.' })
    orderBy: RunOrder | null,
  ): Promise<RunConnection> {
    const page = await listRuns(ctx.registry, { first, after, filter: stripNulls(filter), orderBy });
    const edges = page.runs.map(({ run, cursor }) => ({ cursor, node: toRun(run) }));
    const registry = ctx.registry;
    return {
      edges,
      // A getter: the count query runs only when the selection asks for totalCount.
      get totalCount() {
        return countRuns(registry, stripNulls(filter));
      },
      pageInfo: {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: false,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  }

  @Query(() => Run)
  async run(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Run> {
    return toRun(await getRun(ctx.registry, id));
  }

  @FieldResolver(() => [Checkpoint], { description: 'Ordered by step, then role.' })
  async checkpoints(@Ctx() ctx: GraphQLContext, @Root() run: Run): Promise<Checkpoint[]> {
    return (await ctx.loaders.checkpointsByRun.load(run.id)).map(toCheckpoint);
  }

  @FieldResolver(() => Float, {
    nullable: true,
    description:
      "Accuracy of the FINAL checkpoint on the TEST split of the run's dataset (datasetName): the α = 1 point of a stored path ending there (not a bnStats RECOMPUTE path), evaluated on demand unless evaluate is false (at most 50 end points per request, under one evaluation slot of the caller: LINPATH_MAX_EVALUATIONS_PER_KEY). Null when the run has no FINAL checkpoint or no such dataset, or is not evaluated yet.",
  })
  async testAccuracy(
    @Ctx() ctx: GraphQLContext,
    @Root() run: Run,
    @Arg('evaluate', () => Boolean, { defaultValue: true }) evaluate: boolean,
  ) {
    return endpointValue(ctx, run, 'TEST', evaluate, 'accuracy');
  }

  @FieldResolver(() => Float, {
    nullable: true,
    description: 'Mean loss of the FINAL checkpoint on the TEST split (see testAccuracy).',
  })
  async testLoss(
    @Ctx() ctx: GraphQLContext,
    @Root() run: Run,
    @Arg('evaluate', () => Boolean, { defaultValue: true }) evaluate: boolean,
  ) {
    return endpointValue(ctx, run, 'TEST', evaluate, 'loss');
  }

  @FieldResolver(() => Float, {
    nullable: true,
    description: 'Accuracy of the FINAL checkpoint on the TRAIN split (see testAccuracy).',
  })
  async trainAccuracy(
    @Ctx() ctx: GraphQLContext,
    @Root() run: Run,
    @Arg('evaluate', () => Boolean, { defaultValue: true }) evaluate: boolean,
  ) {
    return endpointValue(ctx, run, 'TRAIN', evaluate, 'accuracy');
  }

  @FieldResolver(() => Float, {
    nullable: true,
    description: 'Mean loss of the FINAL checkpoint on the TRAIN split (see testAccuracy).',
  })
  async trainLoss(
    @Ctx() ctx: GraphQLContext,
    @Root() run: Run,
    @Arg('evaluate', () => Boolean, { defaultValue: true }) evaluate: boolean,
  ) {
    return endpointValue(ctx, run, 'TRAIN', evaluate, 'loss');
  }

  @FieldResolver(() => BarrierMetrics, {
    nullable: true,
    description:
      "Barrier metrics of the loss along INITIAL → FINAL (whole model, α = 0, 0.1, …, 1) on the TEST split of the run's dataset, from stored points only; null until that path is evaluated (ask interpolationPath).",
  })
  async barrier(@Ctx() ctx: GraphQLContext, @Root() run: Run): Promise<BarrierMetrics | null> {
    return ctx.loaders.runBarrier.load(run as unknown as RunRow);
  }

  @Mutation(() => Run)
  async createRun(@Ctx() ctx: GraphQLContext, @Arg('input', () => CreateRunInput) input: CreateRunInput): Promise<Run> {
    return toRun(await createRun(ctx.registry, input));
  }

  @Mutation(() => Run, {
    description:
      'Changes the dataset name, tags, hyper-parameters, seed, reported metrics or architecture of a run (scope write).',
  })
  async updateRun(@Ctx() ctx: GraphQLContext, @Arg('input', () => UpdateRunInput) input: UpdateRunInput): Promise<Run> {
    // GraphQL absent fields arrive as undefined; pass only the fields the request named.
    const given = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as UpdateRunInput;
    return toRun(await updateRun(ctx.registry, given));
  }
}

@Resolver(() => Checkpoint)
export class CheckpointResolver {
  @Query(() => Checkpoint)
  async checkpoint(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Checkpoint> {
    return toCheckpoint(await getCheckpoint(ctx.registry, id));
  }

  @FieldResolver(() => [String], {
    nullable: true,
    description:
      "Its architecture's top-level blocks (stem, layer1, …, fc): the block-wise paths of blockwisePaths. Null without an architecture, or when the tensors do not fit it.",
  })
  async blocks(@Ctx() ctx: GraphQLContext, @Root() checkpoint: Checkpoint): Promise<string[] | null> {
    if (checkpoint.architecture === null) return null;
    try {
      if (!isBuiltInArchitecture(checkpoint.architecture)) {
        // A registered architecture: its top-level modules (checkpoints are checked against it at import).
        const row = await ctx.registry.repository.findArchitecture(checkpoint.architecture);
        if (row !== undefined) return topLevelBlocks(row.parameters.map((p) => p.name));
      }
      return buildModelGraph(checkpoint.architecture, checkpoint.tensors).blocks;
    } catch {
      return null;
    }
  }

  @FieldResolver(() => Run)
  async run(@Ctx() ctx: GraphQLContext, @Root() checkpoint: Checkpoint): Promise<Run> {
    const run = await ctx.loaders.runById.load(checkpoint.runId);
    if (run === undefined) throw new Error(`checkpoint ${checkpoint.id} refers to missing run ${checkpoint.runId}`);
    return toRun(run);
  }

  @Mutation(() => Checkpoint, {
    description: 'Registers a safetensors object in a configured bucket. Idempotent for the same object.',
  })
  async registerCheckpoint(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => RegisterCheckpointInput) input: RegisterCheckpointInput,
  ): Promise<Checkpoint> {
    return toCheckpoint((await registerCheckpoint(ctx.registry, input)).checkpoint);
  }
}

@Resolver(() => Dataset)
export class DatasetResolver {
  @Query(() => [Dataset], { description: 'All datasets in registration order.' })
  async datasets(@Ctx() ctx: GraphQLContext): Promise<Dataset[]> {
    return (await listDatasets(ctx.registry)).map(toDataset);
  }

  @Query(() => Dataset)
  async dataset(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<Dataset> {
    return toDataset(await getDataset(ctx.registry, id));
  }

  @Mutation(() => Dataset, {
    description: 'Registers a dataset (safetensors, CIFAR-10 binary or MNIST IDX) in a configured bucket. Idempotent.',
  })
  async registerDataset(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => RegisterDatasetInput) input: RegisterDatasetInput,
  ): Promise<Dataset> {
    return toDataset((await registerDataset(ctx.registry, input)).dataset);
  }
}

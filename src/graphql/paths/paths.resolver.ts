import {
  Arg,
  Ctx,
  FieldResolver,
  Float,
  ID,
  Mutation,
  Query,
  Resolver,
  Root,
  Subscription,
  UseMiddleware,
} from 'type-graphql';
import {
  DEFAULT_PLATEAU_ALPHA,
  DEFAULT_PLATEAU_FRACTION,
  DEFAULT_RELATIVE_TOLERANCE,
  DEFAULT_TOLERANCE,
  pathBarrierMetrics,
} from '../../domain/barrier.metrics.js';
import { BarrierMetrics } from '../analytics/barrier.types.js';
import { getCheckpoint } from '../../usecases/registry/checkpoints.usecases.js';
import { getDataset } from '../../usecases/registry/datasets.usecases.js';
import { pathState } from '../../usecases/paths/path-states.js';
import {
  cancelPath,
  interpolationPath,
  retryPath,
  type PathPoint as PathPointValue,
  type PathResult,
} from '../../usecases/paths/paths.usecases.js';
import { pathUpdates, type PathUpdate as PathUpdateValue } from '../../usecases/paths/path-updates.js';
import type { GraphQLContext } from '../context.js';
import { LimitEvaluations } from '../pipeline/evaluation-slots.js';
import {
  CancelPathResult,
  InterpolationPath,
  InterpolationPathInput,
  PathPoint,
  PathStatusEnum,
  PathUpdate,
} from './paths.types.js';
import { toCheckpoint, toDataset } from '../registry/registry.resolver.js';
import type { AlphaChoiceEnum, PathRefinement } from './refinement.types.js';
import { Checkpoint, Dataset } from '../registry/registry.types.js';
import { reportedMetrics } from '../../domain/losses.js';

const toPoint = (p: PathPointValue): PathPoint => {
  return {
    alpha: p.alpha,
    ...reportedMetrics(p),
    correct: p.correct,
    n: p.n,
    nonFinite: p.nonFinite,
    engine: p.engine,
    engineVersion: p.engineVersion,
    durationMs: p.durationMs,
    cached: p.cached,
    chosenBy: p.chosenBy as AlphaChoiceEnum,
    computedAt: p.createdAt,
  };
};

export const toPath = ({ path, points, status, progress, failure, refinement }: PathResult): InterpolationPath =>
  Object.assign(new InterpolationPath(), path, {
    points: points.map(toPoint),
    status: status as PathStatusEnum,
    progress,
    failure,
    refinement: (refinement ?? null) as PathRefinement | null,
  });

const toUpdate = (update: PathUpdateValue): PathUpdate => ({
  ...update,
  point: update.point === null ? null : toPoint(update.point),
  status: update.status as PathStatusEnum,
});

@Resolver(() => InterpolationPath)
export class PathResolver {
  @Query(() => InterpolationPath, {
    description:
      'Loss and accuracy along the straight line between two checkpoints. Stored points are returned at once; missing alphas are evaluated and stored.',
  })
  @UseMiddleware(LimitEvaluations)
  async interpolationPath(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => InterpolationPathInput) input: InterpolationPathInput,
  ): Promise<InterpolationPath> {
    return toPath(await interpolationPath(ctx.paths, input, { wait: input.wait, timeoutMs: input.timeoutMs }));
  }

  @Query(() => InterpolationPath, {
    description: 'A path by id as it stands now; queues nothing. Without alphas: every α stored or queued.',
  })
  async path(
    @Ctx() ctx: GraphQLContext,
    @Arg('id', () => ID) id: string,
    @Arg('alphas', () => [Float], { nullable: true }) alphas: number[] | null,
  ): Promise<InterpolationPath> {
    return toPath(await pathState(ctx.paths, id, alphas ?? undefined));
  }

  @Mutation(() => CancelPathResult, {
    description: 'Drops the queued work of a path; a job already running stops after its current α.',
  })
  async cancelPath(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<CancelPathResult> {
    const { cancelled, ...state } = await cancelPath(ctx.paths, id);
    return { cancelled, path: toPath(state) };
  }

  @Mutation(() => InterpolationPath, {
    description: 'Clears the failure of a FAILED path; the next request for it queues its missing alphas again.',
  })
  async retryPath(@Ctx() ctx: GraphQLContext, @Arg('id', () => ID) id: string): Promise<InterpolationPath> {
    return toPath(await retryPath(ctx.paths, id));
  }

  @Subscription(() => PathUpdate, {
    description:
      'Each point of a path as a worker stores it (first those stored before: at most LINPATH_MAX_REPLAY_POINTS of them, evenly spaced, with progress counting all), then the final status; the stream then ends. Over graphql-ws at the /graphql URL.',
    subscribe: ({ args, context }) => {
      const { id, alphas } = args as { id: string; alphas?: number[] | null };
      const ctx = context as GraphQLContext;
      return pathUpdates(ctx.paths, id, alphas, ctx.maxReplayPoints);
    },
  })
  pathUpdated(
    @Root() update: PathUpdateValue,
    @Arg('id', () => ID) _id: string,
    @Arg('alphas', () => [Float], {
      nullable: true,
      description: 'The alphas awaited; default: those stored or queued.',
    })
    _alphas: number[] | null,
  ): PathUpdate {
    return toUpdate(update);
  }

  @FieldResolver(() => BarrierMetrics, { description: 'Barrier metrics of the loss curve over the requested alphas.' })
  barrier(
    @Root() path: InterpolationPath,
    @Arg('tolerance', () => Float, {
      defaultValue: DEFAULT_TOLERANCE,
      description: 'Absolute part of the barrier threshold: a rise must exceed it (and relativeTolerance × range).',
    })
    tolerance: number,
    @Arg('relativeTolerance', () => Float, {
      defaultValue: DEFAULT_RELATIVE_TOLERANCE,
      description: "Relative part of the barrier threshold, a fraction of the curve's range on [0, 1].",
    })
    relativeTolerance: number,
    @Arg('plateauAlpha', () => Float, {
      defaultValue: DEFAULT_PLATEAU_ALPHA,
      description: 'Where "early" ends, as a fraction of the α range.',
    })
    plateauAlpha: number,
    @Arg('plateauFraction', () => Float, {
      defaultValue: DEFAULT_PLATEAU_FRACTION,
      description: 'A plateau has done less than this fraction of its decrease by plateauAlpha.',
    })
    plateauFraction: number,
  ): BarrierMetrics {
    return pathBarrierMetrics(path.points, { loss: { tolerance, relativeTolerance, plateauAlpha, plateauFraction } })
      .loss;
  }

  @FieldResolver(() => BarrierMetrics, {
    description:
      'Barrier metrics of the error curve (1 − accuracy). One flipped example moves the error by 1/n: choose the tolerance accordingly.',
  })
  errorBarrier(
    @Root() path: InterpolationPath,
    @Arg('tolerance', () => Float, { defaultValue: DEFAULT_TOLERANCE }) tolerance: number,
    @Arg('relativeTolerance', () => Float, { defaultValue: DEFAULT_RELATIVE_TOLERANCE }) relativeTolerance: number,
    @Arg('plateauAlpha', () => Float, { defaultValue: DEFAULT_PLATEAU_ALPHA }) plateauAlpha: number,
    @Arg('plateauFraction', () => Float, { defaultValue: DEFAULT_PLATEAU_FRACTION }) plateauFraction: number,
  ): BarrierMetrics {
    return pathBarrierMetrics(path.points, {
      error: { tolerance, relativeTolerance, plateauAlpha, plateauFraction },
    }).error;
  }

  @FieldResolver(() => Checkpoint)
  async from(@Ctx() ctx: GraphQLContext, @Root() path: InterpolationPath): Promise<Checkpoint> {
    return toCheckpoint(await getCheckpoint(ctx.registry, path.fromCheckpointId));
  }

  @FieldResolver(() => Checkpoint)
  async to(@Ctx() ctx: GraphQLContext, @Root() path: InterpolationPath): Promise<Checkpoint> {
    return toCheckpoint(await getCheckpoint(ctx.registry, path.toCheckpointId));
  }

  @FieldResolver(() => Dataset)
  async dataset(@Ctx() ctx: GraphQLContext, @Root() path: InterpolationPath): Promise<Dataset> {
    return toDataset(await getDataset(ctx.registry, path.datasetId));
  }
}

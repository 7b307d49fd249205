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
import { barrierFieldsResolver } from '../analytics/barrier-fields.resolver.js';
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

/** barrier and errorBarrier of a path, over its points (the requested alphas). */
export const PathBarrierResolver = barrierFieldsResolver(InterpolationPath, {
  pointsOf: (path) => path.points,
  over: 'the requested alphas',
  nullable: false,
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

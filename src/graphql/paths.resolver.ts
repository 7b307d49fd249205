import { Arg, Ctx, FieldResolver, Float, Query, Resolver, Root } from 'type-graphql';
import { DEFAULT_PLATEAU_ALPHA, DEFAULT_PLATEAU_FRACTION, DEFAULT_TOLERANCE, pathBarrierMetrics } from '../domain/barrier.metrics.js';
import { BarrierMetrics } from './analytics.types.js';
import * as registry from '../usecases/registry.usecases.js';
import { interpolationPath, type PathResult } from '../usecases/paths.usecases.js';
import type { GraphQLContext } from './context.js';
import { InterpolationPath, InterpolationPathInput } from './paths.types.js';
import { toCheckpoint, toDataset } from './registry.resolver.js';
import { Checkpoint, Dataset } from './registry.types.js';

export const toPath = ({ path, points }: PathResult): InterpolationPath =>
  Object.assign(new InterpolationPath(), path, {
    points: points.map((p) => {
      const loss = p.lossSum / p.n;
      return {
        alpha: p.alpha,
        loss: Number.isFinite(loss) ? loss : null,
        accuracy: p.correct / p.n,
        correct: p.correct,
        n: p.n,
        nonFinite: p.nonFinite,
        engine: p.engine,
        engineVersion: p.engineVersion,
        durationMs: p.durationMs,
        cached: p.cached,
        computedAt: p.createdAt,
      };
    }),
  });

@Resolver(() => InterpolationPath)
export class PathResolver {
  @Query(() => InterpolationPath, {
    description:
      'Loss and accuracy along the straight line between two checkpoints. Stored points are returned at once; missing alphas are evaluated and stored.',
  })
  async interpolationPath(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => InterpolationPathInput) input: InterpolationPathInput,
  ): Promise<InterpolationPath> {
    return toPath(await interpolationPath(ctx.paths, input));
  }

  @FieldResolver(() => BarrierMetrics, { description: 'Barrier metrics of the loss curve over the requested alphas.' })
  barrier(
    @Root() path: InterpolationPath,
    @Arg('tolerance', () => Float, { defaultValue: DEFAULT_TOLERANCE, description: 'Largest rise between neighbouring points that is not a rise (absolute).' }) tolerance: number,
    @Arg('plateauAlpha', () => Float, { defaultValue: DEFAULT_PLATEAU_ALPHA, description: 'Where "early" ends, as a fraction of the α range.' }) plateauAlpha: number,
    @Arg('plateauFraction', () => Float, { defaultValue: DEFAULT_PLATEAU_FRACTION, description: 'A plateau has done less than this fraction of its decrease by plateauAlpha.' }) plateauFraction: number,
  ): BarrierMetrics {
    return pathBarrierMetrics(path.points, { loss: { tolerance, plateauAlpha, plateauFraction } }).loss;
  }

  @FieldResolver(() => BarrierMetrics, {
    description: 'Barrier metrics of the error curve (1 − accuracy). One flipped example moves the error by 1/n: choose the tolerance accordingly.',
  })
  errorBarrier(
    @Root() path: InterpolationPath,
    @Arg('tolerance', () => Float, { defaultValue: DEFAULT_TOLERANCE }) tolerance: number,
    @Arg('plateauAlpha', () => Float, { defaultValue: DEFAULT_PLATEAU_ALPHA }) plateauAlpha: number,
    @Arg('plateauFraction', () => Float, { defaultValue: DEFAULT_PLATEAU_FRACTION }) plateauFraction: number,
  ): BarrierMetrics {
    return pathBarrierMetrics(path.points, { error: { tolerance, plateauAlpha, plateauFraction } }).error;
  }

  @FieldResolver(() => Checkpoint)
  async from(@Ctx() ctx: GraphQLContext, @Root() path: InterpolationPath): Promise<Checkpoint> {
    return toCheckpoint(await registry.getCheckpoint(ctx.registry, path.fromCheckpointId));
  }

  @FieldResolver(() => Checkpoint)
  async to(@Ctx() ctx: GraphQLContext, @Root() path: InterpolationPath): Promise<Checkpoint> {
    return toCheckpoint(await registry.getCheckpoint(ctx.registry, path.toCheckpointId));
  }

  @FieldResolver(() => Dataset)
  async dataset(@Ctx() ctx: GraphQLContext, @Root() path: InterpolationPath): Promise<Dataset> {
    return toDataset(await registry.getDataset(ctx.registry, path.datasetId));
  }
}

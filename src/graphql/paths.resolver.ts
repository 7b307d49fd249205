import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import * as registry from '../usecases/registry.usecases.js';
import { interpolationPath, type PathResult } from '../usecases/paths.usecases.js';
import type { GraphQLContext } from './context.js';
import { InterpolationPath, InterpolationPathInput } from './paths.types.js';
import { toCheckpoint, toDataset } from './registry.resolver.js';
import { Checkpoint, Dataset } from './registry.types.js';

const toPath = ({ path, points }: PathResult): InterpolationPath =>
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

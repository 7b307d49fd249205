import { Arg, Ctx, FieldResolver, ID, Query, Resolver, Root, UseMiddleware } from 'type-graphql';
import type { DistanceMetric } from '../../domain/distances.js';
import { blockwisePaths } from '../../usecases/analytics/blockwise.usecases.js';
import { correlation } from '../../usecases/analytics/correlation.usecases.js';
import { checkpointDistance } from '../../usecases/analytics/distances.usecases.js';
import { getCheckpoint } from '../../usecases/registry/checkpoints.usecases.js';
import { BlockwisePaths, BlockwisePathsInput } from './blockwise.types.js';
import { CorrelationInput, CorrelationReport } from './correlation.types.js';
import { Distance } from './distance.types.js';
import { randomInitFor } from '../derive/derive.resolver.js';
import type { GraphQLContext } from '../context.js';
import { LimitEvaluations } from '../pipeline/evaluation-slots.js';
import { toPath } from '../paths/paths.resolver.js';
import { stripNulls, toCheckpoint, toRun } from '../registry/registry.resolver.js';
import { Checkpoint } from '../registry/registry.types.js';
import { DistanceMetric as DistanceMetricEnum } from '../../domain/distances.js';

@Resolver(() => Distance)
export class DistanceResolver {
  @Query(() => Distance, {
    description: 'A distance between two checkpoints of one architecture, optionally over some blocks; memoized.',
  })
  // A distance not yet stored is computed in the request from both checkpoints read whole: every distance request
  // holds an evaluation slot (whether it is stored is known only inside the use case).
  @UseMiddleware(LimitEvaluations)
  async distance(
    @Ctx() ctx: GraphQLContext,
    @Arg('from', () => ID) from: string,
    @Arg('to', () => ID) to: string,
    @Arg('metric', () => DistanceMetricEnum) metric: DistanceMetric,
    @Arg('blocks', () => [String], { nullable: true }) blocks: string[] | null,
  ): Promise<Distance> {
    const { distance, cached } = await checkpointDistance(ctx.analytics, { from, to, metric, blocks });
    return Object.assign(new Distance(), distance, { metric: distance.metric as DistanceMetric, cached });
  }

  @FieldResolver(() => Checkpoint)
  async from(@Ctx() ctx: GraphQLContext, @Root() distance: Distance): Promise<Checkpoint> {
    return toCheckpoint(await getCheckpoint(ctx.registry, distance.fromCheckpointId));
  }

  @FieldResolver(() => Checkpoint)
  async to(@Ctx() ctx: GraphQLContext, @Root() distance: Distance): Promise<Checkpoint> {
    return toCheckpoint(await getCheckpoint(ctx.registry, distance.toCheckpointId));
  }
}

@Resolver()
export class AnalyticsResolver {
  @Query(() => BlockwisePaths, {
    description:
      'One path per block, only that block moving (the rest at `to`), and whether the block-wise barriers are high or low.',
  })
  @UseMiddleware(LimitEvaluations)
  async blockwisePaths(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => BlockwisePathsInput) input: BlockwisePathsInput,
  ): Promise<BlockwisePaths> {
    const result = await blockwisePaths(ctx.analytics, { ...input, barrier: { tolerance: input.tolerance } });
    return {
      paths: result.paths.map(({ block, result: path, loss }) => ({
        block,
        path: toPath(path),
        height: loss.rise,
        level:
          result.classification !== null && Object.hasOwn(result.classification.blocks, block)
            ? result.classification.blocks[block]!
            : null,
      })),
      endpointLoss: result.endpointLoss,
      threshold: result.classification?.threshold ?? null,
      summary: result.classification?.summary ?? null,
    };
  }

  @Query(() => CorrelationReport, {
    description:
      'A barrier metric (or distance) against accuracy or loss across the runs matching a filter, overall and per hyper-parameter group.',
  })
  @UseMiddleware(LimitEvaluations)
  async correlation(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => CorrelationInput) input: CorrelationInput,
  ): Promise<CorrelationReport> {
    const report = await correlation(
      { ...ctx.analytics, randomInit: randomInitFor(ctx) },
      {
        runs: stripNulls(input.runs),
        x: input.x,
        y: input.y,
        yMetric: input.yMetric,
        path: {
          from: input.path.fromEndpoint ?? input.path.from,
          to: input.path.toEndpoint ?? input.path.to,
          dataset: input.path.dataset,
          blocks: input.path.blocks,
          alphas: input.path.alphas,
          limit: input.path.limit,
        },
        groupBy: input.groupBy,
        maxEvaluations: input.maxEvaluations,
        wait: input.wait,
        timeoutMs: input.timeoutMs,
        barrier: { tolerance: input.tolerance, relativeTolerance: input.relativeTolerance },
        statistics: { permutations: input.permutations, bootstrap: input.bootstrap, seed: input.seed },
      },
    );
    return {
      overall: report.overall,
      groups: report.groups,
      points: report.points.map((p) => ({ ...p, run: toRun(p.run) })),
      missing: report.missing.map((m) => ({ ...m, run: toRun(m.run) })),
      progress: report.progress,
    };
  }
}

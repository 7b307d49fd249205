import { Arg, Ctx, Mutation, Query, Resolver, Root, Subscription, UseMiddleware } from 'type-graphql';
import { coefficientsOfKey } from '../../domain/combination-key.js';
import { reportedMetrics } from '../../domain/losses.js';
import type { CombinationPointRow } from '../../storage/combinations.tables.js';
import { curvePath } from '../../usecases/landscapes/curve.usecases.js';
import { createDirection } from '../../usecases/landscapes/directions.usecases.js';
import { planeUpdates, type PlaneUpdate as PlaneUpdateValue } from '../../usecases/landscapes/plane-updates.js';
import { lossPlane, type LossPlaneResult, type PlaneCell } from '../../usecases/landscapes/plane.usecases.js';
import type { GraphQLContext } from '../context.js';
import { barrierFieldsResolver } from '../analytics/barrier-fields.resolver.js';
import { toPath } from '../paths/paths.resolver.js';
import { PathStatusEnum } from '../paths/paths.types.js';
import { LimitEvaluations } from '../pipeline/evaluation-slots.js';
import { toCheckpoint } from '../registry/registry.resolver.js';
import { Checkpoint } from '../registry/registry.types.js';
import {
  CurveKindEnum,
  CurvePath,
  LossPlane,
  PlaneKindEnum,
  PlanePoint,
  PlaneUpdate,
  type LandscapePoint,
} from './landscapes.types.js';
import { CurvePathInput, DirectionInput, LossPlaneInput } from './landscapes.inputs.js';

const toLandscapePoint = (point: CombinationPointRow, cached: boolean): LandscapePoint => ({
  ...reportedMetrics(point),
  n: point.n,
  nonFinite: point.nonFinite,
  coefficients: coefficientsOfKey(point.coefficients),
  engine: point.engine,
  durationMs: point.durationMs,
  cached,
});

const toPlanePoint = (cell: PlaneCell & { point: CombinationPointRow }): PlanePoint => ({
  ...toLandscapePoint(cell.point, cell.cached),
  i: cell.i,
  j: cell.j,
  x: cell.x,
  y: cell.y,
});

const stored = (cell: PlaneCell): cell is PlaneCell & { point: CombinationPointRow } => cell.point !== undefined;

export function toPlane(plane: LossPlaneResult): LossPlane {
  const grid = <T>(value: (cell: PlaneCell) => T): T[][] =>
    plane.ys.map((_, j) => plane.xs.map((_, i) => value(plane.cells[j * plane.xs.length + i]!)));
  return {
    id: plane.combinationId,
    kind: plane.kind as PlaneKindEnum,
    states: plane.states,
    xs: plane.xs,
    ys: plane.ys,
    loss: grid((cell) => (cell.point === undefined ? null : reportedMetrics(cell.point).loss)),
    accuracy: grid((cell) => (cell.point === undefined ? null : reportedMetrics(cell.point).accuracy)),
    points: plane.cells.filter(stored).map(toPlanePoint),
    markers: plane.markers,
    lineInPlane: plane.lineInPlane,
    axes: plane.axes,
    status: plane.status as PathStatusEnum,
    progress: plane.progress,
    failure: plane.failure,
    cost: plane.cost,
  };
}

/** barrier and errorBarrier of a curve, over its stored points with t as α; a curve queued a moment ago has fewer than two. */
export const CurveBarrierResolver = barrierFieldsResolver(CurvePath, {
  pointsOf: (curve) => curve.points.map((p) => ({ alpha: p.t, loss: p.loss, accuracy: p.accuracy })),
  over: 'its stored points (t as α)',
  nullable: true,
});

@Resolver()
export class LandscapeResolver {
  @Query(() => LossPlane, {
    description:
      'The loss over a grid of a plane: through three checkpoints, or around one along two directions (createDirection). Stored points at once; missing ones are queued in chunks. At most 51×51 points.',
  })
  @UseMiddleware(LimitEvaluations)
  async lossPlane(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => LossPlaneInput) input: LossPlaneInput,
  ): Promise<LossPlane> {
    return toPlane(
      await lossPlane(ctx.paths, input, { wait: input.wait, timeoutMs: input.timeoutMs, dryRun: input.dryRun }),
    );
  }

  @Query(() => CurvePath, {
    description:
      'The loss along a Bezier curve or polychain from `from` through `bend` to `to`, with the straight line from → to next to it.',
  })
  @UseMiddleware(LimitEvaluations)
  async curvePath(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => CurvePathInput) input: CurvePathInput,
  ): Promise<CurvePath> {
    const curve = await curvePath(ctx.paths, input, { wait: input.wait, timeoutMs: input.timeoutMs });
    const complete = curve.points.filter((p) => p.point !== undefined);
    return {
      id: curve.combinationId,
      kind: curve.kind as CurveKindEnum,
      ts: curve.points.map((p) => p.t),
      points: complete.map((p) => ({ ...toLandscapePoint(p.point!, p.cached), t: p.t })),
      line: toPath(curve.line),
      status: curve.status as PathStatusEnum,
      progress: curve.progress,
      failure: curve.failure,
      cost: curve.cost,
    };
  }

  @Mutation(() => Checkpoint, {
    description:
      "A seeded random direction around a checkpoint, filter-normalised against it (Li et al. 2018), stored as a DERIVED checkpoint (operation DIRECTION): an axis for lossPlane's xDirection / yDirection.",
  })
  async createDirection(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => DirectionInput) input: DirectionInput,
  ): Promise<Checkpoint> {
    return toCheckpoint(await createDirection({ registry: ctx.registry, paths: ctx.paths }, input));
  }

  @Subscription(() => PlaneUpdate, {
    description:
      'Each grid point of a plane as a worker stores it (first those stored before: at most LINPATH_MAX_REPLAY_POINTS, evenly spaced), then the final status; the stream then ends. Takes the input of the lossPlane request (ask it with wait: false first); queues nothing.',
    subscribe: ({ args, context }) => {
      const ctx = context as GraphQLContext;
      return planeUpdates(ctx.paths, (args as { input: LossPlaneInput }).input, ctx.maxReplayPoints);
    },
  })
  planeUpdated(
    @Root() update: PlaneUpdateValue,
    @Arg('input', () => LossPlaneInput) _input: LossPlaneInput,
  ): PlaneUpdate {
    return {
      planeId: update.planeId,
      point: update.cell === null || !stored(update.cell) ? null : toPlanePoint(update.cell),
      status: update.status as PathStatusEnum,
      progress: update.progress,
      failure: update.failure,
    };
  }
}

import { Args, ArgsType, Field, FieldResolver, Float, Resolver, Root, type ClassType } from 'type-graphql';
import {
  DEFAULT_PLATEAU_ALPHA,
  DEFAULT_PLATEAU_FRACTION,
  DEFAULT_RELATIVE_TOLERANCE,
  DEFAULT_TOLERANCE,
  pathBarrierMetrics,
  type BarrierOptions,
  type PathPointValues,
} from '../../domain/barrier.metrics.js';
import { BarrierMetrics } from './barrier.types.js';

@ArgsType()
class BarrierArgs implements Required<BarrierOptions> {
  @Field(() => Float, {
    defaultValue: DEFAULT_TOLERANCE,
    description: 'Absolute part of the barrier threshold: a rise must exceed it (and relativeTolerance × range).',
  })
  tolerance!: number;

  @Field(() => Float, {
    defaultValue: DEFAULT_RELATIVE_TOLERANCE,
    description: "Relative part of the barrier threshold, a fraction of the curve's range on [0, 1].",
  })
  relativeTolerance!: number;

  @Field(() => Float, {
    defaultValue: DEFAULT_PLATEAU_ALPHA,
    description: 'Where "early" ends, as a fraction of the α range.',
  })
  plateauAlpha!: number;

  @Field(() => Float, {
    defaultValue: DEFAULT_PLATEAU_FRACTION,
    description: 'A plateau has done less than this fraction of its decrease by plateauAlpha.',
  })
  plateauFraction!: number;
}

/**
 * The `barrier` and `errorBarrier` fields of a type with a sampled curve (paths, curves through a bend): the
 * barrier metrics of its loss and of its error over `pointsOf(root)`, with the thresholds as arguments.
 * `nullable`: below two points the field is null (a curve queued a moment ago); otherwise measuring it is refused.
 */
export function barrierFieldsResolver<T extends object>(
  of: ClassType<T>,
  { pointsOf, over, nullable }: { pointsOf: (root: T) => readonly PathPointValues[]; over: string; nullable: boolean },
): ClassType {
  const whileFew = nullable ? ' Null while fewer than two are stored.' : '';
  const measure = (root: T, curve: 'loss' | 'error', options: BarrierArgs): BarrierMetrics | null => {
    const points = pointsOf(root);
    return nullable && points.length < 2 ? null : pathBarrierMetrics(points, { [curve]: { ...options } })[curve];
  };

  @Resolver(() => of)
  class BarrierFieldsResolver {
    @FieldResolver(() => BarrierMetrics, {
      nullable,
      description: `Barrier metrics of the loss curve over ${over}.${whileFew}`,
    })
    barrier(@Root() root: T, @Args(() => BarrierArgs) options: BarrierArgs): BarrierMetrics | null {
      return measure(root, 'loss', options);
    }

    @FieldResolver(() => BarrierMetrics, {
      nullable,
      description: `Barrier metrics of the error curve (1 − accuracy) over ${over}. One flipped example moves the error by 1/n: choose the tolerance accordingly.${whileFew}`,
    })
    errorBarrier(@Root() root: T, @Args(() => BarrierArgs) options: BarrierArgs): BarrierMetrics | null {
      return measure(root, 'error', options);
    }
  }
  return BarrierFieldsResolver;
}

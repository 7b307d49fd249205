import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CurveShape } from '../../domain/barrier.metrics.js';

registerEnumType(CurveShape, {
  name: 'CurveShape',
  description: 'Shape of a sampled curve L(α) (Vlaar & Frankle 2022, Table 1).',
  valuesConfig: {
    MONOTONIC_DECAY: {
      description: 'NB: no rise L(α_j) − L(α_i) (i < j) above the threshold, and not a plateau.',
    },
    BARRIER: {
      description:
        'B: some rise L(α_j) − L(α_i) (i < j) above the threshold max(tolerance, relativeTolerance × range), or a diverged point between the end points; mliDelta > threshold.',
    },
    PLATEAU: {
      description:
        'P: no rise above the threshold, but less than plateauFraction of the total decrease L(0) − L(1) is done at plateauAlpha of the way (L interpolated linearly between samples); a flat curve is a plateau too.',
    },
  },
});
@ObjectType({
  description:
    'Barrier measures of a sampled curve L(α) (loss, or error = 1 − accuracy) over the requested alphas in [0, 1] (points outside are counted in pointsOutside, never measured). A NaN or infinite point between the end points makes the curve a BARRIER of unbounded height (heights and mliDelta null); a non-finite end point makes the heights that use it null; non-finite points are counted in nonFinitePoints.',
})
export class BarrierMetrics {
  @Field(() => Float, {
    nullable: true,
    description:
      'The barrier above both end points: max_α L(α) − max(L(0), L(1)), ≥ 0; 0 for a curve that never rises above its higher end. Null when an end point is non-finite.',
  })
  rise!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'max_α L(α) − L(0), ≥ 0: how far the path rises above the loss at its start ("rising above the level of loss at initialization", Vlaar & Frankle 2022, Sec. 3.2). Null when L(0) is non-finite.',
  })
  riseAboveStart!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'max_α L(α) − ½(L(0) + L(1)) (Frankle et al. 2020), meant for paths between two trained states: on an init → final path it is ≈ ½(L(0) − L(1)) for any decaying curve, a measure of how much the loss fell rather than of a barrier. Null when an end point is non-finite.',
  })
  frankleHeight!: number | null;

  @Field(() => Float, {
    nullable: true,
    deprecationReason: 'Renamed: use rise (the same number).',
    description: 'The same number as rise.',
  })
  heightAboveEndpoints!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Largest bump as Lucas et al. 2021: a bump starts at a point after which L rises and ends at the first later point below the start (or at the end); Δ = max over bumps of (peak − start); 0 for a non-increasing curve.',
  })
  mliDelta!: number | null;

  @Field(() => Float, { nullable: true, description: 'α of the largest value (the smallest such α on ties).' })
  alphaAtMax!: number | null;

  @Field(() => Float, { nullable: true })
  maxValue!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'For a BARRIER, the α of its peak (the top of the largest bump, or the first diverged point); null otherwise.',
  })
  barrierAlpha!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'The rise a bump had to exceed to make a BARRIER: max(tolerance, relativeTolerance × (max L − min L)).',
  })
  threshold!: number | null;

  @Field(() => Boolean, { nullable: true, description: 'No rise L(α_j) − L(α_i) (i < j) above the threshold.' })
  monotonic!: boolean | null;

  @Field(() => CurveShape, { nullable: true, description: 'Classified on α ∈ [0, 1] only.' })
  shape!: CurveShape | null;

  @Field(() => Int)
  nonFinitePoints!: number;

  @Field(() => Int, { description: 'Points with α outside [0, 1]: shown on plots, never measured or classified.' })
  pointsOutside!: number;
}

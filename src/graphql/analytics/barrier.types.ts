import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CurveShape } from '../../domain/barrier.metrics.js';

registerEnumType(CurveShape, {
  name: 'CurveShape',
  description: 'Shape of a sampled curve L(α) (Vlaar & Frankle 2022, Table 1).',
  valuesConfig: {
    MONOTONIC_DECAY: {
      description: 'NB: no rise between neighbouring points beyond the tolerance, and not a plateau.',
    },
    BARRIER: { description: 'B: some rise L(α_{i+1}) − L(α_i) beyond the tolerance.' },
    PLATEAU: {
      description:
        'P: non-increasing, but less than plateauFraction of the total decrease L(α_min) − L(α_max) is done at plateauAlpha of the way (L interpolated linearly between samples); a flat curve is a plateau too.',
    },
  },
});
@ObjectType({
  description:
    'Barrier measures of a sampled curve L(α) (loss, or error = 1 − accuracy) over the requested alphas. A NaN or infinite point between the end points makes the curve a BARRIER of unbounded height (heights and mliDelta null); a non-finite end point makes the heights null; non-finite points are counted in nonFinitePoints.',
})
export class BarrierMetrics {
  @Field(() => Float, {
    nullable: true,
    description: 'max_α L(α) − ½(L(α_min) + L(α_max)) (Frankle et al. 2020). Null when an end point is non-finite.',
  })
  frankleHeight!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'max(0, max_α L(α) − max(L(α_min), L(α_max))). Null when an end point is non-finite.',
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

  @Field(() => Boolean, { nullable: true, description: 'No rise L(α_{i+1}) − L(α_i) larger than the tolerance.' })
  monotonic!: boolean | null;

  @Field(() => CurveShape, { nullable: true })
  shape!: CurveShape | null;

  @Field(() => Int)
  nonFinitePoints!: number;
}

import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { DistanceMetric } from '../../domain/distances.js';
import { Checkpoint } from '../registry/registry.types.js';

registerEnumType(DistanceMetric, {
  name: 'DistanceMetric',
  valuesConfig: {
    LAYERWISE_NORMALIZED: {
      description:
        'Mean over conv and linear weight tensors (*.weight with ≥ 2 dimensions) of ‖θ_T − θ_0‖_F / ‖θ_0‖_F (Vlaar & Frankle 2022, Eq. 4; Liu et al. 2020).',
    },
    L2: {
      description: '‖θ_T − θ_0‖₂ over all parameters (BatchNorm running statistics and integer buffers excluded).',
    },
    RELATIVE_L2: { description: 'L2 divided by ‖θ_0‖₂.' },
    COSINE: { description: 'Cosine similarity of the two parameter vectors (same parameters as L2).' },
  },
});

@ObjectType({ description: 'A distance between two checkpoints, memoized.' })
export class Distance {
  @Field(() => DistanceMetric)
  metric!: DistanceMetric;

  @Field(() => Float)
  value!: number;

  @Field(() => [String], {
    nullable: true,
    description: 'Blocks the distance is restricted to; null: all tensors the metric covers.',
  })
  blocks!: string[] | null;

  @Field(() => Int, { description: 'Tensors that entered the value.' })
  tensorCount!: number;

  @Field(() => Boolean, { description: 'True when the value was stored before this request.' })
  cached!: boolean;

  fromCheckpointId!: string;
  toCheckpointId!: string;

  @Field(() => Checkpoint)
  from!: Checkpoint;

  @Field(() => Checkpoint)
  to!: Checkpoint;
}

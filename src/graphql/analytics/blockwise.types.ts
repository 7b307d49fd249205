import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { LayerwiseBarrierLevel, LayerwiseBarrierSummary } from '../../domain/barrier.metrics.js';
import { EngineNameEnum, InterpolationPath } from '../paths/paths.types.js';

registerEnumType(LayerwiseBarrierLevel, { name: 'LayerwiseBarrierLevel' });
registerEnumType(LayerwiseBarrierSummary, {
  name: 'LayerwiseBarrierSummary',
  valuesConfig: {
    HIGH_LAYERWISE_BARRIERS: { description: 'H-LB: some block-wise path has a HIGH barrier.' },
    LOW_LAYERWISE_BARRIERS: { description: 'L-LB: every block-wise barrier is LOW.' },
  },
});

@ObjectType()
export class BlockPath {
  @Field(() => String)
  block!: string;

  @Field(() => InterpolationPath, { description: 'The path along which only this block moves.' })
  path!: InterpolationPath;

  @Field(() => Float, { nullable: true, description: 'rise of the loss curve: max L − max(L(0), L(1)).' })
  height!: number | null;

  @Field(() => LayerwiseBarrierLevel, {
    nullable: true,
    description: 'HIGH when height > relativeThreshold × endpointLoss.',
  })
  level!: LayerwiseBarrierLevel | null;
}

@ObjectType({
  description:
    'One path per block (Vlaar & Frankle 2022, Fig. 1B) and the high/low classification of their barriers (Table 1).',
})
export class BlockwisePaths {
  @Field(() => [BlockPath])
  paths!: BlockPath[];

  @Field(() => Float, {
    nullable: true,
    description: 'Loss at α = 1 (θ_to), shared by every block-wise path; null when it is not finite.',
  })
  endpointLoss!: number | null;

  @Field(() => Float, { nullable: true, description: 'relativeThreshold × endpointLoss.' })
  threshold!: number | null;

  @Field(() => LayerwiseBarrierSummary, { nullable: true })
  summary!: LayerwiseBarrierSummary | null;
}

@InputType()
export class BlockwisePathsInput {
  @Field(() => ID)
  from!: string;

  @Field(() => ID)
  to!: string;

  @Field(() => ID)
  dataset!: string;

  @Field(() => [String], { nullable: true, description: "Default: the architecture's top-level blocks." })
  blocks?: string[] | null;

  @Field(() => [Float], {
    nullable: true,
    description: 'Default 0, 0.1, …, 1; must include 0 and 1 (the end points the barriers are measured against).',
  })
  alphas?: number[] | null;

  @Field(() => Int, { nullable: true })
  limit?: number | null;

  @Field(() => EngineNameEnum, { nullable: true })
  engine?: EngineNameEnum | null;

  @Field(() => Float, {
    defaultValue: 0.1,
    description: 'A block-wise barrier is HIGH when its height exceeds relativeThreshold × endpointLoss.',
  })
  relativeThreshold!: number;

  @Field(() => Float, {
    defaultValue: 1e-4,
    description: 'Largest rise between neighbouring points that still counts as not rising.',
  })
  tolerance!: number;
}

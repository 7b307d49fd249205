import { Field, Float, ID, InputType, Int } from 'type-graphql';
import { BnStatsModeEnum, EngineNameEnum } from '../paths/paths.types.js';
import { CurveKindEnum, DirectionScopeEnum, LowDimensionRuleEnum } from './landscapes.types.js';

@InputType()
export class DirectionInput {
  @Field(() => ID, { description: 'The checkpoint the direction is drawn around and filter-normalised against.' })
  center!: string;

  @Field(() => Int, { description: 'Same seed, centre and options: the same direction (one checkpoint).' })
  seed!: number;

  @Field(() => DirectionScopeEnum, { defaultValue: DirectionScopeEnum.WEIGHTS })
  scope!: DirectionScopeEnum;

  @Field(() => LowDimensionRuleEnum, { defaultValue: LowDimensionRuleEnum.ZERO })
  lowDimension!: LowDimensionRuleEnum;

  @Field(() => ID, { nullable: true, description: 'Run id or name to register it in; default the centre’s run.' })
  run?: string | null;
}

@InputType()
export class PlaneRangeInput {
  @Field(() => Float)
  xMin!: number;

  @Field(() => Float)
  xMax!: number;

  @Field(() => Float)
  yMin!: number;

  @Field(() => Float)
  yMax!: number;
}

@InputType()
export class LossPlaneInput {
  @Field(() => ID, { description: 'A (three states) or the centre w (directions): the origin of the plane.' })
  center!: string;

  @Field(() => ID, { nullable: true, description: 'B: the x axis runs from A to B. Exclusive with xDirection.' })
  xState?: string | null;

  @Field(() => ID, { nullable: true, description: 'A direction from createDirection. Exclusive with xState.' })
  xDirection?: string | null;

  @Field(() => ID, { nullable: true, description: 'C: the y axis runs from A to C. Exclusive with yDirection.' })
  yState?: string | null;

  @Field(() => ID, { nullable: true, description: 'A direction from createDirection. Exclusive with yState.' })
  yDirection?: string | null;

  @Field(() => Boolean, {
    defaultValue: false,
    description: 'Three states: make the y axis orthogonal to B − A (Garipov et al.); C is then at (k, 1).',
  })
  orthogonalize!: boolean;

  @Field(() => PlaneRangeInput, {
    nullable: true,
    description: 'Default: −0.5 to 1.5 on both axes for three states, −1 to 1 for directions.',
  })
  range?: PlaneRangeInput | null;

  @Field(() => Int, { nullable: true, description: 'Points per axis: default 21, at most 51 (51×51 = 2,601 points).' })
  resolution?: number | null;

  @Field(() => ID)
  dataset!: string;

  @Field(() => Int, { nullable: true, description: 'Evaluate only the first `limit` examples.' })
  limit?: number | null;

  @Field(() => EngineNameEnum, { nullable: true })
  engine?: EngineNameEnum | null;

  @Field(() => BnStatsModeEnum, {
    defaultValue: BnStatsModeEnum.INTERPOLATE,
    description:
      'INTERPOLATE (statistics combined like the weights) or RECOMPUTE (recomputed at every grid point: expensive, see cost).',
  })
  bnStats!: BnStatsModeEnum;

  @Field(() => ID, { nullable: true })
  bnStatsDataset?: string | null;

  @Field(() => Int, { nullable: true })
  bnStatsExamples?: number | null;

  @Field(() => Boolean, {
    defaultValue: true,
    description: 'true: answer when every point is stored (or timeoutMs passes). false: queue and answer at once.',
  })
  wait!: boolean;

  @Field(() => Int, { nullable: true, description: 'Longest wait; default and maximum LINPATH_MAX_WAIT_MS.' })
  timeoutMs?: number | null;

  @Field(() => Boolean, { defaultValue: false, description: 'Only the cost: nothing is stored or queued.' })
  dryRun!: boolean;
}

@InputType()
export class CurvePathInput {
  @Field(() => ID, { description: 'The curve at t = 0.' })
  from!: string;

  @Field(() => ID, { description: 'The curve at t = 1.' })
  to!: string;

  @Field(() => ID, { description: 'The bend: a registered (e.g. derived) checkpoint of the same architecture.' })
  bend!: string;

  @Field(() => CurveKindEnum, { defaultValue: CurveKindEnum.BEZIER })
  kind!: CurveKindEnum;

  @Field(() => [Float], {
    nullable: true,
    description: 'Default 0, 0.1, …, 1; within [0, 1], at most LINPATH_MAX_ALPHAS.',
  })
  ts?: number[] | null;

  @Field(() => ID)
  dataset!: string;

  @Field(() => Int, { nullable: true })
  limit?: number | null;

  @Field(() => EngineNameEnum, { nullable: true })
  engine?: EngineNameEnum | null;

  @Field(() => BnStatsModeEnum, { defaultValue: BnStatsModeEnum.INTERPOLATE })
  bnStats!: BnStatsModeEnum;

  @Field(() => ID, { nullable: true })
  bnStatsDataset?: string | null;

  @Field(() => Int, { nullable: true })
  bnStatsExamples?: number | null;

  @Field(() => Boolean, { defaultValue: true })
  wait!: boolean;

  @Field(() => Int, { nullable: true })
  timeoutMs?: number | null;
}

import { GraphQLJSON } from '../scalars.js';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { CurveShape, LayerwiseBarrierLevel, LayerwiseBarrierSummary } from '../../domain/barrier.metrics.js';
import { DistanceMetric } from '../../domain/distances.js';
import { X_METRICS, Y_METRICS } from '../../domain/correlation-metrics.js';
import { CheckpointRoleEnum } from '../registry/registry.enums.js';
import { EngineNameEnum, InterpolationPath } from '../paths/paths.types.js';
import { Checkpoint, Run, RunFilter } from '../registry/registry.types.js';

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
registerEnumType(LayerwiseBarrierLevel, { name: 'LayerwiseBarrierLevel' });
registerEnumType(LayerwiseBarrierSummary, {
  name: 'LayerwiseBarrierSummary',
  valuesConfig: {
    HIGH_LAYERWISE_BARRIERS: { description: 'H-LB: some block-wise path has a HIGH barrier.' },
    LOW_LAYERWISE_BARRIERS: { description: 'L-LB: every block-wise barrier is LOW.' },
  },
});
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

export enum XMetricEnum {
  FRANKLE_HEIGHT = 'FRANKLE_HEIGHT',
  HEIGHT_ABOVE_ENDPOINTS = 'HEIGHT_ABOVE_ENDPOINTS',
  MLI_DELTA = 'MLI_DELTA',
  ALPHA_AT_MAX = 'ALPHA_AT_MAX',
  MONOTONIC = 'MONOTONIC',
  ERROR_FRANKLE_HEIGHT = 'ERROR_FRANKLE_HEIGHT',
  ERROR_HEIGHT_ABOVE_ENDPOINTS = 'ERROR_HEIGHT_ABOVE_ENDPOINTS',
  ERROR_MLI_DELTA = 'ERROR_MLI_DELTA',
  ERROR_ALPHA_AT_MAX = 'ERROR_ALPHA_AT_MAX',
  ERROR_MONOTONIC = 'ERROR_MONOTONIC',
  DISTANCE_LAYERWISE_NORMALIZED = 'DISTANCE_LAYERWISE_NORMALIZED',
  DISTANCE_L2 = 'DISTANCE_L2',
  DISTANCE_RELATIVE_L2 = 'DISTANCE_RELATIVE_L2',
  DISTANCE_COSINE = 'DISTANCE_COSINE',
}
registerEnumType(XMetricEnum, {
  name: 'CorrelationX',
  description:
    "A barrier metric of the loss (or, ERROR_*, of the error) curve of each run's path; MONOTONIC as 0/1; or a distance between the path's end points.",
});
export enum YMetricEnum {
  TEST_ACCURACY = 'TEST_ACCURACY',
  TEST_LOSS = 'TEST_LOSS',
  TEST_ERROR = 'TEST_ERROR',
  TRAIN_ACCURACY = 'TRAIN_ACCURACY',
  TRAIN_LOSS = 'TRAIN_LOSS',
  TRAIN_ERROR = 'TRAIN_ERROR',
  REPORTED = 'REPORTED',
}
registerEnumType(YMetricEnum, {
  name: 'CorrelationY',
  description:
    "The FINAL checkpoint's accuracy, loss or error on the TEST or TRAIN split of the run's dataset; or REPORTED: a reported metric named by yMetric.",
});
// Keep the enums and the use case's lists in step.
const sameMembers = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((m) => b.includes(m));
if (!sameMembers(Object.values(XMetricEnum), X_METRICS) || !sameMembers(Object.values(YMetricEnum), Y_METRICS)) {
  throw new Error('analytics.types: CorrelationX/CorrelationY differ from the use case metrics');
}

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

@ObjectType()
export class BlockPath {
  @Field(() => String)
  block!: string;

  @Field(() => InterpolationPath, { description: 'The path along which only this block moves.' })
  path!: InterpolationPath;

  @Field(() => Float, { nullable: true, description: 'heightAboveEndpoints of the loss curve.' })
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

@InputType()
export class CorrelationPathInput {
  @Field(() => CheckpointRoleEnum, { defaultValue: CheckpointRoleEnum.INITIAL })
  from!: CheckpointRoleEnum;

  @Field(() => CheckpointRoleEnum, { defaultValue: CheckpointRoleEnum.FINAL })
  to!: CheckpointRoleEnum;

  @Field(() => ID, { description: 'Dataset the barrier is measured on.' })
  dataset!: string;

  @Field(() => [String], { nullable: true })
  blocks?: string[] | null;

  @Field(() => [Float], { nullable: true })
  alphas?: number[] | null;

  @Field(() => Int, { nullable: true })
  limit?: number | null;
}

@InputType()
export class CorrelationInput {
  @Field(() => RunFilter, { nullable: true, description: 'The runs to correlate (at most 1000).' })
  runs?: RunFilter | null;

  @Field(() => XMetricEnum)
  x!: XMetricEnum;

  @Field(() => YMetricEnum)
  y!: YMetricEnum;

  @Field(() => String, { nullable: true, description: 'For y = REPORTED: dot-separated path into reportedMetrics.' })
  yMetric?: string | null;

  @Field(() => CorrelationPathInput)
  path!: CorrelationPathInput;

  @Field(() => [String], {
    nullable: true,
    description: 'Hyper-parameter paths; each distinct combination of values is a group.',
  })
  groupBy?: string[] | null;

  @Field(() => Int, {
    defaultValue: 50,
    description: 'Most evaluations (paths or end points) this query may queue; runs beyond are listed in missing.',
  })
  maxEvaluations!: number;

  @Field(() => Boolean, {
    defaultValue: true,
    description:
      'true: queue every missing evaluation at once, wait for them (up to timeoutMs), then answer. false: queue them and answer at once with what is stored; `progress` says how far the queued work is.',
  })
  wait!: boolean;

  @Field(() => Int, {
    nullable: true,
    description: 'Longest wait in milliseconds; default and maximum LINPATH_MAX_WAIT_MS.',
  })
  timeoutMs?: number | null;

  @Field(() => Float, { defaultValue: 1e-4, description: 'Barrier tolerance (see BarrierMetrics).' })
  tolerance!: number;

  @Field(() => Int, {
    defaultValue: 10000,
    description: 'Permutations of the two-sided permutation test of Pearson r (at most 100000).',
  })
  permutations!: number;

  @Field(() => Int, {
    defaultValue: 2000,
    description: 'Bootstrap resamples for the 95% CI of Pearson r (at most 100000).',
  })
  bootstrap!: number;

  @Field(() => Int, { defaultValue: 20220101, description: 'Seed of the permutation test and the bootstrap.' })
  seed!: number;
}

@ObjectType()
export class ConfidenceInterval {
  @Field(() => Float)
  low!: number;

  @Field(() => Float)
  high!: number;
}

@ObjectType({
  description:
    'Coefficients over n runs. Null when n < 3 or x or y is constant. Spearman uses average ranks for ties; Kendall is tau-b; pValue: two-sided permutation test of Pearson r with a fixed seed, (count + 1) / (permutations + 1); ci95: percentile bootstrap of Pearson r.',
})
export class CorrelationStatistics {
  @Field(() => Int)
  n!: number;

  @Field(() => Float, { nullable: true })
  pearson!: number | null;

  @Field(() => Float, { nullable: true })
  spearman!: number | null;

  @Field(() => Float, { nullable: true })
  kendall!: number | null;

  @Field(() => Float, { nullable: true })
  pValue!: number | null;

  @Field(() => ConfidenceInterval, { nullable: true })
  ci95!: ConfidenceInterval | null;
}

@ObjectType()
export class CorrelationGroup {
  @Field(() => String, { description: 'JSON array of the groupBy values.' })
  key!: string;

  @Field(() => [GraphQLJSON], { description: 'The groupBy values, in groupBy order (null where a run lacks one).' })
  values!: unknown[];

  @Field(() => CorrelationStatistics)
  overall!: CorrelationStatistics;
}

@ObjectType()
export class CorrelationPoint {
  @Field(() => Run)
  run!: Run;

  @Field(() => Float)
  x!: number;

  @Field(() => Float)
  y!: number;

  @Field(() => String, { nullable: true })
  group!: string | null;
}

@ObjectType()
export class MissingRun {
  @Field(() => Run)
  run!: Run;

  @Field(() => String)
  reason!: string;
}

@ObjectType({ description: 'The evaluations a correlation queued (or found queued) for its runs.' })
export class CorrelationProgress {
  @Field(() => Int, { description: 'Alphas stored, of those it requested.' })
  done!: number;

  @Field(() => Int)
  total!: number;

  @Field(() => Int, {
    description: 'Paths still queued or running; ask again (or follow them with pathUpdated) to see them counted.',
  })
  pendingPaths!: number;
}

@ObjectType()
export class CorrelationReport {
  @Field(() => CorrelationStatistics)
  overall!: CorrelationStatistics;

  @Field(() => [CorrelationGroup])
  groups!: CorrelationGroup[];

  @Field(() => [CorrelationPoint])
  points!: CorrelationPoint[];

  @Field(() => [MissingRun], { description: 'Runs left out, each with the reason; never dropped silently.' })
  missing!: MissingRun[];

  @Field(() => CorrelationProgress)
  progress!: CorrelationProgress;
}

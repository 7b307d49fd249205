import { GraphQLJSON } from '../scalars.js';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { X_METRICS, Y_METRICS } from '../../domain/correlation-metrics.js';
import { CheckpointRoleEnum } from '../registry/registry.enums.js';
import { Run, RunFilter } from '../registry/registry.types.js';

export enum XMetricEnum {
  RISE = 'RISE',
  RISE_ABOVE_START = 'RISE_ABOVE_START',
  FRANKLE_HEIGHT = 'FRANKLE_HEIGHT',
  HEIGHT_ABOVE_ENDPOINTS = 'HEIGHT_ABOVE_ENDPOINTS',
  MLI_DELTA = 'MLI_DELTA',
  ALPHA_AT_MAX = 'ALPHA_AT_MAX',
  MONOTONIC = 'MONOTONIC',
  ERROR_RISE = 'ERROR_RISE',
  ERROR_RISE_ABOVE_START = 'ERROR_RISE_ABOVE_START',
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
    "A barrier metric of the loss (or, ERROR_*, of the error) curve of each run's path (see BarrierMetrics: RISE is rise, RISE_ABOVE_START riseAboveStart, HEIGHT_ABOVE_ENDPOINTS the same number as RISE); MONOTONIC as 0/1; or a distance between the path's end points.",
  valuesConfig: {
    HEIGHT_ABOVE_ENDPOINTS: { deprecationReason: 'Renamed: use RISE (the same number).' },
    ERROR_HEIGHT_ABOVE_ENDPOINTS: { deprecationReason: 'Renamed: use ERROR_RISE (the same number).' },
    FRANKLE_HEIGHT: {
      description:
        'max L − ½(L(0) + L(1)): for paths between two trained states; on init → final it tracks how much the loss fell.',
    },
  },
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
  throw new Error('correlation.types: CorrelationX/CorrelationY differ from the use case metrics');
}

@InputType({
  description:
    "Which checkpoint of each run a bulk request takes as an end: its own of a role (and step), another run's, or a seeded random initialisation per run. Give randomSeed alone, or role/step/run.",
})
export class EndpointSelectorInput {
  @Field(() => CheckpointRoleEnum, {
    nullable: true,
    description:
      "The checkpoint's role; default the side's (INITIAL at α = 0, FINAL at α = 1), INTERMEDIATE with step.",
  })
  role?: CheckpointRoleEnum | null;

  @Field(() => Int, { nullable: true, description: 'The optimizer step of the checkpoint (an intermediate by step).' })
  step?: number | null;

  @Field(() => String, {
    nullable: true,
    description: "Another run's checkpoint (its name), the same for every run.",
  })
  run?: string | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "A fresh PyTorch-default random initialisation of the run's architecture drawn with this seed, shaped like the other end, stored as a derived RANDOM_INIT checkpoint of the run (the θ′_0 of the seed paper's Fig. 1A). At most one end.",
  })
  randomSeed?: number | null;
}

@InputType()
export class CorrelationPathInput {
  @Field(() => CheckpointRoleEnum, { defaultValue: CheckpointRoleEnum.INITIAL })
  from!: CheckpointRoleEnum;

  @Field(() => CheckpointRoleEnum, { defaultValue: CheckpointRoleEnum.FINAL })
  to!: CheckpointRoleEnum;

  @Field(() => EndpointSelectorInput, {
    nullable: true,
    description: 'Selects the α = 0 end beyond a role of the run itself; replaces from.',
  })
  fromEndpoint?: EndpointSelectorInput | null;

  @Field(() => EndpointSelectorInput, {
    nullable: true,
    description: 'Selects the α = 1 end beyond a role of the run itself; replaces to.',
  })
  toEndpoint?: EndpointSelectorInput | null;

  @Field(() => ID, {
    nullable: true,
    description: "Dataset the barrier is measured on; default: the TEST split of each run's own dataset name.",
  })
  dataset?: string | null;

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

  @Field(() => XMetricEnum, {
    defaultValue: XMetricEnum.RISE,
    description: 'Default RISE, the height of the barrier above both end points of the path.',
  })
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
    description:
      'Most evaluations (paths or end points) this query may queue, at most LINPATH_MAX_REQUEST_EVALUATIONS; runs beyond are listed in missing.',
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

  @Field(() => Float, { defaultValue: 1e-4, description: 'Barrier tolerance, absolute (see BarrierMetrics).' })
  tolerance!: number;

  @Field(() => Float, {
    defaultValue: 0.01,
    description: "Barrier tolerance relative to the curve's range (see BarrierMetrics).",
  })
  relativeTolerance!: number;

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

  @Field(() => [GraphQLJSON], {
    nullable: 'items',
    description: 'The groupBy values, in groupBy order (null where a run lacks one).',
  })
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

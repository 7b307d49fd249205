import { GraphQLJSON, GraphQLJSONObject } from '../scalars.js';
import { Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { CorrelationStatistics, EndpointSelectorInput, MissingRun } from '../analytics/correlation.types.js';
import { RunFilter } from '../registry/registry.types.js';

@InputType()
export class ReportInput {
  @Field(() => RunFilter, {
    nullable: true,
    description: 'The runs of the report (at most LINPATH_MAX_CORRELATION_RUNS, default 1000).',
  })
  runs?: RunFilter | null;

  @Field(() => ID, {
    description: "The dataset of every curve, e.g. the runs' TEST split; test accuracy is its α = 1 point.",
  })
  dataset!: string;

  @Field(() => EndpointSelectorInput, {
    nullable: true,
    description:
      "The α = 0 end of each run's curves: default its INITIAL checkpoint; or an intermediate by step, another run's state, a seeded random initialisation per run (as correlation's path.fromEndpoint).",
  })
  from?: EndpointSelectorInput | null;

  @Field(() => EndpointSelectorInput, {
    nullable: true,
    description: "The α = 1 end of each run's curves (its accuracy is the table's): default its FINAL checkpoint.",
  })
  to?: EndpointSelectorInput | null;

  @Field(() => [String], {
    nullable: true,
    description: 'Hyper-parameter paths whose values name an intervention (a row).',
  })
  groupBy?: string[] | null;

  @Field(() => [Float], { nullable: true, description: 'Must include 0 and 1; default 0, 0.1, …, 1.' })
  alphas?: number[] | null;

  @Field(() => Int, { nullable: true, description: 'Evaluate only the first `limit` examples.' })
  limit?: number | null;

  @Field(() => Boolean, { defaultValue: true, description: 'Also the block-wise curves of every run.' })
  blocks!: boolean;

  @Field(() => Int, {
    defaultValue: 500,
    description:
      'Most paths the report may queue, at most LINPATH_MAX_REQUEST_EVALUATIONS; runs beyond are left out with the reason.',
  })
  maxEvaluations!: number;

  @Field(() => Int, {
    nullable: true,
    description: 'Longest wait for queued curves, in milliseconds; default LINPATH_MAX_WAIT_MS.',
  })
  timeoutMs?: number | null;

  @Field(() => String, { nullable: true })
  title?: string | null;
}

@ObjectType()
export class Summary {
  @Field(() => Float)
  mean!: number;

  @Field(() => Float, { nullable: true, description: 'Sample standard deviation (n − 1); null for one run.' })
  std!: number | null;

  @Field(() => Int)
  n!: number;
}

@ObjectType({
  description:
    "Runs of a group by their block-wise barriers: HIGH when some block's rise exceeds 0.1 × the final loss (see blockwisePaths).",
})
export class LayerwiseCounts {
  @Field(() => Int, { description: 'H-LB: some block has a high barrier.' })
  high!: number;

  @Field(() => Int, { description: 'L-LB: every block has a low barrier.' })
  low!: number;

  @Field(() => Int, { description: 'Runs without block-wise curves, or with a non-finite final loss.' })
  unknown!: number;
}

@ObjectType({ description: 'One intervention (a row of the table).' })
export class ReportGroup {
  @Field(() => String)
  label!: string;

  @Field(() => [GraphQLJSON], { description: 'The values of groupBy.' })
  values!: unknown[];

  @Field(() => Int)
  runs!: number;

  @Field(() => GraphQLJSONObject, { description: 'Whole-model shape classes and how many runs have each.' })
  shapes!: Record<string, number>;

  @Field(() => GraphQLJSONObject, { description: 'For each block, its shape classes and counts.' })
  blockShapes!: Record<string, Record<string, number>>;

  @Field(() => Summary, { description: 'Test accuracy over the runs (seeds).' })
  accuracy!: Summary;

  @Field(() => Summary, {
    nullable: true,
    description: 'rise (max L − max(L(0), L(1))) of the whole-model loss curve over the runs: the barrier.',
  })
  rise!: Summary | null;

  @Field(() => Summary, { nullable: true, description: 'riseAboveStart (max L − L(0)) over the runs.' })
  riseAboveStart!: Summary | null;

  @Field(() => Summary, {
    nullable: true,
    description: 'Frankle height over the runs (meant for paths between trained states; see BarrierMetrics).',
  })
  frankleHeight!: Summary | null;

  @Field(() => LayerwiseCounts, { description: "Runs with high and low layer-wise barriers (Table 1's H-LB / L-LB)." })
  layerwise!: LayerwiseCounts;

  @Field(() => CorrelationStatistics, { description: 'rise against test accuracy within the group.' })
  correlation!: CorrelationStatistics;
}

@ObjectType({ description: "The ends of every run's curves, as selected." })
export class ReportEnds {
  @Field(() => String, { description: 'e.g. "INITIAL", "INTERMEDIATE@100", \'run "x" INITIAL\', "random seed 7".' })
  from!: string;

  @Field(() => String)
  to!: string;
}

@ObjectType({ description: 'Vlaar & Frankle (2022) Table 1, from stored runs.' })
export class StudyReport {
  @Field(() => String)
  title!: string;

  @Field(() => ReportEnds)
  ends!: ReportEnds;

  @Field(() => [ReportGroup])
  groups!: ReportGroup[];

  @Field(() => CorrelationStatistics, { description: 'rise against test accuracy across every run.' })
  correlation!: CorrelationStatistics;

  @Field(() => [MissingRun])
  missing!: MissingRun[];

  @Field(() => String, { description: 'The report as Markdown.' })
  markdown!: string;

  @Field(() => String, { description: 'The report as a standalone HTML page, with the curves as inline SVG.' })
  html!: string;
}

import { Field, Float, InputType } from 'type-graphql';
import { GraphQLJSONObject } from '../scalars.js';

@InputType({
  description:
    'Describes a run after the fact. Absent fields stay as they are; null clears a field. A new architecture is checked against every checkpoint of the run and set on them all.',
})
export class UpdateRunInput {
  @Field(() => String, { description: 'Run id or run name.' })
  run!: string;

  @Field(() => String, { nullable: true })
  architecture?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Name of the run's datasets: its curves default to this name's TEST split.",
  })
  datasetName?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Replaces the hyper-parameters.' })
  hyperparameters?: Record<string, unknown> | null;

  @Field(() => Float, { nullable: true, description: 'An integer.' })
  seed?: number | null;

  @Field(() => [String], { nullable: true, description: 'Replaces the tags.' })
  tags?: string[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Replaces the reported metrics.' })
  reportedMetrics?: Record<string, unknown> | null;
}

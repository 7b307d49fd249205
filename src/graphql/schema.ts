import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { AnalyticsResolver, DistanceResolver } from './analytics/analytics.resolver.js';
import { DerivationResolver, DerivedCheckpointResolver } from './derive/derive.resolver.js';
import { PathBarrierResolver, PathResolver } from './paths/paths.resolver.js';
import { CurveBarrierResolver, LandscapeResolver } from './landscapes/landscapes.resolver.js';
import { ReportResolver } from './report/report.resolver.js';
import { ArchitectureResolver } from './registry/architecture.resolver.js';
import { CheckpointResolver, DatasetResolver, RunResolver } from './registry/registry.resolver.js';
import { RunTrainingResolver, TrainingResolver } from './training/training.resolver.js';

/**
 * type-graphql insists on a PubSub as soon as there is a subscription, even when every subscription brings
 * its own source (`subscribe`), as linpath's do: their events come from the database, where workers of any
 * process store them. This one is never called.
 */
const NO_PUBSUB: PubSub = {
  publish: () => {
    throw new Error('linpath subscriptions read from the database; nothing is published');
  },
  subscribe: () => {
    throw new Error('linpath subscriptions read from the database; topic subscriptions are not used');
  },
};

export async function buildLinpathSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [
      RunResolver,
      CheckpointResolver,
      ArchitectureResolver,
      DerivedCheckpointResolver,
      DerivationResolver,
      DatasetResolver,
      PathResolver,
      PathBarrierResolver,
      LandscapeResolver,
      CurveBarrierResolver,
      DistanceResolver,
      AnalyticsResolver,
      ReportResolver,
      TrainingResolver,
      RunTrainingResolver,
    ],
    validate: false,
    pubSub: NO_PUBSUB,
  });
}

/** The SDL committed as schema/schema.graphql; sorted so it changes only when the API does. */
export const printLinpathSchema = (schema: GraphQLSchema): string =>
  `${printSchema(lexicographicSortSchema(schema))}\n`;

import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { AnalyticsResolver, DistanceResolver } from './analytics.resolver.js';
import { PathResolver } from './paths.resolver.js';
import { CheckpointResolver, DatasetResolver, RunResolver } from './registry.resolver.js';

export async function buildLinpathSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [RunResolver, CheckpointResolver, DatasetResolver, PathResolver, DistanceResolver, AnalyticsResolver],
    validate: false,
  });
}

/** The SDL committed as schema/schema.graphql; sorted so it changes only when the API does. */
export const printLinpathSchema = (schema: GraphQLSchema): string => `${printSchema(lexicographicSortSchema(schema))}\n`;

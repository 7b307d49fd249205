import { readFileSync } from 'node:fs';
import {
  getIntrospectionQuery,
  getOperationAST,
  graphql,
  Kind,
  parse,
  validate,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { checkQueryLimits, type QueryLimits } from '../../src/graphql/pipeline/query-limits.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { repoRoot } from '../helpers/server.js';

/** The one cost model of an operation, introspection and aliases included (pure: the schema, no server). */
describe('checkQueryLimits', () => {
  let schema: GraphQLSchema;
  const defaults = loadConfig({}).limits;
  const limits: QueryLimits = {
    maxDepth: defaults.maxQueryDepth,
    maxCost: defaults.maxQueryCost,
    maxRootFields: defaults.maxRootFields,
  };
  /** Validates the operation (as Apollo and graphql-ws do before the guard), then checks it. */
  const check = (query: string, overrides: Partial<QueryLimits> = {}, options: { validated?: boolean } = {}) => {
    const document = parse(query);
    // Validating 20,000 aliases takes a while; their validity does not depend on the count.
    if (options.validated !== true) expect(validate(schema, document)).toEqual([]);
    return checkQueryLimits(schema, document, getOperationAST(document)!, {}, { ...limits, ...overrides });
  };
  /** Every field of an answer, as the cost model counts them (each key of each object). */
  const answered = (value: unknown): number =>
    Array.isArray(value)
      ? value.reduce((sum: number, item) => sum + answered(item), 0)
      : value !== null && typeof value === 'object'
        ? Object.values(value).reduce((sum: number, item) => sum + 1 + answered(item), 0)
        : 0;

  beforeAll(async () => {
    schema = await buildLinpathSchema();
  });

  const SCHEMA_FRAGMENT = `fragment F on __Schema { types { name fields { name args { name type { name kind ofType { name kind } } } } } }`;
  const aliasedSchema = (n: number) =>
    `{ ${Array.from({ length: n }, (_, i) => `a${i}: __schema { ...F }`).join(' ')} } ${SCHEMA_FRAGMENT}`;

  it('prices an introspection query at exactly the fields it answers with, within the default limits', async () => {
    for (const source of [
      getIntrospectionQuery(),
      // What GraphiQL sends.
      getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, schemaDescription: true }),
    ]) {
      const result = await graphql({ schema, source });
      expect(result.errors).toBeUndefined();
      const { cost, depth } = check(source);
      expect(cost).toBe(answered(result.data));
      expect(depth).toBeLessThanOrEqual(limits.maxDepth);
    }
  });

  it('counts __typename, __type and their aliases like any field', async () => {
    expect(check(`{ __typename a: __typename b: __typename }`).cost).toBe(3);
    const query = `{ __type(name: "Run") { name fields { name type { kind ofType { name } } } } }`;
    const result = await graphql({ schema, source: query });
    expect(check(query).cost).toBe(answered(result.data));
    // Aliases of one __type cost one each: the walk is no cheaper for the second.
    const twice = `{ a: __type(name: "Run") { fields { name } } b: __type(name: "Run") { fields { name } } }`;
    const once = check(`{ a: __type(name: "Run") { fields { name } } }`).cost;
    expect(check(twice).cost).toBe(2 * once);
  });

  it('refuses 2,000 and 20,000 aliased __schema at the root-field cap, before walking them', () => {
    check(aliasedSchema(2));
    for (const n of [2000, 20_000]) {
      expect(() => check(aliasedSchema(n), {}, { validated: true })).toThrowError(
        `root fields: expected at most ${limits.maxRootFields} fields at the root of an operation (LINPATH_MAX_ROOT_FIELDS`,
      );
    }
    // The cap counts fields brought in by fragments as well.
    const spread = `{ ...Q } fragment Q on Query { ${Array.from({ length: 40 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    expect(() => check(spread)).toThrowError('LINPATH_MAX_ROOT_FIELDS');
  });

  it('refuses aliased introspection by its cost where the root-field cap would let it through', () => {
    const one = check(aliasedSchema(1)).cost;
    expect(one).toBeGreaterThan(500);
    const n = Math.ceil(limits.maxCost / one) + 1;
    expect(() => check(aliasedSchema(n), { maxRootFields: 100_000 }, { validated: true })).toThrowError(
      `query cost: expected at most ${limits.maxCost} (LINPATH_MAX_QUERY_COST`,
    );
    // One root field is priced by what it answers with too.
    const single = `{ __schema { types { name fields { name type { name } } } } }`;
    expect(check(single).cost).toBeGreaterThan(500);
    expect(() => check(single, { maxCost: 500 })).toThrowError('LINPATH_MAX_QUERY_COST');
  });

  it('counts introspection fields towards the depth', () => {
    const query = `{ __schema { types { fields { type { ofType { ofType { name } } } } } } }`;
    expect(() => check(query, { maxDepth: 5 })).toThrowError('LINPATH_MAX_QUERY_DEPTH');
  });

  it('lets every operation of the dashboard through at the default limits', () => {
    const document = parse(readFileSync(`${repoRoot}/web/src/operations.graphql`, 'utf8'));
    const operations = document.definitions.filter(
      (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
    );
    expect(operations.length).toBeGreaterThan(3);
    for (const operation of operations) {
      expect(() => checkQueryLimits(schema, document, operation, {}, limits)).not.toThrow();
    }
  });
});

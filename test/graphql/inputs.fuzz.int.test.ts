import fc from 'fast-check';
import {
  getNamedType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLSchema,
} from 'graphql';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';
import { seedFuzzFromEnvironment } from '../helpers/fuzz.js';

seedFuzzFromEnvironment();

/**
 * Generated GraphQL inputs through the real server (HTTP, Apollo, type-graphql, the use cases, the database):
 * for every Query and Mutation field, variables drawn from its argument types — well-typed values, values
 * of the wrong type, extreme numbers, long strings, unknown ids and the ids of real checkpoints, datasets and
 * runs — plus documents that are not GraphQL at all. Every answer must be JSON with each error coded as the
 * API documents (never INTERNAL_SERVER_ERROR, nothing logged as unexpected), and the server must still answer
 * afterwards. No worker runs, so nothing generated starts an evaluation or a training.
 */
const ALLOWED_CODES = new Set([
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'TOO_MANY_REQUESTS',
  'UNAVAILABLE',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
]);
const RUNS = { fields: 1200, documents: 200 };

describe('GraphQL inputs, generated', () => {
  let test: TestApp;
  let schema: GraphQLSchema;
  let key: string;
  const unexpected: string[] = [];
  const ids: string[] = [];

  beforeAll(async () => {
    const log = new Writable({
      write(chunk: Buffer, _encoding, done) {
        const line = chunk.toString();
        if (line.includes('unexpected error')) unexpected.push(line);
        done();
      },
    });
    test = await startTestApp({ LINPATH_WORKERS: '0', LINPATH_MAX_WAIT_MS: '100' }, log);
    schema = await buildLinpathSchema();
    key = await test.createKey('admin');
    const deps = test.app.registry;
    const init = await importCheckpointFile(deps, fixturePath('mlp/init.safetensors'), {
      run: 'fuzz',
      architecture: 'mlp',
      step: 0,
      role: 'INITIAL',
    });
    const final = await importCheckpointFile(deps, fixturePath('mlp/final.safetensors'), {
      run: 'fuzz',
      step: 1200,
      role: 'FINAL',
    });
    const dataset = await importDatasetFile(deps, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    ids.push(init.checkpoint.id, final.checkpoint.id, dataset.dataset.id, init.run.id);
  }, 60_000);
  afterAll(async () => {
    await test?.close();
  });

  /** A value for an input type: mostly well-typed (so the resolvers see it), sometimes of the wrong kind. */
  const valueOf = (type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> => {
    const junk = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    );
    if (isNonNullType(type)) return valueOf(type.ofType, depth);
    if (depth > 3) return junk;
    let typed: fc.Arbitrary<unknown>;
    if (isListType(type)) typed = fc.array(valueOf(type.ofType, depth + 1), { maxLength: 6 });
    else if (isEnumType(type))
      typed = fc.oneof(
        fc.constantFrom(...type.getValues().map((v) => v.value as unknown)),
        fc.string({ maxLength: 12 }),
      );
    else if (isInputObjectType(type)) {
      const fields = Object.values(type.getFields());
      typed = fc.record(Object.fromEntries(fields.map((field) => [field.name, valueOf(field.type, depth + 1)])), {
        requiredKeys: fields.filter((f) => isNonNullType(f.type)).map((f) => f.name),
      });
    } else if (isScalarType(type)) {
      switch (type.name) {
        case 'Int':
          typed = fc.oneof(
            fc.integer({ min: -5, max: 20 }),
            fc.integer(),
            fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1e15),
            fc.double({ noNaN: true }),
          );
          break;
        case 'Float':
          typed = fc.oneof(
            fc.double({ min: -2, max: 2, noNaN: true }),
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.constantFrom(0, -0, 0.5, 1, 1e308, -1e308),
          );
          break;
        case 'Boolean':
          typed = fc.boolean();
          break;
        case 'String':
        case 'ID':
          typed = fc.oneof(
            fc.constantFrom(...ids),
            fc.uuid(),
            fc.string({ maxLength: 30 }),
            fc.string({ minLength: 5000, maxLength: 20_000 }),
            fc.constantFrom('all', 'tag=x', 'hp.lr>=0.1', 'stem', 'fc1', ''),
          );
          break;
        default:
          typed = fc.jsonValue({ maxDepth: 3 });
      }
    } else {
      typed = junk;
    }
    return fc.oneof({ weight: 9, arbitrary: typed }, { weight: 1, arbitrary: junk });
  };

  /** A request for one field with all its arguments as variables; variables may be missing or junk. */
  const requestFor = (operation: 'query' | 'mutation', field: GraphQLField<unknown, unknown>) => {
    const declarations = field.args.map((arg) => `$${arg.name}: ${String(arg.type)}`).join(', ');
    const call =
      field.args.length === 0
        ? field.name
        : `${field.name}(${field.args.map((arg) => `${arg.name}: $${arg.name}`).join(', ')})`;
    const selection = isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '';
    const query = `${operation}${declarations === '' ? '' : ` (${declarations})`} { ${call}${selection} }`;
    const variables = fc.record(Object.fromEntries(field.args.map((arg) => [arg.name, valueOf(arg.type)])), {
      requiredKeys: [],
    });
    return variables.map((values) => ({ field: field.name, query, variables: values }));
  };

  const expectCoded = (
    status: number,
    body: { data?: unknown; errors?: Array<{ message?: string; extensions?: { code?: string } }> },
    what: string,
  ) => {
    expect([200, 400, 401, 403, 429], `${what}: HTTP ${status}`).toContain(status);
    for (const error of body.errors ?? []) {
      expect(typeof error.message, what).toBe('string');
      expect(ALLOWED_CODES.has(error.extensions?.code ?? ''), `${what}: ${JSON.stringify(error)}`).toBe(true);
    }
  };

  it(`answers ${RUNS.fields} generated requests over every query and mutation with coded errors only`, async () => {
    const fields = [
      ...Object.values(schema.getQueryType()!.getFields()).map((f) => requestFor('query', f)),
      ...Object.values(schema.getMutationType()!.getFields()).map((f) => requestFor('mutation', f)),
    ];
    const seen = new Set<string>();
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof(...fields), fc.boolean(), async (request, withKey) => {
        seen.add(request.field);
        const { status, body } = await postGraphql(
          test.http.url,
          request.query,
          request.variables,
          withKey ? { key } : {},
        );
        expectCoded(status, body, `${request.field} ${JSON.stringify(request.variables).slice(0, 300)}`);
        const outcome = body.errors?.[0]?.extensions?.code ?? 'data';
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
      { numRuns: RUNS.fields, seed: 20261129 },
    );
    // Every field was exercised, and the requests got past coercion and authentication into the use cases
    // often enough to mean something: answers with data, or refusals only a use case gives.
    expect(seen.size).toBe(fields.length);
    const reached = ['data', 'NOT_FOUND', 'CONFLICT'].reduce((n, code) => n + (outcomes.get(code) ?? 0), 0);
    console.log('outcomes of generated requests:', Object.fromEntries(outcomes));
    expect(reached).toBeGreaterThan(RUNS.fields / 10);
    expect(unexpected).toEqual([]);
  }, 240_000);

  it(`answers ${RUNS.documents} documents that are not valid GraphQL with a parse or validation error`, async () => {
    const documents = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        '{',
        'query {',
        '{ runs(first: ) { edges } }',
        '{ nope }',
        'mutation { createRun }',
        '{ __schema { types { name } } }'.repeat(50),
      ),
      fc
        .array(fc.constantFrom('{', '}', 'runs', '(', ')', 'first:', '1', '...', 'on', 'Run', '$x', '@skip'), {
          maxLength: 60,
        })
        .map((tokens) => tokens.join(' ')),
    );
    await fc.assert(
      fc.asyncProperty(documents, async (query) => {
        const { status, body } = await postGraphql(test.http.url, query);
        expectCoded(status, body, JSON.stringify(query).slice(0, 300));
      }),
      { numRuns: RUNS.documents, seed: 20261130 },
    );
    // Still up, still right.
    const { status, body } = await postGraphql(test.http.url, '{ runs(first: 5) { edges { node { name } } } }');
    expect(status).toBe(200);
    expect(body.data.runs.edges.map((e: { node: { name: string } }) => e.node.name)).toContain('fuzz');
    expect(unexpected).toEqual([]);
  }, 120_000);
});

import type { ApolloServerPlugin } from '@apollo/server';
import {
  getOperationAST,
  GraphQLError,
  Kind,
  visit,
  parse,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import type { AuthSettings, RequestLimits } from '../../config/config.js';
import { badUserInput, type ErrorCode, isLinpathError, type LinpathError } from '../../errors.js';
import { authorizeOperation, type RequestAuth } from './auth.js';
import type { GraphQLContext } from '../context.js';
import { checkQueryLimits, checkRootFields } from './query-limits.js';

export interface GuardSettings {
  auth: AuthSettings;
  limits: Pick<RequestLimits, 'maxQueryDepth' | 'maxQueryCost' | 'maxRootFields' | 'maxQueryTokens'>;
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOO_MANY_REQUESTS: 429,
};

/** A linpath error as a GraphQL error that keeps its code (and, over HTTP, its status). */
export const codedGraphQLError = (error: LinpathError): GraphQLError =>
  new GraphQLError(error.message, {
    originalError: error,
    extensions: {
      code: error.code,
      ...(HTTP_STATUS[error.code] !== undefined ? { http: { status: HTTP_STATUS[error.code] } } : {}),
    },
  });

/** Access control, then depth and cost: what every operation passes before a resolver runs. */
export function guardOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | undefined,
  auth: RequestAuth,
  settings: GuardSettings,
): void {
  authorizeOperation(auth, operation.operation, settings.auth);
  checkNoNul(document, variables);
  checkQueryLimits(schema, document, operation, variables, {
    maxDepth: settings.limits.maxQueryDepth,
    maxCost: settings.limits.maxQueryCost,
    maxRootFields: settings.limits.maxRootFields,
  });
}

/**
 * Refuses the NUL character (U+0000) anywhere in an operation's strings, literal or variable (object keys of
 * JSON values included): Postgres cannot store it in text, so it would otherwise fail deep in a query, as an
 * internal error, after any upload. Throws BAD_USER_INPUT naming where it is.
 */
export function checkNoNul(document: DocumentNode, variables: Readonly<Record<string, unknown>> | undefined): void {
  const refuse = (where: string) =>
    badUserInput(`${where}: expected text without the NUL character (U+0000), which cannot be stored; got one`);
  visit(document, {
    [Kind.STRING]: (node) => {
      if (node.value.includes('\u0000')) throw refuse(`a string in the query at offset ${node.loc?.start ?? '?'}`);
    },
  });
  const walk = (value: unknown, path: string): void => {
    if (typeof value === 'string') {
      if (value.includes('\u0000')) throw refuse(path);
    } else if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`));
    } else if (value !== null && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) {
        if (key.includes('\u0000')) throw refuse(`a key of ${path}`);
        walk(item, `${path}.${key}`);
      }
    }
  };
  for (const [name, value] of Object.entries(variables ?? {})) walk(value, `$${name}`);
}

/** Documents refused before validation (their trivial stand-ins), with the refusal to answer. */
const refusals = new WeakMap<DocumentNode, LinpathError>();

/** The guard in Apollo Server: once the operation is known, with the variables as sent. */
export function guardPlugin(settings: GuardSettings): ApolloServerPlugin<GraphQLContext> {
  return {
    requestDidStart: async () => ({
      // Before validation: a document of thousands of aliased fields is refused for its width without paying
      // for graphql-js's validation of it. Apollo answers an error thrown from a hook as an internal error, so
      // the wide document is swapped for a trivial one, refused with its own message in didResolveOperation
      // (the swap is what Apollo's document cache keeps for that query: the refusal stays keyed to it).
      validationDidStart: async (requestContext) => {
        const { document } = requestContext;
        if (document === undefined) return;
        try {
          checkRootFields(document, settings.limits.maxRootFields);
        } catch (refusal) {
          if (!isLinpathError(refusal)) throw refusal;
          const standIn = parse('{ __typename }');
          refusals.set(standIn, refusal);
          // Typed read-only for plugins; the pipeline reads it again after this hook (validation, cache, execution).
          (requestContext as { document: DocumentNode }).document = standIn;
        }
      },
      didResolveOperation: async ({ schema, document, operation, request, contextValue }) => {
        const refusal = refusals.get(document);
        if (refusal !== undefined) throw codedGraphQLError(refusal);
        if (operation === undefined) return; // Apollo answers "operation not found" itself
        try {
          guardOperation(
            schema,
            document,
            operation,
            request.variables,
            contextValue.auth ?? { kind: 'anonymous', client: 'unknown' },
            settings,
          );
        } catch (error) {
          throw isLinpathError(error) ? codedGraphQLError(error) : error;
        }
      },
    }),
  };
}

/**
 * The guard for graphql-ws (its `onSubscribe`): parses and validates as Apollo Server does over HTTP, with
 * the same codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, OPERATION_RESOLUTION_FAILURE), then guards.
 * Returns the execution arguments, or the errors to answer with.
 */
export function guardSocketOperation(
  schema: GraphQLSchema,
  payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null },
  auth: RequestAuth,
  settings: GuardSettings,
  contextValue: GraphQLContext,
): ExecutionArgs | GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(payload.query, { maxTokens: settings.limits.maxQueryTokens });
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return [withCode(error, 'GRAPHQL_PARSE_FAILED')];
  }
  try {
    checkRootFields(document, settings.limits.maxRootFields);
  } catch (error) {
    if (isLinpathError(error)) return [codedGraphQLError(error)];
    throw error;
  }
  const errors = validate(schema, document);
  if (errors.length > 0) return errors.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
  const operation = getOperationAST(document, payload.operationName);
  if (operation === null || operation === undefined) {
    return [
      new GraphQLError('Unable to identify the operation: name one with operationName', {
        extensions: { code: 'OPERATION_RESOLUTION_FAILURE' },
      }),
    ];
  }
  try {
    guardOperation(schema, document, operation, payload.variables ?? undefined, auth, settings);
  } catch (error) {
    if (isLinpathError(error)) return [codedGraphQLError(error)];
    throw error;
  }
  return {
    schema,
    document,
    operationName: payload.operationName ?? null,
    variableValues: payload.variables ?? null,
    contextValue,
  };
}

/** A parse or validation error of graphql-js with the code Apollo Server gives it. */
const withCode = (error: GraphQLError, code: string): GraphQLError =>
  new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code },
  });

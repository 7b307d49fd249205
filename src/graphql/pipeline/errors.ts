import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import type { Logger } from 'pino';
import { ErrorCode, isConnectionLoss, isLinpathError } from '../../errors.js';

/** SQLSTATE of a statement cancelled by statement_timeout (or by a cancel request). */
const QUERY_CANCELED = '57014';

/** graphql-js's parse error for a document over `maxTokens` (sic: "more that" in graphql 16). */
const TOO_MANY_TOKENS = /Document contains more tha[nt] \d+ tokens/;

/** Codes Apollo Server itself sets for requests it rejects before any resolver runs. */
const APOLLO_REQUEST_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

/**
 * The error boundary: linpath's own errors keep their code and message; Apollo's request errors keep
 * theirs; anything else is logged with its cause and reaches the client only as INTERNAL_SERVER_ERROR,
 * without SQL, paths or stack traces.
 */
export function formatError(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    // Resolvers throw linpath errors; the request guard (auth, limits) throws them wrapped in a GraphQLError.
    const coded = isLinpathError(original)
      ? original
      : original instanceof GraphQLError && isLinpathError(original.originalError)
        ? original.originalError
        : undefined;
    if (coded !== undefined) {
      return {
        message: coded.message,
        path: formatted.path,
        locations: formatted.locations,
        extensions: { code: coded.code },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && APOLLO_REQUEST_CODES.has(code) && original === error) {
      // graphql-js's own message for a document over `maxTokens` names no setting.
      const message = TOO_MANY_TOKENS.test(formatted.message)
        ? `${formatted.message} (LINPATH_MAX_QUERY_TOKENS; send long lists as variables)`
        : formatted.message;
      return { message, locations: formatted.locations, path: formatted.path, extensions: { code } };
    }
    // Apollo's other refusals of a request (a persisted query's hash that does not match, an unsupported
    // persisted-query version) carry an HTTP 4xx status but no code: a bad request, not a server fault.
    if (isRequestRefusal(error)) {
      return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
    }
    // type-graphql reports argument coercion problems as plain GraphQLErrors with no resolver cause.
    if (original instanceof Error && original.name === 'ArgumentValidationError') {
      return { message: formatted.message, path: formatted.path, extensions: { code: ErrorCode.BAD_USER_INPUT } };
    }
    // Postgres cancelled a statement at its statement_timeout: a bound, not a bug (drizzle wraps pg's error).
    const sqlState = original as { code?: unknown; cause?: { code?: unknown } } | null | undefined;
    if (sqlState?.code === QUERY_CANCELED || sqlState?.cause?.code === QUERY_CANCELED) {
      logger.warn(
        { err: original, path: formatted.path },
        'a database statement ran past LINPATH_DB_STATEMENT_TIMEOUT_MS',
      );
      return {
        message:
          'a database statement took longer than LINPATH_DB_STATEMENT_TIMEOUT_MS and was cancelled; retry, or ask for less',
        path: formatted.path,
        extensions: { code: ErrorCode.UNAVAILABLE },
      };
    }
    if (isConnectionLoss(original)) {
      logger.warn(
        { err: original, path: formatted.path },
        'the database could not be reached while serving a GraphQL request',
      );
      return {
        message: 'the database could not be reached (restarting or unreachable); retry in a moment',
        path: formatted.path,
        extensions: { code: ErrorCode.UNAVAILABLE },
      };
    }
    logger.error({ err: original, path: formatted.path }, 'unexpected error while serving a GraphQL request');
    return {
      message: 'Internal server error',
      path: formatted.path,
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/** A GraphQLError about the request itself (no field path, no cause) with an HTTP status from 400 to 499. */
function isRequestRefusal(error: unknown): boolean {
  if (!(error instanceof GraphQLError) || error.path !== undefined || error.originalError != null) return false;
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

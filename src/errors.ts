/**
 * The one list of error codes linpath puts in GraphQL `extensions.code` and in CLI errors.
 * docs/error-codes.md documents each, with its CLI exit status; test/errors.test.ts keeps code and table in step.
 */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error whose message is meant for the user: it says what was expected and what was given. */
export class LinpathError extends Error {
  constructor(
    readonly code: Exclude<ErrorCode, 'INTERNAL_SERVER_ERROR'>,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LinpathError';
  }
}

export const badUserInput = (message: string, cause?: unknown): LinpathError =>
  new LinpathError(ErrorCode.BAD_USER_INPUT, message, { cause });
export const notFound = (message: string): LinpathError => new LinpathError(ErrorCode.NOT_FOUND, message);
export const conflict = (message: string): LinpathError => new LinpathError(ErrorCode.CONFLICT, message);
/** No API key, or one that is unknown or revoked, where the operation needs one. */
export const unauthenticated = (message: string): LinpathError => new LinpathError(ErrorCode.UNAUTHENTICATED, message);
/** A valid API key whose scope does not cover the operation. */
export const forbidden = (message: string): LinpathError => new LinpathError(ErrorCode.FORBIDDEN, message);
/** A per-key limit on concurrent work is reached; retrying once earlier requests have answered succeeds. */
export const tooManyRequests = (message: string): LinpathError =>
  new LinpathError(ErrorCode.TOO_MANY_REQUESTS, message);
/** A dependency (S3, Postgres) could not be reached; retrying later may succeed. */
export const unavailable = (message: string, cause?: unknown): LinpathError =>
  new LinpathError(ErrorCode.UNAVAILABLE, message, { cause });

export const isLinpathError = (error: unknown): error is LinpathError => error instanceof LinpathError;

/** Node's codes of a socket refused, reset, broken, timed out or cut off from its host. */
const SOCKET_LOSS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Whether an error, or one of its causes (drizzle wraps pg's), says the database could not be reached, so that
 * the same statement may succeed once it is back: SQLSTATE class 08 (connection exception), 57P01–57P03 (the
 * server shutting down, crashed, or not yet accepting connections), a socket refused, reset or broken, or pg's
 * "Connection terminated". Nothing else is: an SQL error, or a TypeError, fails the same way when retried.
 */
export function isConnectionLoss(error: unknown): boolean {
  for (
    let e = error as { code?: unknown; message?: unknown; cause?: unknown } | null | undefined, depth = 0;
    e != null && typeof e === 'object' && depth < 4;
    e = e.cause as typeof e, depth++
  ) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (/^08[0-9A-Z]{3}$/.test(code) || ['57P01', '57P02', '57P03'].includes(code) || SOCKET_LOSS.has(code))
      return true;
    if (typeof e.message === 'string' && /^Connection terminated/.test(e.message)) return true;
  }
  return false;
}

/** For exhaustive switches: the compiler rejects a call whose argument is not `never`. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`Unreachable case: ${JSON.stringify(value)}`);
  }
}

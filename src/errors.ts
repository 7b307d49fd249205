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

/** For exhaustive switches: the compiler rejects a call whose argument is not `never`. */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`Unreachable case: ${JSON.stringify(value)}`);
  }
}

import type { ErrorCode } from '../errors.js';

/** CLI exit status by error code, so scripts can tell bad input from a conflict or an outage. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INTERNAL_SERVER_ERROR: 1,
  BAD_USER_INPUT: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  FORBIDDEN: 5,
  UNAVAILABLE: 6,
  UNAUTHENTICATED: 7,
  TOO_MANY_REQUESTS: 8,
};

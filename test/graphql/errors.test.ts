import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { formatError } from '../../src/graphql/pipeline/errors.js';

/** The error boundary's mapping of database failures (pure: errors shaped as pg and drizzle throw them). */
describe('formatError', () => {
  const format = formatError(createLogger({ logLevel: 'silent' }));
  const at = (error: unknown) => format({ message: 'x', path: ['run'] }, error);

  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['pg\'s "Connection terminated"', new Error('Connection terminated unexpectedly')],
    [
      'a server shutting down, wrapped by drizzle',
      Object.assign(new Error('Failed query: select 1'), {
        cause: Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      }),
    ],
    ['a connection exception (SQLSTATE class 08)', Object.assign(new Error('connection failure'), { code: '08006' })],
  ])('answers UNAVAILABLE for %s', (_label, error) => {
    expect(at(error)).toEqual({
      message: 'the database could not be reached (restarting or unreachable); retry in a moment',
      path: ['run'],
      extensions: { code: 'UNAVAILABLE' },
    });
  });

  it('keeps other failures INTERNAL_SERVER_ERROR, without their message', () => {
    expect(
      at(Object.assign(new Error('duplicate key value violates unique constraint "x"'), { code: '23505' })),
    ).toEqual({
      message: 'Internal server error',
      path: ['run'],
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });
});

import { createServer } from 'node:net';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isConnectionLoss, notFound } from '../src/errors.js';

/** An error shaped as pg's DatabaseError: the SQLSTATE in `code`. */
const sqlError = (code: string, message = 'from the server') => Object.assign(new Error(message), { code });

describe('isConnectionLoss', () => {
  it('is true for SQLSTATE class 08 and for a server shutting down, crashed or starting up', () => {
    for (const code of ['08000', '08003', '08006', '08001', '08P01', '57P01', '57P02', '57P03'])
      expect(isConnectionLoss(sqlError(code)), code).toBe(true);
  });

  it("is true for a socket refused, reset or broken and for pg's 'Connection terminated'", () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'])
      expect(isConnectionLoss(Object.assign(new Error(code), { code })), code).toBe(true);
    expect(isConnectionLoss(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionLoss(new Error('Connection terminated due to connection timeout'))).toBe(true);
  });

  it('looks through causes, as drizzle wraps the driver error', () => {
    const wrapped = new Error('Failed query: select 1', { cause: sqlError('57P01') });
    expect(isConnectionLoss(new Error('outer', { cause: wrapped }))).toBe(true);
  });

  it('is false for SQL errors, statement timeouts and programming errors, which a retry would repeat', () => {
    for (const code of ['23505', '42P01', '22P02', '57014', '40001', '53300'])
      expect(isConnectionLoss(sqlError(code)), code).toBe(false);
    // The queue used to take any error without a SQLSTATE for a lost connection.
    expect(isConnectionLoss(new TypeError("Cannot read properties of undefined (reading 'rows')"))).toBe(false);
    expect(isConnectionLoss(new Error('something else'))).toBe(false);
    expect(isConnectionLoss(notFound('no path'))).toBe(false);
    for (const value of [undefined, null, 'ECONNRESET', 42, { code: 8006 }])
      expect(isConnectionLoss(value)).toBe(false);
  });

  it('stops following causes after a few levels (a cycle of causes ends)', () => {
    const a: Error & { cause?: unknown } = new Error('a');
    a.cause = a;
    expect(isConnectionLoss(a)).toBe(false);
  });

  it('is true for the error pg gives when nothing listens on the port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'nobody', database: 'none' });
    const error = await client.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeDefined();
    expect(isConnectionLoss(error)).toBe(true);
  });
});

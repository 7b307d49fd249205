import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/embedded-postgres.js';
import { SKIPPED_WITH_DATABASE_URL, usesNoDatabaseHere } from '../helpers/database.js';

/** The embedded PGlite served to several connections at once, as linpath's processes use it. */
describe.skipIf(usesNoDatabaseHere)('embedded PGlite over the Postgres protocol' + SKIPPED_WITH_DATABASE_URL, () => {
  let server: EmbeddedPostgres;
  beforeAll(async () => {
    server = await startEmbeddedPostgres(undefined);
    const setup = new pg.Client({ connectionString: server.url });
    await setup.connect();
    await setup.query('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');
    await setup.end();
  });
  afterAll(async () => server?.stop());

  it('keeps concurrent parameterised queries of many connections apart', async () => {
    const pool = new pg.Pool({ connectionString: server.url, max: 8 });
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          pool.query<{ n: number; label: string }>('SELECT $1::int AS n, $2::text AS label', [i, `label-${i}`]),
        ),
      );
      results.forEach((result, i) => expect(result.rows[0]).toEqual({ n: i, label: `label-${i}` }));
    } finally {
      await pool.end();
    }
  });

  it('frees the session when a connection dies inside a transaction', async () => {
    const dying = new pg.Client({ connectionString: server.url });
    await dying.connect();
    await dying.query('BEGIN');
    await dying.query('INSERT INTO items VALUES (1, $1)', ['never committed']);
    dying.on('error', () => undefined);
    (dying as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();

    const other = new pg.Client({ connectionString: server.url });
    await other.connect();
    try {
      const answer = await Promise.race([
        other.query('SELECT count(*)::int AS n FROM items'),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the session stayed with the dead connection')), 5000),
        ),
      ]);
      expect(answer.rows[0].n).toBe(0);
      await other.query('INSERT INTO items VALUES (2, $1)', ['committed']);
      expect((await other.query('SELECT label FROM items')).rows).toEqual([{ label: 'committed' }]);
    } finally {
      await other.end();
    }
  });
});

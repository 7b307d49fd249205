import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { openServices } from '../../src/embedded/services.js';
import { SKIPPED_WITH_DATABASE_URL, usesNoDatabaseHere } from '../helpers/database.js';

/**
 * Issue 13, M3: the embedded PGlite accepts any user and password as its superuser, so it must not be
 * reachable by other local users: it listens on a Unix socket in a directory only this user may enter, never
 * on a loopback port, and LINPATH_HOME with the database files and objects is 0700.
 */
describe.skipIf(process.platform === 'win32' || usesNoDatabaseHere)(
  'the embedded services' + SKIPPED_WITH_DATABASE_URL,
  () => {
    const home = path.join(mkdtempSync(path.join(tmpdir(), 'linpath-private-')), 'home');
    afterAll(() => rmSync(path.dirname(home), { recursive: true, force: true }));
    const mode = (file: string) => statSync(file).mode & 0o777;

    it('serve the database on a private Unix socket, and keep LINPATH_HOME 0700', { timeout: 60_000 }, async () => {
      const services = await openServices(loadConfig({ LINPATH_HOME: home }), 'server');
      try {
        const url = services.endpoints.databaseUrl;
        expect(url).not.toMatch(/127\.0\.0\.1|localhost:\d/); // on today's main: postgres://postgres@127.0.0.1:<port>/postgres
        const socketDir = new URL(url).searchParams.get('host')!;
        expect(statSync(path.join(socketDir, '.s.PGSQL.5432')).isSocket()).toBe(true);
        expect(mode(socketDir)).toBe(0o700);
        for (const dir of [home, path.join(home, 'pgdata'), path.join(home, 's3')]) expect(mode(dir)).toBe(0o700);
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await client.end();
      } finally {
        await services.release();
      }
    });
  },
);

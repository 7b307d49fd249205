import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createLinpath, createLogger } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';

/**
 * Issue 13, L5: after a kill -9 of the process that hosted the embedded database in the middle of a job, the
 * next process to open it releases that job for retry at once, instead of leaving it active (its α RUNNING)
 * until LINPATH_JOB_EXPIRE_SECONDS (15 min) pass.
 */
describe('jobs of a killed embedded process', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'linpath-orphans-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  it('are released when the embedded database is opened again', { timeout: 120_000 }, async () => {
    const host = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('../helpers/embedded-host.ts', import.meta.url)), home],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const jobId = await new Promise<string>((resolve, reject) => {
      let out = '';
      host.stdout!.on('data', (chunk: Buffer) => {
        out += String(chunk);
        const line = /\{"jobId":"([^"]+)"\}/.exec(out);
        if (line !== null) resolve(line[1]!);
      });
      host.on('exit', (code) => reject(new Error(`the host process exited (${code}) before holding a job`)));
    });
    host.kill('SIGKILL');
    await new Promise((resolve) => host.once('exit', resolve));

    const started = Date.now();
    const config = loadConfig({ LINPATH_HOME: home, PORT: '0', LINPATH_WORKERS: '0' });
    const app = await createLinpath(config, 'server', createLogger({ logLevel: 'silent' }));
    try {
      const { rows } = await app.database.pool.query<{ state: string; output: { message?: string } }>(
        'SELECT state, output FROM pgboss.job WHERE id = $1',
        [jobId],
      );
      // Retried (after LINPATH_JOB_RETRY_DELAY_SECONDS), not active until it expires; on today's main: 'active'.
      expect(rows[0]).toMatchObject({
        state: 'retry',
        output: { message: expect.stringContaining('ended without finishing it') },
      });
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      await app.close();
    }
  });
});

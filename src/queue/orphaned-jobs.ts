import type PgBoss from 'pg-boss';
import type pg from 'pg';

/**
 * Fails every job of `queues` that is active, as pg-boss fails a job whose handler threw: retried after the
 * queue's retry delay while retries are left. For a process that has just opened the embedded database: it is
 * served on a new port by this process alone, so a job still active there belonged to a process that died
 * with the database's previous host (a kill -9), and would otherwise wait LINPATH_JOB_EXPIRE_SECONDS to expire.
 * Returns the ids of the jobs released.
 */
export async function releaseOrphanedJobs(
  boss: PgBoss,
  pool: pg.Pool,
  queues: readonly string[],
  message: string,
): Promise<string[]> {
  const { rows } = await pool.query<{ name: string; id: string }>(
    `SELECT name, id FROM pgboss.job WHERE state = 'active' AND name = ANY($1::text[])`,
    [queues],
  );
  for (const { name, id } of rows) await boss.fail(name, id, { message });
  return rows.map((r) => r.id);
}

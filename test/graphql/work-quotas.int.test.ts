import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANONYMOUS_PRIORITY_OFFSET, EVALUATE_QUEUE, PRIORITY } from '../../src/queue/eval-queue.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';

/**
 * The quotas on queued evaluation work (issue 13, H2), over HTTP: an anonymous client cannot queue more than
 * its quota, wait: false and timeoutMs: 0 do not escape it, and keyed work runs before anonymous work.
 */
describe('queue quotas', () => {
  let test: TestApp;
  let url: string;
  let key: string;
  let input: { from: string; to: string; dataset: string };
  const QUERY = `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { id status progress { done total } } }`;
  const ask = (request: Record<string, unknown>, as?: string) =>
    postGraphql(url, QUERY, { input: { ...input, ...request } }, as === undefined ? {} : { key: as });
  /** n new alphas, distinct from every other call's. */
  let next = 0;
  const fresh = (n: number) => Array.from({ length: n }, () => Math.round((++next * 1e6) / 997) / 1e6);
  const jobs = async () =>
    (
      await test.app.database.pool.query<{
        priority: number;
        state: string;
        data: { owner?: string; anonymous?: boolean; alphas: number[] };
        completed_on: Date | null;
        started_on: Date | null;
      }>('SELECT priority, state, data, started_on, completed_on FROM pgboss.job WHERE name = $1', [EVALUATE_QUEUE])
    ).rows;

  beforeAll(async () => {
    test = await startTestApp({
      // No workers at first: queued work stays queued until the test starts one.
      LINPATH_WORKERS: '0',
      LINPATH_QUEUE_QUOTA_PER_CLIENT: '20',
      LINPATH_QUEUE_QUOTA_ANONYMOUS: '25',
      LINPATH_MAX_REQUEST_EVALUATIONS: '10',
    });
    url = test.http.url;
    key = await test.createKey('write');
    const registry = test.app.registry;
    const from = await importCheckpointFile(registry, fixturePath('mlp/init.safetensors'), {
      run: 'quota',
      step: 0,
      role: 'INITIAL',
      architecture: 'mlp',
    });
    const to = await importCheckpointFile(registry, fixturePath('mlp/final.safetensors'), {
      run: 'quota',
      step: 1200,
      role: 'FINAL',
    });
    const { dataset } = await importDatasetFile(registry, fixturePath('mlp/test_set.safetensors'), {
      name: 'spiral',
      split: 'TEST',
    });
    input = { from: from.checkpoint.id, to: to.checkpoint.id, dataset: dataset.id };
  });
  afterAll(async () => {
    await test?.close();
  });

  it('refuses an anonymous flood beyond the quota, with wait: false or timeoutMs: 0, naming the quota and what is queued', async () => {
    const first = await ask({ alphas: fresh(15), wait: false });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data.interpolationPath.status).toBe('PENDING');
    for (const request of [
      { alphas: fresh(10), wait: false },
      { alphas: fresh(10), wait: true, timeoutMs: 0 },
      { alphas: fresh(10), wait: false, limit: 100 }, // another path
    ]) {
      const refused = await ask(request);
      expect(refused.body.errors?.[0]).toMatchObject({
        extensions: { code: 'TOO_MANY_REQUESTS' },
        message: expect.stringMatching(
          /^queue quota: client 127\.0\.0\.1: 15 points queued and not yet evaluated; this request would queue 10 more, over the quota of 20 \(LINPATH_QUEUE_QUOTA_PER_CLIENT\)/,
        ),
      });
    }
    // Nothing of the refused requests was queued; up to the quota is.
    expect((await jobs()).flatMap((j) => j.data.alphas)).toHaveLength(15);
    expect((await ask({ alphas: fresh(5), wait: false })).body.errors).toBeUndefined();
    expect((await ask({ alphas: fresh(1), wait: false })).body.errors?.[0]?.extensions.code).toBe('TOO_MANY_REQUESTS');

    // All clients without a key together: another address (in process, as the server would tag it).
    const other = { ...test.app.paths, requester: { bucket: 'client 10.1.2.3', anonymous: true } };
    await expect(interpolationPath(other, { ...input, alphas: fresh(6) }, { wait: false })).rejects.toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      message: expect.stringContaining(
        'clients without a key: 20 points queued and not yet evaluated; this request would queue 6 more, over the quota of 25 (LINPATH_QUEUE_QUOTA_ANONYMOUS)',
      ),
    });
    // Points already queued cost nothing: asking again for queued alphas is not refused.
    const queuedAlpha = (await jobs())[0]!.data.alphas[0]!;
    expect((await ask({ alphas: [queuedAlpha], wait: false })).body.errors).toBeUndefined();
  });

  it("runs a write-key user's new α before every anonymous point, and stores it within seconds", async () => {
    const anonymousJobs = await jobs();
    expect(anonymousJobs.length).toBeGreaterThan(0);
    for (const job of anonymousJobs) {
      expect(job.data).toMatchObject({ owner: 'client 127.0.0.1', anonymous: true });
      expect(job.priority).toBe(PRIORITY.background - ANONYMOUS_PRIORITY_OFFSET);
    }
    const keyed = fresh(1);
    // The keyed user is not bounded by the anonymous quotas, and its work goes first.
    const queued = await ask({ alphas: keyed, wait: false }, key);
    expect(queued.body.errors).toBeUndefined();
    const started = Date.now();
    await test.app.startWorkers(1);
    const answer = await ask({ alphas: keyed, wait: true, timeoutMs: 30_000 }, key);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data.interpolationPath.status).toBe('COMPLETE');
    const seconds = (Date.now() - started) / 1000;
    expect(seconds).toBeLessThan(30);
    const keyedJob = (await jobs()).find((j) => j.data.anonymous === false)!;
    expect(keyedJob.priority).toBe(PRIORITY.background);
    // One worker: every anonymous job started after the keyed one completed.
    for (const job of await jobs()) {
      if (job.data.anonymous !== true || job.started_on === null) continue;
      expect(job.started_on.getTime()).toBeGreaterThanOrEqual(keyedJob.completed_on!.getTime());
    }
  });

  it('bounds maxEvaluations of reports and correlations (LINPATH_MAX_REQUEST_EVALUATIONS)', async () => {
    const report = await postGraphql(
      url,
      `query { report(input: { runs: {}, dataset: "spiral", maxEvaluations: 1000000, timeoutMs: 0 }) { markdown } }`,
    );
    expect(report.body.errors?.[0]).toMatchObject({
      extensions: { code: 'BAD_USER_INPUT' },
      message: expect.stringContaining(
        'maxEvaluations: expected an integer from 0 to 10 (LINPATH_MAX_REQUEST_EVALUATIONS), got 1000000',
      ),
    });
  });
});

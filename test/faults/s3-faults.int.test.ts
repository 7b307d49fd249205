import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { EVALUATE_QUEUE } from '../../src/queue/eval-queue.js';
import { S3ObjectStore } from '../../src/storage/object-store.s3.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { pathState } from '../../src/usecases/paths/path-states.js';
import { interpolationPath, type PathResult } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { faultTimes, startFaultyProxy, type Fault, type FaultyProxy } from '../helpers/faulty-proxy.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';
import { testS3Settings } from '../helpers/s3.js';

/**
 * Faults of the object store, injected by a proxy between linpath's S3 client and the suite's real S3 server
 * (s3rver): refused connections, 500/503 answers, connections cut in the middle of a body. The database is
 * the suite's (PGlite, or Postgres in CI's second pass). The overwritten-object case before a worker starts
 * is in test/queue/queue.int.test.ts; here the object changes after points were stored.
 */

const LIMIT = 1000;
const isPut = (r: { method: string }) => r.method === 'PUT';

describe('S3 faults between linpath and a real S3 server', () => {
  let proxy: FaultyProxy;
  /** linpath's side: every S3 call goes through the proxy. */
  let f: RegistryFixture;
  /** The same bucket, straight to the server: to look at what really is there, and to overwrite objects. */
  let direct: S3ObjectStore;
  let workDir: string;
  let evaluations: PathFixture[] = [];
  const ids = { init: '', final: '', finalKey: '', test: '' };
  /** Points of init → final on the test set, computed without faults (another database and bucket). */
  const reference = new Map<number, { lossSum: number; correct: number; n: number }>();

  const evaluation = async () => {
    const fixture = await createPathDeps(f, { workers: 1 });
    evaluations.push(fixture);
    return fixture;
  };
  const count = async (sql: string, values: unknown[]) =>
    Number((await f.database.pool.query(sql, values)).rows[0].count);
  const request = (alphas: number[]) => ({ from: ids.init, to: ids.final, dataset: ids.test, alphas, limit: LIMIT });
  const isCheckpointGet = (r: { method: string; url: string }) => r.method === 'GET' && r.url.includes(ids.finalKey);

  /** The points equal the fault-free ones, and each (path, α) has exactly one row, evaluated once. */
  async function expectFaultFreePoints(result: PathResult, alphas: number[]) {
    expect(result.status).toBe('COMPLETE');
    expect(result.points.map((p) => ({ alpha: p.alpha, lossSum: p.lossSum, correct: p.correct, n: p.n }))).toEqual(
      alphas.map((alpha) => ({ alpha, ...reference.get(alpha)! })),
    );
    const { rows } = await f.database.pool.query<{ alpha: number; rows: string }>(
      'SELECT alpha, count(*) AS rows FROM path_points WHERE path_id = $1 AND alpha = ANY($2::float8[]) GROUP BY alpha ORDER BY alpha',
      [result.path.id, alphas],
    );
    expect(rows.map((r) => [r.alpha, Number(r.rows)])).toEqual(alphas.map((a) => [a, 1]));
  }

  /** The jobs of a path that hold any of these alphas, with their retry counts. */
  const jobsOf = async (pathId: string, alphas: number[]) =>
    (
      await f.database.pool.query<{ state: string; retry_count: number; data: { alphas: number[] } }>(
        `SELECT state, retry_count, data FROM pgboss.job WHERE name = $1 AND data->>'pathId' = $2`,
        [EVALUATE_QUEUE, pathId],
      )
    ).rows.filter((j) => j.data.alphas.some((a) => alphas.includes(a)));

  beforeAll(async () => {
    proxy = await startFaultyProxy(inject('s3Endpoint'));
    const settings = { ...testS3Settings(), endpoint: proxy.endpoint };
    f = await createRegistryFixture({ s3Settings: settings });
    direct = new S3ObjectStore({ ...settings, endpoint: inject('s3Endpoint') });
    workDir = mkdtempSync(path.join(tmpdir(), 'linpath-s3-faults-'));

    const run = { run: 'spiral', architecture: 'mlp' };
    ids.init = (
      await importCheckpointFile(f.deps, fixturePath('mlp/init.safetensors'), {
        ...run,
        step: 0,
        role: 'INITIAL',
      })
    ).checkpoint.id;
    const final = await importCheckpointFile(f.deps, fixturePath('mlp/final.safetensors'), {
      ...run,
      step: 1200,
      role: 'FINAL',
    });
    ids.final = final.checkpoint.id;
    ids.finalKey = final.checkpoint.key;
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset.id;

    // The reference: the same files, another database and bucket, no proxy.
    const clean = await createRegistryFixture();
    try {
      const from = (
        await importCheckpointFile(clean.deps, fixturePath('mlp/init.safetensors'), {
          ...run,
          step: 0,
          role: 'INITIAL',
        })
      ).checkpoint.id;
      const to = (
        await importCheckpointFile(clean.deps, fixturePath('mlp/final.safetensors'), {
          ...run,
          step: 1200,
          role: 'FINAL',
        })
      ).checkpoint.id;
      const dataset = (
        await importDatasetFile(clean.deps, fixturePath('mlp/test_set.safetensors'), {
          name: 'spiral',
          split: 'TEST',
        })
      ).dataset.id;
      const deps = await createPathDeps(clean, { workers: 1 });
      try {
        const alphas = Array.from({ length: 21 }, (_, i) => i / 20);
        const result = await interpolationPath(deps.paths, { from, to, dataset, alphas, limit: LIMIT });
        for (const p of result.points) reference.set(p.alpha, { lossSum: p.lossSum, correct: p.correct, n: p.n });
      } finally {
        await deps.close();
        await deps.engines.close();
      }
    } finally {
      await clean.close();
    }
  });
  afterEach(async () => {
    proxy.setRule(undefined);
    await proxy.accept();
    const closing = evaluations.map(async (e) => {
      await e.close();
      await e.engines.close();
    });
    evaluations = [];
    await Promise.all(closing);
  });
  afterAll(async () => {
    await f?.close();
    direct?.destroy();
    await proxy?.close();
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  });

  describe('uploads (importCheckpointFile)', () => {
    const noCheckpointAt = async (key: string, runName: string) => {
      expect(await count('SELECT count(*) FROM checkpoints WHERE key = $1', [key])).toBe(0);
      expect(await count('SELECT count(*) FROM runs WHERE name = $1', [runName])).toBe(0);
    };
    const keyOf = (file: string) =>
      `objects/sha256/${createHash('sha256').update(readFileSync(file)).digest('hex')}.safetensors`;

    const singlePutFaults: Array<[string, Fault | 'refused', RegExp]> = [
      [
        '503 on every attempt',
        { kind: 'status', status: 503 },
        /S3 request for s3:\/\/\S+ failed \(HTTP 503: ServiceUnavailable\)/,
      ],
      [
        '500 on every attempt',
        { kind: 'status', status: 500 },
        /S3 request for s3:\/\/\S+ failed \(HTTP 500: InternalError\)/,
      ],
      ['connections cut mid-body', { kind: 'cut-request', afterBytes: 4096 }, /S3 could not be reached for s3:\/\/\S+/],
      ['connections refused (S3 stopped)', 'refused', /S3 could not be reached for s3:\/\/\S+: .*ECONNREFUSED/],
    ];
    it.each(singlePutFaults)(
      'single PUT, %s: UNAVAILABLE, no checkpoint or run row; the same import succeeds once S3 is back',
      async (label, fault, message) => {
        // A file of its own per case (content-addressed keys): none is in the bucket yet.
        const file = path.join(workDir, `single-${label.replace(/\W+/g, '-')}.safetensors`);
        writeFileSync(
          file,
          encodeSafetensors(
            [
              {
                name: 'w',
                dtype: 'F32',
                shape: [64, 64],
                data: Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i)),
              },
            ],
            { label },
          ),
        );
        const runName = `upload-${label.replace(/\W+/g, '-')}`;
        const input = { run: runName, step: 0, role: 'INITIAL' as const };
        if (fault === 'refused') await proxy.refuse();
        else proxy.setRule((r) => (isPut(r) ? fault : undefined));

        await expect(importCheckpointFile(f.deps, file, input)).rejects.toMatchObject({
          code: 'UNAVAILABLE',
          message: expect.stringMatching(message),
        });
        await noCheckpointAt(keyOf(file), runName);
        if (fault !== 'refused')
          expect(
            proxy.log.filter((l) => l.startsWith('PUT') && l.includes(keyOf(file)) && l.endsWith(fault.kind)),
          ).toHaveLength(3); // the SDK's attempts

        proxy.setRule(undefined);
        await proxy.accept();
        const { checkpoint, created } = await importCheckpointFile(f.deps, file, input);
        expect(created).toBe(true);
        const bytes = await direct.readRange({ bucket: checkpoint.bucket, key: checkpoint.key }, 0, checkpoint.size, {
          size: checkpoint.size,
          etag: checkpoint.etag,
        });
        expect(Buffer.from(bytes).equals(readFileSync(file))).toBe(true);
      },
    );

    it('a single 503 or cut is retried by the S3 client: the import succeeds without the caller seeing it', async () => {
      const file = path.join(workDir, 'transient.safetensors');
      writeFileSync(
        file,
        encodeSafetensors([
          { name: 'w', dtype: 'F32', shape: [1000], data: Float32Array.from({ length: 1000 }, (_, i) => i) },
        ]),
      );
      const faults: Fault[] = [
        { kind: 'status', status: 503 },
        { kind: 'cut-request', afterBytes: 1000 },
      ];
      proxy.setRule((r) => (isPut(r) ? faults.shift() : undefined));
      const { checkpoint } = await importCheckpointFile(f.deps, file, {
        run: 'transient',
        step: 0,
        role: 'INITIAL',
      });
      expect(checkpoint.size).toBe(readFileSync(file).length);
      expect(faults).toEqual([]); // both faults were met, on the first and second attempt
    });

    it('multipart upload failing at a part (503, then a cut mid-part): UNAVAILABLE, aborted upload, no row; then succeeds', async () => {
      // 20 MiB: two parts of the store's 16 MiB multipart uploads.
      const file = path.join(workDir, 'multipart.safetensors');
      const values = new Float32Array(5 * 1024 * 1024);
      for (let i = 0; i < values.length; i++) values[i] = (i % 1013) / 1013;
      writeFileSync(file, encodeSafetensors([{ name: 'big', dtype: 'F32', shape: [values.length], data: values }]));
      const key = keyOf(file);
      const input = { run: 'multipart', step: 0, role: 'INITIAL' as const };

      proxy.setRule((r) =>
        r.method === 'PUT' && r.url.includes('partNumber=2') ? { kind: 'status', status: 503 } : undefined,
      );
      await expect(importCheckpointFile(f.deps, file, input)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/HTTP 503/),
      });
      await noCheckpointAt(key, input.run);
      await expect(direct.head({ bucket: direct.bucket, key })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(proxy.log.some((l) => l.startsWith('POST') && l.includes('uploads'))).toBe(true); // it was a multipart upload
      expect(proxy.log.some((l) => l.startsWith('DELETE') && l.includes('uploadId='))).toBe(true); // and it was aborted

      proxy.setRule((r) =>
        r.method === 'PUT' && r.url.includes('partNumber=1')
          ? { kind: 'cut-request', afterBytes: 1024 * 1024 }
          : undefined,
      );
      await expect(importCheckpointFile(f.deps, file, input)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      await noCheckpointAt(key, input.run);

      proxy.setRule(undefined);
      const { checkpoint } = await importCheckpointFile(f.deps, file, input);
      expect(checkpoint.size).toBe(readFileSync(file).length);
      expect((await direct.head({ bucket: direct.bucket, key })).size).toBe(checkpoint.size);
    }, 60_000);
  });

  describe('evaluation (a worker reading a checkpoint)', () => {
    it('503s while the worker reads the checkpoint: the job is retried and the path completes with the fault-free points', async () => {
      const alphas = [0, 0.05, 0.1];
      // The S3 client's three attempts of the first read fail; pg-boss retries the job with backoff.
      proxy.setRule(faultTimes(3, { kind: 'status', status: 503 }, isCheckpointGet));
      const { paths } = await evaluation();
      const result = await interpolationPath(paths, request(alphas));
      await expectFaultFreePoints(result, alphas);
      expect(Math.max(...(await jobsOf(result.path.id, alphas)).map((j) => j.retry_count))).toBeGreaterThanOrEqual(1);
    }, 60_000);

    it('the connection cut mid-body of the checkpoint read: retried, completes with the fault-free points', async () => {
      const alphas = [0.15, 0.2, 0.25];
      proxy.setRule(faultTimes(1, { kind: 'cut-response', afterBytes: 2000 }, isCheckpointGet));
      const { paths } = await evaluation();
      const result = await interpolationPath(paths, request(alphas));
      await expectFaultFreePoints(result, alphas);
      expect(proxy.log.some((l) => l.endsWith('cut-response'))).toBe(true);
      expect(Math.max(...(await jobsOf(result.path.id, alphas)).map((j) => j.retry_count))).toBeGreaterThanOrEqual(1);
    }, 60_000);

    it('S3 stopped while the path is queued: the jobs fail and are retried; the path resumes when S3 returns', async () => {
      const alphas = [0.3, 0.35, 0.4];
      await proxy.refuse();
      const { paths } = await evaluation();
      const queued = await interpolationPath(paths, request(alphas), { wait: false });
      for (
        let i = 0;
        !(await jobsOf(queued.path.id, alphas)).some((j) => j.retry_count >= 1 || j.state === 'retry');
        i++
      ) {
        if (i > 300) throw new Error('no job failed within 30 s while S3 was stopped');
        await sleep(100);
      }
      expect((await pathState(paths, queued.path.id, alphas)).progress.done).toBe(0);
      await proxy.accept();
      await expectFaultFreePoints(await interpolationPath(paths, request(alphas)), alphas);
    }, 60_000);

    it('when the retries run out the path is FAILED with UNAVAILABLE, and a later request retries it', async () => {
      const alphas = [0.45, 0.5];
      proxy.setRule((r) => (isCheckpointGet(r) ? { kind: 'status', status: 503 } : undefined));
      const { paths } = await evaluation();
      await expect(interpolationPath(paths, request(alphas))).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(
          /^evaluation failed 3 time\(s\), last: S3 request for s3:\/\/\S+ failed \(HTTP 503: ServiceUnavailable\); ask again to retry$/,
        ),
      });
      const failed = await interpolationPath(paths, request(alphas), { wait: false });
      // Asking again cleared the failure and queued the work anew: it is pending, not FAILED.
      expect(failed).toMatchObject({ status: 'PENDING', failure: null });

      proxy.setRule(undefined);
      await expectFaultFreePoints(await interpolationPath(paths, request(alphas)), alphas);
    }, 60_000);
  });

  it('a checkpoint overwritten in S3 after points were stored: CONFLICT for new work, the stored points stay as they were', async () => {
    const before = [0.55, 0.6];
    const first = await evaluation();
    const stored = await interpolationPath(first.paths, request(before));
    await expectFaultFreePoints(stored, before);
    const rowsBefore = (
      await f.database.pool.query('SELECT * FROM path_points WHERE path_id = $1 ORDER BY alpha', [stored.path.id])
    ).rows;

    const ref = { bucket: direct.bucket, key: ids.finalKey };
    await direct.uploadFile(ref, fixturePath('mlp/epoch5.safetensors'));
    try {
      // A fresh worker (nothing cached) reads the object: it is not the registered version.
      const second = await evaluation();
      await expect(interpolationPath(second.paths, request([0.65, 0.7]))).rejects.toMatchObject({
        code: 'CONFLICT',
        message: expect.stringContaining('changed since it was registered'),
      });
      const state = await pathState(second.paths, stored.path.id, [...before, 0.65, 0.7]);
      expect(state).toMatchObject({ status: 'FAILED', failure: { code: 'CONFLICT' } });
      expect(state.points.map((p) => p.alpha)).toEqual(before); // nothing of the other object was stored
      expect(
        (await f.database.pool.query('SELECT * FROM path_points WHERE path_id = $1 ORDER BY alpha', [stored.path.id]))
          .rows,
      ).toEqual(rowsBefore);
    } finally {
      await direct.uploadFile(ref, fixturePath('mlp/final.safetensors'));
    }
  }, 60_000);
});

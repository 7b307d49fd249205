import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { resolveDataset, runEndpoints } from '../../src/usecases/registry/references.js';
import { createRun } from '../../src/usecases/registry/runs.usecases.js';
import { studyReport } from '../../src/usecases/report.usecases.js';
import { postGraphql, startTestApp, type TestApp } from '../helpers/app.js';
import { fixturePath } from '../helpers/fixtures.js';

/**
 * What a newcomer hit in a first hour (issue 14), over HTTP on a real database and S3 server: grouping by a
 * hyper-parameter some run lacks, grouping by one no run has; a dataset whose labels do not fit the model; a
 * checkpoint imported under the wrong architecture, or a run imported without one, and describing it later.
 */
describe('a first hour with linpath', () => {
  let test: TestApp;
  let key: string;
  const ids = { test: '' };
  const graphql = (query: string, variables?: Record<string, unknown>) =>
    postGraphql(test.http.url, query, variables, { key });

  beforeAll(async () => {
    test = await startTestApp();
    key = await test.createKey('write');
    const deps = test.app.registry;
    ids.test = (
      await importDatasetFile(deps, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' })
    ).dataset.id;
    // Three runs; the third lacks the hyper-parameter `wd`.
    for (const [name, hyperparameters, accuracy] of [
      ['wd-1', { wd: 0.1, optimizer: { name: 'adam' } }, 0.8],
      ['wd-2', { wd: 0.2 }, 0.85],
      ['no-wd', { seed: 3 }, 0.9],
    ] as const) {
      await createRun(deps, {
        name,
        architecture: 'mlp',
        datasetName: 'spiral',
        tags: ['grouping'],
        hyperparameters,
        reportedMetrics: { testAccuracy: accuracy },
      });
      await importCheckpointFile(deps, fixturePath('mlp/init.safetensors'), { run: name, step: 0, role: 'INITIAL' });
      await importCheckpointFile(
        deps,
        fixturePath(name === 'wd-2' ? 'mlp/epoch5.safetensors' : 'mlp/final.safetensors'),
        {
          run: name,
          step: 1200,
          role: 'FINAL',
        },
      );
    }
  }, 180_000);
  afterAll(async () => {
    await test?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'linpath-first-hour-'));

  const CORRELATION = `query ($input: CorrelationInput!) {
    correlation(input: $input) { groups { key values overall { n } } points { run { name } group } missing { run { name } } }
  }`;
  const CORRELATION_X = `query ($input: CorrelationInput!) {
    correlation(input: $input) { points { run { name } x y } missing { run { name } reason } }
  }`;
  const correlationInput = (groupBy: string[]) => ({
    runs: { tags: ['grouping'] },
    x: 'DISTANCE_L2',
    y: 'REPORTED',
    yMetric: 'testAccuracy',
    path: { dataset: ids.test },
    groupBy,
    permutations: 10,
    bootstrap: 10,
  });

  it('groups a correlation by a hyper-parameter that one run lacks: its group value is null, not a crash', async () => {
    const { status, body } = await graphql(CORRELATION, { input: correlationInput(['wd']) });
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const report = body.data.correlation;
    expect(report.missing).toEqual([]);
    expect(report.groups).toEqual([
      { key: '[0.1]', values: [0.1], overall: { n: 1 } },
      { key: '[0.2]', values: [0.2], overall: { n: 1 } },
      { key: '[null]', values: [null], overall: { n: 1 } },
    ]);
    expect(report.points.find((p: { run: { name: string } }) => p.run.name === 'no-wd').group).toBe('[null]');
  });

  it("measures each run's curve on its own dataset's TEST split when the correlation names none", async () => {
    const input = {
      runs: { tags: ['grouping'] },
      x: 'MLI_DELTA',
      y: 'REPORTED',
      yMetric: 'testAccuracy',
      path: { alphas: [0, 0.5, 1], limit: 20 },
      permutations: 10,
      bootstrap: 10,
    };
    const own = await graphql(CORRELATION_X, { input });
    expect(own.body.errors).toBeUndefined();
    const named = await graphql(CORRELATION_X, { input: { ...input, path: { ...input.path, dataset: ids.test } } });
    expect(own.body.data.correlation.points).toHaveLength(3);
    expect(own.body.data.correlation.points).toEqual(named.body.data.correlation.points);
    // A run that names no dataset is left out, saying why.
    await test.app.registry.repository.updateRun((await test.app.registry.repository.findRunByName('wd-2'))!.id, {
      datasetName: null,
    });
    const without = await graphql(CORRELATION_X, { input });
    await test.app.registry.repository.updateRun((await test.app.registry.repository.findRunByName('wd-2'))!.id, {
      datasetName: 'spiral',
    });
    expect(without.body.data.correlation.missing).toEqual([
      {
        run: { name: 'wd-2' },
        reason: 'BAD_USER_INPUT: the run names no dataset (set it with updateRun) and path.dataset is not given',
      },
    ]);
  });

  it('refuses to group by a hyper-parameter no run has, naming those that exist (GraphQL and the report)', async () => {
    const { body } = await graphql(CORRELATION, { input: correlationInput(['weight_decay']) });
    expect(body.data).toBeNull();
    expect(body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors![0].message).toBe(
      'groupBy: no run has the hyper-parameter "weight_decay"; the runs have optimizer.name, seed, wd',
    );
    await expect(
      studyReport(test.app.analytics, {
        runs: { tags: ['grouping'] },
        dataset: ids.test,
        groupBy: ['wd', 'optimizer.lr'],
      }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'groupBy: no run has the hyper-parameter "optimizer.lr"; the runs have optimizer.name, seed, wd',
    });
  });

  it('refuses a dataset whose labels do not fit the model before any work, with a code', async () => {
    // Three classes for the spiral MLP's one logit.
    const file = path.join(dir, 'three-classes.safetensors');
    writeFileSync(
      file,
      encodeSafetensors([
        { name: 'x', dtype: 'F32', shape: [6, 2], data: new Float32Array(12).map((_, i) => i / 12) },
        { name: 'y', dtype: 'I64', shape: [6], data: BigInt64Array.from([0n, 1n, 2n, 0n, 1n, 2n]) },
      ]),
    );
    const three = (await importDatasetFile(test.app.registry, file, { name: 'three', split: 'TEST' })).dataset;
    const [run] = (
      await graphql(`
        {
          runs(filter: { tags: ["grouping"] }) {
            edges {
              node {
                checkpoints {
                  id
                  role
                }
              }
            }
          }
        }
      `)
    ).body.data.runs.edges;
    const ends = run.node.checkpoints as Array<{ id: string; role: string }>;
    const before = await test.app.database.pool.query('SELECT count(*)::int AS n FROM path_points');
    const { body } = await graphql(
      `
        query ($input: InterpolationPathInput!) {
          interpolationPath(input: $input) {
            status
          }
        }
      `,
      {
        input: {
          from: ends.find((c) => c.role === 'INITIAL')!.id,
          to: ends.find((c) => c.role === 'FINAL')!.id,
          dataset: three.id,
          alphas: [0, 1],
        },
      },
    );
    expect(body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(body.errors![0].message).toBe('dataset "three" has labels up to 2, but mlp gives 1 logit(s)');
    const after = await test.app.database.pool.query('SELECT count(*)::int AS n FROM path_points');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  it('checks --arch against the checkpoint at import and registers nothing when it does not fit', async () => {
    await expect(
      importCheckpointFile(test.app.registry, fixturePath('mlp/final.safetensors'), {
        run: 'misfit',
        step: 1,
        role: 'FINAL',
        architecture: 'resnet18-cifar',
      }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(
        /^checkpoint does not match architecture resnet18-cifar: missing \(\d+\): conv1\.weight \[64, 3, 3, 3\];.* unexpected \(6\): fc1\.weight; fc1\.bias; fc2\.weight/,
      ),
    });
    expect(await test.app.registry.repository.findRunByName('misfit')).toBeUndefined();
  });

  it('sets an architecture given at a later import on the run and its checkpoints; refuses a different one', async () => {
    const first = await importCheckpointFile(test.app.registry, fixturePath('mlp/init.safetensors'), {
      run: 'late-arch',
      step: 0,
      role: 'INITIAL',
    });
    expect(first.run.architecture).toBeNull();
    expect(first.checkpoint.architecture).toBeNull();
    const again = await importCheckpointFile(test.app.registry, fixturePath('mlp/init.safetensors'), {
      run: 'late-arch',
      step: 0,
      role: 'INITIAL',
      architecture: 'mlp',
    });
    expect(again.created).toBe(false);
    expect(again.run.architecture).toBe('mlp');
    expect(again.checkpoint.architecture).toBe('mlp');
    await expect(
      importCheckpointFile(test.app.registry, fixturePath('mlp/final.safetensors'), {
        run: 'late-arch',
        step: 1,
        role: 'FINAL',
        architecture: 'vgg11-bn-cifar',
      }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('has architecture mlp, got vgg11-bn-cifar'),
    });
  });

  it('updateRun describes a run after the fact (write scope), checking a new architecture against its checkpoints', async () => {
    await importCheckpointFile(test.app.registry, fixturePath('mlp/init.safetensors'), {
      run: 'bare',
      step: 0,
      role: 'INITIAL',
    });
    const UPDATE = `mutation ($input: UpdateRunInput!) {
      updateRun(input: $input) { name architecture datasetName tags hyperparameters seed checkpoints { architecture } }
    }`;
    const input = {
      run: 'bare',
      datasetName: 'spiral',
      tags: ['mine'],
      hyperparameters: { wd: 0 },
      architecture: 'mlp',
    };
    const anonymous = await postGraphql(test.http.url, UPDATE, { input });
    expect(anonymous.body.errors![0].extensions.code).toBe('UNAUTHENTICATED');
    const { body } = await graphql(UPDATE, { input });
    expect(body.errors).toBeUndefined();
    expect(body.data.updateRun).toEqual({
      name: 'bare',
      architecture: 'mlp',
      datasetName: 'spiral',
      tags: ['mine'],
      hyperparameters: { wd: 0 },
      seed: null,
      checkpoints: [{ architecture: 'mlp' }],
    });
    // Absent fields stay; a misfit architecture changes nothing.
    const misfit = await graphql(UPDATE, { input: { run: 'bare', architecture: 'resnet18-cifar' } });
    expect(misfit.body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect(misfit.body.errors![0].message).toMatch(/^checkpoint does not match architecture resnet18-cifar/);
    const cleared = await graphql(UPDATE, { input: { run: 'bare', datasetName: null } });
    expect(cleared.body.data.updateRun).toMatchObject({ architecture: 'mlp', datasetName: null, tags: ['mine'] });
    const unknown = await graphql(UPDATE, { input: { run: 'no-such-run', tags: [] } });
    expect(unknown.body.errors![0].extensions.code).toBe('NOT_FOUND');
  });

  it("finds datasets by name:split and a run's end points by role, so that no id has to be copied", async () => {
    const deps = test.app.registry;
    expect((await resolveDataset(deps, 'spiral:test')).id).toBe(ids.test);
    expect((await resolveDataset(deps, 'spiral')).id).toBe(ids.test);
    expect((await resolveDataset(deps, ` ${ids.test} `)).id).toBe(ids.test);
    const ends = await runEndpoints(deps, { run: 'wd-1' });
    expect([ends.from.role, ends.to.role, ends.run.name]).toEqual(['INITIAL', 'FINAL', 'wd-1']);
    // Without --dataset: the TEST split of the run's own dataset name.
    expect((await resolveDataset(deps, undefined, ends.run)).id).toBe(ids.test);
    await expect(resolveDataset(deps, 'spiral:train')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringMatching(/^no dataset "spiral" with split train; there are .*spiral:test/),
    });
    await expect(resolveDataset(deps, 'spiral:dev')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    const bare = await runEndpoints(deps, { run: 'late-arch', toRole: 'INITIAL' });
    expect(bare.to.role).toBe('INITIAL');
    await expect(resolveDataset(deps, undefined, { ...bare.run, datasetName: null })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('run "late-arch" has no dataset name'),
    });
    await expect(runEndpoints(deps, { run: 'late-arch' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'run "late-arch" has no FINAL checkpoint; it has INITIAL (step 0)',
    });
    await expect(runEndpoints(deps, { run: 'nobody' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('lists stored paths with their stored points, all or of some checkpoints', async () => {
    const ends = await runEndpoints(test.app.registry, { run: 'wd-1' });
    await graphql(
      `
        query ($input: InterpolationPathInput!) {
          interpolationPath(input: $input) {
            status
          }
        }
      `,
      { input: { from: ends.from.id, to: ends.to.id, dataset: ids.test, alphas: [0, 1], limit: 10 } },
    );
    const all = await test.app.paths.paths.listPaths({ limit: 10 });
    // The correlations above stored paths of this run too (on 20 examples); this one has 10.
    const mine = (await test.app.paths.paths.listPaths({ limit: 10, checkpointIds: [ends.to.id] })).filter(
      (p) => p.exampleCount === 10,
    );
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({
      fromCheckpointId: ends.from.id,
      toCheckpointId: ends.to.id,
      exampleCount: 10,
      storedPoints: 2,
    });
    expect(all.map((p) => p.id)).toContain(mine[0]!.id);
    expect(await test.app.paths.paths.listPaths({ limit: 10, checkpointIds: [] })).toEqual([]);
  });

  it('counts the runs matching a filter on every page (totalCount)', async () => {
    const { body } = await graphql(`
      {
        all: runs(first: 1) {
          totalCount
          edges {
            node {
              name
            }
          }
        }
        grouping: runs(first: 1, filter: { tags: ["grouping"] }) {
          totalCount
        }
      }
    `);
    expect(body.errors).toBeUndefined();
    const total = (await test.app.database.pool.query('SELECT count(*)::int AS n FROM runs')).rows[0].n;
    expect(body.data.all.totalCount).toBe(total);
    expect(body.data.all.edges).toHaveLength(1);
    expect(body.data.grouping.totalCount).toBe(3);
  });

  it('answers a query over GET with the header Apollo documents against CSRF, and refuses it without', async () => {
    const url = `${test.http.url}?query=${encodeURIComponent('{ runs(first: 1) { totalCount } }')}`;
    const headers: Array<Record<string, string>> = [
      { 'apollo-require-preflight': 'true' },
      { 'x-apollo-operation-name': 'Count' },
    ];
    for (const header of headers) {
      const response = await fetch(url, { headers: { accept: 'application/json', ...header } });
      expect(response.status).toBe(200);
      expect(
        ((await response.json()) as { data: { runs: { totalCount: number } } }).data.runs.totalCount,
      ).toBeGreaterThan(0);
    }
    const plain = await fetch(url, { headers: { accept: 'application/json' } });
    expect(plain.status).toBe(400);
  });

  it('serves /favicon.ico', async () => {
    const response = await fetch(new URL('/favicon.ico', test.http.url));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await response.text()).toMatch(/^<svg [^]*<\/svg>$/);
  });
});

import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseKind, type TestDatabase } from '../helpers/database.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createTestStore, testS3Settings } from '../helpers/s3.js';
import { buildOnce, killLeftovers, runCli, startServer, type RunningServer } from '../helpers/server.js';

/**
 * End to end: the compiled `linpath` command in real processes, its GraphQL API over real HTTP.
 * Plain run: every server/CLI hosts embedded PGlite + s3rver under a fresh temporary LINPATH_HOME.
 * With DATABASE_URL set (CI's second pass): each environment gets a fresh database on that Postgres and a
 * fresh bucket on the suite's S3 server, and the embedded-only cases are skipped.
 */

const postgresMode = testDatabaseKind() === 'postgres';

const FINAL = fixturePath('mlp/final.safetensors');
const INIT = fixturePath('mlp/init.safetensors');
const TEST_SET = fixturePath('mlp/test_set.safetensors');
/** The PyTorch-made final.safetensors of the spiral MLP, as its README records it. */
const FINAL_SHA256 = '8aea33bf39915fd5fa8c6b8713dbef8d7ab5c8b6878a2dff90321ddb8dfee4a1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const sha256Of = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

interface Environment {
  /** Variables for the server and the CLI (LINPATH_HOME, and the database and S3 settings in Postgres mode). */
  vars: Record<string, string>;
  home: string;
  /** The bucket linpath uploads to. */
  bucket: string;
  cleanup(): Promise<void>;
}

/** A fresh LINPATH_HOME, plus in Postgres mode a fresh database and bucket. */
async function freshEnvironment(): Promise<Environment> {
  const home = mkdtempSync(path.join(tmpdir(), 'linpath-e2e-'));
  const removeHome = () => rmSync(home, { recursive: true, force: true });
  if (!postgresMode) {
    return { vars: { LINPATH_HOME: home }, home, bucket: 'linpath', cleanup: async () => removeHome() };
  }
  let database: TestDatabase | undefined;
  try {
    database = await createTestDatabase();
    const s3 = testS3Settings();
    (await createTestStore(s3)).destroy();
    const db = database;
    return {
      vars: {
        LINPATH_HOME: home,
        DATABASE_URL: database.url,
        S3_ENDPOINT: s3.endpoint!,
        S3_BUCKET: s3.bucket,
        S3_REGION: s3.region,
        AWS_ACCESS_KEY_ID: s3.credentials!.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.credentials!.secretAccessKey,
      },
      home,
      bucket: s3.bucket,
      cleanup: async () => {
        await db.drop();
        removeHome();
      },
    };
  } catch (error) {
    await database?.drop();
    removeHome();
    throw error;
  }
}

const REGISTRY = /* GraphQL */ `
  {
    runs(first: 500) {
      edges {
        node {
          id
          name
          architecture
          checkpoints {
            id
            step
            role
            sha256
          }
        }
      }
    }
    datasets {
      id
      name
      split
      exampleCount
    }
  }
`;

interface Registry {
  runs: Array<{
    id: string;
    name: string;
    architecture: string | null;
    checkpoints: Array<{ id: string; step: number; role: string; sha256: string | null }>;
  }>;
  datasets: Array<{ id: string; name: string; split: string; exampleCount: number }>;
}

/** Every run (with its checkpoints) and dataset, read over HTTP. */
async function readRegistry(server: RunningServer): Promise<Registry> {
  const body = await server.graphql(REGISTRY);
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return {
    runs: body.data.runs.edges.map((edge: { node: Registry['runs'][number] }) => edge.node),
    datasets: body.data.datasets,
  };
}

beforeAll(() => buildOnce(), 180_000);
afterAll(killLeftovers);

describe.skipIf(postgresMode)(
  'linpath start with the demo (skipped with DATABASE_URL: the demo loads only into an empty embedded database)',
  () => {
    let environment: Environment;
    let server: RunningServer | undefined;
    afterAll(async () => {
      await server?.stop();
      await environment?.cleanup();
    });

    it('serves the demo runs (PyTorch, then three trained with TensorFlow.js), the spiral datasets and a healthy /healthz', async () => {
      environment = await freshEnvironment();
      server = await startServer(environment.vars); // LINPATH_DEMO unset: on, as for `npm start`

      const health = await fetch(new URL('/healthz', server.url));
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', database: 'ok', store: 'ok' });

      // The PyTorch run is there at once; the tfjs runs are trained in the background after the server answers.
      let registry = await readRegistry(server);
      expect(registry.runs[0]!.name).toBe('demo-spiral-mlp-adam');
      const expectedRuns = [
        'demo-spiral-mlp-adam',
        'demo-spiral-mlp-tfjs-seed1',
        'demo-spiral-mlp-tfjs-seed2',
        'demo-spiral-mlp-tfjs-seed3',
      ];
      for (
        let waited = 0;
        registry.runs.filter((r) => r.checkpoints.length === 3).length < 4 && waited < 120_000;
        waited += 1000
      ) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        registry = await readRegistry(server);
      }
      const { runs, datasets } = registry;
      // The start banner names the dashboard's URL next to the API's.
      expect(server.output()).toContain(`linpath: dashboard at ${new URL('/', server.url).href}`);
      expect(runs.map((run) => run.name)).toEqual(expectedRuns);
      for (const run of runs) {
        expect(run.architecture).toBe('mlp');
        expect(run.checkpoints.map(({ step, role }) => ({ step, role }))).toEqual([
          { step: 0, role: 'INITIAL' },
          { step: 100, role: 'INTERMEDIATE' },
          { step: 1200, role: 'FINAL' },
        ]);
      }
      expect(datasets.map(({ name, split, exampleCount }) => ({ name, split, exampleCount }))).toEqual([
        { name: 'spiral', split: 'TRAIN', exampleCount: 10000 },
        { name: 'spiral', split: 'TEST', exampleCount: 5000 },
      ]);

      // A curve between a demo run's initial and final checkpoints: the PyTorch run reproduces the fixture,
      // and the tfjs-trained runs learned (their final state beats their initial one).
      const test = datasets.find((d) => d.split === 'TEST')!;
      const curve = async (run: (typeof runs)[number]) => {
        const body = await server!.graphql(
          `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { points { alpha loss accuracy n cached } } }`,
          { input: { from: run.checkpoints[0]!.id, to: run.checkpoints[2]!.id, dataset: test.id } },
        );
        expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
        return body.data.interpolationPath.points as Array<{
          alpha: number;
          loss: number;
          accuracy: number;
          n: number;
          cached: boolean;
        }>;
      };
      const pytorch = await curve(runs[0]!);
      const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8'));
      expect(pytorch.map((p) => p.alpha)).toEqual(reference.alphas);
      pytorch.forEach((p, i) =>
        expect(Math.abs(p.loss - reference.full.loss[i]) / reference.full.loss[i]).toBeLessThan(1e-5),
      );
      // Each tfjs run reports its final state's metrics: the test ones are its stored FINAL checkpoint's loss and
      // accuracy on the test split (α = 1 of the curve), the train ones that state's on the train split.
      const train = datasets.find((d) => d.split === 'TRAIN')!;
      const metrics = await server!.graphql(
        '{ runs(filter: { tags: ["tfjs"] }, orderBy: { field: NAME, direction: ASC }) { edges { node { name reportedMetrics } } } }',
      );
      expect(metrics.errors, JSON.stringify(metrics.errors)).toBeUndefined();
      const reported = new Map<string, Record<string, number>>(
        metrics.data.runs.edges.map((e: { node: { name: string; reportedMetrics: Record<string, number> } }) => [
          e.node.name,
          e.node.reportedMetrics,
        ]),
      );
      for (const run of runs.slice(1)) {
        const points = await curve(run);
        expect(points).toHaveLength(11);
        expect(points.every((p) => p.n === 5000 && !p.cached)).toBe(true);
        expect(points[10]!.loss).toBeLessThan(points[0]!.loss);
        expect(points[10]!.accuracy).toBeGreaterThan(0.7);
        const own = reported.get(run.name)!;
        expect(Object.keys(own).sort()).toEqual(['testAccuracy', 'testLoss', 'trainAccuracy', 'trainLoss']);
        expect(own.testAccuracy).toBe(points[10]!.accuracy);
        expect(Math.abs(own.testLoss! - points[10]!.loss) / points[10]!.loss).toBeLessThan(1e-6);
        const onTrain = await server!.graphql(
          `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { points { loss accuracy n } } }`,
          { input: { from: run.checkpoints[0]!.id, to: run.checkpoints[2]!.id, dataset: train.id, alphas: [1] } },
        );
        expect(onTrain.errors, JSON.stringify(onTrain.errors)).toBeUndefined();
        const [end] = onTrain.data.interpolationPath.points;
        expect(end.n).toBe(10000);
        expect(own.trainAccuracy).toBe(end.accuracy);
        expect(Math.abs(own.trainLoss! - end.loss) / end.loss).toBeLessThan(1e-6);
      }
      expect((await curve(runs[1]!)).every((p) => p.cached)).toBe(true);

      // The analytics over the demo study, through the GraphQL layer.
      const analytics = await server!.graphql(
        `query ($from: ID!, $to: ID!, $test: ID!) {
        interpolationPath(input: { from: $from, to: $to, dataset: $test }) { barrier { shape frankleHeight mliDelta } errorBarrier(tolerance: 0.001) { shape } }
        distance(from: $from, to: $to, metric: LAYERWISE_NORMALIZED) { value tensorCount cached }
        runs(filter: { tags: ["demo"] }, orderBy: { field: NAME, direction: ASC }) { edges { node { name testAccuracy trainAccuracy(evaluate: false) } } }
        correlation(input: { runs: { tags: ["demo"] }, x: FRANKLE_HEIGHT, y: TEST_ACCURACY, path: { dataset: $test }, groupBy: ["framework"] }) {
          overall { n pearson } groups { values overall { n } } points { run { name } x y } missing { run { name } reason }
        }
      }`,
        { from: runs[0]!.checkpoints[0]!.id, to: runs[0]!.checkpoints[2]!.id, test: test.id },
      );
      expect(analytics.errors, JSON.stringify(analytics.errors)).toBeUndefined();
      const { interpolationPath, distance, correlation } = analytics.data;
      expect(interpolationPath.barrier).toMatchObject({ shape: 'MONOTONIC_DECAY', mliDelta: 0 });
      expect(distance).toMatchObject({ tensorCount: 3, cached: false });
      expect(
        Math.abs(distance.value - reference.distances.liu2020_mean_rel_fro__conv_linear_weights) / distance.value,
      ).toBeLessThan(1e-6);
      expect(analytics.data.runs.edges[0].node).toMatchObject({
        name: 'demo-spiral-mlp-adam',
        testAccuracy: reference.full.accuracy[10],
        trainAccuracy: null,
      });
      expect(correlation.overall.n).toBe(4);
      expect(correlation.missing).toEqual([]);
      expect(correlation.groups.map((g: { values: unknown[] }) => g.values)).toEqual([['pytorch'], ['tfjs']]);
    }, 180_000);
  },
);

describe('importing with the CLI while a server runs', () => {
  let environment: Environment;
  let server: RunningServer;
  let cliEnv: Record<string, string>;
  beforeAll(async () => {
    environment = await freshEnvironment();
    cliEnv = { ...environment.vars, LINPATH_DEMO: '0' };
    server = await startServer(cliEnv);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await environment?.cleanup();
  });

  const importFinal = () =>
    runCli(
      ['import', 'checkpoint', FINAL, '--run', 'e2e-mlp', '--step', '1200', '--role', 'final', '--arch', 'mlp'],
      cliEnv,
    );

  it('uploads and registers a checkpoint that GraphQL then describes tensor by tensor', async () => {
    const result = await importFinal();
    expect(result.code, result.stderr).toBe(0);
    const sha256 = sha256Of(FINAL);
    expect(sha256).toBe(FINAL_SHA256);
    expect(result.json).toMatchObject({
      run: { id: expect.stringMatching(UUID), name: 'e2e-mlp' },
      checkpoint: {
        id: expect.stringMatching(UUID),
        sha256,
        uri: `s3://${environment.bucket}/objects/sha256/${sha256}.safetensors`,
        step: 1200,
        role: 'FINAL',
        tensorCount: 6,
        parameterCount: 2751,
      },
    });
    const { run, checkpoint } = result.json as { run: { id: string }; checkpoint: { id: string } };

    const body = await server.graphql(
      `query ($id: ID!) {
        checkpoint(id: $id) {
          id sha256 size tensorCount parameterCount step role architecture uri
          tensors { name dtype shape }
          run { id name }
        }
      }`,
      { id: checkpoint.id },
    );
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(body.data.checkpoint).toEqual({
      id: checkpoint.id,
      sha256: FINAL_SHA256,
      size: statSync(FINAL).size,
      tensorCount: 6,
      parameterCount: 2751,
      step: 1200,
      role: 'FINAL',
      architecture: 'mlp',
      uri: `s3://${environment.bucket}/objects/sha256/${FINAL_SHA256}.safetensors`,
      tensors: [
        { name: 'fc1.weight', dtype: 'F32', shape: [50, 2] },
        { name: 'fc1.bias', dtype: 'F32', shape: [50] },
        { name: 'fc2.weight', dtype: 'F32', shape: [50, 50] },
        { name: 'fc2.bias', dtype: 'F32', shape: [50] },
        { name: 'fc3.weight', dtype: 'F32', shape: [1, 50] },
        { name: 'fc3.bias', dtype: 'F32', shape: [1] },
      ],
      run: { id: run.id, name: 'e2e-mlp' },
    });

    const runBody = await server.graphql(`query ($id: ID!) { run(id: $id) { name architecture checkpoints { id } } }`, {
      id: run.id,
    });
    expect(runBody.errors, JSON.stringify(runBody.errors)).toBeUndefined();
    expect(runBody.data.run).toEqual({ name: 'e2e-mlp', architecture: 'mlp', checkpoints: [{ id: checkpoint.id }] });
  });

  it('uploads and registers a dataset, counting its examples and classes', async () => {
    const result = await runCli(['import', 'dataset', TEST_SET, '--name', 'spiral', '--split', 'test'], cliEnv);
    expect(result.code, result.stderr).toBe(0);
    expect(result.json).toMatchObject({
      dataset: {
        id: expect.stringMatching(UUID),
        name: 'spiral',
        split: 'TEST',
        exampleCount: 5000,
        sha256: sha256Of(TEST_SET),
      },
    });

    const body = await server.graphql(
      `query ($id: ID!) {
        dataset(id: $id) { id name split exampleCount inputShape inputDtype inputKey labelKey labelKind numClasses sha256 size }
      }`,
      { id: result.json.dataset.id },
    );
    expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
    expect(body.data.dataset).toEqual({
      id: result.json.dataset.id,
      name: 'spiral',
      split: 'TEST',
      exampleCount: 5000,
      inputShape: [2],
      inputDtype: 'F32',
      inputKey: 'x',
      labelKey: 'y',
      labelKind: 'CLASS_INDEX',
      numClasses: 2,
      sha256: sha256Of(TEST_SET),
      size: statSync(TEST_SET).size,
    });
  });

  it('re-imports the same file idempotently and refuses another file for the same FINAL slot (exit 4)', async () => {
    const first = await importFinal();
    const again = await importFinal();
    expect(first.code, first.stderr).toBe(0);
    expect(again.code, again.stderr).toBe(0);
    expect(again.json.checkpoint.id).toBe(first.json.checkpoint.id);
    expect(again.json.run.id).toBe(first.json.run.id);
    expect(again.json.checkpoint.created).toBe(false);

    const other = await runCli(
      ['import', 'checkpoint', INIT, '--run', 'e2e-mlp', '--step', '1200', '--role', 'final'],
      cliEnv,
    );
    expect(other.code, other.stderr).toBe(4);
    expect(other.stderr).toMatch(/^linpath: CONFLICT: run \S+ already has a FINAL checkpoint/);
    expect(other.stderr).toContain(first.json.checkpoint.id);
    expect(other.json).toBeUndefined();

    const { runs } = await readRegistry(server);
    const run = runs.find((r) => r.name === 'e2e-mlp');
    expect(run?.checkpoints).toEqual([
      { id: first.json.checkpoint.id, step: 1200, role: 'FINAL', sha256: FINAL_SHA256 },
    ]);
  });

  it('prints a path with `linpath path`: JSON, then a table of stored points; bad alphas exit 2', async () => {
    const init = await runCli(
      ['import', 'checkpoint', INIT, '--run', 'e2e-mlp', '--step', '0', '--role', 'initial'],
      cliEnv,
    );
    expect(init.code, init.stderr).toBe(0);
    const final = await importFinal();
    const dataset = await runCli(['import', 'dataset', TEST_SET, '--name', 'spiral', '--split', 'test'], cliEnv);
    const args = [
      'path',
      '--from',
      init.json.checkpoint.id,
      '--to',
      final.json.checkpoint.id,
      '--dataset',
      dataset.json.dataset.id,
      '--alphas',
      '0:1:0.5',
    ];

    const json = await runCli([...args, '--json'], cliEnv);
    expect(json.code, json.stderr).toBe(0);
    const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8'));
    expect(json.json.path).toMatchObject({ blocks: null, exampleCount: 5000, movingTensorCount: 6 });
    expect(json.json.points.map((p: { alpha: number }) => p.alpha)).toEqual([0, 0.5, 1]);
    json.json.points.forEach((p: { loss: number; accuracy: number; cached: boolean }, i: number) => {
      expect(Math.abs(p.loss - reference.full.loss[i * 5]) / reference.full.loss[i * 5]).toBeLessThan(1e-5);
      expect(p.accuracy).toBe(reference.full.accuracy[i * 5]);
      expect(p.cached).toBe(false);
    });

    const table = await runCli([...args, '--blocks', 'fc1,fc2,fc3'], cliEnv);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^path \S+ \(whole model, 5000 examples\)$/);
    expect(lines[1]).toMatch(/^\s*alpha\s+loss\s+accuracy\s+correct\s+point\s+chosen\s+engine$/);
    // Three points, then the shape and barrier measures of the loss and of the error curve.
    expect(lines.slice(2)).toHaveLength(5);
    expect(lines[5]).toMatch(/^loss curve: (MONOTONIC_DECAY|BARRIER|PLATEAU)\b.*\brise \d/);
    expect(lines[6]).toMatch(/^error curve: /);
    expect(lines.slice(2, 5).every((line) => /\bstored\b/.test(line) && /onnxruntime-node/.test(line))).toBe(true);
    expect(lines[2]).toContain(`${reference.full.correct[0]}/5000`);
    expect(lines.slice(2, 5).every((line) => /\bgrid\b/.test(line))).toBe(true);

    // --refine: init → final of the MLP decreases (no interior peak), so the three stored points answer at once.
    const refined = await runCli([...args, '--refine', '--json'], cliEnv);
    expect(refined.code, refined.stderr).toBe(0);
    expect(refined.json.refinement).toEqual({ status: 'CONVERGED', tolerance: 0.001, maxPoints: 64, peaks: [] });
    expect(refined.json.points.map((p: { chosenBy: string; cached: boolean }) => [p.chosenBy, p.cached])).toEqual([
      ['GRID', true],
      ['GRID', true],
      ['GRID', true],
    ]);

    const bad = await runCli([...args.slice(0, -1), '0,x'], cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^linpath: BAD_USER_INPUT: option '--alphas <list>' argument '0,x' is invalid/);
    const unknownBlock = await runCli([...args, '--blocks', 'layer9'], cliEnv);
    expect(unknownBlock.code).toBe(2);
    expect(unknownBlock.stderr).toMatch(
      /^linpath: BAD_USER_INPUT: blocks: "layer9" names no floating-point tensor of mlp/,
    );
  }, 90_000);

  it("lists the run's paths, describes the run, and sweeps and reports it by name (--run, its own dataset)", async () => {
    // State of the test above: e2e-mlp (initial and final) and its whole-model path on spiral:test at 0, 0.5, 1.
    const checkpoints = await runCli(['checkpoints', '--run', 'e2e-mlp', '--json'], cliEnv);
    expect(checkpoints.code, checkpoints.stderr).toBe(0);
    const idOf = (role: string) => checkpoints.json.find((c: { role: string }) => c.role === role).id;
    const paths = await runCli(['paths', '--run', 'e2e-mlp', '--json'], cliEnv);
    expect(paths.code, paths.stderr).toBe(0);
    const whole = paths.json.find((p: { blocks: unknown }) => p.blocks === null);
    expect(whole).toMatchObject({
      from: 'e2e-mlp·initial·0',
      to: 'e2e-mlp·final·1200',
      fromCheckpointId: idOf('INITIAL'),
      toCheckpointId: idOf('FINAL'),
      dataset: 'spiral:test',
      exampleCount: 5000,
      storedPoints: 3,
      failure: null,
    });
    const table = await runCli(['paths', '--run', 'e2e-mlp'], cliEnv);
    expect(table.stdout).toMatch(/^from\s+to\s+dataset\s+blocks\s+examples\s+points\s+id$/m);
    expect(table.stdout).toContain(whole.id);
    const unknownRun = await runCli(['paths', '--run', 'no-such-run'], cliEnv);
    expect(unknownRun.code).toBe(3);
    expect(unknownRun.stderr).toMatch(/^linpath: NOT_FOUND: no run with id or name "no-such-run"/);

    // The run has no dataset name yet: --run cannot default the dataset, and says how to set it.
    const sweepArgs = ['sweep', '--run', 'e2e-mlp', '--alphas', '0:1:0.5'];
    const noDataset = await runCli(sweepArgs, cliEnv);
    expect(noDataset.code).toBe(2);
    expect(noDataset.stderr).toMatch(/run "e2e-mlp" has no dataset name.*linpath run update e2e-mlp --dataset/);
    const updated = await runCli(
      ['run', 'update', 'e2e-mlp', '--dataset', 'spiral', '--tag', 'swept', '--hparam', 'optimizer.lr=0.001'],
      cliEnv,
    );
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.json.run).toMatchObject({
      name: 'e2e-mlp',
      datasetName: 'spiral',
      tags: ['swept'],
      hyperparameters: { optimizer: { lr: 0.001 } },
    });
    const runs = await runCli(['runs', '--json'], cliEnv);
    expect(runs.json.find((r: { name: string }) => r.name === 'e2e-mlp')).toMatchObject({
      datasetName: 'spiral',
      tags: ['swept'],
      hyperparameters: { optimizer: { lr: 0.001 } },
    });

    // Now the run's own dataset (spiral, its TEST split) is the default: the same path, every point stored.
    const sweep = await runCli(sweepArgs, cliEnv);
    expect(sweep.code, sweep.stderr).toBe(0);
    expect(sweep.json.paths).toHaveLength(1);
    expect(sweep.json.paths[0]).toMatchObject({ run: 'e2e-mlp', pathId: whole.id });
    expect(sweep.json.progress).toMatchObject({ settled: true, failures: [] });
    const report = await runCli(['report', '--run', 'e2e-mlp', '--alphas', '0:1:0.5', '--no-blocks'], cliEnv);
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/^\| [^|]+ \| 1 \| /m);

    const both = await runCli([...sweepArgs, '--runs', 'all'], cliEnv);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^linpath: BAD_USER_INPUT: expected either --run <name> or --runs <filter>, got both/);
    const neither = await runCli(['report', '--dataset', 'spiral:test'], cliEnv);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/^linpath: BAD_USER_INPUT: expected --runs <filter> or --run <name> .*got neither/);
  }, 180_000);
});

describe('malformed input registers nothing', () => {
  let environment: Environment;
  let server: RunningServer;
  let cliEnv: Record<string, string>;
  let scratch: string;
  beforeAll(async () => {
    environment = await freshEnvironment();
    cliEnv = { ...environment.vars, LINPATH_DEMO: '0' };
    scratch = mkdtempSync(path.join(tmpdir(), 'linpath-e2e-files-'));
    server = await startServer(cliEnv);
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    await environment?.cleanup();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** The registry is still empty, which also shows the server still answers. */
  async function expectNothingRegistered(): Promise<void> {
    expect(await readRegistry(server)).toEqual({ runs: [], datasets: [] });
  }

  const write = (name: string, bytes: Uint8Array | string): string => {
    const file = path.join(scratch, name);
    writeFileSync(file, bytes);
    return file;
  };

  const checkpointArgs = (file: string, ...extra: string[]) => [
    'import',
    'checkpoint',
    file,
    '--run',
    'e2e-bad',
    '--step',
    '3',
    '--role',
    'final',
    ...extra,
  ];

  // [case, CLI arguments (a function: the scratch directory exists only once beforeAll ran), exit code, message]
  const cliCases: Array<[string, () => string[], number, RegExp]> = [
    [
      'a truncated checkpoint',
      () => {
        const bytes = readFileSync(FINAL);
        return checkpointArgs(write('truncated.safetensors', bytes.subarray(0, bytes.length - 100)));
      },
      2,
      /^linpath: BAD_USER_INPUT: \S*truncated\.safetensors is not a valid safetensors file: .*run past the end/,
    ],
    [
      'a file of garbage bytes',
      () => checkpointArgs(write('garbage.safetensors', Buffer.alloc(4096, Buffer.from([0xde, 0xad, 0xbe, 0xef])))),
      2,
      /^linpath: BAD_USER_INPUT: \S*garbage\.safetensors is not a valid safetensors file: .*header length/,
    ],
    [
      'a JSON file',
      () => checkpointArgs(write('weights.json', JSON.stringify({ 'fc1.weight': [[0.1, 0.2]], 'fc1.bias': [0] }))),
      2,
      /^linpath: BAD_USER_INPUT: \S*weights\.json is not a valid safetensors file/,
    ],
    [
      'a path that does not exist',
      () => checkpointArgs(path.join(scratch, 'missing.safetensors')),
      2,
      /^linpath: BAD_USER_INPUT: cannot read \S*missing\.safetensors: ENOENT/,
    ],
    [
      '--step -1',
      () => ['import', 'checkpoint', FINAL, '--run', 'e2e-bad', '--step', '-1', '--role', 'final'],
      2,
      /^linpath: BAD_USER_INPUT: option '--step <n>' argument '-1' is invalid\. expected an integer ≥ 0, got "-1"/,
    ],
    [
      '--step 1.5',
      () => ['import', 'checkpoint', FINAL, '--run', 'e2e-bad', '--step', '1.5', '--role', 'final'],
      2,
      /^linpath: BAD_USER_INPUT: .*expected an integer ≥ 0, got "1\.5"/,
    ],
    [
      '--role bogus',
      () => ['import', 'checkpoint', FINAL, '--run', 'e2e-bad', '--step', '3', '--role', 'bogus'],
      2,
      /^linpath: BAD_USER_INPUT: .*'bogus' is invalid\. Allowed choices are initial, intermediate, final/,
    ],
    [
      'a dataset with --input-key nope',
      () => ['import', 'dataset', TEST_SET, '--name', 'spiral', '--split', 'test', '--input-key', 'nope'],
      2,
      /^linpath: BAD_USER_INPUT: \S*test_set\.safetensors: expected a tensor "nope" \(inputKey\), found tensors "x", "y"/,
    ],
  ];

  it.each(cliCases)('CLI: %s fails with its reason', async (_case, args, code, message) => {
    const result = await runCli(args(), cliEnv);
    expect(result.code, result.stderr).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.json).toBeUndefined();
    await expectNothingRegistered();
  });

  const REGISTER_CHECKPOINT = `mutation ($uri: String!, $run: String!) {
    registerCheckpoint(input: { run: $run, step: 3, role: FINAL, uri: $uri }) { id }
  }`;

  // [case, uri (a function: the bucket is known once beforeAll ran), code, message]
  const uriCases: Array<[string, () => string, string, RegExp]> = [
    [
      'an https URL',
      () => 'https://example.com/x',
      'BAD_USER_INPUT',
      /^uri: expected s3:\/\/<bucket>\/<key> with bucket /,
    ],
    [
      'another bucket',
      () => 's3://other-bucket/x',
      'BAD_USER_INPUT',
      /^uri: bucket "other-bucket" is not configured for linpath/,
    ],
    [
      'a key with ".."',
      () => `s3://${environment.bucket}/../x`,
      'BAD_USER_INPUT',
      /^uri: expected a key of non-empty path segments without "\."/,
    ],
  ];

  it.each(uriCases)('GraphQL: registerCheckpoint of %s is refused', async (_case, uri, code, message) => {
    const body = await server.graphql(REGISTER_CHECKPOINT, { uri: uri(), run: 'e2e-bad' });
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors![0]!.extensions?.code).toBe(code);
    expect(body.errors![0]!.message).toMatch(message);
    await expectNothingRegistered();
  });

  it('GraphQL: registering a missing object of the configured bucket is NOT_FOUND', async () => {
    const uri = `s3://${environment.bucket}/objects/missing.safetensors`;
    const dataset = await server.graphql(
      `mutation ($uri: String!) { registerDataset(input: { name: "spiral", split: TEST, uri: $uri }) { id } }`,
      { uri },
    );
    expect(dataset.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['NOT_FOUND', `no object at ${uri}`]]);
    await expectNothingRegistered();

    // A checkpoint needs its run first (else NOT_FOUND names the run, not the object).
    const created = await server.graphql(
      `mutation { createRun(input: { name: "e2e-empty", architecture: "mlp" }) { id } }`,
    );
    expect(created.errors, JSON.stringify(created.errors)).toBeUndefined();
    const checkpoint = await server.graphql(REGISTER_CHECKPOINT, { uri, run: 'e2e-empty' });
    expect(checkpoint.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      ['NOT_FOUND', `no object at ${uri}`],
    ]);
    expect(await readRegistry(server)).toEqual({
      runs: [{ id: created.data.createRun.id, name: 'e2e-empty', architecture: 'mlp', checkpoints: [] }],
      datasets: [],
    });
  });
});

describe.skipIf(postgresMode)(
  'embedded services without a running server (embedded only: DATABASE_URL means no embedded services)',
  () => {
    let environment: Environment;
    let server: RunningServer | undefined;
    let imported: { run: { id: string }; checkpoint: { id: string } } | undefined;
    beforeAll(async () => {
      environment = await freshEnvironment();
    }, 90_000);
    afterAll(async () => {
      await server?.stop();
      await environment?.cleanup();
    });

    it('the CLI hosts them itself, and a server started later on the same LINPATH_HOME shows what it imported', async () => {
      const result = await runCli(
        ['import', 'checkpoint', FINAL, '--run', 'offline-mlp', '--step', '1200', '--role', 'final', '--arch', 'mlp'],
        environment.vars,
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.json.checkpoint.sha256).toBe(FINAL_SHA256);
      imported = result.json;
      // The CLI let go of LINPATH_HOME when it finished.
      expect(existsSync(path.join(environment.home, 'embedded.lock'))).toBe(false);
      expect(existsSync(path.join(environment.home, 'runtime.json'))).toBe(false);

      // The demo is on (LINPATH_DEMO unset) but must not mix into a registry that already has runs.
      server = await startServer(environment.vars);
      const { runs } = await readRegistry(server);
      expect(runs).toEqual([
        {
          id: imported!.run.id,
          name: 'offline-mlp',
          architecture: 'mlp',
          checkpoints: [{ id: imported!.checkpoint.id, step: 1200, role: 'FINAL', sha256: FINAL_SHA256 }],
        },
      ]);
    }, 90_000);

    it('a second server on the same LINPATH_HOME exits with "already serves" and the first keeps serving', async () => {
      server ??= await startServer(environment.vars);
      const second = startServer(environment.vars);
      await expect(second).rejects.toMatchObject({
        status: 6,
        message: expect.stringMatching(/already serves LINPATH_HOME=/),
      });
      expect(await server.graphql('{ runs { edges { node { id } } } }')).not.toHaveProperty('errors');
      const health = await fetch(new URL('/healthz', server.url));
      expect(await health.json()).toMatchObject({ status: 'ok' });
    }, 90_000);
  },
);

describe('API keys', () => {
  let environment: Environment;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.stop();
    await environment?.cleanup();
  });

  it.skipIf(postgresMode)(
    'the first embedded start writes an admin key to LINPATH_HOME/admin-key (0600) and prints its path, never the key',
    async () => {
      environment = await freshEnvironment();
      server = await startServer({ ...environment.vars, LINPATH_DEMO: '0' });
      const key = server.adminKey()!;
      expect(key).toMatch(/^lp_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(server.output()).toContain(
        `created an admin API key in ${path.join(environment.home, 'admin-key')} (mode 0600; it is not printed)`,
      );
      expect(server.output()).not.toContain(key);
      expect(statSync(path.join(environment.home, 'admin-key')).mode & 0o777).toBe(0o600);
      await server.stop();
      server = await startServer({ ...environment.vars, LINPATH_DEMO: '0' });
      expect(server.output()).not.toContain('created an admin API key');
    },
    90_000,
  );

  it('keys create, list and revoke from the CLI; mutations need a write key, the CLI none', async () => {
    environment ??= await freshEnvironment();
    server ??= await startServer({ ...environment.vars, LINPATH_DEMO: '0' });
    const mutation = `mutation { createRun(input: { name: "keyed" }) { name } }`;
    expect((await server.graphql(mutation, undefined, { key: null })).errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );

    const read = await runCli(['keys', 'create', '--scope', 'read', '--name', 'dashboard'], environment.vars);
    expect(read.code, read.stderr).toBe(0);
    expect(read.json).toMatchObject({
      key: expect.stringMatching(/^lp_/),
      scope: 'read',
      name: 'dashboard',
      revokedAt: null,
    });
    expect((await server.graphql(mutation, undefined, { key: read.json.key })).errors?.[0]?.extensions?.code).toBe(
      'FORBIDDEN',
    );

    const write = await runCli(['keys', 'create', '--scope', 'write'], environment.vars);
    expect((await server.graphql(mutation, undefined, { key: write.json.key })).data).toEqual({
      createRun: { name: 'keyed' },
    });

    const revoked = await runCli(['keys', 'revoke', write.json.id], environment.vars);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.json.revokedAt).toEqual(expect.any(String));
    expect((await server.graphql(mutation, undefined, { key: write.json.key })).errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );

    const list = await runCli(['keys', 'list'], environment.vars);
    expect(list.json.keys.map((k: { id: string }) => k.id)).toEqual(
      expect.arrayContaining([read.json.id, write.json.id]),
    );
    expect(list.stdout).not.toContain(read.json.key);
    const missing = await runCli(['keys', 'revoke', 'lp_0000000000000000'], environment.vars);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('NOT_FOUND: no API key with id');
  }, 90_000);
});

describe('shutdown', () => {
  const environments: Environment[] = [];
  afterAll(async () => {
    for (const environment of environments) await environment.cleanup();
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s stops the server with exit code 0 and removes runtime.json',
    async (signal) => {
      const environment = await freshEnvironment();
      environments.push(environment);
      const server = await startServer({ ...environment.vars, LINPATH_DEMO: '0' });
      const runtime = path.join(environment.home, 'runtime.json');
      const lock = path.join(environment.home, 'embedded.lock');
      if (!postgresMode) {
        expect(JSON.parse(readFileSync(runtime, 'utf8'))).toMatchObject({ pid: server.pid, url: server.url });
        expect(existsSync(lock)).toBe(true);
      }

      expect(await server.stop(signal), server.output()).toBe(0);
      expect(existsSync(runtime)).toBe(false);
      expect(existsSync(lock)).toBe(false);
      await expect(fetch(server.url, { method: 'POST' })).rejects.toThrow();
    },
    90_000,
  );
});

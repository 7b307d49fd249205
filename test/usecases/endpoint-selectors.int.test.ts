import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { createLoaders } from '../../src/graphql/loaders.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { updateRun } from '../../src/usecases/registry/runs.usecases.js';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { createRandomCheckpoint } from '../../src/usecases/derive.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { enqueueSweep } from '../../src/usecases/sweep.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

const { graphql } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

/**
 * Bulk end-point selectors on a real database and S3 server: a sweep whose ends are an intermediate by step,
 * another run's state, or a fresh seeded random initialisation per run. The paths it queues must join exactly
 * the selected checkpoints; a random state must be the architecture's PyTorch-default initialisation drawn
 * with the seed (randomInitialState, itself checked against torch in test/compute/random-init.test.ts), read
 * back from the store bit for bit; runs without the selected checkpoint are listed with the reason.
 */
describe('sweep end-point selectors', () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  const ids = { test: '', aInit: '', aStep600: '', aFinal: '', bInit: '', bFinal: '', a: '', b: '', c: '' };

  beforeAll(async () => {
    f = await createRegistryFixture();
    const add = async (run: string, file: string, step: number, role: 'INITIAL' | 'INTERMEDIATE' | 'FINAL') =>
      importCheckpointFile(f.deps, fixturePath(`mlp/${file}`), { run, architecture: 'mlp', step, role });
    let r = await add('sel-a', 'init.safetensors', 0, 'INITIAL');
    ids.a = r.run.id;
    ids.aInit = r.checkpoint.id;
    ids.aStep600 = (await add('sel-a', 'epoch5.safetensors', 600, 'INTERMEDIATE')).checkpoint.id;
    ids.aFinal = (await add('sel-a', 'final.safetensors', 1200, 'FINAL')).checkpoint.id;
    r = await add('sel-b', 'epoch5.safetensors', 0, 'INITIAL');
    ids.b = r.run.id;
    ids.bInit = r.checkpoint.id;
    ids.bFinal = (await add('sel-b', 'init.safetensors', 900, 'FINAL')).checkpoint.id;
    ids.c = (await add('sel-c', 'final.safetensors', 1200, 'FINAL')).run.id;
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' })
    ).dataset.id;
    evaluation = await createPathDeps(f, { workers: 0 });
  }, 60_000);
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
  });

  const deps = () => ({
    ...evaluation.paths,
    randomInit: (input: { like: string; seed: number; run: string }) =>
      createRandomCheckpoint({ registry: f.deps, paths: evaluation.paths }, input),
  });
  const sweep = (from: unknown, to: unknown) =>
    enqueueSweep(deps(), {
      dataset: ids.test,
      from: from as never,
      to: to as never,
      alphas: [0, 1],
    });
  /**
   * run name → [sha256 of from, sha256 of to] of the paths a sweep queued. Paths are memoized by content, so a
   * path is compared by the content of its ends (a checkpoint with the same bytes in another run shares it).
   */
  const ends = async (result: Awaited<ReturnType<typeof sweep>>) => {
    const paths = await evaluation.paths.paths.findPaths(result.paths.map((p) => p.pathId));
    const sha = async (id: string) => (await f.deps.repository.findCheckpoint(id))!.sha256;
    return Object.fromEntries(
      await Promise.all(
        result.paths.map(async (p) => {
          const row = paths.find((x) => x.id === p.pathId)!;
          return [p.run.name, [await sha(row.fromCheckpointId), await sha(row.toCheckpointId)]] as const;
        }),
      ),
    );
  };
  const sha = async (id: string) => (await f.deps.repository.findCheckpoint(id))!.sha256;
  const skipped = (result: Awaited<ReturnType<typeof sweep>>) =>
    Object.fromEntries(result.skipped.map((s) => [s.run.name, s.reason]));

  it('takes an intermediate by step, and lists runs without it', async () => {
    const result = await sweep({ step: 600 }, undefined);
    expect(result.ends).toEqual({ from: 'INTERMEDIATE@600', to: 'FINAL' });
    expect(await ends(result)).toEqual({ 'sel-a': [await sha(ids.aStep600), await sha(ids.aFinal)] });
    expect(skipped(result)).toEqual({
      'sel-b': 'the run has no INTERMEDIATE@600 checkpoint',
      'sel-c': 'the run has no INTERMEDIATE@600 checkpoint',
    });
  });

  it("takes another run's state, the same for every run", async () => {
    const result = await sweep({ run: 'sel-b', role: 'INITIAL' }, 'FINAL');
    expect(result.ends).toEqual({ from: 'run "sel-b" INITIAL', to: 'FINAL' });
    const paths = await ends(result);
    expect(paths['sel-a']).toEqual([await sha(ids.bInit), await sha(ids.aFinal)]);
    expect(paths['sel-b']).toEqual([await sha(ids.bInit), await sha(ids.bFinal)]);
    expect(Object.keys(paths)).toHaveLength(3);
    await expect(sweep({ run: 'no-such-run', role: 'INITIAL' }, 'FINAL')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'run "no-such-run": no run of that name',
    });
  });

  it('draws a seeded random initialisation per run, stored as a derived checkpoint of that run', async () => {
    const result = await sweep({ randomSeed: 7 }, 'FINAL');
    expect(result.ends).toEqual({ from: 'random seed 7', to: 'FINAL' });
    const paths = await ends(result);
    expect(Object.keys(paths).sort()).toEqual(['sel-a', 'sel-b', 'sel-c']);
    const graph = buildModelGraph('mlp', (await f.deps.repository.findCheckpoint(ids.aFinal))!.header.tensors);
    const expected = randomInitialState(graph, 7);
    for (const [name, [fromSha, toSha]] of Object.entries(paths)) {
      // Each run holds its own random checkpoint (a RANDOM_INIT derivation, seed 7), and its path ends at its FINAL.
      const run = (await f.deps.repository.findRunByName(name))!;
      const own = await f.deps.repository.checkpointsOfRun(run.id);
      const random = own.find((c) => c.sha256 === fromSha && c.role !== 'FINAL' && c.step !== 600)!;
      expect(random, name).toBeDefined();
      expect(own.find((c) => c.role === 'FINAL')!.sha256).toBe(toSha);
      const state = await evaluation.paths.states.get(random);
      for (const tensor of expected) {
        const values = state.tensors.get(tensor.name)!;
        expect(Buffer.from(values.buffer, values.byteOffset, values.byteLength)).toEqual(
          Buffer.from((tensor.data as Float32Array).buffer),
        );
      }
    }
    // Asked again: the same checkpoints, nothing drawn twice.
    expect(await ends(await sweep({ randomSeed: 7 }, 'FINAL'))).toEqual(paths);
  });

  it('refuses selectors that select nothing or the same checkpoint twice', async () => {
    const cases: Array<[unknown, unknown, string]> = [
      ['FINAL', { role: 'FINAL' }, 'from and to must select different checkpoints, got FINAL for both'],
      [
        { randomSeed: 1, role: 'INITIAL' },
        'FINAL',
        'from: randomSeed draws a new state; it takes no role, step or run, got {"randomSeed":1,"role":"INITIAL"}',
      ],
      [{ randomSeed: -1 }, 'FINAL', 'from.randomSeed: expected an integer ≥ 0, got -1'],
      [{ step: 1.5 }, 'FINAL', 'from.step: expected an integer ≥ 0 (an optimizer step), got 1.5'],
      [
        { randomSeed: 1 },
        { randomSeed: 2 },
        'from and to: at most one end may be a random state (it is shaped like the other)',
      ],
    ];
    for (const [from, to, message] of cases)
      await expect(sweep(from, to)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message });
  });

  it('selects the ends of a correlation over GraphQL: distances as PyTorch measures them', async () => {
    for (const name of ['sel-a', 'sel-b', 'sel-c'])
      await updateRun(f.deps, { run: name, reportedMetrics: { acc: name === 'sel-b' ? 0.5 : 0.9 } });
    // PyTorch's global L2 distances between the fixture's states (make_fixtures.py).
    const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8')) as {
      distances: { global_l2__parameters: number };
      distances_epoch5: { global_l2__parameters: number };
    };
    const schema = await buildLinpathSchema();
    const contextValue = {
      registry: f.deps,
      paths: evaluation.paths,
      analytics: evaluation.analytics,
      training: evaluation.training,
      pollMs: 50,
      logger: createLogger({ logLevel: 'silent' }),
      loaders: createLoaders(f.deps, evaluation.analytics, evaluation.training),
    };
    const correlate = async (path: string) => {
      const result = await graphql({
        schema,
        source: `{ correlation(input: { x: DISTANCE_L2, y: REPORTED, yMetric: "acc", path: ${path} }) {
          points { run { name } x } missing { run { name } reason } } }`,
        contextValue,
      });
      expect(result.errors).toBeUndefined();
      const { points, missing } = (
        result.data as {
          correlation: {
            points: Array<{ run: { name: string }; x: number }>;
            missing: Array<{ run: { name: string }; reason: string }>;
          };
        }
      ).correlation;
      return {
        x: Object.fromEntries(points.map((p) => [p.run.name, p.x])),
        missing: Object.fromEntries(missing.map((m) => [m.run.name, m.reason])),
      };
    };
    const toStep = await correlate('{ toEndpoint: { step: 600 } }');
    expect(toStep.x['sel-a']).toBeCloseTo(reference.distances_epoch5.global_l2__parameters, 4);
    expect(toStep.missing).toEqual({
      'sel-b': 'the run has no INTERMEDIATE@600 checkpoint',
      'sel-c': 'the run has no INITIAL checkpoint',
    });
    const fromOther = await correlate('{ fromEndpoint: { run: "sel-a", role: INITIAL } }');
    expect(fromOther.missing).toEqual({});
    expect(fromOther.x['sel-a']).toBeCloseTo(reference.distances.global_l2__parameters, 4);
    expect(fromOther.x['sel-b']).toBe(0); // sel-b's FINAL holds the same bytes as sel-a's INITIAL
    expect(fromOther.x['sel-c']).toBeCloseTo(reference.distances.global_l2__parameters, 4);
    const refused = await graphql({
      schema,
      source: `{ correlation(input: { x: DISTANCE_L2, y: REPORTED, yMetric: "acc", path: { fromEndpoint: { randomSeed: 1, step: 3 } } }) { points { x } } }`,
      contextValue,
    });
    // In-process, the coded error is the original one (the HTTP boundary puts its code in extensions).
    expect(refused.errors?.[0]?.originalError).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'path.from: randomSeed draws a new state; it takes no role, step or run, got {"step":3,"randomSeed":1}',
    });
  });
});

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { createLoaders } from '../../src/graphql/loaders.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import { createRandomCheckpoint } from '../../src/usecases/derive.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { studyReport, type ReportInput, type StudyReport } from '../../src/usecases/report.usecases.js';
import { readCheckpointFixture, readTestSetFixture } from '../helpers/engine-fixtures.js';
import { fixturePath } from '../helpers/fixtures.js';
import { mlpReferencePoint } from '../helpers/mlp-reference.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

const { graphql } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const reference = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8')) as {
  alphas: number[];
  full: { loss: number[]; accuracy: number[] };
  full_epoch5: { loss: number[]; accuracy: number[] };
};
const ALPHAS = reference.alphas;
const state = (file: string) => readCheckpointFixture(`mlp/${file}`).state;
const data = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
/** rise by its definition: max L − max(L(0), L(1)). */
const riseOf = (loss: readonly number[]) => Math.max(...loss) - Math.max(loss[0]!, loss[loss.length - 1]!);

/**
 * The report's end-point selectors (issue 19, item 4) on a real database (PGlite, or Postgres with DATABASE_URL),
 * a real S3 server, the queue with an in-process worker and ONNX Runtime: an intermediate by step, another run's
 * state and a seeded random initialisation per run, resolved by the code sweep and correlation use
 * (paths/endpoint-selectors.ts). Every curve is checked against PyTorch's (reference.json) where the fixture has
 * it, and against an independent float64 evaluation of the selected ends (test/helpers/mlp-reference.ts) always.
 */
describe('report with end-point selectors', { timeout: 600_000 }, () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  let test = '';

  beforeAll(async () => {
    f = await createRegistryFixture();
    evaluation = await createPathDeps(f);
    const add = (run: string, file: string, step: number, role: 'INITIAL' | 'INTERMEDIATE' | 'FINAL') =>
      importCheckpointFile(f.deps, fixturePath(`mlp/${file}`), { run, architecture: 'mlp', step, role });
    await add('rep-a', 'init.safetensors', 0, 'INITIAL');
    await add('rep-a', 'epoch5.safetensors', 100, 'INTERMEDIATE');
    await add('rep-a', 'final.safetensors', 1200, 'FINAL');
    // rep-b starts where rep-a was after 5 epochs and ends at the same FINAL state.
    await add('rep-b', 'epoch5.safetensors', 0, 'INITIAL');
    await add('rep-b', 'final.safetensors', 1200, 'FINAL');
    test = (await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' }))
      .dataset.id;
  }, 120_000);
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
  });

  const deps = () => ({
    ...evaluation.analytics,
    randomInit: (input: { like: string; seed: number; run: string }) =>
      createRandomCheckpoint({ registry: f.deps, paths: evaluation.paths }, input),
  });
  const report = (input: Partial<ReportInput>) =>
    studyReport(deps(), { runs: { nameContains: 'rep-' }, dataset: test, alphas: ALPHAS, blocks: false, ...input });
  /** run name → its whole-model curve's losses at ALPHAS, and its accuracy. */
  const curves = (result: StudyReport) =>
    Object.fromEntries(
      result.groups.flatMap((g) =>
        g.runs.map((r) => [
          r.run.name,
          { loss: r.curve.map((p) => p.loss!), accuracy: r.accuracy, rise: r.whole.rise },
        ]),
      ),
    );
  const expectClose = (actual: readonly number[], expected: readonly number[], what: string) => {
    expect(actual).toHaveLength(expected.length);
    actual.forEach((v, i) =>
      expect(Math.abs(v - expected[i]!) / Math.abs(expected[i]!), `${what} α ${i}`).toBeLessThan(1e-5),
    );
  };

  it('takes an intermediate by step: INITIAL → the state at step 100 is PyTorch init → epoch5', async () => {
    const result = await report({ to: { step: 100 } });
    expect(result.ends).toEqual({ from: 'INITIAL', to: 'INTERMEDIATE@100' });
    expect(result.missing.map((m) => [m.run.name, m.reason])).toEqual([
      ['rep-b', 'the run has no INTERMEDIATE@100 checkpoint'],
    ]);
    const a = curves(result)['rep-a']!;
    expectClose(a.loss, reference.full_epoch5.loss, 'init → epoch5');
    expect(a.accuracy).toBeCloseTo(reference.full_epoch5.accuracy.at(-1)!, 6);
    expect(a.rise).toBeCloseTo(riseOf(reference.full_epoch5.loss), 5);
    expect(result.groups[0]!.accuracy.mean).toBeCloseTo(0.5216, 6);
    expect(result.markdown).toContain('INITIAL → INTERMEDIATE@100 of each run');
  });

  it("takes another run's state for every run: rep-a's INITIAL → each run's FINAL is PyTorch init → final", async () => {
    const result = await report({ from: { run: 'rep-a', role: 'INITIAL' } });
    expect(result.ends).toEqual({ from: 'run "rep-a" INITIAL', to: 'FINAL' });
    expect(result.missing).toEqual([]);
    const byRun = curves(result);
    for (const name of ['rep-a', 'rep-b']) {
      expectClose(byRun[name]!.loss, reference.full.loss, `${name} init → final`);
      expect(byRun[name]!.accuracy).toBeCloseTo(0.8928, 6);
      expect(byRun[name]!.rise).toBe(0); // a monotone init → final curve has no barrier
    }
    // By default rep-b's own INITIAL (epoch5) is the start: the same runs, another curve.
    const own = curves(await report({}));
    expectClose(own['rep-b']!.loss.slice(0, 1), [reference.full_epoch5.loss.at(-1)!], "rep-b's own start");
    await expect(report({ from: { run: 'no-such-run', role: 'INITIAL' } })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: 'run "no-such-run": no run of that name',
    });
  });

  it("draws a seeded random initialisation per run: θ'_0 → FINAL as an independent float64 evaluation", async () => {
    const result = await report({ from: { randomSeed: 11 } });
    expect(result.ends).toEqual({ from: 'random seed 11', to: 'FINAL' });
    expect(result.missing).toEqual([]);
    const final = readCheckpointFixture('mlp/final.safetensors');
    const drawn = new Map(
      randomInitialState(buildModelGraph('mlp', final.tensors), 11).map((t) => [t.name, t.data as Float32Array]),
    );
    const expected = ALPHAS.map((alpha) => mlpReferencePoint(drawn, state('final.safetensors'), data, alpha));
    const byRun = curves(result);
    for (const name of ['rep-a', 'rep-b']) {
      expectClose(
        byRun[name]!.loss,
        expected.map((p) => p.loss),
        `${name} random → final`,
      );
      expect(byRun[name]!.accuracy).toBeCloseTo(expected.at(-1)!.correct / data.n, 6);
      expect(byRun[name]!.rise).toBeCloseTo(riseOf(expected.map((p) => p.loss)), 5);
    }
    // Stored as a DERIVED checkpoint of each run, once: asking again draws nothing new.
    const derived = async () => {
      const runs = await Promise.all(['rep-a', 'rep-b'].map((name) => f.deps.repository.findRunByName(name)));
      const checkpoints = await f.deps.repository.checkpointsOfRuns(runs.map((r) => r!.id));
      return checkpoints.filter((c) => c.role === 'DERIVED').length;
    };
    const before = await derived();
    expect(before).toBe(2);
    await report({ from: { randomSeed: 11 } });
    expect(await derived()).toBe(before);
  });

  it('takes the same selector input over GraphQL, with coded errors', async () => {
    const schema = await buildLinpathSchema();
    const contextValue = (mayWrite: boolean) => ({
      registry: f.deps,
      paths: evaluation.paths,
      analytics: evaluation.analytics,
      training: evaluation.training,
      pollMs: 50,
      mayWrite,
      logger: createLogger({ logLevel: 'silent' }),
      loaders: createLoaders(f.deps, evaluation.analytics, evaluation.training),
    });
    const ask = (selectors: string, mayWrite = true) =>
      graphql({
        schema,
        source: `{ report(input: { runs: { nameContains: "rep-a" }, dataset: "${test}", blocks: false, ${selectors} }) {
          ends { from to } groups { runs accuracy { mean } rise { mean } } missing { run { name } reason } } }`,
        contextValue: contextValue(mayWrite),
      });
    const answer = await ask('to: { step: 100 }');
    expect(answer.errors).toBeUndefined();
    const body = (answer.data as { report: { ends: unknown; groups: Array<{ accuracy: { mean: number } }> } }).report;
    expect(body.ends).toEqual({ from: 'INITIAL', to: 'INTERMEDIATE@100' });
    expect(body.groups[0]!.accuracy.mean).toBeCloseTo(reference.full_epoch5.accuracy.at(-1)!, 6);
    const refused = await ask('from: { randomSeed: 1, step: 3 }');
    expect(refused.errors?.[0]?.originalError).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'from: randomSeed draws a new state; it takes no role, step or run, got {"step":3,"randomSeed":1}',
    });
    const same = await ask('from: { role: FINAL }, to: { role: FINAL }');
    expect(same.errors?.[0]?.originalError).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'from and to must select different checkpoints, got FINAL for both',
    });
    // A random end is a stored checkpoint: a request that may not write is refused when it asks for a new one.
    const readOnly = await ask('from: { randomSeed: 12 }', false);
    expect(readOnly.data).toBeNull();
    expect(readOnly.errors?.[0]?.originalError).toMatchObject({ code: 'FORBIDDEN' });
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import { BatchNormRecomputer } from '../../src/compute/bn-recompute.js';
import { interpolateTensor } from '../../src/domain/interpolation.js';
import { emptyTally, tallyBatch } from '../../src/domain/losses.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { runEndpointMetrics } from '../../src/usecases/analytics/run-metrics.usecases.js';
import { materializeInterpolation } from '../../src/usecases/derive.usecases.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { createRun } from '../../src/usecases/registry/runs.usecases.js';
import type { ModelGraph } from '../../src/compute/model-ir.js';
import {
  readCheckpointFixture,
  readTestSetFixture,
  type CheckpointFixture,
  type TestSetFixture,
} from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, describeWithFixtures, fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

/**
 * BatchNorm modes and parameter groups on the ResNet-18 fixture: each path's point against the same engine
 * on a state built here by hand from the rule (which tensors move, which stay at `to`).
 */
describeWithFixtures(RESNET18_FIXTURES, 'BatchNorm modes and tensor groups', () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  let dir: string;
  const ids = { init: '', final: '', test: '', train: '' };
  const LIMIT = 16;
  const ALPHA = 0.5;
  let init: CheckpointFixture;
  let final: CheckpointFixture;
  let graph: ModelGraph;
  let test: TestSetFixture;
  let runningStats: Set<string>;

  beforeAll(async () => {
    init = readCheckpointFixture('resnet18/init.safetensors.gz');
    final = readCheckpointFixture('resnet18/final.safetensors.gz');
    graph = buildModelGraph('resnet18-cifar', final.tensors);
    test = readTestSetFixture('resnet18/test_set.safetensors', 'images_f32_nchw', 'labels');
    runningStats = new Set(graph.nodes.flatMap((n) => (n.op === 'batchnorm' ? [n.runningMean, n.runningVar] : [])));
    f = await createRegistryFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'linpath-bn-'));
    for (const [name, role, step] of [
      ['init', 'INITIAL', 0],
      ['final', 'FINAL', 150],
    ] as const) {
      const file = path.join(dir, `${name}.safetensors`);
      writeFileSync(file, gunzipSync(readFileSync(fixturePath(`resnet18/${name}.safetensors.gz`))));
      ids[name] = (
        await importCheckpointFile(f.deps, file, { run: 'resnet', architecture: 'resnet18-cifar', step, role })
      ).checkpoint.id;
    }
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('resnet18/test_set.safetensors'), {
        name: 'shapes',
        split: 'TEST',
        inputKey: 'images_f32_nchw',
        labelKey: 'labels',
      })
    ).dataset.id;
    // The same images registered as the TRAIN split: what RECOMPUTE takes by default.
    ids.train = (
      await importDatasetFile(f.deps, fixturePath('resnet18/test_set.safetensors'), {
        name: 'shapes',
        split: 'TRAIN',
        inputKey: 'images_f32_nchw',
        labelKey: 'labels',
      })
    ).dataset.id;
    evaluation = await createPathDeps(f, { settings: { batchSize: LIMIT } });
  }, 120_000);
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Mean loss and correct count at θ where `moves(name)` tensors are interpolated and the rest are `to`'s. */
  const direct = async (moves: (name: string) => boolean, recomputeOver?: number) => {
    const engine = await evaluation.engines.get('onnx');
    const prepared = await engine.prepare(graph);
    let state = new Map<string, Float32Array>();
    for (const [name, values] of final.state)
      state.set(name, moves(name) ? interpolateTensor(init.state.get(name)!, values, ALPHA) : values);
    const perExample = test.exampleShape.reduce((a, b) => a * b, 1);
    if (recomputeOver !== undefined) {
      const recomputer = await BatchNormRecomputer.prepare(engine, graph);
      const examples = {
        x: test.x.subarray(0, recomputeOver * perExample),
        labels: Int32Array.from(test.labels.subarray(0, recomputeOver)),
        n: recomputeOver,
      };
      state = new Map(await recomputer.recompute(state, examples, recomputeOver));
      await recomputer.dispose();
    }
    const bound = await prepared.bind(state);
    const logits = await bound.logits(test.x.subarray(0, LIMIT * perExample), LIMIT);
    const tally = tallyBatch(emptyTally(), logits, test.labels.subarray(0, LIMIT), graph.outputs);
    await bound.dispose();
    await prepared.dispose();
    return { loss: tally.lossSum / tally.n, correct: tally.correct };
  };
  const point = async (options: {
    bnStats?: 'INTERPOLATE' | 'KEEP_TO' | 'RECOMPUTE';
    bnStatsDataset?: string;
    bnStatsExamples?: number;
    tensors?: 'ALL' | 'WEIGHTS' | 'RUNNING_STATS';
    blocks?: string[];
  }) => {
    const result = await interpolationPath(evaluation.paths, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [ALPHA],
      limit: LIMIT,
      ...options,
    });
    const [p] = result.points;
    return { path: result.path, loss: p!.lossSum / p!.n, correct: p!.correct };
  };

  it('KEEP_TO keeps the running statistics at `to` while the weights move', async () => {
    const keep = await point({ bnStats: 'KEEP_TO' });
    const expected = await direct((name) => !runningStats.has(name));
    expect(keep.loss).toBeCloseTo(expected.loss, 6);
    expect(keep.correct).toBe(expected.correct);
    expect(keep.path).toMatchObject({ bnStats: 'KEEP_TO', tensorGroup: 'ALL', movingTensorCount: 62 });

    // INTERPOLATE (the default) moves them too: another computation, another memo entry.
    const interpolate = await point({});
    expect(interpolate.path.id).not.toBe(keep.path.id);
    expect(interpolate.loss).toBeCloseTo((await direct(() => true)).loss, 6);
    expect(Math.abs(interpolate.loss - keep.loss)).toBeGreaterThan(1e-4);
  }, 60_000);

  it('moves only the weights, or only the running statistics, of the chosen blocks', async () => {
    const weights = await point({ tensors: 'WEIGHTS', blocks: ['layer4'] });
    const expectedWeights = await direct((name) => name.startsWith('layer4.') && !runningStats.has(name));
    expect(weights.loss).toBeCloseTo(expectedWeights.loss, 6);
    expect(weights.correct).toBe(expectedWeights.correct);

    const stats = await point({ tensors: 'RUNNING_STATS' });
    const expectedStats = await direct((name) => runningStats.has(name));
    expect(stats.loss).toBeCloseTo(expectedStats.loss, 6);
    expect(stats.correct).toBe(expectedStats.correct);
    expect(stats.path).toMatchObject({ tensorGroup: 'RUNNING_STATS', movingTensorCount: 40 });
  }, 60_000);

  it('refuses a selection in which nothing moves', async () => {
    await expect(point({ tensors: 'RUNNING_STATS', bnStats: 'KEEP_TO' })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'tensors: RUNNING_STATS with bnStats KEEP_TO leaves no tensor of the model moving',
    });
    await expect(point({ tensors: 'RUNNING_STATS', blocks: ['fc'] })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('RECOMPUTE recomputes every running statistic at θ(α) over the TRAIN split, a memo entry per example set', async () => {
    const recompute = await point({ bnStats: 'RECOMPUTE', bnStatsExamples: 24 });
    const expected = await direct((name) => !runningStats.has(name), 24);
    expect(recompute.loss).toBeCloseTo(expected.loss, 6);
    expect(recompute.correct).toBe(expected.correct);
    expect(recompute.path).toMatchObject({
      bnStats: 'RECOMPUTE',
      bnStatsDatasetId: ids.train,
      bnStatsExamples: 24,
      movingTensorCount: 62,
    });
    // Not what KEEP_TO or INTERPOLATE give; statistics over other examples are another computation.
    expect(Math.abs(recompute.loss - (await direct((name) => !runningStats.has(name))).loss)).toBeGreaterThan(1e-4);
    const other = await point({ bnStats: 'RECOMPUTE', bnStatsDataset: ids.test, bnStatsExamples: 20 });
    expect(other.path.id).not.toBe(recompute.path.id);
    expect(other.loss).toBeCloseTo((await direct((name) => !runningStats.has(name), 20)).loss, 6);
    // Asked again: the memo answers.
    const again = await interpolationPath(evaluation.paths, {
      from: ids.init,
      to: ids.final,
      dataset: ids.test,
      alphas: [ALPHA],
      limit: LIMIT,
      bnStats: 'RECOMPUTE',
      bnStatsDataset: ids.train,
      bnStatsExamples: 24,
    });
    expect(again.path.id).toBe(recompute.path.id);
    expect(again.points[0]!.cached).toBe(true);
  }, 120_000);

  it('refuses RECOMPUTE settings that cannot be met, and the settings without RECOMPUTE', async () => {
    await expect(point({ bnStats: 'RECOMPUTE', bnStatsExamples: 1 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('bnStatsExamples: expected an integer from 2 to'),
    });
    await expect(
      point({ bnStats: 'RECOMPUTE', bnStatsDataset: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(point({ bnStatsExamples: 8 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'bnStatsDataset and bnStatsExamples apply to bnStats RECOMPUTE only, got bnStats INTERPOLATE',
    });
    const other = (
      await importDatasetFile(f.deps, fixturePath('resnet18/test_set.safetensors'), {
        name: 'only-test',
        split: 'TEST',
        inputKey: 'images_f32_nchw',
        labelKey: 'labels',
      })
    ).dataset.id;
    await expect(
      interpolationPath(evaluation.paths, {
        from: ids.init,
        to: ids.final,
        dataset: other,
        alphas: [ALPHA],
        limit: LIMIT,
        bnStats: 'RECOMPUTE',
      }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message:
        'bnStats: RECOMPUTE needs training examples: register the TRAIN split of "only-test" or give bnStatsDataset',
    });
  });

  it("materialises θ(α) with recomputed statistics: evaluated, it gives the RECOMPUTE path's point", async () => {
    const deps = { registry: f.deps, paths: evaluation.paths };
    const peak = await materializeInterpolation(deps, {
      from: ids.init,
      to: ids.final,
      alpha: ALPHA,
      bnStats: 'RECOMPUTE',
      bnStatsDataset: ids.train,
      bnStatsExamples: 24,
    });
    expect(peak.derivation).toMatchObject({
      operation: 'INTERPOLATE',
      arguments: { alpha: ALPHA, bnStats: 'RECOMPUTE', bnStatsDataset: ids.train, bnStatsExamples: 24 },
    });
    const stored = await evaluation.paths.states.get(peak);
    for (const name of ['layer1.0.conv1.weight', 'fc.weight']) {
      expect(
        Buffer.from(stored.tensors.get(name)!.buffer).equals(
          Buffer.from(interpolateTensor(init.state.get(name)!, final.state.get(name)!, ALPHA).buffer),
        ),
        name,
      ).toBe(true);
    }
    // The checkpoint alone, evaluated as it is (α = 0 of a path to itself), is the RECOMPUTE path's point.
    const alone = await interpolationPath(evaluation.paths, {
      from: peak.id,
      to: peak.id,
      dataset: ids.test,
      alphas: [0],
      limit: LIMIT,
    });
    const recompute = await point({ bnStats: 'RECOMPUTE', bnStatsExamples: 24 });
    expect(alone.points[0]!.lossSum / alone.points[0]!.n).toBeCloseTo(recompute.loss, 6);
    expect(alone.points[0]!.correct).toBe(recompute.correct);
    await expect(
      materializeInterpolation(deps, { from: ids.init, to: ids.final, alpha: ALPHA, bnStats: 'RECOMPUTE' }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'bnStatsDataset: RECOMPUTE needs the dataset whose examples the statistics are recomputed over',
    });
  }, 120_000);

  it("never takes a run's end-point metrics from a RECOMPUTE path (its α = 1 is not the checkpoint)", async () => {
    // A 24-image TEST split, so that whole-dataset paths stay cheap; a run that names it, ending at `final`.
    const n = 24;
    const perExample = test.exampleShape.reduce((a, b) => a * b, 1);
    const file = path.join(dir, 'small.safetensors');
    writeFileSync(
      file,
      encodeSafetensors([
        {
          name: 'images_f32_nchw',
          dtype: 'F32',
          shape: [n, ...test.exampleShape],
          data: test.x.slice(0, n * perExample),
        },
        { name: 'labels', dtype: 'U8', shape: [n], data: test.labels.slice(0, n) },
      ]),
    );
    const small = (
      await importDatasetFile(f.deps, file, {
        name: 'small',
        split: 'TEST',
        inputKey: 'images_f32_nchw',
        labelKey: 'labels',
      })
    ).dataset.id;
    await createRun(f.deps, { name: 'resnet-small', architecture: 'resnet18-cifar', datasetName: 'small' });
    await importCheckpointFile(f.deps, path.join(dir, 'final.safetensors'), {
      run: 'resnet-small',
      step: 150,
      role: 'FINAL',
    });
    const run = (await f.deps.repository.findRunByName('resnet-small'))!;

    const request = { from: ids.init, to: ids.final, dataset: small, alphas: [1] };
    const recomputed = (
      await interpolationPath(evaluation.paths, {
        ...request,
        bnStats: 'RECOMPUTE',
        bnStatsDataset: ids.train,
        bnStatsExamples: 24,
      })
    ).points[0]!;
    expect(
      (await runEndpointMetrics(evaluation.analytics, [run], 'TEST', { evaluate: false })).metrics.get(run.id),
    ).toEqual({ missing: 'not evaluated yet' });

    const own = (await interpolationPath(evaluation.paths, { ...request, bnStats: 'KEEP_TO' })).points[0]!;
    expect(recomputed.lossSum).not.toBeCloseTo(own.lossSum, 3);
    expect(
      (await runEndpointMetrics(evaluation.analytics, [run], 'TEST', { evaluate: false })).metrics.get(run.id),
    ).toEqual({
      loss: own.lossSum / n,
      accuracy: own.correct / n,
      n,
    });
  }, 120_000);
});

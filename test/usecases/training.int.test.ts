import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/app.js';
import { buildNewModelGraph } from '../../src/compute/architectures/index.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { trainGraph, type TrainingRecipe } from '../../src/compute/training/trainer.js';
import { createLoaders } from '../../src/graphql/loaders.js';
import { buildLinpathSchema } from '../../src/graphql/schema.js';
import type { TrainingJobRow } from '../../src/storage/training.tables.js';
import { interpolationPath } from '../../src/usecases/paths/paths.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import {
  cancelTraining,
  trainingUpdates,
  trainRun,
  type TrainRunInput,
} from '../../src/usecases/training/training.usecases.js';
import { fixturePath } from '../helpers/fixtures.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

const { graphql } = createRequire(import.meta.url)('graphql') as typeof import('graphql');

const TRAIN_SET = fileURLToPath(new URL('../../demo/spiral-mlp/train_set.safetensors', import.meta.url));

/**
 * trainRun end to end on a real database, S3 server and queue: a worker trains with TensorFlow.js and fills an
 * ordinary run. The stored checkpoints are checked bit for bit against trainGraph run here on the same inputs
 * (trainGraph itself is checked against torch.optim in test/compute/trainer.test.ts), and the reported test
 * metrics against the path evaluation of the final state.
 */
describe('trainRun', () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  const ids = { train: '', test: '' };

  beforeAll(async () => {
    f = await createRegistryFixture();
    ids.train = (await importDatasetFile(f.deps, TRAIN_SET, { name: 'spiral', split: 'TRAIN' })).dataset.id;
    ids.test = (
      await importDatasetFile(f.deps, fixturePath('mlp/test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset.id;
    evaluation = await createPathDeps(f, { workers: 1 });
  }, 60_000);
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
  });

  const input = (overrides: Partial<TrainRunInput> = {}): TrainRunInput => ({
    run: 'sgd-seed3',
    architecture: 'mlp',
    hiddenWidths: [16, 16],
    dataset: ids.train,
    optimizer: 'SGD',
    momentum: 0.9,
    learningRate: 0.05,
    milestones: [2],
    gamma: 0.5,
    weightDecay: 1e-4,
    epochs: 3,
    batchSize: 500,
    seed: 3,
    checkpointEvery: 1,
    tags: ['training-test'],
    ...overrides,
  });

  const follow = async (id: string): Promise<TrainingJobRow[]> => {
    const updates: TrainingJobRow[] = [];
    for await (const job of await trainingUpdates(evaluation.training, id, 50)) updates.push(job);
    return updates;
  };

  it('stores initial, per-epoch and final checkpoints equal to trainGraph on the same inputs, and test metrics', async () => {
    const job = await trainRun(evaluation.training, input());
    expect(job).toMatchObject({ status: 'QUEUED', epochs: 3 });
    const updates = await follow(job.id);
    const last = updates.at(-1)!;
    expect(last).toMatchObject({ status: 'COMPLETE', epoch: 3, step: 60, attempts: 1, failureCode: null });
    // Progress arrived epoch by epoch (polling may merge two epochs, never skip the end).
    expect(updates.map((u) => u.epoch)).toEqual([...updates.map((u) => u.epoch)].sort((a, b) => a - b));

    const run = (await f.deps.repository.findRunById(job.runId))!;
    expect(run).toMatchObject({
      name: 'sgd-seed3',
      architecture: 'mlp',
      datasetName: 'spiral',
      seed: 3,
      tags: ['training-test'],
    });
    expect(run.hyperparameters).toMatchObject({
      framework: 'tfjs',
      optimizer: 'sgd',
      momentum: 0.9,
      learningRate: 0.05,
      milestones: [2],
      gamma: 0.5,
      epochs: 3,
      batchSize: 500,
    });
    const checkpoints = (await f.deps.repository.checkpointsOfRun(run.id)).map((c) => ({
      role: c.role,
      step: c.step,
      checkpoint: c,
    }));
    expect(checkpoints.map(({ role, step }) => `${role}@${step}`).sort()).toEqual([
      'FINAL@60',
      'INITIAL@0',
      'INTERMEDIATE@20',
      'INTERMEDIATE@40',
    ]);

    // Independently of the queue, the worker and the store: the same training here.
    const graph = buildNewModelGraph('mlp', { inputShape: [2], outputs: 1, hiddenWidths: [16, 16] });
    const dataset = (await f.deps.repository.findDataset(ids.train))!;
    const data = await evaluation.paths.examples(dataset, dataset.exampleCount, graph.inputShape);
    const recipe: TrainingRecipe = {
      optimizer: { kind: 'SGD', momentum: 0.9, nesterov: false },
      learningRate: 0.05,
      schedule: { milestones: [2], factor: 0.5 },
      weightDecay: 1e-4,
      epochs: 3,
      batchSize: 500,
      seed: 3,
      checkpointEvery: 1,
    };
    const direct = await trainGraph({
      graph,
      initial: randomInitialState(graph, 3),
      data,
      recipe,
      backend: { backend: 'wasm' },
    });
    for (const snapshot of direct.snapshots) {
      const stored = checkpoints.find((c) => c.step === snapshot.step)!.checkpoint;
      const state = await evaluation.paths.states.get(stored);
      for (const tensor of snapshot.tensors) {
        const values = state.tensors.get(tensor.name)!;
        expect(
          Buffer.from(values.buffer, values.byteOffset, values.byteLength).equals(
            Buffer.from((tensor.data as Float32Array).buffer),
          ),
          `${tensor.name} at step ${snapshot.step}`,
        ).toBe(true);
      }
    }

    // Reported test metrics: the final state evaluated on the TEST split, as a path's α = 1 gives it.
    const initial = checkpoints.find((c) => c.role === 'INITIAL')!.checkpoint;
    const finalCheckpoint = checkpoints.find((c) => c.role === 'FINAL')!.checkpoint;
    const path = await interpolationPath(evaluation.paths, {
      from: initial.id,
      to: finalCheckpoint.id,
      dataset: ids.test,
      alphas: [1],
    });
    const [end] = path.points;
    expect(run.reportedMetrics).toBeDefined();
    const metrics = (await f.deps.repository.findRunById(run.id))!.reportedMetrics as Record<string, number>;
    expect(metrics.testAccuracy).toBe(end!.correct / end!.n);
    expect(metrics.testLoss).toBeCloseTo(end!.lossSum / end!.n, 10);
    expect(metrics.trainAccuracy).toBeGreaterThan(0.5);

    // The learning curve: one row per epoch. Train columns exactly as trainGraph reports them; test columns as
    // ONNX Runtime evaluates that epoch's checkpoint on the TEST split (the trainer measures with tfjs, in eval
    // mode; learning-curve.test.ts checks that measurement against PyTorch).
    const curve = await evaluation.training.training.learningCurves([run.id]);
    expect(curve.map((r) => [r.epoch, r.step, r.learningRate])).toEqual([
      [1, 20, 0.05],
      [2, 40, 0.05],
      [3, 60, 0.025],
    ]);
    for (const [i, row] of curve.entries()) {
      expect(row.trainLoss).toBe(direct.trainLosses[i]);
      expect(row.trainAccuracy).toBe(direct.trainAccuracies[i]);
      const atEpoch = checkpoints.find((c) => c.step === row.step)!.checkpoint;
      const onTest = await interpolationPath(evaluation.paths, {
        from: initial.id,
        to: atEpoch.id,
        dataset: ids.test,
        alphas: [1],
      });
      const point = onTest.points[0]!;
      expect(row.testAccuracy, `epoch ${row.epoch}`).toBe(point.correct / point.n);
      expect(Math.abs(row.testLoss! - point.lossSum / point.n), `epoch ${row.epoch}`).toBeLessThan(1e-5);
    }
  }, 180_000);

  it('answers the same request with the same job and refuses another one for the same run name', async () => {
    const first = await trainRun(evaluation.training, input());
    expect((await trainRun(evaluation.training, input())).id).toBe(first.id);
    await expect(trainRun(evaluation.training, input({ learningRate: 0.1 }))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: 'a run named "sgd-seed3" already exists with another training specification; choose another name',
    });
  });

  it("starts from a checkpoint, with Adam, and stores that checkpoint as the run's initial state", async () => {
    const source = (await f.deps.repository.findRunByName('sgd-seed3'))!;
    const final = (await f.deps.repository.checkpointsOfRun(source.id)).find((c) => c.role === 'FINAL')!;
    const job = await trainRun(evaluation.training, {
      run: 'adam-from-final',
      init: final.id,
      dataset: ids.train,
      optimizer: 'ADAM',
      learningRate: 1e-3,
      epochs: 1,
      batchSize: 1000,
      seed: 5,
    });
    expect((await follow(job.id)).at(-1)).toMatchObject({ status: 'COMPLETE', epoch: 1, step: 10 });
    const checkpoints = await f.deps.repository.checkpointsOfRun(job.runId);
    const initial = checkpoints.find((c) => c.role === 'INITIAL')!;
    expect(initial.sha256).not.toBeNull();
    const [a, b] = await Promise.all([evaluation.paths.states.get(initial), evaluation.paths.states.get(final)]);
    for (const [name, values] of b.tensors)
      expect(Buffer.from(a.tensors.get(name)!.buffer).equals(Buffer.from(values.buffer)), name).toBe(true);
    expect((await f.deps.repository.findRunById(job.runId))!.hyperparameters).toMatchObject({
      init: final.id,
      optimizer: 'adam',
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-8,
    });
  }, 120_000);

  it('cancels a running training after its current epoch; what it stored stays', async () => {
    const job = await trainRun(
      evaluation.training,
      input({ run: 'long', epochs: 500, checkpointEvery: null, milestones: null, gamma: null }),
    );
    for await (const update of await trainingUpdates(evaluation.training, job.id, 50))
      if (update.status === 'RUNNING' && update.epoch >= 1) break;
    const cancelled = await cancelTraining(evaluation.training, job.id);
    expect(cancelled.status).toBe('CANCELLED');
    const updates = await follow(job.id);
    expect(updates.at(-1)!.status).toBe('CANCELLED');
    // Give the worker a moment to notice: no FINAL is ever written, and the job stays CANCELLED.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const checkpoints = await f.deps.repository.checkpointsOfRun(job.runId);
    expect(checkpoints.map((c) => c.role)).toEqual(['INITIAL']);
    expect((await evaluation.training.training.find(job.id))!.status).toBe('CANCELLED');
  }, 120_000);

  it('stops polling at once when a follower leaves, even while it waits', async () => {
    const job = await trainRun(
      evaluation.training,
      input({ run: 'follow-and-leave', epochs: 1, checkpointEvery: null, milestones: null, gamma: null }),
    );
    const updates = await trainingUpdates(evaluation.training, job.id, 60_000);
    await updates.next();
    const next = updates.next(); // waits for a poll a minute away
    const started = performance.now();
    await updates.return!(undefined);
    await next;
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(
      trainingUpdates(evaluation.training, '00000000-0000-4000-8000-000000000000', 50),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('refuses requests it cannot run, naming the field', async () => {
    const cases: Array<[Partial<TrainRunInput>, string, string]> = [
      [{ run: 'x1', beta1: 0.8 }, 'BAD_USER_INPUT', 'beta1, beta2 and epsilon are ADAM settings; the optimizer is SGD'],
      [{ run: 'x2', epochs: 0 }, 'BAD_USER_INPUT', 'epochs: expected an integer from 1 to 10000, got 0'],
      [{ run: 'x3', learningRate: -1 }, 'BAD_USER_INPUT', 'learningRate: expected a number > 0, got -1'],
      [{ run: 'x4', batchSize: 20_000 }, 'BAD_USER_INPUT', 'batchSize: expected an integer from 1 to 10000, got 20000'],
      [{ run: 'x5', milestones: [9] }, 'BAD_USER_INPUT', 'milestones[0]: expected an integer from 1 to 3, got 9'],
      [
        { run: 'x6', architecture: 'resnet18-cifar' },
        'BAD_USER_INPUT',
        "resnet18-cifar takes images [C, H, W]; the dataset's examples are [2]",
      ],
      [
        { run: 'x7', dataset: '00000000-0000-4000-8000-000000000000' },
        'NOT_FOUND',
        'dataset: no dataset with id "00000000-0000-4000-8000-000000000000"',
      ],
      [
        { run: 'x8', architecture: null },
        'BAD_USER_INPUT',
        'architecture: expected an architecture (e.g. "mlp") or an init checkpoint, got neither',
      ],
    ];
    for (const [overrides, code, message] of cases)
      await expect(trainRun(evaluation.training, input(overrides))).rejects.toMatchObject({ code, message });
    // Nothing was written for them.
    for (const name of ['x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8'])
      expect(await f.deps.repository.findRunByName(name)).toBeUndefined();
  });

  it('answers over GraphQL: trainRun, trainingJob, Run.trainingJob and Run.learningCurve', async () => {
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
    const result = await graphql({
      schema,
      source: `mutation ($input: TrainRunInput!) { trainRun(input: $input) { id status epochs spec run { name trainingJob { id } learningCurve { epoch step learningRate trainLoss trainAccuracy testLoss testAccuracy } } } }`,
      variableValues: { input: { ...input(), optimizer: 'SGD' } },
      contextValue,
    });
    expect(result.errors).toBeUndefined();
    const job = (
      result.data as {
        trainRun: {
          id: string;
          spec: { recipe: unknown };
          run: { name: string; trainingJob: { id: string }; learningCurve: unknown[] };
        };
      }
    ).trainRun;
    const stored = await evaluation.training.training.learningCurves([
      (await f.deps.repository.findRunByName('sgd-seed3'))!.id,
    ]);
    expect(stored).toHaveLength(3);
    expect(job.run).toEqual({
      name: 'sgd-seed3',
      trainingJob: { id: job.id },
      learningCurve: stored.map(({ runId: _runId, ...epoch }) => epoch),
    });
    expect(job.spec.recipe).toMatchObject({ learningRate: 0.05, schedule: { milestones: [2], factor: 0.5 } });
    const read = await graphql({
      schema,
      source: `query ($id: ID!) { trainingJob(id: $id) { status epoch step trainLoss failure { code } } }`,
      variableValues: { id: job.id },
      contextValue,
    });
    expect(read.data).toMatchObject({ trainingJob: { status: 'COMPLETE', epoch: 3, step: 60, failure: null } });
  });
});

import { randomizeLabels } from '../../src/domain/random-labels.js';
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import { GraphBuilder } from '../../src/compute/architectures/graph-builder.js';
import { INPUT, type ModelGraph } from '../../src/compute/model-ir.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import {
  learningRateAt,
  trainGraph,
  type TrainingRecipe,
  type TrainingSnapshot,
} from '../../src/compute/training/trainer.js';
import type { TensorToWrite } from '../../src/formats/safetensors.format.js';

/**
 * trainGraph against PyTorch: test/fixtures/training/reference.json holds real torch.optim.SGD (momentum,
 * nesterov) and Adam runs with weight decay, parameter groups (per-block lr and weight decay), MultiStepLR and
 * nn.BatchNorm1d/2d in train mode, in float64, on
 * the graphs below (make_reference.py, torch 1.13.1). The trainer runs in float32: parameters, running
 * statistics and losses agree to 1e-5 relative (|Δ| ≤ 1e-5 · max(1, |torch|); seen: 2e-7), num_batches_tracked exactly.
 */

interface JsonTensor {
  name: string;
  dtype: 'F32' | 'I64';
  shape: number[];
  data: number[];
}
interface ReferenceCase {
  name: string;
  model: 'mlp' | 'mlp-bn' | 'conv';
  recipe: TrainingRecipe;
  data: { n: number; x: number[]; labels: number[] };
  trainLosses: number[];
  snapshots: Array<{ epoch: number; step: number; tensors: JsonTensor[] }>;
}

const reference = JSON.parse(readFileSync(new URL('../fixtures/training/reference.json', import.meta.url), 'utf8')) as {
  cases: ReferenceCase[];
};
const BACKEND = { backend: 'cpu' } as const;
const TOLERANCE = 1e-5;

function graphOf(b: GraphBuilder, name: string, inputShape: number[], output: string, outputs: number): ModelGraph {
  return {
    architecture: name,
    inputShape,
    output,
    outputs,
    nodes: b.nodes,
    state: b.state,
    blocks: ['body'],
    aliases: {},
  };
}

/** The graphs of make_reference.py's modules, with the same state_dict names and order. */
const GRAPHS: Record<ReferenceCase['model'], () => ModelGraph> = {
  mlp: () => {
    const b = new GraphBuilder().inBlock('body');
    const h = b.relu(b.linear(INPUT, 'fc1', 3, 5));
    return graphOf(b, 'mlp', [3], b.linear(h, 'fc2', 5, 3), 3);
  },
  'mlp-bn': () => {
    const b = new GraphBuilder().inBlock('body');
    const h = b.relu(b.batchnorm(b.linear(INPUT, 'fc1', 3, 6), 'bn', 6));
    return graphOf(b, 'mlp-bn', [3], b.linear(h, 'fc2', 6, 1), 1);
  },
  conv: () => {
    const b = new GraphBuilder().inBlock('body');
    const a = b.relu(b.batchnorm(b.conv2d(INPUT, 'conv1', { in: 3, out: 4 }, [3, 3], [2, 2], [1, 1], true), 'bn1', 4));
    const s = b.add(b.conv2d(a, 'conv2', { in: 4, out: 4 }, [3, 3], [1, 1], [1, 1]), a);
    const fromPool = b.linear(b.flatten(b.maxpool2d(s, [3, 3], [2, 2], [1, 1])), 'fc_flat', 16, 5);
    const fromMean = b.linear(b.globalAvgpool(s), 'fc_mean', 4, 5);
    return graphOf(b, 'conv', [3, 8, 8], b.add(fromPool, fromMean), 5);
  },
};

const toTensors = (tensors: JsonTensor[]): TensorToWrite[] =>
  tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    data: t.dtype === 'I64' ? BigInt64Array.from(t.data, BigInt) : Float32Array.from(t.data),
  }));

const examplesOf = (c: ReferenceCase) => ({
  x: Float32Array.from(c.data.x),
  labels: Int32Array.from(c.data.labels),
  n: c.data.n,
});

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  }
  expect(worst, what).toBeLessThanOrEqual(TOLERANCE);
}

function expectSnapshot(actual: TrainingSnapshot, expected: ReferenceCase['snapshots'][number], label: string): void {
  expect({ epoch: actual.epoch, step: actual.step }, label).toEqual({ epoch: expected.epoch, step: expected.step });
  expect(actual.tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(
    expected.tensors.map((t) => [t.name, t.dtype, t.shape]),
  );
  actual.tensors.forEach((tensor, i) => {
    const want = expected.tensors[i]!;
    if (want.dtype === 'I64')
      expect([...(tensor.data as BigInt64Array)], `${label} ${want.name}`).toEqual(want.data.map(BigInt));
    else expectClose(tensor.data as Float32Array, want.data, `${label} ${want.name}`);
  });
}

/** wasm has no Conv2DBackpropFilter kernel: the conv cases run on cpu only. */
const RUNS = reference.cases.flatMap((c) =>
  (c.model === 'conv' ? (['cpu'] as const) : (['cpu', 'wasm'] as const)).map(
    (backend) => [c.name, backend, c] as const,
  ),
);

describe('trainGraph against PyTorch (float64 torch.optim, MultiStepLR, BatchNorm train mode)', () => {
  it.each(RUNS)('%s (%s)', async (_name, backend, c) => {
    const snapshots: TrainingSnapshot[] = [];
    const result = await trainGraph({
      graph: GRAPHS[c.model](),
      initial: toTensors(c.snapshots[0]!.tensors),
      data: examplesOf(c),
      recipe: c.recipe,
      backend: { backend },
      onSnapshot: async (s) => void snapshots.push(s),
    });
    expect(result.snapshots).toEqual([]); // streamed instead
    expect(result.steps).toBe(c.snapshots.at(-1)!.step);
    expectClose(result.trainLosses, c.trainLosses, 'trainLosses');
    expect(snapshots).toHaveLength(c.snapshots.length);
    snapshots.forEach((s, i) => expectSnapshot(s, c.snapshots[i]!, `epoch ${s.epoch}`));
  });
});

describe('trainGraph', () => {
  const bnCase = reference.cases.find((c) => c.model === 'mlp-bn')!;
  const baseRecipe: TrainingRecipe = { ...bnCase.recipe, schedule: undefined, checkpointEvery: undefined };
  const bnRun = (recipe: Partial<TrainingRecipe>, rest: Partial<Parameters<typeof trainGraph>[0]> = {}) =>
    trainGraph({
      graph: GRAPHS['mlp-bn'](),
      initial: toTensors(bnCase.snapshots[0]!.tensors),
      data: examplesOf(bnCase),
      recipe: { ...baseRecipe, ...recipe },
      backend: BACKEND,
      ...rest,
    });

  it('applies MultiStepLR per epoch: lr · factor^(milestones ≤ epoch), a repeated milestone counting twice', async () => {
    const schedule = { milestones: [2, 4, 4], factor: 0.1 };
    const rates = [0, 1, 2, 3, 4, 5].map((epoch) => learningRateAt({ learningRate: 1, schedule }, epoch));
    [1, 1, 0.1, 0.1, 1e-3, 1e-3].forEach((rate, epoch) => expect(rates[epoch]).toBeCloseTo(rate, 12));
    const reported: number[] = [];
    await bnRun(
      { epochs: 5, learningRate: 0.5, schedule: { milestones: [2, 4], factor: 0.5 } },
      { onEpoch: (p) => void reported.push(p.learningRate) },
    );
    expect(reported).toEqual([0.5, 0.5, 0.25, 0.25, 0.125]);
  });

  it('drops the last partial batch and counts BatchNorm steps in num_batches_tracked', async () => {
    // n = 10, batch 4: 2 steps per epoch, examples of the last 2 positions unused.
    const { steps, snapshots } = await bnRun({ epochs: 3, batchSize: 4 });
    expect(steps).toBe(6);
    const counter = snapshots.at(-1)!.tensors.find((t) => t.name === 'bn.num_batches_tracked')!;
    expect(counter.data).toEqual(BigInt64Array.of(3n + 6n));
    expect((await bnRun({ epochs: 1, batchSize: 10 })).steps).toBe(1);
  });

  it('snapshots epoch 0, every k-th epoch and the final one, in state_dict order', async () => {
    const { snapshots } = await bnRun({ epochs: 5, checkpointEvery: 2 });
    expect(snapshots.map((s) => [s.epoch, s.step])).toEqual([
      [0, 0],
      [2, 4],
      [4, 8],
      [5, 10],
    ]);
    expect(snapshots[0]!.tensors).toEqual(toTensors(bnCase.snapshots[0]!.tensors));
    expect(snapshots.map((s) => s.tensors.map((t) => t.name))).toEqual(
      snapshots.map(() => GRAPHS['mlp-bn']().state.map((s) => s.name)),
    );
  });

  it('is deterministic for a seed, and the seed decides the order', async () => {
    const [a, b, c] = await Promise.all([bnRun({ epochs: 2 }), bnRun({ epochs: 2 }), bnRun({ epochs: 2, seed: 8 })]);
    expect(b.snapshots.at(-1)).toEqual(a.snapshots.at(-1));
    expect(c.snapshots.at(-1)).not.toEqual(a.snapshots.at(-1));
  });

  it('keeps the number of tensors constant across epochs and disposes all of them', async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const conv = reference.cases.find((c) => c.model === 'conv')!;
    await trainGraph({
      graph: GRAPHS.conv(),
      initial: toTensors(conv.snapshots[0]!.tensors),
      data: examplesOf(conv),
      recipe: { ...conv.recipe, epochs: 4 },
      backend: BACKEND,
      onEpoch: () => void counts.push(tf.memory().numTensors),
    });
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops at an abort between steps, rejecting with the reason and leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const reason = new Error('stop');
    const epochs: number[] = [];
    const onEpoch = ({ epoch }: { epoch: number }): void => {
      epochs.push(epoch);
      if (epoch === 2) controller.abort(reason);
    };
    await expect(bnRun({ epochs: 10 }, { signal: controller.signal, onEpoch })).rejects.toBe(reason);
    expect(epochs).toEqual([1, 2]);
    expect(tf.memory().numTensors).toBe(before);
    await expect(bnRun({}, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('refuses up front a graph whose gradients the backend lacks kernels for (convolutions on wasm)', async () => {
    const conv = reference.cases.find((c) => c.model === 'conv')!;
    const run = trainGraph({
      graph: GRAPHS.conv(),
      initial: toTensors(conv.snapshots[0]!.tensors),
      data: examplesOf(conv),
      recipe: conv.recipe,
      backend: { backend: 'wasm' },
    });
    await expect(run).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/wasm backend cannot train conv: it has no Conv2DBackpropFilter kernel/),
    });
  });

  it('rejects a bad recipe, labels or initial state with BAD_USER_INPUT', async () => {
    await expect(bnRun({ batchSize: 11 })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/batchSize: expected an integer in \[1, 10\].*got 11/),
    });
    await expect(bnRun({ optimizer: { kind: 'SGD', momentum: 0, nesterov: true } })).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(bnRun({}, { data: { ...examplesOf(bnCase), labels: new Int32Array(10).fill(2) } })).rejects.toThrow(
      /label 0: expected 0 or 1 \(one output\), got 2/,
    );
    await expect(bnRun({}, { initial: toTensors(bnCase.snapshots[0]!.tensors).slice(1) })).rejects.toThrow(
      /fc1.weight \[6, 3\] is missing/,
    );
  });

  it('learns two Gaussian blobs with the mlp architecture on wasm', async () => {
    const n = 256;
    let seed = 12345;
    const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) + 0.5) / 2 ** 31;
    const gaussian = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const x = Float32Array.from({ length: 2 * n }, (_, j) => (labels[j >> 1] === 1 ? 1.5 : -1.5) + gaussian());
    const graph = buildModelGraph('mlp', [
      { name: 'fc1.weight', dtype: 'F32', shape: [16, 2] },
      { name: 'fc1.bias', dtype: 'F32', shape: [16] },
      { name: 'fc2.weight', dtype: 'F32', shape: [1, 16] },
      { name: 'fc2.bias', dtype: 'F32', shape: [1] },
    ]);
    const { trainLosses } = await trainGraph({
      graph,
      initial: randomInitialState(graph, 1),
      data: { x, labels, n },
      recipe: {
        optimizer: { kind: 'SGD', momentum: 0.9 },
        learningRate: 0.05,
        weightDecay: 1e-4,
        epochs: 8,
        batchSize: 16,
        seed: 3,
      },
      backend: { backend: 'wasm' },
    });
    expect(trainLosses[0]).toBeGreaterThan(trainLosses.at(-1)!);
    expect(trainLosses.at(-1)).toBeLessThan(0.15);
  });

  it('stopAtTrainAccuracy ends at the first epoch whose running train accuracy reaches it, with that state as final', async () => {
    // Two separable blobs, labels alternating: counted by hand, the running accuracy of epoch 1 with the
    // initial state frozen would be the initial state's accuracy; here it is checked against a batch recount.
    const n = 64;
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    const x = Float32Array.from(
      { length: 2 * n },
      (_, j) => (labels[j >> 1] === 1 ? 1 : -1) * (1 + ((j * 7) % 5) / 10),
    );
    const graph = buildModelGraph('mlp', [
      { name: 'fc1.weight', dtype: 'F32', shape: [8, 2] },
      { name: 'fc1.bias', dtype: 'F32', shape: [8] },
      { name: 'fc2.weight', dtype: 'F32', shape: [1, 8] },
      { name: 'fc2.bias', dtype: 'F32', shape: [1] },
    ]);
    const recipe: TrainingRecipe = {
      optimizer: { kind: 'SGD', momentum: 0 },
      learningRate: 0.05,
      weightDecay: 0,
      epochs: 12,
      batchSize: 16,
      seed: 2,
    };
    const initial = randomInitialState(graph, 4);
    const full = await trainGraph({ graph, initial, data: { x, labels, n }, recipe, backend: BACKEND });
    expect(full.epochs).toBe(12);
    // With learning rate 0 nothing moves: every epoch's running accuracy is the initial state's accuracy.
    const frozen = await trainGraph({
      graph,
      initial,
      data: { x, labels, n },
      recipe: { ...recipe, learningRate: 0, epochs: 2 },
      backend: BACKEND,
    });
    const w1 = initial.find((t) => t.name === 'fc1.weight')!.data as Float32Array;
    const b1 = initial.find((t) => t.name === 'fc1.bias')!.data as Float32Array;
    const w2 = initial.find((t) => t.name === 'fc2.weight')!.data as Float32Array;
    const b2 = initial.find((t) => t.name === 'fc2.bias')!.data as Float32Array;
    let correct = 0;
    for (let i = 0; i < n; i++) {
      let z = b2[0]!;
      for (let h = 0; h < 8; h++)
        z += w2[h]! * Math.max(0, w1[2 * h]! * x[2 * i]! + w1[2 * h + 1]! * x[2 * i + 1]! + b1[h]!);
      if ((z > 0 ? 1 : 0) === labels[i]) correct++;
    }
    expect(frozen.trainAccuracies).toEqual([correct / n, correct / n]);
    // The stop rule: the first epoch at or above the target, and its state is the final snapshot.
    const target = full.trainAccuracies.find((a) => a > frozen.trainAccuracies[0]!)!;
    const stopEpoch = full.trainAccuracies.findIndex((a) => a >= target) + 1;
    expect(stopEpoch).toBeLessThan(12);
    const stopped = await trainGraph({
      graph,
      initial,
      data: { x, labels, n },
      recipe: { ...recipe, stopAtTrainAccuracy: target, checkpointEvery: 1 },
      backend: BACKEND,
    });
    expect(stopped.epochs).toBe(stopEpoch);
    expect(stopped.trainLosses).toEqual(full.trainLosses.slice(0, stopEpoch));
    expect(stopped.snapshots.map((s) => s.final)).toEqual([...Array<boolean>(stopEpoch).fill(false), true]);
    await expect(
      trainGraph({
        graph,
        initial,
        data: { x, labels, n },
        recipe: { ...recipe, stopAtTrainAccuracy: 1.5 },
        backend: BACKEND,
      }),
    ).rejects.toThrow(/stopAtTrainAccuracy: expected a fraction in \(0, 1\], got 1.5/);
  });

  it('randomLabels trains exactly as on the labels randomizeLabels gives', async () => {
    const data = examplesOf(bnCase);
    const randomized = await bnRun({ epochs: 2, randomLabels: { fraction: 0.5, seed: 9 } });
    const redrawn = randomizeLabels(data.labels, 2, 0.5, 9).labels;
    expect(redrawn).not.toEqual(data.labels);
    const direct = await bnRun({ epochs: 2 }, { data: { ...data, labels: redrawn } });
    expect(randomized.trainLosses).toEqual(direct.trainLosses);
    expect((await bnRun({ epochs: 2 })).trainLosses).not.toEqual(direct.trainLosses);
  });

  it('refuses parameter groups that name no tensor, or bad scales', async () => {
    await expect(bnRun({ epochs: 1, paramGroups: [{ blocks: ['fc9'], lrScale: 0.1 }] })).rejects.toThrow(
      /paramGroups\[0\]\.blocks: "fc9" name no tensor of/,
    );
    await expect(bnRun({ epochs: 1, paramGroups: [{ blocks: ['fc1'], lrScale: -1 }] })).rejects.toThrow(
      /paramGroups\[0\]\.lrScale: expected a finite number ≥ 0, got -1/,
    );
    await expect(bnRun({ epochs: 1, paramGroups: [{ blocks: [] }] })).rejects.toThrow(/paramGroups\[0\]\.blocks/);
  });
});

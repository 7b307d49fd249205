import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers the gradients of its ops only through the @tensorflow/tfjs bundle (its own
// dist/register_all_gradients.js is extension-less ESM that Node cannot load); training needs them.
import '@tensorflow/tfjs';
import { SeededRandom } from '../../domain/random.js';
import { randomizeLabels } from '../../domain/random-labels.js';
import { reportedMetrics } from '../../domain/losses.js';
import { badUserInput, unavailable } from '../../errors.js';
import type { TensorToWrite } from '../../formats/safetensors.format.js';
import type { Examples } from '../../domain/examples.js';
import type { ModelGraph } from '../model-ir.js';
import {
  initTfjsBackend,
  useTfjsBackend,
  type TfjsBackendName,
  type TfjsBackendOptions,
} from '../tfjs/tfjs.backend.js';
import { checkExamples, checkRecipe } from './recipe-checks.js';
import { TrainableModel, type Batch } from './trainable-model.js';

/**
 * The optimizers, each exactly as PyTorch 1.13–2.x implements it (single-tensor path), with g = ∇θ + λ·θ
 * (λ = `weightDecay`, PyTorch's coupled L2 term, added to the gradient before anything else):
 * - `SGD` (torch.optim.SGD, dampening 0): b ← g at a parameter's first step, else b ← μ·b + g;
 *   θ ← θ − lr·(g + μ·b) with `nesterov`, else θ ← θ − lr·b. μ = 0 is plain SGD.
 * - `ADAM` (torch.optim.Adam, not AdamW): m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
 *   θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε) — ε added after the bias correction of √v, unlike
 *   tf.train.adam, which is why the optimizers are written out here.
 */
export type OptimizerSpec =
  | { kind: 'SGD'; momentum: number; nesterov?: boolean }
  | { kind: 'ADAM'; beta1: number; beta2: number; epsilon: number };

export interface TrainingRecipe {
  optimizer: OptimizerSpec;
  learningRate: number;
  /**
   * torch.optim.lr_scheduler.MultiStepLR stepped once after every epoch: epoch e (0-based) trains with
   * lr · factorᵏ, k the number of milestones ≤ e (a milestone listed twice counts twice, as in PyTorch).
   */
  schedule?: { milestones: readonly number[]; factor: number };
  /** Coupled L2 (PyTorch's `weight_decay`): added as λ·θ to the gradient of every trainable tensor. */
  weightDecay: number;
  /**
   * PyTorch parameter groups: the tensors of `blocks` (state_dict names equal to a block or under it, `fc1` →
   * `fc1.weight`, `fc1.bias`) train with learning rate lr · `lrScale` (the schedule multiplies it as every
   * group's) and their own `weightDecay` (default the recipe's); the first group that names a tensor wins,
   * tensors of no group train with the recipe's. As `torch.optim.X([{ params, lr, weight_decay }, …])`.
   */
  /**
   * Train on labels of which a seeded fraction is replaced by uniformly random classes (`randomizeLabels`):
   * the seed paper's adversarial initialisation trains on 100% random labels.
   */
  randomLabels?: { fraction: number; seed: number };
  paramGroups?: ReadonlyArray<{ blocks: readonly string[]; lrScale?: number; weightDecay?: number }>;
  /** Epochs to train; with `stopAtTrainAccuracy`, the most epochs. */
  epochs: number;
  /**
   * Stop after the first epoch whose running train accuracy (over the epoch's batches, each measured before
   * its step, as `trainLoss`) reaches this fraction; that epoch's state is the final one. The seed paper
   * trains its adversarial initialisation "until 100% training accuracy is reached" (Sec. 4).
   */
  stopAtTrainAccuracy?: number;
  /** Examples per step. The last partial batch of an epoch is dropped (DataLoader `drop_last=True`). */
  batchSize: number;
  /** Seeds the shuffling: epoch e visits the examples in the e-th permutation drawn from SeededRandom(seed). */
  seed: number;
  /** Snapshot after every k-th epoch, besides epoch 0 (the initial state) and the final state. */
  checkpointEvery?: number;
}

/** A full state_dict: every tensor of `graph.state`, in its order, F32 (I64 for num_batches_tracked). */
export interface TrainingSnapshot {
  /** Epochs completed. */
  epoch: number;
  /** The last state of the training (after `epochs`, or at the stop rule). */
  final: boolean;
  /** Optimizer steps taken. */
  step: number;
  tensors: TensorToWrite[];
}

export interface EpochProgress {
  /** Epochs completed, 1-based. */
  epoch: number;
  epochs: number;
  step: number;
  /** Mean over the epoch's steps of the batch-mean loss, as the parameters stood at each step. */
  trainLoss: number;
  /** Fraction of the epoch's examples classified correctly, each as the parameters stood at its step. */
  trainAccuracy: number;
  /** The learning rate the epoch trained with. */
  learningRate: number;
  /**
   * Loss and accuracy on `TrainGraphArgs.evaluation` after the epoch, in eval mode (loss null when not
   * finite); null without evaluation examples.
   */
  evaluation: { loss: number | null; accuracy: number } | null;
}

export interface TrainGraphArgs {
  graph: ModelGraph;
  /** The full initial state_dict, BatchNorm running statistics included: F32 or F64 floats, integer ints. */
  initial: readonly TensorToWrite[];
  /** Examples in the graph's input layout (NCHW for images); labels 0/1 for one output, else class indices. */
  data: Examples;
  recipe: TrainingRecipe;
  /**
   * Held-out examples (a test set), in the layout of `data`: measured after every epoch in PyTorch's eval mode
   * (BatchNorm on running statistics), for the learning curve.
   */
  evaluation?: Examples;
  backend?: TfjsBackendOptions;
  /** Checked between steps; an abort rejects with `signal.reason`. */
  signal?: AbortSignal;
  onEpoch?(progress: EpochProgress): Promise<void> | void;
  /** Receives each snapshot as it is taken; without it, `trainGraph` returns them all. */
  onSnapshot?(snapshot: TrainingSnapshot): Promise<void> | void;
}

export interface TrainingResult {
  steps: number;
  /** `trainLoss` of each epoch. */
  trainLosses: number[];
  /** `trainAccuracy` of each epoch. */
  trainAccuracies: number[];
  /** `evaluation` of each epoch. */
  evaluations: EpochProgress['evaluation'][];
  /** Epochs trained (fewer than `recipe.epochs` when the stop rule ended the training). */
  epochs: number;
  /** Every snapshot, when no `onSnapshot` took them as they came (then empty). */
  snapshots: TrainingSnapshot[];
}

/**
 * Trains any ModelGraph with TensorFlow.js as PyTorch trains the module it stands for, in `model.train()`:
 * - loss: the batch mean of binary cross-entropy with logits for one output (labels 0/1), else of softmax
 *   cross-entropy (log-sum-exp, numerically stable); gradients (σ(z) − y)/N and (softmax(z) − onehot)/N;
 * - trainable: every float state tensor the graph reads except BatchNorm running statistics; a tensor with
 *   no path to the loss gets no gradient and, as in PyTorch, is not updated (not even decayed);
 * - BatchNorm normalises with the batch mean and *biased* variance (over N, or N·H·W per channel), ε from the
 *   IR, then running_mean ← 0.9·running_mean + 0.1·mean, running_var ← 0.9·running_var + 0.1·unbiased
 *   variance (× count/(count − 1)), num_batches_tracked += 1, once per step;
 * - per epoch the examples are shuffled (see `TrainingRecipe.seed`) and cut into ⌊n / batchSize⌋ batches;
 * - optimizers and schedule: see `OptimizerSpec` and `TrainingRecipe.schedule`.
 * Float32 throughout; deterministic for a seed and backend. Trainable tensors live as tf.Variables in the
 * lowering's layouts (conv filters HWIO), snapshots are in PyTorch's. Between steps it yields to the event
 * loop (a server keeps answering) and checks `signal`. Every tensor it makes is disposed, also on failure.
 * Backends: `cpu` and `tensorflow`; `wasm` (tfjs 4.22.0) has no Conv2DBackpropFilter kernel, so only graphs
 * without convolutions train there: others are refused up front with UNAVAILABLE.
 */
export async function trainGraph(args: TrainGraphArgs): Promise<TrainingResult> {
  const { graph, recipe, signal } = args;
  checkRecipe(recipe, args.data.n);
  checkExamples(graph, args.data);
  if (args.evaluation !== undefined) checkExamples(graph, args.evaluation, 'evaluation data');
  const data =
    recipe.randomLabels === undefined
      ? args.data
      : {
          ...args.data,
          labels: randomizeLabels(
            args.data.labels,
            graph.outputs === 1 ? 2 : graph.outputs,
            recipe.randomLabels.fraction,
            recipe.randomLabels.seed,
          ).labels,
        };
  const initial = readInitialState(graph, args.initial);
  recipe.paramGroups?.forEach((group, i) => {
    const unknown = group.blocks.filter((b) => !graph.state.some((t) => t.name === b || t.name.startsWith(`${b}.`)));
    if (unknown.length > 0)
      throw badUserInput(
        `training recipe: paramGroups[${i}].blocks: ${unknown.map((b) => `"${b}"`).join(', ')} name no tensor of ${graph.architecture} (its blocks: ${graph.blocks.join(', ')})`,
      );
  });
  signal?.throwIfAborted();
  const backend = await initTfjsBackend(args.backend);
  const missing = missingGradientKernels(graph, backend.name);
  if (missing.length > 0) {
    throw unavailable(
      `the tfjs ${backend.name} backend cannot train ${graph.architecture}: it has no ${missing.join(', ')} kernel; ` +
        'use cpu or tensorflow',
    );
  }
  useTfjsBackend(backend.name);
  const model = TrainableModel.create(graph, initial);
  try {
    const random = new SeededRandom(recipe.seed);
    const steps = Math.floor(data.n / recipe.batchSize);
    const snapshots: TrainingSnapshot[] = [];
    const takeSnapshot = async (epoch: number, step: number, final: boolean): Promise<void> => {
      const snapshot = { ...(await model.snapshot(epoch, step, backend.name)), final };
      if (args.onSnapshot === undefined) snapshots.push(snapshot);
      else await args.onSnapshot(snapshot);
    };
    await takeSnapshot(0, 0, recipe.epochs === 0);
    const trainLosses: number[] = [];
    const trainAccuracies: number[] = [];
    const evaluations: EpochProgress['evaluation'][] = [];
    let step = 0;
    let epochs = 0;
    for (let epoch = 0; epoch < recipe.epochs; epoch++) {
      const learningRate = learningRateAt(recipe, epoch);
      const order = random.permutation(data.n);
      let lossSum = 0;
      let correctSum = 0;
      for (let b = 0; b < steps; b++) {
        signal?.throwIfAborted();
        const batch = gatherBatch(graph, data, order.subarray(b * recipe.batchSize, (b + 1) * recipe.batchSize));
        useTfjsBackend(backend.name);
        const { loss, correct } = model.step(batch, recipe, learningRate);
        try {
          lossSum += (await loss.data())[0]!;
          correctSum += (await correct.data())[0]!;
        } finally {
          loss.dispose();
          correct.dispose();
        }
        step++;
        await new Promise((resolve) => setImmediate(resolve));
      }
      const trainLoss = lossSum / steps;
      const trainAccuracy = correctSum / (steps * recipe.batchSize);
      trainLosses.push(trainLoss);
      trainAccuracies.push(trainAccuracy);
      epochs = epoch + 1;
      signal?.throwIfAborted();
      const evaluation =
        args.evaluation === undefined
          ? null
          : reportedMetrics(await model.evaluate(args.evaluation, EVALUATION_BATCH, backend.name));
      evaluations.push(evaluation);
      await args.onEpoch?.({
        epoch: epoch + 1,
        epochs: recipe.epochs,
        step,
        trainLoss,
        trainAccuracy,
        learningRate,
        evaluation,
      });
      const stop = recipe.stopAtTrainAccuracy !== undefined && trainAccuracy >= recipe.stopAtTrainAccuracy;
      const final = stop || epoch + 1 === recipe.epochs;
      const every = recipe.checkpointEvery;
      if (final || (every !== undefined && (epoch + 1) % every === 0)) await takeSnapshot(epoch + 1, step, final);
      if (stop) break;
    }
    return { steps: step, trainLosses, trainAccuracies, evaluations, epochs, snapshots };
  } finally {
    model.dispose();
  }
}

/** Kernels the backward pass of `graph` needs that `backend` lacks (the forward kernels are all there). */
function missingGradientKernels(graph: ModelGraph, backend: TfjsBackendName): string[] {
  const needed = new Set<string>();
  for (const node of graph.nodes) {
    if (node.op === 'conv2d') needed.add('Conv2DBackpropFilter').add('Conv2DBackpropInput');
    if (node.op === 'maxpool2d') needed.add('MaxPoolGrad');
  }
  return [...needed].filter((kernel) => tf.getKernel(kernel, backend) === undefined);
}

/** MultiStepLR: lr · factor^(number of milestones ≤ epoch), epoch 0-based. */
export function learningRateAt(recipe: Pick<TrainingRecipe, 'learningRate' | 'schedule'>, epoch: number): number {
  const passed = recipe.schedule?.milestones.filter((m) => m <= epoch).length ?? 0;
  return recipe.learningRate * (recipe.schedule?.factor ?? 1) ** passed;
}

function gatherBatch(graph: ModelGraph, data: Examples, rows: Int32Array): Batch {
  const width = size(graph.inputShape);
  const x = new Float32Array(rows.length * width);
  const labels = new Int32Array(rows.length);
  rows.forEach((row, i) => {
    x.set(data.x.subarray(row * width, (row + 1) * width), i * width);
    labels[i] = data.labels[row]!;
  });
  return { x, labels, size: rows.length };
}

/** The initial state by name, checked against the graph: every tensor present with its shape and a usable dtype. */
function readInitialState(
  graph: ModelGraph,
  tensors: readonly TensorToWrite[],
): Map<string, Float32Array | BigInt64Array> {
  const given = new Map(tensors.map((t) => [t.name, t]));
  const state = new Map<string, Float32Array | BigInt64Array>();
  const problems: string[] = [];
  for (const spec of graph.state) {
    const tensor = given.get(spec.name);
    given.delete(spec.name);
    if (tensor === undefined) {
      problems.push(`${spec.name} [${spec.shape.join(', ')}] is missing`);
      continue;
    }
    if (
      tensor.shape.length !== spec.shape.length ||
      tensor.shape.some((d, i) => d !== spec.shape[i]) ||
      tensor.data.length !== size(spec.shape)
    ) {
      problems.push(
        `${spec.name}: expected shape [${spec.shape.join(', ')}], got [${tensor.shape.join(', ')}] with ${tensor.data.length} values`,
      );
      continue;
    }
    const { data } = tensor;
    if (spec.kind === 'float') {
      if (data instanceof Float32Array || data instanceof Float64Array) state.set(spec.name, Float32Array.from(data));
      else problems.push(`${spec.name}: expected F32 or F64 values, got ${tensor.dtype}`);
    } else if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
      state.set(
        spec.name,
        BigInt64Array.from(data, (v) => BigInt.asIntN(64, v)),
      );
    } else if (/^[IU]\d+$/.test(tensor.dtype) && !(data instanceof Float32Array || data instanceof Float64Array)) {
      state.set(
        spec.name,
        BigInt64Array.from(data, (v) => BigInt(v)),
      );
    } else {
      problems.push(`${spec.name}: expected integer values, got ${tensor.dtype}`);
    }
  }
  for (const name of given.keys()) problems.push(`${name} is not in ${graph.architecture}'s state`);
  if (problems.length > 0)
    throw badUserInput(`initial state: ${problems.slice(0, 20).join('; ')}${problems.length > 20 ? '; …' : ''}`);
  return state;
}

/** Examples per forward pass when measuring `evaluation`. */
const EVALUATION_BATCH = 500;

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

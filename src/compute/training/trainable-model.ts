import * as tf from '@tensorflow/tfjs-core';
import type { Examples } from '../../domain/examples.js';
import { emptyTally, tallyBatch, type LossTally } from '../../domain/losses.js';
import { badUserInput } from '../../errors.js';
import type { TensorToWrite } from '../../formats/safetensors.format.js';
import type { ModelGraph } from '../model-ir.js';
import { useTfjsBackend, type TfjsBackendName } from '../tfjs/tfjs.backend.js';
import {
  lowerToTfjs,
  parameterToPytorchLayout,
  uploadParameter,
  type BatchStatistics,
  type ParameterSpec,
  type TfjsProgram,
} from '../tfjs/tfjs.lowering.js';
import type { TrainingRecipe, TrainingSnapshot } from './trainer.js';

/** torch.nn.BatchNorm's default `momentum`: running ← (1 − 0.1)·running + 0.1·batch statistic. */
const BATCHNORM_MOMENTUM = 0.1;

export interface Batch {
  x: Float32Array;
  labels: Int32Array;
  size: number;
}

interface OptimizerSlots {
  /** Optimizer steps this tensor has taken (Adam's t). */
  steps: number;
  /** SGD's momentum buffer, or Adam's first moment. */
  first?: tf.Variable;
  /** Adam's second moment. */
  second?: tf.Variable;
}

/** The state of a training run on tfjs: one variable per tensor the graph reads, optimizer slots, counters. */
export class TrainableModel {
  private constructor(
    private readonly graph: ModelGraph,
    private readonly program: TfjsProgram,
    /** Every float tensor the graph reads, running statistics included (not trainable). */
    private readonly variables: ReadonlyMap<string, tf.Variable>,
    private readonly trainable: readonly tf.Variable[],
    private readonly slots: Map<string, OptimizerSlots>,
    /** num_batches_tracked of the BatchNorm that owns each running_mean. */
    private readonly counters: Map<string, { name: string; value: bigint }>,
    /** State the graph does not read (and ints of no BatchNorm), carried as given. */
    private readonly carried: ReadonlyMap<string, Float32Array | BigInt64Array>,
  ) {}

  static create(graph: ModelGraph, initial: ReadonlyMap<string, Float32Array | BigInt64Array>): TrainableModel {
    const program = lowerToTfjs(graph);
    const runningStatistics = new Set<string>();
    const counters = new Map<string, { name: string; value: bigint }>();
    const intState = new Set(graph.state.filter((s) => s.kind === 'int').map((s) => s.name));
    for (const node of graph.nodes) {
      if (node.op !== 'batchnorm') continue;
      runningStatistics.add(node.runningMean).add(node.runningVar);
      const counter = node.runningMean.replace(/running_mean$/, 'num_batches_tracked');
      if (counter !== node.runningMean && intState.has(counter)) {
        counters.set(node.runningMean, { name: counter, value: (initial.get(counter) as BigInt64Array)[0] ?? 0n });
      }
    }
    const variables = new Map<string, tf.Variable>();
    try {
      for (const spec of program.parameters) {
        const uploaded = uploadParameter(spec, initial.get(spec.name) as Float32Array);
        variables.set(spec.name, tf.variable(uploaded, !runningStatistics.has(spec.name)));
        uploaded.dispose();
      }
    } catch (error) {
      variables.forEach((v) => v.dispose());
      throw error;
    }
    const trainable = program.parameters
      .filter((s) => !runningStatistics.has(s.name))
      .map((s) => variables.get(s.name)!);
    if (trainable.length === 0) {
      variables.forEach((v) => v.dispose());
      throw badUserInput(`training ${graph.architecture}: the graph reads no trainable tensor`);
    }
    const counted = new Set([...counters.values()].map((c) => c.name));
    const carried = new Map([...initial].filter(([name]) => !variables.has(name) && !counted.has(name)));
    return new TrainableModel(graph, program, variables, trainable, new Map(), counters, carried);
  }

  /**
   * One optimizer step on a batch; returns the batch's mean loss and its number of correctly classified
   * examples, both before the step (the caller disposes them).
   */
  step(batch: Batch, recipe: TrainingRecipe, learningRate: number): { loss: tf.Scalar; correct: tf.Scalar } {
    const statistics: BatchStatistics[] = [];
    try {
      return tf.tidy(() => {
        const x = tf.tensor(batch.x, [batch.size, ...this.graph.inputShape], 'float32');
        let correct: tf.Scalar | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const forward = this.program.runTraining(x, this.variables);
          correct = tf.keep(correctCount(forward.logits, batch.labels, this.graph.outputs));
          // Kept past the gradient function's own tidy, disposed in `finally`.
          for (const s of forward.batchStatistics)
            statistics.push({ ...s, mean: tf.keep(s.mean), variance: tf.keep(s.variance) });
          return meanLoss(forward.logits, batch.labels, this.graph.outputs);
        }, this.trainable as tf.Variable[]);
        for (const s of statistics) this.updateRunningStatistics(s);
        for (const theta of this.trainable) {
          const gradient = grads[theta.name];
          if (gradient === undefined) continue;
          const group = this.groupOf(theta, recipe);
          this.update(theta, gradient, recipe, learningRate * (group?.lrScale ?? 1), group?.weightDecay);
        }
        return { loss: value, correct: correct! };
      });
    } finally {
      for (const s of statistics) {
        s.mean.dispose();
        s.variance.dispose();
      }
    }
  }

  private updateRunningStatistics(s: BatchStatistics): void {
    const runningMean = this.variables.get(s.runningMean)!;
    const runningVar = this.variables.get(s.runningVar)!;
    const m = BATCHNORM_MOMENTUM;
    runningMean.assign(tf.add(tf.mul(runningMean, 1 - m), tf.mul(s.mean, m)));
    const unbiased = tf.mul(s.variance, s.count / (s.count - 1));
    runningVar.assign(tf.add(tf.mul(runningVar, 1 - m), tf.mul(unbiased, m)));
    const counter = this.counters.get(s.runningMean);
    if (counter !== undefined) counter.value += 1n;
  }

  private stateNames: Map<tf.Variable, string> | undefined;

  /** The first parameter group (TrainingRecipe.paramGroups) whose blocks hold this tensor, if any. */
  private groupOf(
    theta: tf.Variable,
    recipe: TrainingRecipe,
  ): NonNullable<TrainingRecipe['paramGroups']>[number] | undefined {
    if (recipe.paramGroups === undefined) return undefined;
    this.stateNames ??= new Map([...this.variables].map(([name, variable]) => [variable, name]));
    const name = this.stateNames.get(theta)!;
    return recipe.paramGroups.find((g) => g.blocks.some((b) => name === b || name.startsWith(`${b}.`)));
  }

  /** The torch.optim update of one tensor (see OptimizerSpec); runs inside the step's tidy. */
  private update(
    theta: tf.Variable,
    gradient: tf.Tensor,
    recipe: TrainingRecipe,
    learningRate: number,
    groupWeightDecay?: number,
  ): void {
    const weightDecay = groupWeightDecay ?? recipe.weightDecay;
    const g = weightDecay === 0 ? gradient : tf.add(gradient, tf.mul(theta, weightDecay));
    let slots = this.slots.get(theta.name);
    if (slots === undefined) this.slots.set(theta.name, (slots = { steps: 0 }));
    slots.steps += 1;
    const { optimizer } = recipe;
    switch (optimizer.kind) {
      case 'SGD': {
        const mu = optimizer.momentum;
        if (slots.first === undefined) slots.first = tf.variable(g, false);
        else slots.first.assign(tf.add(tf.mul(slots.first, mu), g));
        const direction = optimizer.nesterov === true ? tf.add(g, tf.mul(slots.first, mu)) : slots.first;
        theta.assign(tf.sub(theta, tf.mul(direction, learningRate)));
        break;
      }
      case 'ADAM': {
        const { beta1, beta2, epsilon } = optimizer;
        slots.first ??= tf.variable(tf.zerosLike(theta), false);
        slots.second ??= tf.variable(tf.zerosLike(theta), false);
        slots.first.assign(tf.add(tf.mul(slots.first, beta1), tf.mul(g, 1 - beta1)));
        slots.second.assign(tf.add(tf.mul(slots.second, beta2), tf.mul(tf.square(g), 1 - beta2)));
        const stepSize = learningRate / (1 - beta1 ** slots.steps);
        const denominator = tf.add(tf.div(tf.sqrt(slots.second), Math.sqrt(1 - beta2 ** slots.steps)), epsilon);
        theta.assign(tf.sub(theta, tf.mul(tf.div(slots.first, denominator), stepSize)));
        break;
      }
    }
  }

  /**
   * Loss and accuracy of the current state on `data`, as PyTorch's `model.eval()` under `no_grad` gives them
   * (BatchNorm with its running statistics; nothing updated), summed with the evaluation engines' tally, in
   * batches of `batchSize` examples.
   */
  async evaluate(data: Examples, batchSize: number, backend: TfjsBackendName): Promise<LossTally> {
    const width = this.graph.inputShape.reduce((a, b) => a * b, 1);
    let tally = emptyTally();
    for (let start = 0; start < data.n; start += batchSize) {
      const end = Math.min(data.n, start + batchSize);
      useTfjsBackend(backend);
      const logits = tf.tidy(() => {
        const x = tf.tensor(data.x.subarray(start * width, end * width), [end - start, ...this.graph.inputShape]);
        return this.program.run(x, this.variables);
      });
      try {
        const values = (await logits.data()) as Float32Array;
        tally = tallyBatch(tally, values, data.labels.subarray(start, end), this.graph.outputs);
      } finally {
        logits.dispose();
      }
    }
    return tally;
  }

  async snapshot(epoch: number, step: number, backend: TfjsBackendName): Promise<Omit<TrainingSnapshot, 'final'>> {
    const specs = new Map<string, ParameterSpec>(this.program.parameters.map((s) => [s.name, s]));
    const counters = new Map([...this.counters.values()].map((c) => [c.name, c.value]));
    // Transposed copies made in one synchronous stretch, on this run's backend, then read back.
    useTfjsBackend(backend);
    const copies = new Map<string, tf.Tensor>();
    for (const [name, variable] of this.variables)
      copies.set(name, parameterToPytorchLayout(specs.get(name)!, variable));
    try {
      const tensors: TensorToWrite[] = [];
      for (const spec of this.graph.state) {
        const copy = copies.get(spec.name);
        const shape = [...spec.shape];
        if (copy !== undefined) {
          tensors.push({ name: spec.name, dtype: 'F32', shape, data: ((await copy.data()) as Float32Array).slice() });
        } else if (counters.has(spec.name)) {
          tensors.push({
            name: spec.name,
            dtype: 'I64',
            shape,
            data: new BigInt64Array(size(shape)).fill(counters.get(spec.name)!),
          });
        } else {
          const data = this.carried.get(spec.name)!;
          tensors.push({
            name: spec.name,
            dtype: data instanceof BigInt64Array ? 'I64' : 'F32',
            shape,
            data: data.slice(),
          });
        }
      }
      return { epoch, step, tensors };
    } finally {
      copies.forEach((c) => c.dispose());
    }
  }

  dispose(): void {
    this.variables.forEach((v) => v.dispose());
    for (const slots of this.slots.values()) {
      slots.first?.dispose();
      slots.second?.dispose();
    }
    this.slots.clear();
  }
}

/**
 * The batch mean of the loss, with its exact gradient written out: through the stable forms' max/abs the
 * automatic one would be wrong at z = 0 (BCE) and needlessly long (CE).
 * - 1 output: max(z, 0) − z·y + log(1 + e^(−|z|)), gradient (σ(z) − y)/N;
 * - C outputs: logsumexp(z) − z_y, gradient (softmax(z) − onehot(y))/N.
 */
/** Examples whose prediction is their label: logit > 0 for one output (label 1), else the arg max. */
function correctCount(logits: tf.Tensor2D, labels: Int32Array, outputs: number): tf.Scalar {
  return tf.tidy(() => {
    const target = tf.tensor1d(labels, 'int32');
    const predicted = outputs === 1 ? tf.cast(tf.greater(tf.reshape(logits, [-1]), 0), 'int32') : tf.argMax(logits, 1);
    return tf.sum(tf.cast(tf.equal(predicted, target), 'float32'));
  });
}

function meanLoss(logits: tf.Tensor2D, labels: Int32Array, outputs: number): tf.Scalar {
  const n = labels.length;
  const target =
    outputs === 1
      ? tf.tensor2d(Float32Array.from(labels), [n, 1])
      : tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), outputs), 'float32');
  const loss = tf.customGrad((...args: unknown[]) => {
    const [z, y, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
    save([z, y]);
    const perExample =
      outputs === 1
        ? tf.add(tf.sub(tf.relu(z), tf.mul(z, y)), tf.log1p(tf.exp(tf.neg(tf.abs(z)))))
        : tf.sub(tf.logSumExp(z, 1, true), tf.sum(tf.mul(z, y), 1, true));
    return {
      value: tf.mean(perExample) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [zs, ys] = saved as [tf.Tensor2D, tf.Tensor2D];
        const probabilities = outputs === 1 ? tf.sigmoid(zs) : tf.softmax(zs);
        return [tf.mul(tf.sub(probabilities, ys), tf.div(dy, n)), tf.zerosLike(ys)];
      },
    };
  }) as (z: tf.Tensor, y: tf.Tensor) => tf.Scalar;
  return loss(logits, target);
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

import * as tf from '@tensorflow/tfjs-core';
import { UnreachableCaseError } from '../../errors.js';
import {
  checkGraph,
  describeNode,
  INPUT,
  opInputs,
  opParameters,
  type ModelGraph,
  type Node,
  type Pair,
} from '../model-ir.js';
import { convLayout, type ParameterLayout, type ParameterSpec } from './tfjs.parameters.js';

export {
  parameterToPytorchLayout,
  uploadParameter,
  type ParameterLayout,
  type ParameterSpec,
} from './tfjs.parameters.js';

/**
 * How a value is held. tfjs convolutions and pools want channels-last tensors, the IR is PyTorch's NCHW:
 * - `nhwc`: a 4-D activation the IR sees as [N, C, H, W], stored as [N, H, W, C];
 * - `pytorch`: stored exactly as the IR describes it (any rank).
 * An image input is transposed to `nhwc` once, and a value goes back to NCHW order only where the order of
 * its elements matters to PyTorch (flatten) or an op needs the other layout.
 */
type Layout = 'nhwc' | 'pytorch';

interface ValueType {
  /** Rank as the IR sees it (batch axis included). */
  rank: number;
  layout: Layout;
}

/** The bound state: one tfjs tensor per parameter, in its ParameterLayout. */
export type TfjsParameters = ReadonlyMap<string, tf.Tensor>;

/**
 * What one BatchNorm computed over a training batch, per channel: `mean` and the *biased* `variance` it
 * normalised with, over `count` values per channel (N, or N·H·W for a 4-D input). A trainer turns them into
 * PyTorch's running-statistics update (which uses the unbiased variance, `variance · count / (count − 1)`).
 */
export interface BatchStatistics {
  /** State names of the BatchNorm's running statistics. */
  runningMean: string;
  runningVar: string;
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  count: number;
}

/** A training-mode forward pass: the logits, and the statistics of every BatchNorm in execution order. */
export interface TrainingForward {
  logits: tf.Tensor2D;
  batchStatistics: BatchStatistics[];
}

type Compute = (inputs: tf.Tensor[], parameter: (name: string) => tf.Tensor) => tf.Tensor;
type ComputeTraining = (
  inputs: tf.Tensor[],
  parameter: (name: string) => tf.Tensor,
  report: (statistics: BatchStatistics) => void,
) => tf.Tensor;

interface Step {
  node: Node;
  /** The op on tfjs tensors: inputs in the order of `opInputs`, each in the layout the lowering recorded. */
  compute: Compute;
  /** The op in training mode, where it differs from `compute` (BatchNorm: batch statistics). */
  computeTraining: ComputeTraining | undefined;
  /** Values no later step reads, disposed right after this one: peak memory stays a few activations. */
  release: string[];
}

export interface TfjsProgram {
  /** Float state tensors the graph reads, in state_dict order, with the layout `bind` uploads them in. */
  parameters: ParameterSpec[];
  /**
   * Logits [n, outputs] for `x` [n, ...inputShape] in the IR's layout. Call it inside `tf.tidy`: every
   * intermediate is disposed as soon as no later op needs it; `x` itself is never disposed.
   */
  run(x: tf.Tensor, parameters: TfjsParameters): tf.Tensor2D;
  /**
   * PyTorch's `model.train()` forward pass: BatchNorm normalises with the batch mean and biased batch variance
   * and reports them (it reads neither running statistic, and updates nothing). Unlike `run`, no
   * intermediate is disposed, so that a gradient tape can reach every one: call it inside `tf.tidy` or a
   * gradient function (`tf.variableGrads`), which dispose them afterwards.
   */
  runTraining(x: tf.Tensor, parameters: TfjsParameters): TrainingForward;
}

const TO_NHWC = [0, 2, 3, 1];
const TO_NCHW = [0, 3, 1, 2];

/**
 * Lowers a ModelGraph to a TfjsProgram: a list of closures over tfjs ops, with the layout of every value
 * fixed here, once, so that running it only calls ops. Throws a plain Error when the graph is internally
 * inconsistent (an op reads a value no earlier op computes, or a state tensor not declared float; a
 * convolution on a value that is not 4-D; a Linear on one that is not 2-D): a bug in a graph builder, not a
 * user's mistake.
 */
export function lowerToTfjs(graph: ModelGraph): TfjsProgram {
  checkGraph(graph, 'lowerToTfjs');
  const stateShapes = new Map(graph.state.map((s) => [s.name, s.shape]));
  const parameterLayouts = new Map<string, ParameterLayout>();
  const parameterGroups = new Map<string, number>();
  const inputType: ValueType = {
    rank: 1 + graph.inputShape.length,
    layout: graph.inputShape.length === 3 ? 'nhwc' : 'pytorch',
  };
  const types = new Map<string, ValueType>([[INPUT, inputType]]);
  const lastUse = new Map<string, number>([[INPUT, -1]]);
  const steps: Step[] = [];

  graph.nodes.forEach((node, index) => {
    for (const input of opInputs(node)) lastUse.set(input, index);
    for (const name of opParameters(node)) {
      const layout: ParameterLayout =
        node.op === 'conv2d' && name === node.weight ? convLayout(node, stateShapes.get(name)!) : 'as-is';
      if (layout === 'depthwise') parameterGroups.set(name, node.op === 'conv2d' ? (node.groups ?? 1) : 1);
      const previous = parameterLayouts.get(name);
      if (previous !== undefined && previous !== layout) {
        throw new Error(`lowerToTfjs: state tensor "${name}" is read both as a conv filter and as a plain tensor`);
      }
      parameterLayouts.set(name, layout);
    }
    const { compute, computeTraining, type } = lowerNode(node, types, stateShapes);
    types.set(node.output, type);
    lastUse.set(node.output, index);
    steps.push({ node, compute, computeTraining, release: [] });
  });

  for (const [value, index] of lastUse) {
    if (value !== graph.output && index >= 0) steps[index]!.release.push(value);
  }

  const parameters = graph.state
    .filter((s) => parameterLayouts.has(s.name))
    .map((s) => {
      const groups = parameterGroups.get(s.name);
      return {
        name: s.name,
        shape: [...s.shape],
        layout: parameterLayouts.get(s.name)!,
        ...(groups === undefined ? {} : { groups }),
      };
    });

  const lookup =
    (bound: TfjsParameters, caller: string) =>
    (name: string): tf.Tensor => {
      const tensor = bound.get(name);
      if (tensor === undefined) throw new Error(`TfjsProgram.${caller}: state tensor "${name}" is not bound`);
      return tensor;
    };

  return {
    parameters,
    run(x, bound) {
      const parameter = lookup(bound, 'run');
      const input = inputType.layout === 'nhwc' ? tf.transpose(x, TO_NHWC) : x;
      const values = new Map<string, tf.Tensor>([[INPUT, input]]);
      const release = (name: string): void => {
        const tensor = values.get(name);
        values.delete(name);
        if (tensor !== undefined && tensor !== x) tensor.dispose();
      };
      if (lastUse.get(INPUT) === -1) release(INPUT);
      for (const step of steps) {
        const inputs = opInputs(step.node).map((name) => values.get(name)!);
        let output = tf.tidy(() => step.compute(inputs, parameter));
        // A step that handed back one of its inputs would see it disposed when that input is released.
        if (inputs.includes(output)) output = tf.clone(output);
        values.set(step.node.output, output);
        step.release.forEach(release);
      }
      return values.get(graph.output)! as tf.Tensor2D;
    },
    runTraining(x, bound) {
      const parameter = lookup(bound, 'runTraining');
      const values = new Map<string, tf.Tensor>([[INPUT, inputType.layout === 'nhwc' ? tf.transpose(x, TO_NHWC) : x]]);
      const batchStatistics: BatchStatistics[] = [];
      const report = (statistics: BatchStatistics): void => void batchStatistics.push(statistics);
      for (const step of steps) {
        const inputs = opInputs(step.node).map((name) => values.get(name)!);
        const output =
          step.computeTraining === undefined
            ? step.compute(inputs, parameter)
            : step.computeTraining(inputs, parameter, report);
        values.set(step.node.output, output);
      }
      return { logits: values.get(graph.output)! as tf.Tensor2D, batchStatistics };
    },
  };
}

/** The tfjs form of one op, and the type of its output. */
function lowerNode(
  node: Node,
  types: ReadonlyMap<string, ValueType>,
  stateShapes: ReadonlyMap<string, number[]>,
): { compute: Compute; computeTraining?: ComputeTraining; type: ValueType } {
  const typeOf = (name: string): ValueType => types.get(name)!;
  switch (node.op) {
    case 'conv2d': {
      const from = requireRank(node, typeOf(node.input), 4).layout;
      const strides = pair(node.stride);
      const pad = explicitPadding(node.padding);
      const bias = node.bias;
      const groups = node.groups ?? 1;
      const layout = convLayout(node, stateShapes.get(node.weight)!);
      const convolve = (input: tf.Tensor4D, filter: tf.Tensor4D): tf.Tensor4D => {
        if (layout === 'depthwise') return tf.depthwiseConv2d(input, filter, strides, pad, 'NHWC');
        if (groups === 1) return tf.conv2d(input, filter, strides, pad, 'NHWC');
        // Grouped: each group of input channels with its own slice of output channels, concatenated.
        const inputs = tf.split(input, groups, 3) as tf.Tensor4D[];
        const filters = tf.split(filter, groups, 3) as tf.Tensor4D[];
        return tf.concat4d(
          inputs.map((part, g) => tf.conv2d(part, filters[g]!, strides, pad, 'NHWC')),
          3,
        );
      };
      return {
        compute: ([x], parameter) => {
          const input = toLayout(x!, from, 'nhwc') as tf.Tensor4D;
          const y = convolve(input, parameter(node.weight) as tf.Tensor4D);
          return bias === undefined ? y : tf.add(y, parameter(bias)); // channels last: the bias broadcasts
        },
        type: { rank: 4, layout: 'nhwc' },
      };
    }
    case 'maxpool2d': {
      const from = requireRank(node, typeOf(node.input), 4).layout;
      const kernel = pair(node.kernel);
      const strides = pair(node.stride);
      // tfjs pools ignore padded positions, as PyTorch's -inf padding does.
      const pad = explicitPadding(node.padding);
      return {
        compute: ([x]) => tf.maxPool(toLayout(x!, from, 'nhwc') as tf.Tensor4D, kernel, strides, pad),
        type: { rank: 4, layout: 'nhwc' },
      };
    }
    case 'batchnorm': {
      const type = typeOf(node.input);
      if (type.rank < 2) {
        throw new Error(
          `lowerToTfjs: ${describe(node)} needs a value of rank ≥ 2 (channels on axis 1), got rank ${type.rank}`,
        );
      }
      const { weight, bias, runningMean, runningVar, eps } = node;
      // tf.batchNorm broadcasts per-channel vectors over the last axis: channels-last values take it as they
      // are, [N, C] too; a PyTorch-layout value of rank ≥ 3 has its channel axis moved last and back.
      const channelsLast = type.layout === 'nhwc' || type.rank === 2;
      const toLast = channelsLast ? undefined : [0, ...range(2, type.rank), 1];
      const fromLast = channelsLast ? undefined : [0, type.rank - 1, ...range(1, type.rank - 1)];
      return {
        compute: ([x], parameter) => {
          const input = toLast === undefined ? x! : tf.transpose(x!, toLast);
          // tf.batchNorm(x, mean, variance, offset = β = bias, scale = γ = weight, ε): offset before scale.
          const y = tf.batchNorm(
            input,
            parameter(runningMean) as tf.Tensor1D,
            parameter(runningVar) as tf.Tensor1D,
            parameter(bias) as tf.Tensor1D,
            parameter(weight) as tf.Tensor1D,
            eps,
          );
          return fromLast === undefined ? y : tf.transpose(y, fromLast);
        },
        // Composed from differentiable ops (tf.batchNorm's gradient with respect to its mean and variance
        // inputs is not what backpropagating through the batch statistics needs).
        computeTraining: ([x], parameter, report) => {
          const input = toLast === undefined ? x! : tf.transpose(x!, toLast);
          const channels = input.shape[input.rank - 1]!;
          const count = input.size / channels;
          if (count < 2) {
            throw new RangeError(`${describe(node)}: training needs more than 1 value per channel, got ${count}`);
          }
          const axes = range(0, input.rank - 1);
          const mean = tf.mean(input, axes) as tf.Tensor1D;
          const centred = tf.sub(input, mean);
          const variance = tf.mean(tf.square(centred), axes) as tf.Tensor1D;
          report({ runningMean, runningVar, mean, variance, count });
          const normalised = tf.mul(centred, tf.rsqrt(tf.add(variance, eps)));
          const y = tf.add(tf.mul(normalised, parameter(weight)), parameter(bias));
          return fromLast === undefined ? y : tf.transpose(y, fromLast);
        },
        type,
      };
    }
    case 'relu':
      return { compute: ([x]) => tf.relu(x!), type: typeOf(node.input) };
    case 'hardswish':
      return {
        compute: ([x]) => tf.mul(x!, tf.div(tf.relu6(tf.add(x!, 3)), 6)),
        type: typeOf(node.input),
      };
    case 'hardsigmoid': {
      const { alpha, beta } = node;
      return {
        compute: ([x]) => tf.clipByValue(tf.add(tf.mul(x!, alpha), beta), 0, 1),
        type: typeOf(node.input),
      };
    }
    case 'sigmoid':
      return { compute: ([x]) => tf.sigmoid(x!), type: typeOf(node.input) };
    case 'clip': {
      const { min, max } = node;
      return { compute: ([x]) => tf.clipByValue(x!, min, max), type: typeOf(node.input) };
    }
    case 'add':
    case 'mul': {
      const [a, b] = node.inputs.map(typeOf) as [ValueType, ValueType];
      if (a.rank !== b.rank)
        throw new Error(`lowerToTfjs: ${describe(node)} combines values of ranks ${a.rank} and ${b.rank}`);
      const combine = node.op === 'add' ? tf.add : tf.mul;
      return { compute: ([x, y]) => combine(x!, toLayout(y!, b.layout, a.layout)), type: a };
    }
    case 'global_avgpool_keep': {
      const type = requireRank(node, typeOf(node.input), 4);
      const axes = type.layout === 'nhwc' ? [1, 2] : [2, 3];
      return { compute: ([x]) => tf.mean(x!, axes, true), type };
    }
    case 'global_avgpool': {
      const { layout } = requireRank(node, typeOf(node.input), 4);
      const axes = layout === 'nhwc' ? [1, 2] : [2, 3];
      return { compute: ([x]) => tf.mean(x!, axes), type: { rank: 2, layout: 'pytorch' } };
    }
    case 'flatten': {
      const { layout, rank } = typeOf(node.input);
      if (rank < 2) throw new Error(`lowerToTfjs: ${describe(node)} needs a value of rank ≥ 2, got rank ${rank}`);
      // PyTorch flattens C, H, W in that order: a channels-last value goes back to NCHW first.
      return {
        compute: ([x]) => {
          const nchw = toLayout(x!, layout, 'pytorch');
          return tf.reshape(nchw, [nchw.shape[0]!, -1]);
        },
        type: { rank: 2, layout: 'pytorch' },
      };
    }
    case 'linear': {
      requireRank(node, typeOf(node.input), 2);
      const bias = node.bias;
      // y = x Wᵀ + b with W as PyTorch stores it, [out, in]: no transposed copy of the weight. Not
      // tf.fused.matMul: in tfjs-backend-wasm 4.22.0 its bias is added to the wrong elements when transposeB is
      // set (test/compute/tfjs.ops.test.ts keeps the unfused ops honest on every backend).
      return {
        compute: ([x], parameter) => {
          const y = tf.matMul(x as tf.Tensor2D, parameter(node.weight) as tf.Tensor2D, false, true);
          return bias === undefined ? y : tf.add(y, parameter(bias));
        },
        type: { rank: 2, layout: 'pytorch' },
      };
    }
    default:
      throw new UnreachableCaseError(node);
  }
}

function toLayout(x: tf.Tensor, from: Layout, to: Layout): tf.Tensor {
  if (from === to || x.rank !== 4) return x;
  return tf.transpose(x, to === 'nhwc' ? TO_NHWC : TO_NCHW);
}

function requireRank(node: Node, type: ValueType, rank: number): ValueType {
  if (type.rank !== rank) {
    throw new Error(`lowerToTfjs: ${describe(node)} needs a ${rank}-D value, "${opInputs(node)[0]}" is ${type.rank}-D`);
  }
  return type;
}

/** PyTorch's symmetric padding: tfjs' 'same' would put the odd pixel of a strided conv at the end. */
function explicitPadding([h, w]: Pair): [[number, number], [number, number], [number, number], [number, number]] {
  return [
    [0, 0],
    [h, h],
    [w, w],
    [0, 0],
  ];
}

const pair = ([a, b]: Pair): [number, number] => [a, b];
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
const describe = describeNode;

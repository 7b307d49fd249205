/**
 * An engine-neutral description of a network: a list of ops over named values, whose parameters are
 * named exactly by PyTorch `state_dict` keys. Each engine lowers it (ONNX Runtime: an ONNX graph whose state
 * tensors are graph inputs; TensorFlow.js: tfjs ops in NHWC). Layouts are PyTorch's: activations NCHW,
 * Linear weights [out, in], Conv weights [out, in, kh, kw].
 *
 * Ops are in execution order and grouped into top-level blocks (`stem`, `layer1`, …, `fc`). A value that
 * crosses a block boundary is the block's single input, so the graph can be cut there: later issues reuse
 * the activations of a prefix that does not move along a block-wise path.
 */

export type Pair = readonly [number, number];

export type Op =
  /** y = x Wᵀ + b; x [N, in]. */
  | { op: 'linear'; input: string; output: string; weight: string; bias: string | undefined }
  /**
   * Cross-correlation as torch.nn.Conv2d, symmetric zero padding. `groups` (default 1) splits the input and
   * output channels into that many independent convolutions; the weight is [out, in / groups, kh, kw].
   */
  | {
      op: 'conv2d';
      input: string;
      output: string;
      weight: string;
      bias: string | undefined;
      kernel: Pair;
      stride: Pair;
      padding: Pair;
      groups?: number;
    }
  /** Eval mode: y = (x − running_mean) / sqrt(running_var + eps) · weight + bias, per channel (axis 1). */
  | {
      op: 'batchnorm';
      input: string;
      output: string;
      weight: string;
      bias: string;
      runningMean: string;
      runningVar: string;
      eps: number;
    }
  | { op: 'relu'; input: string; output: string }
  /** torch.nn.Hardswish: x · min(max(x + 3, 0), 6) / 6. */
  | { op: 'hardswish'; input: string; output: string }
  /** ONNX HardSigmoid: max(0, min(1, alpha · x + beta)); torch.nn.Hardsigmoid is alpha 1/6, beta 1/2. */
  | { op: 'hardsigmoid'; input: string; output: string; alpha: number; beta: number }
  | { op: 'sigmoid'; input: string; output: string }
  /** min(max(x, min), max); ReLU6 is [0, 6]. */
  | { op: 'clip'; input: string; output: string; min: number; max: number }
  /** Elementwise sum of two values of one rank; an axis of size 1 broadcasts. */
  | { op: 'add'; inputs: readonly [string, string]; output: string }
  /** Elementwise product of two values of one rank (e.g. squeeze-excitation's [N, C, 1, 1] · [N, C, H, W]). */
  | { op: 'mul'; inputs: readonly [string, string]; output: string }
  /** torch.nn.MaxPool2d without dilation or ceil mode. */
  | { op: 'maxpool2d'; input: string; output: string; kernel: Pair; stride: Pair; padding: Pair }
  /** Mean over H and W: [N, C, H, W] → [N, C] (AdaptiveAvgPool2d(1) followed by flatten). */
  | { op: 'global_avgpool'; input: string; output: string }
  /** Mean over H and W keeping them: [N, C, H, W] → [N, C, 1, 1] (ONNX GlobalAveragePool). */
  | { op: 'global_avgpool_keep'; input: string; output: string }
  /** [N, ...] → [N, prod(...)] in row-major order. */
  | { op: 'flatten'; input: string; output: string };

export type OpKind = Op['op'];

/** An op and the top-level block it belongs to. */
export type Node = Op & { block: string };

export interface StateTensorSpec {
  name: string;
  shape: number[];
  /** `float` tensors are interpolated; `int` ones (num_batches_tracked) are state the forward pass ignores. */
  kind: 'float' | 'int';
}

export interface ModelGraph {
  /** Architecture name, e.g. `resnet18-cifar`. */
  architecture: string;
  /** The graph input, always named `x`: per-example shape, e.g. [3, 32, 32] or [2]. */
  inputShape: number[];
  /** The value holding the logits, [N, outputs]. */
  output: string;
  /** Logits per example: 1 → binary cross-entropy; C > 1 → softmax cross-entropy. */
  outputs: number;
  nodes: Node[];
  /** Every state_dict entry a checkpoint of this architecture must have, in state_dict order. */
  state: StateTensorSpec[];
  /** Top-level blocks in execution order; the default set of a block-wise analysis. */
  blocks: string[];
  /** Block names that stand for several prefixes, e.g. `stem` → [`conv1`, `bn1`]. */
  aliases: Record<string, string[]>;
  /**
   * For an architecture defined by an ONNX export (architectures/user-architecture.ts): its graph. Present with
   * `nodes` empty when some op has no IR form: then only ONNX Runtime runs it, on the export itself.
   */
  onnx?: OnnxSource;
}

/** An ONNX export an architecture was defined by. */
export interface OnnxSource {
  /** The serialized ModelProto as registered. */
  model: Uint8Array;
  sha256: string;
  /** Its data input and logits output. */
  input: string;
  output: string;
  /** Op types with no IR form (empty when `nodes` holds the lowered graph). */
  unsupportedOps: string[];
  /** The BatchNorm running statistics the graph reads. */
  runningStats: string[];
}

export const INPUT = 'x';

/** State tensors an op reads, in the order of its definition. */
export function opParameters(op: Op): string[] {
  switch (op.op) {
    case 'linear':
    case 'conv2d':
      return op.bias === undefined ? [op.weight] : [op.weight, op.bias];
    case 'batchnorm':
      return [op.weight, op.bias, op.runningMean, op.runningVar];
    default:
      return [];
  }
}

/** Values an op reads. */
export function opInputs(op: Op): string[] {
  return op.op === 'add' || op.op === 'mul' ? [...op.inputs] : [op.input];
}

/**
 * Why a graph has no IR form, for the engines and modes that need one (TFJS, bnStats RECOMPUTE): an architecture
 * defined by an ONNX export some of whose ops the IR does not know. Undefined when the IR describes the graph.
 */
export function irUnavailable(graph: ModelGraph): string | undefined {
  if (graph.onnx === undefined || graph.nodes.length > 0) return undefined;
  return (
    `${graph.architecture} runs only on ONNX Runtime, as its ONNX export: these of its ops have no form in ` +
    `linpath's model IR: ${graph.onnx.unsupportedOps.join(', ')} (docs/architectures.md#routes)`
  );
}

/** The running statistics of every BatchNorm of a graph (what bnStats modes keep or recompute). */
export function runningStatistics(graph: ModelGraph): Set<string> {
  if (graph.onnx !== undefined) return new Set(graph.onnx.runningStats);
  return new Set(graph.nodes.flatMap((node) => (node.op === 'batchnorm' ? [node.runningMean, node.runningVar] : [])));
}

/**
 * The per-example shape of every value (batch axis left out), by the rules of the PyTorch modules the ops
 * stand for: conv and pool outputs ⌊(size + 2·padding − kernel) / stride⌋ + 1.
 */
export function valueShapes(graph: ModelGraph): Map<string, number[]> {
  const stateShapes = new Map(graph.state.map((s) => [s.name, s.shape]));
  const shapes = new Map<string, number[]>([[INPUT, [...graph.inputShape]]]);
  const shapeOf = (value: string): number[] => {
    const shape = shapes.get(value);
    if (shape === undefined) throw new Error(`valueShapes: "${value}" is read before any op computes it`);
    return shape;
  };
  const window = (size: number, kernel: number, stride: number, padding: number) =>
    Math.floor((size + 2 * padding - kernel) / stride) + 1;
  for (const node of graph.nodes) {
    let shape: number[];
    switch (node.op) {
      case 'linear':
        shape = [stateShapes.get(node.weight)![0]!];
        break;
      case 'conv2d': {
        const [, h = 0, w = 0] = shapeOf(node.input);
        shape = [
          stateShapes.get(node.weight)![0]!,
          window(h, node.kernel[0], node.stride[0], node.padding[0]),
          window(w, node.kernel[1], node.stride[1], node.padding[1]),
        ];
        break;
      }
      case 'maxpool2d': {
        const [c = 0, h = 0, w = 0] = shapeOf(node.input);
        shape = [
          c,
          window(h, node.kernel[0], node.stride[0], node.padding[0]),
          window(w, node.kernel[1], node.stride[1], node.padding[1]),
        ];
        break;
      }
      case 'global_avgpool':
        shape = [shapeOf(node.input)[0]!];
        break;
      case 'global_avgpool_keep':
        shape = [shapeOf(node.input)[0]!, 1, 1];
        break;
      case 'flatten':
        shape = [shapeOf(node.input).reduce((a, b) => a * b, 1)];
        break;
      case 'add':
      case 'mul': {
        const a = shapeOf(node.inputs[0]);
        const b = shapeOf(node.inputs[1]);
        shape = a.map((d, i) => (d === 1 ? (b[i] ?? d) : d));
        break;
      }
      default:
        shape = shapeOf(node.input);
    }
    shapes.set(node.output, shape);
  }
  return shapes;
}

/** An op as messages name it: its kind, the value it computes and its block. */
export const describeNode = (node: Node): string => `${node.op} "${node.output}" (block ${node.block})`;

/**
 * The consistency every lowering relies on, checked once for all of them: each op reads values computed before it
 * (the input `x` first) and state tensors the graph declares as float, no value is computed twice, and the output is
 * computed as one vector of logits per example ([N, outputs]). A failure is a bug in a graph builder, not a user's
 * mistake: a plain Error, prefixed with `caller`, naming the op.
 */
export function checkGraph(graph: ModelGraph, caller: string): void {
  const specs = new Map(graph.state.map((s) => [s.name, s]));
  const computed = new Set<string>([INPUT]);
  for (const node of graph.nodes) {
    for (const input of opInputs(node)) {
      if (!computed.has(input))
        throw new Error(`${caller}: ${describeNode(node)} reads "${input}", which no earlier op computes`);
    }
    if (computed.has(node.output))
      throw new Error(`${caller}: ${describeNode(node)} computes "${node.output}" a second time`);
    for (const name of opParameters(node)) {
      const spec = specs.get(name);
      if (spec?.kind !== 'float') {
        throw new Error(
          `${caller}: ${describeNode(node)} reads state tensor "${name}", which the graph's state ` +
            (spec === undefined ? 'does not declare' : `declares as ${spec.kind}, expected float`),
        );
      }
    }
    computed.add(node.output);
  }
  if (!computed.has(graph.output)) throw new Error(`${caller}: the output "${graph.output}" is computed by no op`);
  const rank = 1 + valueShapes(graph).get(graph.output)!.length;
  if (rank !== 2)
    throw new Error(`${caller}: the output "${graph.output}" has rank ${rank}, expected 2 ([N, ${graph.outputs}])`);
}

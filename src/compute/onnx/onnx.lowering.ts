import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { UnreachableCaseError } from '../../errors.js';
import { checkGraph, describeNode, INPUT, opParameters, type ModelGraph, type Node, type Pair } from '../model-ir.js';

// onnx-proto is CommonJS: its namespace is reachable only through the default import at run time.
const { onnx } = onnxProto;
type NodeProto = Onnx.INodeProto;
type AttributeProto = Onnx.IAttributeProto;

/** ONNX 1.10's IR (what onnx-proto 8.0.1 encodes) and an opset every op below has had since at least 15. */
const IR_VERSION = 8;
const OPSET = 17;
/** The symbolic batch dimension of `x` and of the logits. */
const BATCH = 'N';

export interface LoweredModel {
  /** A serialized ONNX ModelProto, for `InferenceSession.create`. */
  model: Uint8Array;
  /**
   * The float state tensors the graph reads, as graph inputs named by their state_dict keys, in state_dict
   * order. They are inputs, not initializers, so one session serves every state along a path.
   */
  stateInputs: string[];
}

/**
 * Lowers a ModelGraph to an ONNX model with two kinds of graph input: `x` [N, ...inputShape] and one per
 * float state tensor. Intermediate ONNX values carry the IR's value names, so a failing node names the IR
 * op it came from. Layouts are PyTorch's, which are also ONNX's (NCHW, Linear [out, in] → Gemm transB,
 * Conv [out, in, kh, kw]), so no tensor is transposed.
 *
 * Throws a plain Error when the graph is internally inconsistent (an op reads a value not yet computed or a
 * tensor the state list does not declare as float, a Linear on a value that is not 2-D): that is a bug in
 * a graph builder, not a user's mistake.
 */
export function lowerToOnnx(graph: ModelGraph): LoweredModel {
  checkGraph(graph, 'lowerToOnnx');
  const specs = new Map(graph.state.map((s) => [s.name, s]));
  const used = new Set<string>();
  // Rank of every value computed so far: enough to catch a Linear fed a 4-D activation.
  const ranks = new Map<string, number>([[INPUT, 1 + graph.inputShape.length]]);
  const nodes: NodeProto[] = [];

  for (const node of graph.nodes) {
    for (const name of opParameters(node)) used.add(name);
    const { protos, rank } = lowerNode(node, ranks);
    nodes.push(...protos);
    ranks.set(node.output, rank);
  }

  const stateInputs = graph.state.filter((s) => used.has(s.name)).map((s) => s.name);
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'linpath',
    opsetImport: [{ domain: '', version: OPSET }],
    graph: onnx.GraphProto.create({
      name: graph.architecture,
      node: nodes,
      input: [
        valueInfo(INPUT, [BATCH, ...graph.inputShape]),
        ...stateInputs.map((name) => valueInfo(name, specs.get(name)!.shape)),
      ],
      output: [valueInfo(graph.output, [BATCH, graph.outputs])],
    }),
  });
  return { model: onnx.ModelProto.encode(model).finish(), stateInputs };
}

function lowerNode(node: Node, ranks: ReadonlyMap<string, number>): { protos: NodeProto[]; rank: number } {
  const rankOf = (value: string): number => ranks.get(value)!;
  const spatial = (value: string): void => {
    if (rankOf(value) !== 4) {
      throw new Error(`lowerToOnnx: ${describe(node)} expects a 4-D [N, C, H, W] input, got rank ${rankOf(value)}`);
    }
  };
  switch (node.op) {
    case 'linear': {
      // Gemm takes exactly 2-D A; the IR's linear is defined on [N, in] only (a flatten precedes it).
      if (rankOf(node.input) !== 2) {
        throw new Error(`lowerToOnnx: ${describe(node)} expects a 2-D [N, in] input, got rank ${rankOf(node.input)}`);
      }
      const inputs = node.bias === undefined ? [node.input, node.weight] : [node.input, node.weight, node.bias];
      return { protos: [nodeProto('Gemm', inputs, node.output, [intAttr('transB', 1)])], rank: 2 };
    }
    case 'conv2d': {
      spatial(node.input);
      const inputs = node.bias === undefined ? [node.input, node.weight] : [node.input, node.weight, node.bias];
      const attributes = [
        intsAttr('kernel_shape', node.kernel),
        intsAttr('strides', node.stride),
        intsAttr('pads', pads(node.padding)),
        intsAttr('dilations', [1, 1]),
        intAttr('group', node.groups ?? 1),
      ];
      return { protos: [nodeProto('Conv', inputs, node.output, attributes)], rank: 4 };
    }
    case 'batchnorm': {
      const inputs = [node.input, node.weight, node.bias, node.runningMean, node.runningVar];
      return {
        protos: [nodeProto('BatchNormalization', inputs, node.output, [floatAttr('epsilon', node.eps)])],
        rank: rankOf(node.input),
      };
    }
    case 'relu':
      return { protos: [nodeProto('Relu', [node.input], node.output)], rank: rankOf(node.input) };
    case 'hardswish':
      return { protos: [nodeProto('HardSwish', [node.input], node.output)], rank: rankOf(node.input) };
    case 'hardsigmoid': {
      const attributes = [floatAttr('alpha', node.alpha), floatAttr('beta', node.beta)];
      return { protos: [nodeProto('HardSigmoid', [node.input], node.output, attributes)], rank: rankOf(node.input) };
    }
    case 'sigmoid':
      return { protos: [nodeProto('Sigmoid', [node.input], node.output)], rank: rankOf(node.input) };
    case 'clip': {
      // Since opset 11 Clip takes its bounds as inputs: two scalar initializers next to the node.
      const [min, max] = [`${node.output}/min`, `${node.output}/max`];
      return {
        protos: [
          constantProto(min, node.min),
          constantProto(max, node.max),
          nodeProto('Clip', [node.input, min, max], node.output),
        ],
        rank: rankOf(node.input),
      };
    }
    case 'add':
    case 'mul': {
      const [a, b] = node.inputs;
      if (rankOf(a) !== rankOf(b)) {
        throw new Error(`lowerToOnnx: ${describe(node)} combines values of rank ${rankOf(a)} and ${rankOf(b)}`);
      }
      return { protos: [nodeProto(node.op === 'add' ? 'Add' : 'Mul', [a, b], node.output)], rank: rankOf(a) };
    }
    case 'maxpool2d': {
      spatial(node.input);
      const attributes = [
        intsAttr('kernel_shape', node.kernel),
        intsAttr('strides', node.stride),
        intsAttr('pads', pads(node.padding)),
        intAttr('ceil_mode', 0),
      ];
      return { protos: [nodeProto('MaxPool', [node.input], node.output, attributes)], rank: 4 };
    }
    case 'global_avgpool': {
      spatial(node.input);
      // GlobalAveragePool keeps H and W as 1s: [N, C, 1, 1]; the IR's op also flattens to [N, C].
      const pooled = `${node.output}/pooled`;
      return {
        protos: [
          nodeProto('GlobalAveragePool', [node.input], pooled),
          nodeProto('Flatten', [pooled], node.output, [intAttr('axis', 1)]),
        ],
        rank: 2,
      };
    }
    case 'global_avgpool_keep':
      spatial(node.input);
      return { protos: [nodeProto('GlobalAveragePool', [node.input], node.output)], rank: 4 };
    case 'flatten':
      return { protos: [nodeProto('Flatten', [node.input], node.output, [intAttr('axis', 1)])], rank: 2 };
    default:
      throw new UnreachableCaseError(node);
  }
}

/** torch's symmetric (pad_h, pad_w) as ONNX's [top, left, bottom, right]. */
const pads = ([h, w]: Pair): number[] => [h, w, h, w];

const describe = describeNode;

function nodeProto(opType: string, input: string[], output: string, attribute: AttributeProto[] = []): NodeProto {
  return onnx.NodeProto.create({ opType, input, output: [output], name: output, attribute });
}

/** A float32 scalar as a Constant node. */
function constantProto(output: string, value: number): NodeProto {
  const tensor = onnx.TensorProto.create({ dims: [], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [value] });
  const attribute = onnx.AttributeProto.create({
    name: 'value',
    type: onnx.AttributeProto.AttributeType.TENSOR,
    t: tensor,
  });
  return nodeProto('Constant', [], output, [attribute]);
}

const intAttr = (name: string, i: number): AttributeProto =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i });

const intsAttr = (name: string, ints: readonly number[]): AttributeProto =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...ints] });

const floatAttr = (name: string, f: number): AttributeProto =>
  onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });

function valueInfo(name: string, shape: ReadonlyArray<number | string>) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  });
}

import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { checkGraph, INPUT, type ModelGraph, type Node, type Op, type Pair } from '../model-ir.js';
import type { OnnxArchitecture } from './onnx.import.js';

const { onnx } = onnxProto;

/** Why an ONNX node has no IR form: its op type and, where the op is known, what about it is not. */
class Unsupported extends Error {}

/**
 * The ModelGraph of an architecture defined by an ONNX export. When every node has an IR form (the ops of
 * docs/architectures.md#routes with the attributes PyTorch exports) the graph holds the lowered nodes and both
 * engines run it like a built-in; otherwise `nodes` is empty and `onnx.unsupportedOps` says which op types kept
 * it from the IR: ONNX Runtime then runs the export itself.
 */
export function userModelGraph(name: string, arch: OnnxArchitecture): ModelGraph {
  // The model as read (readOnnxArchitecture may have undone the exporter's deduplication of parameters).
  const model = onnx.ModelProto.encode(arch.model).finish();
  const parameters = new Map(arch.parameters.map((p) => [p.name, p]));
  const runningStats = arch.model
    .graph!.node!.filter((n) => n.opType === 'BatchNormalization')
    .flatMap((n) => (n.input ?? []).slice(3, 5).filter((i) => parameters.has(i)));
  const blocks = topLevelBlocks(arch.parameters.map((p) => p.name));
  const base: ModelGraph = {
    architecture: name,
    inputShape: [...arch.input.shape],
    output: arch.output.name,
    outputs: arch.output.outputs,
    nodes: [],
    state: arch.parameters.map((p) => ({ ...p, shape: [...p.shape] })),
    blocks,
    aliases: {},
    onnx: {
      model,
      sha256: arch.sha256,
      input: arch.input.name,
      output: arch.output.name,
      unsupportedOps: [],
      runningStats,
    },
  };
  const { nodes, output, unsupported } = lowerNodes(arch, parameters);
  if (unsupported.length > 0) return { ...base, onnx: { ...base.onnx!, unsupportedOps: unsupported } };
  const graph: ModelGraph = { ...base, nodes, output };
  try {
    checkGraph(graph, 'onnx import');
  } catch (error) {
    return { ...base, onnx: { ...base.onnx!, unsupportedOps: [`(the lowered graph: ${(error as Error).message})`] } };
  }
  return graph;
}

/** State_dict prefixes a block-wise path offers: every top-level module, in order of first use. */
export function topLevelBlocks(names: readonly string[]): string[] {
  return [...new Set(names.map((n) => (n.includes('.') ? n.slice(0, n.indexOf('.')) : n)))];
}

/** Top-level modules and the modules one level below them (`features`, `features.0`, …), for the dashboard. */
export function blockChoices(names: readonly string[]): string[] {
  const choices: string[] = [];
  for (const name of names) {
    const parts = name.split('.');
    for (const depth of [1, 2]) {
      if (parts.length > depth) {
        const prefix = parts.slice(0, depth).join('.');
        if (!choices.includes(prefix)) choices.push(prefix);
      }
    }
  }
  return choices;
}

interface Lowered {
  nodes: Node[];
  output: string;
  /** Op types with no IR form, each with the first reason seen. */
  unsupported: string[];
}

function lowerNodes(arch: OnnxArchitecture, parameters: ReadonlyMap<string, unknown>): Lowered {
  const graph = arch.model.graph!;
  // ONNX value → IR value: the data input is the IR's `x`; Dropout and Identity forward their input.
  const values = new Map<string, string>([[arch.input.name, INPUT]]);
  const ranks = new Map<string, number>([[INPUT, 1 + arch.input.shape.length]]);
  const constants = new Map<string, number>();
  for (const tensor of graph.initializer ?? []) {
    const scalar = scalarOf(tensor);
    if (scalar !== undefined && !parameters.has(tensor.name ?? '')) constants.set(tensor.name ?? '', scalar);
  }
  const nodes: Node[] = [];
  const unsupported = new Map<string, string>();
  let block = topLevelBlocks([...parameters.keys()])[0] ?? 'model';

  // Values an op with no IR form computed: ops that read them are not reasons of their own.
  const failed = new Set<string>();
  for (const proto of graph.node ?? []) {
    const op = proto.opType ?? '';
    if ((proto.input ?? []).some((input) => failed.has(input))) {
      for (const output of proto.output ?? []) failed.add(output);
      continue;
    }
    try {
      if (op === 'Constant') {
        const value = attribute(proto, 'value');
        const scalar = value?.t == null ? undefined : scalarOf(value.t);
        if (scalar === undefined) throw new Unsupported('Constant (not a float scalar)');
        constants.set(proto.output![0]!, scalar);
        continue;
      }
      const inputs = proto.input ?? [];
      const value = (i: number): string => {
        const name = inputs[i] ?? '';
        const ir = values.get(name);
        if (ir === undefined)
          throw new Unsupported(`${op} (input ${i} is ${parameters.has(name) ? 'a parameter' : 'not an activation'})`);
        return ir;
      };
      const param = (i: number): string => {
        const name = inputs[i] ?? '';
        if (!parameters.has(name)) throw new Unsupported(`${op} (input ${i} is not a parameter)`);
        return name;
      };
      const optionalParam = (i: number): string | undefined => ((inputs[i] ?? '') === '' ? undefined : param(i));
      const output = proto.output?.[0] ?? '';
      if (op === 'Dropout' || op === 'Identity') {
        if ((proto.output ?? []).filter((o) => o !== '').length > 1) throw new Unsupported(`${op} (mask output)`);
        if (op === 'Dropout' && (inputs[2] ?? '') !== '') throw new Unsupported('Dropout (training_mode input)');
        values.set(output, value(0));
        continue;
      }
      const lowered = lowerOp(proto, op, output, {
        value,
        param,
        optionalParam,
        rank: (v) => ranks.get(v)!,
        constants,
      });
      const first = lowered.parameters[0];
      if (first !== undefined) block = topLevelBlocks([first])[0]!;
      nodes.push({ ...lowered.op, block } as Node);
      values.set(output, output);
      ranks.set(output, lowered.rank);
    } catch (error) {
      if (!(error instanceof Unsupported)) throw error;
      for (const output of proto.output ?? []) failed.add(output);
      if (!unsupported.has(op)) unsupported.set(op, error.message);
    }
  }
  const output = values.get(arch.output.name) ?? arch.output.name;
  return { nodes, output, unsupported: [...unsupported.values()] };
}

interface Reader {
  value(i: number): string;
  param(i: number): string;
  optionalParam(i: number): string | undefined;
  rank(value: string): number;
  constants: ReadonlyMap<string, number>;
}

function lowerOp(
  proto: Onnx.INodeProto,
  op: string,
  output: string,
  r: Reader,
): { op: Op; rank: number; parameters: string[] } {
  const unary = (kind: 'relu' | 'sigmoid' | 'hardswish') => {
    const input = r.value(0);
    return { op: { op: kind, input, output } as Op, rank: r.rank(input), parameters: [] };
  };
  switch (op) {
    case 'Relu':
      return unary('relu');
    case 'Sigmoid':
      return unary('sigmoid');
    case 'HardSwish':
      return unary('hardswish');
    case 'HardSigmoid': {
      const input = r.value(0);
      const alpha = floatAttr(proto, 'alpha', 0.2);
      const beta = floatAttr(proto, 'beta', 0.5);
      return { op: { op: 'hardsigmoid', input, output, alpha, beta }, rank: r.rank(input), parameters: [] };
    }
    case 'Clip': {
      const input = r.value(0);
      const bound = (i: number, fallback: number): number => {
        const name = proto.input?.[i] ?? '';
        if (name === '') return fallback;
        const v = r.constants.get(name);
        if (v === undefined) throw new Unsupported('Clip (bounds that are not constants)');
        return v;
      };
      return {
        op: { op: 'clip', input, output, min: bound(1, -Infinity), max: bound(2, Infinity) },
        rank: r.rank(input),
        parameters: [],
      };
    }
    case 'Add':
    case 'Mul': {
      const a = r.value(0);
      const b = r.value(1);
      if (r.rank(a) !== r.rank(b)) throw new Unsupported(`${op} (values of different ranks)`);
      return { op: { op: op === 'Add' ? 'add' : 'mul', inputs: [a, b], output }, rank: r.rank(a), parameters: [] };
    }
    case 'Gemm': {
      const input = r.value(0);
      if (r.rank(input) !== 2) throw new Unsupported('Gemm (input not 2-D)');
      if (intAttr(proto, 'transA', 0) !== 0 || intAttr(proto, 'transB', 0) !== 1)
        throw new Unsupported('Gemm (transA or not transB)');
      if (floatAttr(proto, 'alpha', 1) !== 1 || floatAttr(proto, 'beta', 1) !== 1)
        throw new Unsupported('Gemm (alpha or beta ≠ 1)');
      const weight = r.param(1);
      const bias = r.optionalParam(2);
      return { op: { op: 'linear', input, output, weight, bias }, rank: 2, parameters: [weight] };
    }
    case 'Conv': {
      const input = r.value(0);
      if (r.rank(input) !== 4) throw new Unsupported('Conv (not 2-D)');
      const weight = r.param(1);
      const bias = r.optionalParam(2);
      const kernel = ints(proto, 'kernel_shape');
      const pads = ints(proto, 'pads') ?? [0, 0, 0, 0];
      const dilations = ints(proto, 'dilations') ?? [1, 1];
      if (
        autoPad(proto) ||
        pads[0] !== pads[2] ||
        pads[1] !== pads[3] ||
        dilations.some((d) => d !== 1) ||
        kernel?.length !== 2
      ) {
        throw new Unsupported('Conv (asymmetric padding, auto_pad or dilation)');
      }
      const groups = intAttr(proto, 'group', 1);
      return {
        op: {
          op: 'conv2d',
          input,
          output,
          weight,
          bias,
          kernel: pairOf(kernel),
          stride: pairOf(ints(proto, 'strides') ?? [1, 1]),
          padding: [pads[0]!, pads[1]!],
          ...(groups === 1 ? {} : { groups }),
        },
        rank: 4,
        parameters: [weight],
      };
    }
    case 'BatchNormalization': {
      const input = r.value(0);
      if (intAttr(proto, 'training_mode', 0) !== 0 || (proto.output ?? []).filter((o) => o !== '').length > 1) {
        throw new Unsupported('BatchNormalization (training mode)');
      }
      const [weight, bias, runningMean, runningVar] = [r.param(1), r.param(2), r.param(3), r.param(4)];
      const eps = floatAttr(proto, 'epsilon', 1e-5);
      return {
        op: { op: 'batchnorm', input, output, weight, bias, runningMean, runningVar, eps },
        rank: r.rank(input),
        parameters: [weight],
      };
    }
    case 'GlobalAveragePool': {
      const input = r.value(0);
      if (r.rank(input) !== 4) throw new Unsupported('GlobalAveragePool (not 2-D)');
      return { op: { op: 'global_avgpool_keep', input, output }, rank: 4, parameters: [] };
    }
    case 'Flatten': {
      const input = r.value(0);
      if (intAttr(proto, 'axis', 1) !== 1) throw new Unsupported('Flatten (axis ≠ 1)');
      return { op: { op: 'flatten', input, output }, rank: 2, parameters: [] };
    }
    case 'MaxPool': {
      const input = r.value(0);
      const kernel = ints(proto, 'kernel_shape');
      const pads = ints(proto, 'pads') ?? [0, 0, 0, 0];
      const dilations = ints(proto, 'dilations') ?? [1, 1];
      if (
        r.rank(input) !== 4 ||
        kernel?.length !== 2 ||
        autoPad(proto) ||
        intAttr(proto, 'ceil_mode', 0) !== 0 ||
        pads[0] !== pads[2] ||
        pads[1] !== pads[3] ||
        dilations.some((d) => d !== 1) ||
        (proto.output ?? []).filter((o) => o !== '').length > 1
      ) {
        throw new Unsupported('MaxPool (ceil mode, dilation, indices or asymmetric padding)');
      }
      return {
        op: {
          op: 'maxpool2d',
          input,
          output,
          kernel: pairOf(kernel),
          stride: pairOf(ints(proto, 'strides') ?? [1, 1]),
          padding: [pads[0]!, pads[1]!],
        },
        rank: 4,
        parameters: [],
      };
    }
    default:
      throw new Unsupported(op);
  }
}

function attribute(proto: Onnx.INodeProto, name: string): Onnx.IAttributeProto | undefined {
  return (proto.attribute ?? []).find((a) => a.name === name);
}

const intAttr = (proto: Onnx.INodeProto, name: string, fallback: number): number => {
  const a = attribute(proto, name);
  return a?.i == null ? fallback : Number(String(a.i));
};

const floatAttr = (proto: Onnx.INodeProto, name: string, fallback: number): number =>
  attribute(proto, name)?.f ?? fallback;

function ints(proto: Onnx.INodeProto, name: string): number[] | undefined {
  const a = attribute(proto, name);
  return a === undefined ? undefined : (a.ints ?? []).map((i) => Number(String(i)));
}

function autoPad(proto: Onnx.INodeProto): boolean {
  const a = attribute(proto, 'auto_pad');
  const value = a?.s == null ? 'NOTSET' : Buffer.from(a.s).toString('utf8');
  return value !== 'NOTSET' && value !== '';
}

const pairOf = (values: readonly number[]): Pair => [values[0]!, values[1]!];

/** A float32 scalar tensor's value, else undefined. */
function scalarOf(tensor: Onnx.ITensorProto): number | undefined {
  if (tensor.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
  if ((tensor.dims ?? []).some((d) => Number(String(d)) !== 1)) return undefined;
  const raw = tensor.rawData;
  if (raw != null && raw.length === 4) return new DataView(raw.buffer, raw.byteOffset, 4).getFloat32(0, true);
  return tensor.floatData?.length === 1 ? tensor.floatData[0] : undefined;
}

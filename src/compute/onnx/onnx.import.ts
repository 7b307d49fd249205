import { createHash } from 'node:crypto';
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { badUserInput, type LinpathError } from '../../errors.js';
import type { StateTensorSpec } from '../model-ir.js';

// onnx-proto is CommonJS: its namespace is reachable only through the default import at run time.
const { onnx } = onnxProto;

/** Bounds on an ONNX file linpath accepts as an architecture (docs/architectures.md#limits). */
export interface OnnxLimits {
  /** The file's size; checked before anything is decoded. */
  maxBytes: number;
  /** Nodes of the graph. */
  maxNodes: number;
  /** Float values of all parameters together. */
  maxParameterValues: number;
  /** Axes of any tensor or value. */
  maxRank: number;
}

export const DEFAULT_ONNX_LIMITS: OnnxLimits = {
  maxBytes: 512 * 1024 * 1024,
  maxNodes: 100_000,
  maxParameterValues: 2 ** 27,
  maxRank: 8,
};

/** An ONNX export read and checked as an architecture: what the registry records and evaluation runs. */
export interface OnnxArchitecture {
  sha256: string;
  bytes: number;
  irVersion: number;
  /** The default domain's opset. */
  opset: number;
  /** Op types and how often each occurs, in order of first occurrence. */
  ops: { op: string; count: number }[];
  /** The data input: its name and per-example shape (the batch axis left out). */
  input: { name: string; shape: number[] };
  /** The logits output and the number of logits per example. */
  output: { name: string; outputs: number };
  /**
   * Float initializers and float graph inputs other than the data input (export_params=False), in graph
   * order: every one named as its state_dict key.
   */
  parameters: StateTensorSpec[];
  /** The decoded model. */
  model: Onnx.ModelProto;
}

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const FLOAT_TYPES = new Set<number>([
  FLOAT,
  onnx.TensorProto.DataType.DOUBLE,
  onnx.TensorProto.DataType.FLOAT16,
  onnx.TensorProto.DataType.BFLOAT16,
]);
const GRAPH_ATTRIBUTES = new Set<number>([
  onnx.AttributeProto.AttributeType.GRAPH,
  onnx.AttributeProto.AttributeType.GRAPHS,
]);
/** A state_dict key: identifiers and indices joined by dots (`features.0.1.weight`, `pos`, `0.weight`). */
const STATE_DICT_KEY = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

/** How to export a model so that every parameter keeps its state_dict name (the refusals cite it). */
export const EXPORT_ADVICE =
  'export the model in eval mode with torch.onnx.export(..., export_params=True, do_constant_folding=False, ' +
  'training=torch.onnx.TrainingMode.PRESERVE) (docs/architectures.md#exporting)';

const bad = (file: string, message: string, cause?: unknown): LinpathError =>
  badUserInput(`${file}: ${message}`, cause);

/**
 * Reads an ONNX file as an architecture. Nothing in it is executed: the protobuf is decoded (after its size is
 * checked), then the graph is checked: one opset of the default domain, no custom domains, no control flow
 * (subgraphs), no external data, nodes in topological order (a cycle or a dangling read is refused), one float
 * data input [N, ...] with known per-example dims, one float output [N, C], and every parameter named as a
 * state_dict key. Every refusal is BAD_USER_INPUT naming `file` and the cause.
 */
export function readOnnxArchitecture(
  bytes: Uint8Array,
  file: string,
  limits: OnnxLimits = DEFAULT_ONNX_LIMITS,
): OnnxArchitecture {
  if (bytes.length > limits.maxBytes) {
    throw bad(file, `the file has ${bytes.length} bytes, more than the ${limits.maxBytes} allowed`);
  }
  if (bytes.length === 0) throw bad(file, 'the file is empty; expected an ONNX model (a ModelProto)');
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw bad(file, `not an ONNX model: the protobuf does not decode (${(error as Error).message})`, error);
  }
  const graph = model.graph;
  if (graph == null) throw bad(file, 'not an ONNX model: it has no graph');
  const irVersion = toInt(model.irVersion, 'ir_version', file);
  if (irVersion < 3) throw bad(file, `expected ONNX IR version 3 or later, got ${irVersion}`);

  const opsets = model.opsetImport ?? [];
  const domains = opsets.map((o) => o.domain ?? '');
  const foreign = domains.filter((d) => d !== '' && d !== 'ai.onnx');
  if (foreign.length > 0)
    throw bad(file, `expected only the default ONNX domain, found custom domains ${foreign.join(', ')}`);
  const main = opsets.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  if (main === undefined) throw bad(file, 'expected an opset import of the default ONNX domain, found none');
  const opset = toInt(main.version, 'opset version', file);

  let nodes = graph.node ?? [];
  if (nodes.length > limits.maxNodes) {
    throw bad(file, `the graph has ${nodes.length} nodes, more than the ${limits.maxNodes} allowed`);
  }
  const initializers = graph.initializer ?? [];
  if ((graph.sparseInitializer ?? []).length > 0) throw bad(file, 'sparse initializers are not supported');
  const initializerNames = new Set<string>();
  const parameters: StateTensorSpec[] = [];
  const unnamed: string[] = [];
  let values = 0;
  const addParameter = (name: string, shape: number[]) => {
    if (!STATE_DICT_KEY.test(name)) unnamed.push(name);
    values += shape.reduce((a, b) => a * b, 1);
    if (values > limits.maxParameterValues) {
      throw bad(file, `the parameters hold more than the ${limits.maxParameterValues} float values allowed`);
    }
    parameters.push({ name, shape, kind: 'float' });
  };

  for (const tensor of initializers) {
    const name = tensor.name ?? '';
    if (name === '' || initializerNames.has(name))
      throw bad(file, `an initializer has ${name === '' ? 'no name' : `the duplicate name "${name}"`}`);
    initializerNames.add(name);
    if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (tensor.externalData ?? []).length > 0) {
      throw bad(
        file,
        `initializer "${name}" keeps its data in an external file, which is not supported; export the model in one file`,
      );
    }
    const shape = (tensor.dims ?? []).map((d) => toInt(d, `initializer "${name}" dims`, file));
    checkShape(shape, `initializer "${name}"`, file, limits);
    if (!FLOAT_TYPES.has(tensor.dataType ?? 0)) continue; // integer constants (shapes, indices) are not parameters
    if (tensor.dataType !== FLOAT) {
      throw bad(
        file,
        `initializer "${name}" is ${onnx.TensorProto.DataType[tensor.dataType ?? 0]}; expected float32 parameters (export the model in float32)`,
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const stored = (tensor.rawData?.length ?? 0) > 0 ? tensor.rawData!.length / 4 : (tensor.floatData ?? []).length;
    if (stored !== count) {
      throw bad(
        file,
        `initializer "${name}" of shape [${shape.join(', ')}] holds ${stored} float values, expected ${count}`,
      );
    }
    addParameter(name, shape);
  }

  const graphInputs = (graph.input ?? []).filter((i) => !initializerNames.has(i.name ?? ''));
  const [data, ...others] = graphInputs;
  if (data === undefined) throw bad(file, 'expected a data input, found none (every graph input is an initializer)');
  const dataShape = valueShape(data, file, limits);
  if (dataShape.type !== FLOAT)
    throw bad(file, `expected the data input "${data.name}" to be float32, got ${typeName(dataShape.type)}`);
  const perExample = dataShape.dims.slice(1);
  if (dataShape.dims.length < 2 || perExample.some((d) => typeof d !== 'number' || d < 1)) {
    throw bad(
      file,
      `expected the data input "${data.name}" to have shape [N, ...] with known per-example dims, got [${dataShape.dims.join(', ')}]`,
    );
  }
  for (const input of others) {
    const { type, dims } = valueShape(input, file, limits);
    if (type !== FLOAT || dims.some((d) => typeof d !== 'number')) {
      throw bad(
        file,
        `graph input "${input.name}" is neither the data input nor a float32 parameter of known shape (${typeName(type)} [${dims.join(', ')}]); expected one data input`,
      );
    }
    addParameter(input.name ?? '', dims as number[]);
  }
  const aliases = undoDeduplication(graph, parameters);
  for (const { name, shape } of aliases) addParameter(name, shape);
  nodes = graph.node ?? [];
  if (unnamed.length > 0) {
    const shown = unnamed.slice(0, 5).join(', ') + (unnamed.length > 5 ? ', …' : '');
    throw bad(
      file,
      `${unnamed.length} of ${parameters.length} parameters are not named as state_dict keys (${shown}): the exporter ` +
        'folded or renamed them (constant folding; BatchNorm folded into Conv in an eval-mode export), and interpolating ' +
        `folded weights is not interpolating the network; ${EXPORT_ADVICE}`,
    );
  }

  const outputs = graph.output ?? [];
  if (outputs.length !== 1) throw bad(file, `expected one output (the logits), found ${outputs.length}`);
  const out = valueShape(outputs[0]!, file, limits);
  const classes = out.dims[1];
  if (out.type !== FLOAT || out.dims.length !== 2 || typeof classes !== 'number' || classes < 1) {
    throw bad(
      file,
      `expected the output "${outputs[0]!.name}" to be float32 [N, C] with a known C, got ${typeName(out.type)} [${out.dims.join(', ')}]`,
    );
  }

  const computed = new Set<string>([
    data.name ?? '',
    ...initializerNames,
    ...others.map((i) => i.name ?? ''),
    ...aliases.map((a) => a.name),
  ]);
  const counts = new Map<string, number>();
  nodes.forEach((node, index) => {
    const what = `node ${index} (${node.opType ?? '?'}${node.name ? ` "${node.name}"` : ''})`;
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx')
      throw bad(file, `${what} is of the custom domain "${node.domain}"`);
    if ((node.attribute ?? []).some((a) => GRAPH_ATTRIBUTES.has(a.type ?? 0))) {
      throw bad(file, `${what} holds a subgraph (control flow such as If, Loop or Scan), which is not supported`);
    }
    for (const input of node.input ?? []) {
      if (input !== '' && !computed.has(input)) {
        throw bad(
          file,
          `${what} reads "${input}", which no earlier node computes (the graph has a cycle or is not in topological order)`,
        );
      }
    }
    for (const output of node.output ?? []) {
      if (output === '') continue;
      if (computed.has(output)) throw bad(file, `${what} computes "${output}", which is computed already`);
      computed.add(output);
    }
    counts.set(node.opType ?? '', (counts.get(node.opType ?? '') ?? 0) + 1);
  });
  if (!computed.has(outputs[0]!.name ?? '')) throw bad(file, `the output "${outputs[0]!.name}" is computed by no node`);

  return {
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    irVersion,
    opset,
    ops: [...counts].map(([op, count]) => ({ op, count })),
    input: { name: data.name ?? '', shape: perExample as number[] },
    output: { name: outputs[0]!.name ?? '', outputs: classes },
    parameters,
    model,
  };
}

/**
 * PyTorch's exporter keeps one initializer for parameters whose values are equal at export time (freshly
 * initialised BatchNorm weights and biases, say) and gives the others as `Identity` nodes of it, named by their
 * own state_dict keys. Interpolating one for all would be another network as soon as their values differ, so
 * each such alias becomes a parameter of its own again: the Identity node is removed and its output becomes an
 * initializer (a copy of its source's values) or, where the source is a graph input (export_params=False), a
 * graph input of the same type. Changes `graph` in place; returns the parameters it added.
 */
function undoDeduplication(graph: Onnx.IGraphProto, parameters: readonly StateTensorSpec[]): StateTensorSpec[] {
  const shapes = new Map(parameters.map((p) => [p.name, p.shape]));
  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const inputs = new Map((graph.input ?? []).map((i) => [i.name ?? '', i]));
  const added: StateTensorSpec[] = [];
  graph.node = (graph.node ?? []).filter((node) => {
    const source = node.input?.[0] ?? '';
    const target = node.output?.[0] ?? '';
    const shape = shapes.get(source);
    if (
      node.opType !== 'Identity' ||
      node.input?.length !== 1 ||
      node.output?.length !== 1 ||
      shape === undefined ||
      !STATE_DICT_KEY.test(target) ||
      shapes.has(target)
    ) {
      return true;
    }
    const tensor = initializers.get(source);
    if (tensor !== undefined) graph.initializer = [...(graph.initializer ?? []), { ...tensor, name: target }];
    else graph.input = [...(graph.input ?? []), { ...inputs.get(source)!, name: target }];
    shapes.set(target, shape);
    added.push({ name: target, shape: [...shape], kind: 'float' });
    return false;
  });
  return added;
}

/** An int64 field as a safe integer (protobufjs gives a Long where `long` is installed). */
function toInt(value: unknown, what: string, file: string): number {
  const n = typeof value === 'number' ? value : value == null ? 0 : Number(String(value));
  if (!Number.isSafeInteger(n)) throw bad(file, `${what}: expected an integer, got ${String(value)}`);
  return n;
}

function checkShape(shape: number[], what: string, file: string, limits: OnnxLimits): void {
  if (shape.length > limits.maxRank)
    throw bad(file, `${what} has ${shape.length} axes, more than the ${limits.maxRank} allowed`);
  if (shape.some((d) => d < 0)) throw bad(file, `${what} has a negative dimension: [${shape.join(', ')}]`);
  if (shape.reduce((a, b) => a * b, 1) > limits.maxParameterValues) {
    throw bad(
      file,
      `${what} of shape [${shape.join(', ')}] has more than the ${limits.maxParameterValues} values allowed`,
    );
  }
}

/** A graph input's or output's element type and dims (a symbolic dim as its name). */
function valueShape(
  info: Onnx.IValueInfoProto,
  file: string,
  limits: OnnxLimits,
): { type: number; dims: (number | string)[] } {
  const tensor = info.type?.tensorType;
  if (tensor == null) throw bad(file, `"${info.name}" is not a tensor`);
  const dims = (tensor.shape?.dim ?? []).map((d) =>
    d.dimParam != null && d.dimParam !== '' ? d.dimParam : toInt(d.dimValue ?? 0, `"${info.name}" dims`, file),
  );
  const known = dims.filter((d): d is number => typeof d === 'number');
  checkShape(known, `"${info.name}"`, file, limits);
  return { type: tensor.elemType ?? 0, dims };
}

const typeName = (type: number): string => onnx.TensorProto.DataType[type] ?? `type ${type}`;

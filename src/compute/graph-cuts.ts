import { INPUT, opInputs, opParameters, valueShapes, type ModelGraph, type Node } from './model-ir.js';

/**
 * A place where a graph can be cut in two: before node `index`, the ops from `index` on read exactly one value
 * computed before it (or the input `x`), `value`. Everything before the cut is then a function of `x` alone whose
 * result is `value`, and everything from the cut on a function of `value` (and the state) alone.
 */
export interface Cut {
  index: number;
  value: string;
  /** Per-example shape of `value` (batch axis left out). */
  shape: number[];
}

/**
 * Every cut of the graph, in execution order; the first is always index 0 (`x`). A block boundary of a
 * sequential network (ResNet between stages, an MLP between layers) is one; a point inside a residual block,
 * where the skip connection is live beside the main branch, is not.
 */
export function graphCuts(graph: ModelGraph): Cut[] {
  const defined = new Map<string, number>([[INPUT, -1]]);
  const lastRead = new Map<string, number>();
  graph.nodes.forEach((node, index) => {
    for (const input of opInputs(node)) lastRead.set(input, index);
    defined.set(node.output, index);
  });
  const shapes = valueShapes(graph);
  const cuts: Cut[] = [];
  for (let index = 0; index < graph.nodes.length; index++) {
    const live = [...lastRead].filter(([value, last]) => defined.get(value)! < index && last >= index);
    if (live.length === 1) {
      const [value] = live[0]!;
      cuts.push({ index, value, shape: [...shapes.get(value)!] });
    }
  }
  return cuts;
}

/** Index of the first op that reads a moving tensor (the graph's length when none does). */
export function firstMovingNode(graph: ModelGraph, moving: ReadonlySet<string> | 'all'): number {
  if (moving === 'all') return 0;
  const index = graph.nodes.findIndex((node) => opParameters(node).some((name) => moving.has(name)));
  return index === -1 ? graph.nodes.length : index;
}

/**
 * Where a path that moves `moving` is cut: the last cut at or before its first moving op, so that the part
 * before it is at θ_to for every α. Undefined when that is the input itself (nothing to reuse) or when no op
 * reads a moving tensor.
 */
export function prefixCut(graph: ModelGraph, moving: ReadonlySet<string> | 'all'): Cut | undefined {
  const first = firstMovingNode(graph, moving);
  if (first >= graph.nodes.length) return undefined;
  const cut = graphCuts(graph)
    .filter((c) => c.index <= first)
    .at(-1);
  return cut === undefined || cut.index === 0 ? undefined : cut;
}

/**
 * Where the moving part of a path ends: a cut after its last moving op, so that every op from it on reads θ_to's
 * tensors at every α (only its input changes). Of the cuts between the last moving op and the next op that reads
 * any parameter, the last: the same cut as the next block's prefixCut. Undefined when no op with parameters
 * follows the moving ones (or no cut precedes it), when every tensor moves, or when no op reads a moving tensor.
 */
export function suffixCut(graph: ModelGraph, moving: ReadonlySet<string> | 'all'): Cut | undefined {
  if (moving === 'all') return undefined;
  let last = -1;
  graph.nodes.forEach((node, index) => {
    if (opParameters(node).some((name) => moving.has(name))) last = index;
  });
  if (last === -1) return undefined;
  const next = graph.nodes.findIndex((node, index) => index > last && opParameters(node).length > 0);
  if (next === -1) return undefined;
  return graphCuts(graph)
    .filter((cut) => cut.index > last && cut.index <= next)
    .at(-1);
}

/**
 * The ops from cut `from` (undefined: the input) up to cut `to` (undefined: the end) as a graph of its own: its
 * input `x` is `from`'s value, its output `to`'s value flattened to [N, values] (the same row-major values, so
 * the next segment reads them in its own input layout), or the logits when `to` is the end.
 */
export function segmentGraph(graph: ModelGraph, from: Cut | undefined, to: Cut | undefined): ModelGraph {
  const start = from?.index ?? 0;
  const end = to?.index ?? graph.nodes.length;
  if (end <= start) throw new RangeError(`segmentGraph: empty segment [${start}, ${end}) of ${graph.architecture}`);
  const nodes = graph.nodes.slice(start, end).map((node) => (from === undefined ? node : reading(node, from.value)));
  const name = `${graph.architecture}/segment:${from?.value ?? INPUT}..${to?.value ?? graph.output}`;
  // An ONNX export the graph came from (ModelGraph.onnx) is not carried over: a segment runs on its IR ops.
  const base: ModelGraph = {
    architecture: name,
    inputShape: from === undefined ? graph.inputShape : from.shape,
    output: graph.output,
    outputs: graph.outputs,
    nodes,
    state: graph.state,
    blocks: graph.blocks,
    aliases: graph.aliases,
  };
  if (to === undefined) return base;
  const flat = `${to.value}/flat`;
  const last = nodes.at(-1)!;
  return {
    ...base,
    nodes: [...nodes, { op: 'flatten', input: to.value, output: flat, block: last.block }],
    output: flat,
    outputs: to.shape.reduce((a, b) => a * b, 1),
  };
}

/** `node` with every read of `value` made a read of the input `x`. */
function reading(node: Node, value: string): Node {
  if (value === INPUT) return node;
  if (node.op === 'add' || node.op === 'mul') {
    const [a, b] = node.inputs;
    return { ...node, inputs: [a === value ? INPUT : a, b === value ? INPUT : b] };
  }
  return node.input === value ? { ...node, input: INPUT } : node;
}

/**
 * Multiply-accumulates per example of each op, the estimate of its cost that job sizes are planned with:
 * convolutions and linear layers; every other op counts 0.
 */
export function opCosts(graph: ModelGraph): number[] {
  const shapes = valueShapes(graph);
  const stateShapes = new Map(graph.state.map((s) => [s.name, s.shape]));
  return graph.nodes.map((node) => {
    if (node.op !== 'conv2d' && node.op !== 'linear') return 0;
    const weight = stateShapes.get(node.weight)!.reduce((a, b) => a * b, 1);
    if (node.op === 'linear') return weight;
    const [, h = 1, w = 1] = shapes.get(node.output)!;
    return weight * h * w;
  });
}

/**
 * How a path's work splits under prefix reuse, as shares of one whole forward pass (by opCosts): `before` its
 * cut (run once per batch of examples, whatever the number of α) and `after` it (run per α). Undefined when the
 * path has no cut (evaluated naively).
 */
export function reuseShares(
  graph: ModelGraph,
  moving: ReadonlySet<string> | 'all',
): { before: number; after: number } | undefined {
  const cut = prefixCut(graph, moving);
  if (cut === undefined) return undefined;
  const costs = opCosts(graph);
  const total = costs.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const before = costs.slice(0, cut.index).reduce((a, b) => a + b, 0) / total;
  return { before, after: 1 - before };
}

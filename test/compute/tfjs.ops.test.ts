import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/compute/architectures/graph-builder.js';
import { INPUT, type ModelGraph, type Node, type OpKind } from '../../src/compute/model-ir.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { lowerToTfjs } from '../../src/compute/tfjs/tfjs.lowering.js';
import { UnreachableCaseError } from '../../src/errors.js';
import { maxAbsDiff } from '../helpers/engine-fixtures.js';
import { interpretMobileOp, mobileOpsGraph } from '../helpers/mobile-ops.js';

/**
 * Every IR op kind lowered to tfjs, checked against a direct float64 NCHW interpretation of the IR (below),
 * on small graphs built to catch layout mistakes: even spatial sizes with stride-2 convolutions and pools
 * (where tfjs' 'same' padding would put the extra row at the end, PyTorch's at both ends), negative values
 * entering a padded max-pool (zero padding would win), a flatten of a 4-D activation (NCHW order) and a
 * PyTorch-layout input of rank 3 ([N, C, L]: BatchNorm1d on axis 1).
 */

/** Adding an op kind to the IR breaks compilation here until the graph below uses it. */
const ALL_OP_KINDS: Record<OpKind, true> = {
  linear: true,
  conv2d: true,
  batchnorm: true,
  relu: true,
  add: true,
  maxpool2d: true,
  global_avgpool: true,
  flatten: true,
  hardswish: true,
  hardsigmoid: true,
  sigmoid: true,
  clip: true,
  mul: true,
  global_avgpool_keep: true,
};

/** x [N, 3, 8, 8] → every op kind → logits [N, 5]. */
function everyOpGraph(): ModelGraph {
  const b = new GraphBuilder();
  b.inBlock('stem');
  let x = b.conv2d(INPUT, 'conv1', { in: 3, out: 4 }, [3, 3], [2, 2], [1, 1], true); // [N, 4, 4, 4]
  x = b.relu(b.batchnorm(x, 'bn1', 4));
  b.inBlock('body');
  const y = b.conv2d(x, 'conv2', { in: 4, out: 4 }, [3, 3], [1, 1], [1, 1]);
  const sum = b.add(y, x); // no ReLU after: the pool sees negative values next to its padding
  const pooled = b.maxpool2d(sum, [3, 3], [2, 2], [1, 1]); // [N, 4, 2, 2]
  b.inBlock('head');
  const fromPool = b.linear(b.flatten(pooled), 'fc_flat', 16, 5);
  const fromMean = b.linear(b.globalAvgpool(sum), 'fc_mean', 4, 5);
  const logits = b.add(fromPool, fromMean);
  return graphOf(b, [3, 8, 8], logits, 5, ['stem', 'body', 'head']);
}

/** x [N, 4, 6] (PyTorch layout, channels on axis 1) → BatchNorm1d → ReLU → flatten → Linear → [N, 3]. */
function sequenceGraph(): ModelGraph {
  const b = new GraphBuilder().inBlock('body');
  const x = b.relu(b.batchnorm(INPUT, 'bn', 4));
  const logits = b.linear(b.flatten(x), 'fc', 24, 3);
  return graphOf(b, [4, 6], logits, 3, ['body']);
}

function graphOf(b: GraphBuilder, inputShape: number[], output: string, outputs: number, blocks: string[]): ModelGraph {
  return { architecture: 'ops-test', inputShape, output, outputs, nodes: b.nodes, state: b.state, blocks, aliases: {} };
}

/** Deterministic values in [lo, hi) (mulberry32). */
function random(seed: number): (lo: number, hi: number) => number {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  };
}

function randomState(graph: ModelGraph, seed: number): Map<string, Float32Array> {
  const next = random(seed);
  const state = new Map<string, Float32Array>();
  for (const spec of graph.state) {
    if (spec.kind !== 'float') continue;
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const positive = spec.name.endsWith('running_var');
    state.set(
      spec.name,
      Float32Array.from({ length: size }, () => (positive ? next(0.5, 1.5) : next(-1, 1))),
    );
  }
  return state;
}

// ---- A direct interpretation of the IR in float64, NCHW, as torch.nn defines each op. ----

interface Value {
  shape: number[];
  data: Float64Array;
}

function interpret(
  graph: ModelGraph,
  state: ReadonlyMap<string, Float32Array>,
  x: Float32Array,
  n: number,
): Float64Array {
  const values = new Map<string, Value>([[INPUT, { shape: [n, ...graph.inputShape], data: Float64Array.from(x) }]]);
  const get = (name: string): Value => values.get(name)!;
  const param = (name: string): Float32Array => state.get(name)!;
  for (const node of graph.nodes) values.set(node.output, interpretNode(node, get, param));
  return get(graph.output).data;
}

function interpretNode(node: Node, get: (name: string) => Value, param: (name: string) => Float32Array): Value {
  const mobile = interpretMobileOp(node, get, param);
  if (mobile !== undefined) return { shape: mobile.shape, data: Float64Array.from(mobile.data) };
  switch (node.op) {
    case 'linear': {
      const { shape, data } = get(node.input);
      const [n, inF] = shape as [number, number];
      const w = param(node.weight);
      const outF = w.length / inF;
      const out = new Float64Array(n * outF);
      for (let i = 0; i < n; i++) {
        for (let o = 0; o < outF; o++) {
          let acc = node.bias === undefined ? 0 : param(node.bias)[o]!;
          for (let k = 0; k < inF; k++) acc += data[i * inF + k]! * w[o * inF + k]!;
          out[i * outF + o] = acc;
        }
      }
      return { shape: [n, outF], data: out };
    }
    case 'conv2d':
    case 'maxpool2d': {
      const { shape, data } = get(node.input);
      const [n, c, h, w] = shape as [number, number, number, number];
      const [kh, kw] = node.kernel;
      const [sh, sw] = node.stride;
      const [ph, pw] = node.padding;
      const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
      const wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
      const weight = node.op === 'conv2d' ? param(node.weight) : undefined;
      const co = weight === undefined ? c : weight.length / (c * kh * kw);
      const out = new Float64Array(n * co * ho * wo);
      for (let b = 0; b < n; b++) {
        for (let o = 0; o < co; o++) {
          for (let i = 0; i < ho; i++) {
            for (let j = 0; j < wo; j++) {
              let acc =
                weight === undefined
                  ? -Infinity
                  : node.op === 'conv2d' && node.bias !== undefined
                    ? param(node.bias)[o]!
                    : 0;
              for (let a = 0; a < kh; a++) {
                for (let d = 0; d < kw; d++) {
                  const y = i * sh - ph + a;
                  const z = j * sw - pw + d;
                  if (y < 0 || y >= h || z < 0 || z >= w) continue; // zero padding (conv), -inf padding (pool)
                  if (weight === undefined) acc = Math.max(acc, data[((b * c + o) * h + y) * w + z]!);
                  else {
                    for (let k = 0; k < c; k++)
                      acc += data[((b * c + k) * h + y) * w + z]! * weight[((o * c + k) * kh + a) * kw + d]!;
                  }
                }
              }
              out[((b * co + o) * ho + i) * wo + j] = acc;
            }
          }
        }
      }
      return { shape: [n, co, ho, wo], data: out };
    }
    case 'batchnorm': {
      const { shape, data } = get(node.input);
      const channels = shape[1]!;
      const inner = shape.slice(2).reduce((a, b) => a * b, 1);
      const [g, beta, mean, variance] = [node.weight, node.bias, node.runningMean, node.runningVar].map(
        param,
      ) as Float32Array[];
      const out = data.map((v, i) => {
        const ch = Math.floor(i / inner) % channels;
        return ((v - mean![ch]!) / Math.sqrt(variance![ch]! + node.eps)) * g![ch]! + beta![ch]!;
      });
      return { shape, data: out };
    }
    case 'relu': {
      const { shape, data } = get(node.input);
      return { shape, data: data.map((v) => Math.max(v, 0)) };
    }
    case 'add': {
      const [a, b] = node.inputs.map(get) as [Value, Value];
      return { shape: a.shape, data: a.data.map((v, i) => v + b.data[i]!) };
    }
    case 'global_avgpool': {
      const { shape, data } = get(node.input);
      const [n, c, h, w] = shape as [number, number, number, number];
      const out = new Float64Array(n * c);
      for (let i = 0; i < n * c; i++) {
        let sum = 0;
        for (let k = 0; k < h * w; k++) sum += data[i * h * w + k]!;
        out[i] = sum / (h * w);
      }
      return { shape: [n, c], data: out };
    }
    case 'flatten': {
      const { shape, data } = get(node.input);
      return { shape: [shape[0]!, data.length / shape[0]!], data };
    }
    case 'hardswish':
    case 'hardsigmoid':
    case 'sigmoid':
    case 'clip':
    case 'mul':
    case 'global_avgpool_keep':
      throw new Error(`interpretMobileOp handles ${node.op}`);
    default:
      throw new UnreachableCaseError(node);
  }
}

// ---- Tests ----

describe.each(['wasm', 'cpu'] as const)('tfjs lowering on %s', (backend) => {
  let engine: TfjsEngine;
  beforeAll(async () => {
    engine = await TfjsEngine.create({ backend });
  });
  afterAll(() => engine.close());

  it.each([
    { name: 'every op kind, images [N, 3, 8, 8]', graph: everyOpGraph() },
    { name: 'BatchNorm1d, flatten and Linear on [N, 4, 6]', graph: sequenceGraph() },
    {
      name: 'grouped and depthwise convolutions, squeeze-excitation, HardSwish, Clip, Sigmoid',
      graph: mobileOpsGraph(),
    },
  ])('$name: matches a float64 interpretation of the IR', async ({ graph }) => {
    const n = 3;
    const next = random(11);
    const size = graph.inputShape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: n * size }, () => next(-2, 2));
    const state = randomState(graph, 5);
    const before = tf.memory().numTensors;

    const prepared = await engine.prepare(graph);
    const bound = await prepared.bind(state);
    const logits = await bound.logits(x, n);
    await bound.dispose();
    await prepared.dispose();

    expect(logits.length).toBe(n * graph.outputs);
    expect(maxAbsDiff(logits, Float32Array.from(interpret(graph, state, x, n)))).toBeLessThanOrEqual(1e-5);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('lowerToTfjs', () => {
  it('is given graphs that use every op kind', () => {
    const kinds = [...everyOpGraph().nodes, ...mobileOpsGraph().nodes].map((node) => node.op);
    expect(new Set(kinds)).toEqual(new Set(Object.keys(ALL_OP_KINDS)));
  });

  it('uploads depthwise filters [C·m, 1, kh, kw] as [kh, kw, C, m] and grouped ones as HWIO', () => {
    const { parameters } = lowerToTfjs(mobileOpsGraph());
    expect(parameters.find((p) => p.name === 'depthwise.weight')).toMatchObject({ layout: 'depthwise', groups: 4 });
    expect(parameters.find((p) => p.name === 'grouped.weight')).toMatchObject({ layout: 'hwio' });
  });

  it('uploads conv filters transposed to [kh, kw, in, out] and every other tensor as stored', () => {
    const { parameters } = lowerToTfjs(everyOpGraph());
    expect(parameters.filter((p) => p.layout === 'hwio').map((p) => p.name)).toEqual(['conv1.weight', 'conv2.weight']);
    expect(parameters.map((p) => p.name)).not.toContain('bn1.num_batches_tracked');
  });

  it('rejects graphs no builder should make, naming the op', () => {
    const linearOnImage: ModelGraph = { ...sequenceGraph(), inputShape: [4, 6, 6] };
    linearOnImage.nodes = linearOnImage.nodes
      .filter((node) => node.op !== 'flatten')
      .map((node) => (node.op === 'linear' ? { ...node, input: linearOnImage.nodes[1]!.output } : node));
    expect(() => lowerToTfjs(linearOnImage)).toThrow(
      /linear "fc:\d+" \(block body\) needs a 2-D value, "relu:\d+" is 4-D/,
    );

    const dangling: ModelGraph = { ...sequenceGraph() };
    dangling.nodes = dangling.nodes.slice(1);
    expect(() => lowerToTfjs(dangling)).toThrow(/reads "bn:\d+", which no earlier op computes/);

    const undeclared: ModelGraph = { ...sequenceGraph() };
    undeclared.state = undeclared.state.filter((spec) => spec.name !== 'fc.bias');
    expect(() => lowerToTfjs(undeclared)).toThrow(
      /reads state tensor "fc.bias", which the graph's state does not declare/,
    );
  });
});

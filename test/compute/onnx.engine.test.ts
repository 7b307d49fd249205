import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { PreparedModel } from '../../src/compute/engine.js';
import { INPUT, type ModelGraph, type Node, type Pair } from '../../src/compute/model-ir.js';
import { OnnxEngine } from '../../src/compute/onnx/onnx.engine.js';
import { interpolateState } from '../../src/domain/interpolation.js';
import { isLinpathError } from '../../src/errors.js';
import {
  evaluatePoint,
  fixtureFloats,
  maxAbsDiff,
  readCheckpointFixture,
  readReferenceFixture,
  readSafetensorsFixture,
  readTestSetFixture,
} from '../helpers/engine-fixtures.js';
import { interpretMobileOp, mobileOpsGraph } from '../helpers/mobile-ops.js';

/**
 * Tolerances (fixtures/mlp/README.md, "Tolerances to expect"): logits within 1e-5 absolute of PyTorch's,
 * mean loss within 1e-5 relative. Accuracy is exact except for samples whose reference logit lies within
 * 1e-4 of the decision boundary (`decision_margins.count_margin_below_0.0001`): with logits 1e-5 apart only
 * those can flip, so |Δcorrect| at an α may be at most that α's count.
 */
const LOGIT_TOLERANCE = 1e-5;
const LOSS_RELATIVE_TOLERANCE = 1e-5;

describe('OnnxEngine on the MLP fixture (PyTorch reference, 5000 test points)', () => {
  const init = readCheckpointFixture('mlp/init.safetensors');
  const reference = readReferenceFixture('mlp/reference.json');
  const referenceLogits = readSafetensorsFixture('mlp/reference_logits.safetensors');
  const test = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
  const summary: string[] = [];
  let engine: OnnxEngine;
  let prepared: PreparedModel;
  let graph: ModelGraph;

  beforeAll(async () => {
    engine = await OnnxEngine.create({ provider: 'cpu', threads: 2 });
    graph = buildModelGraph('mlp', init.tensors);
    prepared = await engine.prepare(graph);
  });

  afterAll(async () => {
    await prepared?.dispose();
    await engine?.close();
    console.info(`onnx mlp:\n${summary.join('\n')}`);
  });

  it('names itself and its runtime', () => {
    expect(engine.name).toBe('onnx');
    expect(engine.version).toBe('onnxruntime-node 1.30.0 cpu');
  });

  it.each([
    { curve: 'full', end: 'mlp/final.safetensors' },
    { curve: 'full_epoch5', end: 'mlp/epoch5.safetensors' },
  ] as const)('init → $end: logits, loss and accuracy at all 11 α match PyTorch ($curve)', async ({ curve, end }) => {
    const to = readCheckpointFixture(end).state;
    const expected = reference[curve]!;
    const margins = reference.decision_margins[curve]!['count_margin_below_0.0001'];
    const logits = fixtureFloats(referenceLogits, curve, [11, test.n]);
    let worst = 0;
    let milliseconds = 0;
    for (const [i, alpha] of reference.alphas.entries()) {
      const point = await evaluatePoint(
        prepared,
        interpolateState(init.state, to, alpha, 'all'),
        test,
        graph.outputs,
        test.n,
      );
      const diff = maxAbsDiff(point.logits, logits.subarray(i * test.n, (i + 1) * test.n));
      worst = Math.max(worst, diff);
      milliseconds += point.milliseconds;
      expect(diff, `α=${alpha} max |Δlogit|`).toBeLessThanOrEqual(LOGIT_TOLERANCE);
      const loss = point.tally.lossSum / point.tally.n;
      expect(Math.abs(loss - expected.loss[i]!), `α=${alpha} loss ${loss} vs ${expected.loss[i]}`).toBeLessThanOrEqual(
        LOSS_RELATIVE_TOLERANCE * expected.loss[i]!,
      );
      expect(Math.abs(point.tally.correct - expected.correct[i]!), `α=${alpha} correct`).toBeLessThanOrEqual(
        margins[i]!,
      );
      expect(point.tally.nonFinite).toBe(0);
    }
    summary.push(
      `  ${curve}: max |Δlogit| ${worst.toExponential(2)}, ${(milliseconds / 11).toFixed(1)} ms per α (5000 points)`,
    );
  });

  it('prepares the same graph twice on one cached session, and refuses a disposed model', async () => {
    const again = await engine.prepare(buildModelGraph('mlp', init.tensors));
    const state = interpolateState(init.state, init.state, 0, 'all');
    const bound = await again.bind(state);
    const x = test.x.subarray(0, 8);
    expect(await bound.logits(x, 4)).toEqual(await (await prepared.bind(state)).logits(x, 4));
    await bound.dispose();
    await expect(bound.logits(x, 4)).rejects.toThrow(/disposed bound model/);
    await again.dispose();
    await expect(again.bind(state)).rejects.toThrow(/disposed prepared model/);
    // The first prepared model still holds the shared session.
    expect((await (await prepared.bind(state)).logits(x, 4)).length).toBe(4);
  });

  it('names a missing or wrongly sized state tensor with the expected shape', async () => {
    const missing = new Map(init.state);
    missing.delete('fc2.weight');
    missing.set('fc3.bias', new Float32Array(2));
    await expect(prepared.bind(missing)).rejects.toThrow(
      'OnnxEngine: the state does not fit mlp: "fc2.weight" is missing (expected [50, 50]); ' +
        '"fc3.bias": expected [1] (1 values), got 2 values',
    );
  });

  it('checks the number of input values against n × inputShape', async () => {
    const bound = await prepared.bind(init.state);
    await expect(bound.logits(new Float32Array(5), 3)).rejects.toThrow('expected 3 × [2] = 6 input values, got 5');
    expect(await bound.logits(new Float32Array(0), 0)).toEqual(new Float32Array(0));
  });
});

describe('OnnxEngine on a small graph with every op, against a float64 reference', () => {
  // Asymmetric padding and strides, a conv with bias, a padded max-pool: what the fixtures' symmetric
  // 3×3 convolutions cannot tell apart (e.g. ONNX's pads order [top, left, bottom, right]).
  const conv = (
    input: string,
    output: string,
    weight: string,
    bias: string | undefined,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
  ): Node => ({
    op: 'conv2d',
    input,
    output,
    weight,
    bias,
    kernel,
    stride,
    padding,
    block: 'a',
  });
  const graph: ModelGraph = {
    architecture: 'every-op',
    inputShape: [2, 7, 6],
    output: 'logits',
    outputs: 3,
    nodes: [
      conv(INPUT, 'c1', 'c1.weight', 'c1.bias', [3, 2], [2, 1], [1, 0]),
      {
        op: 'batchnorm',
        input: 'c1',
        output: 'b1',
        weight: 'bn.weight',
        bias: 'bn.bias',
        runningMean: 'bn.running_mean',
        runningVar: 'bn.running_var',
        eps: 1e-3,
        block: 'a',
      },
      { op: 'relu', input: 'b1', output: 'r1', block: 'a' },
      conv('r1', 'c2', 'c2.weight', undefined, [1, 1], [1, 1], [0, 0]),
      { op: 'add', inputs: ['c2', 'r1'], output: 's', block: 'b' },
      { op: 'maxpool2d', input: 's', output: 'm', kernel: [3, 2], stride: [2, 2], padding: [1, 1], block: 'b' },
      { op: 'global_avgpool', input: 'm', output: 'g', block: 'b' },
      { op: 'flatten', input: 'm', output: 'f', block: 'c' },
      { op: 'linear', input: 'f', output: 'l1', weight: 'fc1.weight', bias: 'fc1.bias', block: 'c' },
      { op: 'linear', input: 'g', output: 'l2', weight: 'fc2.weight', bias: undefined, block: 'c' },
      { op: 'add', inputs: ['l1', 'l2'], output: 'logits', block: 'c' },
    ],
    state: [],
    blocks: ['a', 'b', 'c'],
    aliases: {},
  };
  // c1: [4, 2, 3, 2] on 7×6, stride (2, 1), pad (1, 0) → 4×5; max-pool 3×2 / 2 pad 1 → 2×3.
  const shapes: Record<string, number[]> = {
    'c1.weight': [4, 2, 3, 2],
    'c1.bias': [4],
    'bn.weight': [4],
    'bn.bias': [4],
    'bn.running_mean': [4],
    'bn.running_var': [4],
    'bn.num_batches_tracked': [],
    'c2.weight': [4, 4, 1, 1],
    'fc1.weight': [3, 24],
    'fc1.bias': [3],
    'fc2.weight': [3, 4],
  };
  graph.state = Object.entries(shapes).map(([name, shape]) => ({
    name,
    shape,
    kind: name.endsWith('tracked') ? 'int' : 'float',
  }));
  let seed = 17;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const state = new Map(
    graph.state
      .filter((s) => s.kind === 'float')
      .map((s) => [
        s.name,
        Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () =>
          s.name.endsWith('var') ? 0.5 + Math.abs(random()) : random(),
        ),
      ]),
  );

  it('matches a direct float64 evaluation of the IR to float32 accuracy', async () => {
    const n = 3;
    const x = Float32Array.from({ length: n * 2 * 7 * 6 }, random);
    const engine = await OnnxEngine.create({ provider: 'cpu', threads: 1 });
    try {
      const prepared = await engine.prepare(graph);
      const logits = await (await prepared.bind(state)).logits(x, n);
      const expected = evaluateIr(graph, state, x, n);
      expect(logits).toHaveLength(n * 3);
      expect(maxAbsDiff(logits, Float32Array.from(expected))).toBeLessThan(1e-5);
      await prepared.dispose();
    } finally {
      await engine.close();
    }
  });
});

describe('OnnxEngine on the ops of user architectures', () => {
  it('matches a direct float64 evaluation of grouped and depthwise convolutions, HardSwish, Clip, Mul, Sigmoid', async () => {
    const graph = mobileOpsGraph();
    let seed = 5;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
    const state = new Map(
      graph.state.map((s) => [s.name, Float32Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, random)]),
    );
    const n = 2;
    const x = Float32Array.from({ length: n * 4 * 6 * 6 }, () => 3 * random());
    const engine = await OnnxEngine.create({ provider: 'cpu', threads: 1 });
    try {
      const prepared = await engine.prepare(graph);
      const logits = await (await prepared.bind(state)).logits(x, n);
      expect(maxAbsDiff(logits, Float32Array.from(evaluateIr(graph, state, x, n)))).toBeLessThan(1e-5);
      await prepared.dispose();
    } finally {
      await engine.close();
    }
  });
});

describe('OnnxEngine with the CUDA provider', () => {
  it('either runs, or is UNAVAILABLE with how to install the CUDA provider', async () => {
    let engine: OnnxEngine | undefined;
    try {
      engine = await OnnxEngine.create({ provider: 'cuda' });
    } catch (error) {
      expect(isLinpathError(error) && error.code).toBe('UNAVAILABLE');
      expect((error as Error).message).toMatch(
        /CUDA provider could not start a session .*ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js/,
      );
      return;
    }
    expect(engine.version).toBe('onnxruntime-node 1.30.0 cuda');
    await engine.close();
  });
});

/** The IR's ops in float64 on NCHW arrays, straight from their definitions in model-ir.ts. */
function evaluateIr(graph: ModelGraph, state: ReadonlyMap<string, Float32Array>, x: Float32Array, n: number): number[] {
  type Value = { data: number[]; shape: number[] };
  const values = new Map<string, Value>([[INPUT, { data: Array.from(x), shape: [n, ...graph.inputShape] }]]);
  const get = (name: string) => values.get(name)!;
  const param = (name: string) => Array.from(state.get(name)!);
  for (const node of graph.nodes) {
    let out: Value;
    const mobile = interpretMobileOp(node, get, param);
    if (mobile !== undefined) {
      values.set(node.output, mobile);
      continue;
    }
    switch (node.op) {
      case 'conv2d':
      case 'maxpool2d': {
        const {
          data,
          shape: [, c = 0, h = 0, w = 0],
        } = get(node.input);
        const [kh, kw] = node.kernel;
        const oh = Math.floor((h + 2 * node.padding[0] - kh) / node.stride[0]) + 1;
        const ow = Math.floor((w + 2 * node.padding[1] - kw) / node.stride[1]) + 1;
        const weight = node.op === 'conv2d' ? param(node.weight) : [];
        const bias = node.op === 'conv2d' && node.bias !== undefined ? param(node.bias) : undefined;
        const k = node.op === 'conv2d' ? state.get(node.weight)!.length / (c * kh * kw) : c;
        const result: number[] = [];
        for (let b = 0; b < n; b++)
          for (let o = 0; o < k; o++)
            for (let i = 0; i < oh; i++)
              for (let j = 0; j < ow; j++) {
                let acc = node.op === 'conv2d' ? (bias?.[o] ?? 0) : -Infinity;
                for (let ci = 0; ci < (node.op === 'conv2d' ? c : 1); ci++)
                  for (let di = 0; di < kh; di++)
                    for (let dj = 0; dj < kw; dj++) {
                      const ii = i * node.stride[0] - node.padding[0] + di;
                      const jj = j * node.stride[1] - node.padding[1] + dj;
                      if (ii < 0 || jj < 0 || ii >= h || jj >= w) continue;
                      if (node.op === 'conv2d')
                        acc += data[((b * c + ci) * h + ii) * w + jj]! * weight[((o * c + ci) * kh + di) * kw + dj]!;
                      else acc = Math.max(acc, data[((b * c + o) * h + ii) * w + jj]!);
                    }
                result.push(acc);
              }
        out = { data: result, shape: [n, k, oh, ow] };
        break;
      }
      case 'batchnorm': {
        const v = get(node.input);
        const [gamma, beta, mean, variance] = [node.weight, node.bias, node.runningMean, node.runningVar].map(param);
        const plane = v.shape.slice(2).reduce((a, b) => a * b, 1);
        const channels = v.shape[1]!;
        out = {
          data: v.data.map((z, idx) => {
            const ch = Math.floor(idx / plane) % channels;
            return ((z - mean![ch]!) / Math.sqrt(variance![ch]! + node.eps)) * gamma![ch]! + beta![ch]!;
          }),
          shape: v.shape,
        };
        break;
      }
      case 'relu':
        out = { data: get(node.input).data.map((z) => Math.max(z, 0)), shape: get(node.input).shape };
        break;
      case 'add':
        out = {
          data: get(node.inputs[0]).data.map((z, i) => z + get(node.inputs[1]).data[i]!),
          shape: get(node.inputs[0]).shape,
        };
        break;
      case 'global_avgpool': {
        const { data, shape } = get(node.input);
        const plane = shape[2]! * shape[3]!;
        const result: number[] = [];
        for (let r = 0; r < n * shape[1]!; r++)
          result.push(data.slice(r * plane, (r + 1) * plane).reduce((a, b) => a + b, 0) / plane);
        out = { data: result, shape: [n, shape[1]!] };
        break;
      }
      case 'flatten': {
        const v = get(node.input);
        out = { data: v.data, shape: [n, v.data.length / n] };
        break;
      }
      case 'linear': {
        const v = get(node.input);
        const inFeatures = v.shape[1]!;
        const weight = param(node.weight);
        const outFeatures = weight.length / inFeatures;
        const bias = node.bias === undefined ? undefined : param(node.bias);
        const result: number[] = [];
        for (let b = 0; b < n; b++)
          for (let o = 0; o < outFeatures; o++) {
            let acc = bias?.[o] ?? 0;
            for (let i = 0; i < inFeatures; i++) acc += v.data[b * inFeatures + i]! * weight[o * inFeatures + i]!;
            result.push(acc);
          }
        out = { data: result, shape: [n, outFeatures] };
        break;
      }
      default:
        throw new Error(`evaluateIr: no interpretation of ${node.op}`);
    }
    values.set(node.output, out);
  }
  return get(graph.output).data;
}

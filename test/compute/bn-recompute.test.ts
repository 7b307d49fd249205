import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/compute/architectures/graph-builder.js';
import { BatchNormRecomputer } from '../../src/compute/bn-recompute.js';
import type { Engine, StateMap } from '../../src/compute/engine.js';
import { evaluateAlphas } from '../../src/compute/evaluator.js';
import type { Examples } from '../../src/domain/examples.js';
import { INPUT, type ModelGraph } from '../../src/compute/model-ir.js';
import { OnnxEngine } from '../../src/compute/onnx/onnx.engine.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { SeededRandom } from '../../src/domain/random.js';

/**
 * RECOMPUTE's statistics against a direct computation: a plain float64 forward pass of the whole example set as
 * one batch in PyTorch's training mode (every BatchNorm normalises with the batch mean and biased variance and
 * records the mean and the unbiased variance), written here op by op, independently of the engines and of the
 * layer-by-layer, batch-by-batch algorithm under test.
 */

/** conv → bn → relu → conv(stride 2) → bn, plus a 1×1 conv → bn shortcut, add, relu, pool, linear. */
function residualNet(): ModelGraph {
  const b = new GraphBuilder();
  b.inBlock('stem');
  let h = b.conv2d(INPUT, 'conv1', { in: 2, out: 4 }, [3, 3], [1, 1], [1, 1]);
  h = b.batchnorm(h, 'bn1', 4);
  const stem = b.relu(h);
  b.inBlock('layer1');
  let main = b.conv2d(stem, 'layer1.conv', { in: 4, out: 3 }, [3, 3], [2, 2], [1, 1]);
  main = b.batchnorm(main, 'layer1.bn', 3);
  let side = b.conv2d(stem, 'layer1.shortcut.0', { in: 4, out: 3 }, [1, 1], [2, 2], [0, 0]);
  side = b.batchnorm(side, 'layer1.shortcut.1', 3);
  const joined = b.relu(b.add(main, side));
  b.inBlock('fc');
  const logits = b.linear(b.globalAvgpool(joined), 'fc', 3, 3);
  return {
    architecture: 'test-residual',
    inputShape: [2, 7, 7],
    output: logits,
    outputs: 3,
    nodes: b.nodes,
    state: b.state,
    blocks: ['stem', 'layer1', 'fc'],
    aliases: {},
  };
}

/** BatchNorm1d straight on the input, then Linear → BatchNorm1d → ReLU → Linear. */
function mlpWithBatchNorm(): ModelGraph {
  const b = new GraphBuilder();
  b.inBlock('bn0');
  let h = b.batchnorm(INPUT, 'bn0', 3);
  b.inBlock('fc1');
  h = b.linear(h, 'fc1', 3, 5);
  h = b.relu(b.batchnorm(h, 'bn1', 5));
  b.inBlock('fc2');
  const logits = b.linear(h, 'fc2', 5, 1);
  return {
    architecture: 'test-mlp-bn',
    inputShape: [3],
    output: logits,
    outputs: 1,
    nodes: b.nodes,
    state: b.state,
    blocks: ['bn0', 'fc1', 'fc2'],
    aliases: {},
  };
}

type F64State = Map<string, Float64Array>;
/** A value: [n, channels, spatial…] with its per-example shape. */
interface Value {
  data: Float64Array;
  shape: number[];
}

/**
 * The forward pass over all n examples at once. Training mode: every BatchNorm normalises with its batch
 * statistics and records them; eval mode: with the state's running statistics.
 */
function forward(graph: ModelGraph, state: F64State, x: Float32Array, n: number, mode: 'train' | 'eval') {
  const values = new Map<string, Value>([[INPUT, { data: Float64Array.from(x), shape: [...graph.inputShape] }]]);
  const recorded = new Map<string, Float64Array>();
  const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  for (const node of graph.nodes) {
    const read = (name: string) => values.get(name)!;
    let out: Value;
    switch (node.op) {
      case 'conv2d': {
        const {
          data,
          shape: [cin = 0, h = 0, w = 0],
        } = read(node.input);
        const weight = state.get(node.weight)!;
        const [kh, kw] = node.kernel;
        const [sh, sw] = node.stride;
        const [ph, pw] = node.padding;
        const cout = weight.length / (cin * kh * kw);
        const oh = Math.floor((h + 2 * ph - kh) / sh) + 1;
        const ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
        const y = new Float64Array(n * cout * oh * ow);
        for (let e = 0; e < n; e++)
          for (let o = 0; o < cout; o++)
            for (let i = 0; i < oh; i++)
              for (let j = 0; j < ow; j++) {
                let sum = node.bias === undefined ? 0 : state.get(node.bias)![o]!;
                for (let c = 0; c < cin; c++)
                  for (let u = 0; u < kh; u++)
                    for (let v = 0; v < kw; v++) {
                      const r = i * sh + u - ph;
                      const s = j * sw + v - pw;
                      if (r < 0 || r >= h || s < 0 || s >= w) continue;
                      sum += weight[((o * cin + c) * kh + u) * kw + v]! * data[((e * cin + c) * h + r) * w + s]!;
                    }
                y[((e * cout + o) * oh + i) * ow + j] = sum;
              }
        out = { data: y, shape: [cout, oh, ow] };
        break;
      }
      case 'batchnorm': {
        const { data, shape } = read(node.input);
        const [channels = 0, ...rest] = shape;
        const spatial = size(rest);
        const count = n * spatial;
        const mean = new Float64Array(channels);
        const biased = new Float64Array(channels);
        if (mode === 'eval') {
          mean.set(state.get(node.runningMean)!);
          biased.set(state.get(node.runningVar)!);
        } else
          for (let c = 0; c < channels; c++) {
            let sum = 0;
            for (let e = 0; e < n; e++)
              for (let s = 0; s < spatial; s++) sum += data[(e * channels + c) * spatial + s]!;
            mean[c] = sum / count;
            let sq = 0;
            for (let e = 0; e < n; e++)
              for (let s = 0; s < spatial; s++) sq += (data[(e * channels + c) * spatial + s]! - mean[c]!) ** 2;
            biased[c] = sq / count;
          }
        if (mode === 'train') {
          recorded.set(node.runningMean, mean);
          recorded.set(
            node.runningVar,
            biased.map((v) => (v * count) / (count - 1)),
          );
        }
        const gamma = state.get(node.weight)!;
        const beta = state.get(node.bias)!;
        const y = new Float64Array(data.length);
        for (let e = 0; e < n; e++)
          for (let c = 0; c < channels; c++)
            for (let s = 0; s < spatial; s++) {
              const i = (e * channels + c) * spatial + s;
              y[i] = ((data[i]! - mean[c]!) / Math.sqrt(biased[c]! + node.eps)) * gamma[c]! + beta[c]!;
            }
        out = { data: y, shape };
        break;
      }
      case 'relu': {
        const { data, shape } = read(node.input);
        out = { data: data.map((v) => Math.max(0, v)), shape };
        break;
      }
      case 'add': {
        const [a, b] = node.inputs.map(read) as [Value, Value];
        out = { data: a.data.map((v, i) => v + b.data[i]!), shape: a.shape };
        break;
      }
      case 'global_avgpool': {
        const {
          data,
          shape: [channels = 0, ...rest],
        } = read(node.input);
        const spatial = size(rest);
        const y = new Float64Array(n * channels);
        for (let i = 0; i < n * channels; i++) {
          let sum = 0;
          for (let s = 0; s < spatial; s++) sum += data[i * spatial + s]!;
          y[i] = sum / spatial;
        }
        out = { data: y, shape: [channels] };
        break;
      }
      case 'linear': {
        const {
          data,
          shape: [inFeatures = 0],
        } = read(node.input);
        const weight = state.get(node.weight)!;
        const outFeatures = weight.length / inFeatures;
        const y = new Float64Array(n * outFeatures);
        for (let e = 0; e < n; e++)
          for (let o = 0; o < outFeatures; o++) {
            let sum = node.bias === undefined ? 0 : state.get(node.bias)![o]!;
            for (let i = 0; i < inFeatures; i++) sum += weight[o * inFeatures + i]! * data[e * inFeatures + i]!;
            y[e * outFeatures + o] = sum;
          }
        out = { data: y, shape: [outFeatures] };
        break;
      }
      default:
        throw new Error(`reference: op ${node.op} not written here`);
    }
    values.set(node.output, out);
  }
  return { recorded, logits: values.get(graph.output)!.data };
}

/** A random state whose BatchNorm affine parameters and stale statistics are not the trivial 1/0/0/1. */
function randomState(graph: ModelGraph, seed: number): Map<string, Float32Array> {
  const random = new SeededRandom(seed + 1000);
  const state = new Map<string, Float32Array>();
  for (const t of randomInitialState(graph, seed)) {
    if (!(t.data instanceof Float32Array)) continue;
    const data = t.data.slice();
    if (t.name.includes('bn') || t.name.includes('shortcut.1'))
      for (let i = 0; i < data.length; i++) data[i] = random.uniform(0.5, 1.5);
    state.set(t.name, data);
  }
  return state;
}

function randomExamples(graph: ModelGraph, n: number, seed: number): Examples {
  const random = new SeededRandom(seed);
  const per = graph.inputShape.reduce((a, b) => a * b, 1);
  // Off-centre and scaled, so the recomputed statistics are far from the stale ones.
  const x = Float32Array.from({ length: n * per }, (_, i) => random.uniform(-1, 3) * (1 + (i % per) / per));
  const labels = Int32Array.from({ length: n }, () => Math.floor(random.next() * Math.max(graph.outputs, 2)));
  return { x, labels, n };
}

const toF64 = (state: StateMap): F64State => new Map([...state].map(([k, v]) => [k, Float64Array.from(v)]));

function expectClose(actual: Float32Array, expected: Float64Array, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  const scale = Math.max(1, ...Array.from(expected, Math.abs));
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!), `${label}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(
      2e-5 * scale,
    );
  }
}

const engines: Array<[string, () => Promise<Engine>]> = [
  ['onnx', () => OnnxEngine.create({ provider: 'cpu', threads: 2 })],
  ['tfjs wasm', () => TfjsEngine.create({ backend: 'wasm' })],
];

describe.each(engines)('BatchNormRecomputer on %s', (_name, create) => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await create();
  });
  afterAll(async () => {
    await engine.close();
  });

  it.each([
    ['a residual conv net', residualNet],
    ['an MLP with BatchNorm1d (one on the input itself)', mlpWithBatchNorm],
  ])('matches one training-mode pass over all examples for %s, whatever the batch size', async (_label, build) => {
    const graph = build();
    const state = randomState(graph, 7);
    const examples = randomExamples(graph, 23, 3);
    const { recorded } = forward(graph, toF64(state), examples.x, examples.n, 'train');
    const recomputer = await BatchNormRecomputer.prepare(engine, graph);
    try {
      for (const batchSize of [23, 5, 1]) {
        const recomputed = await recomputer.recompute(state, examples, batchSize);
        expect(recorded.size).toBeGreaterThan(0);
        for (const [name, expected] of recorded)
          expectClose(recomputed.get(name)!, expected, `${name} (batches of ${batchSize})`);
        // Everything else is the state as given.
        for (const [name, values] of state) if (!recorded.has(name)) expect(recomputed.get(name)).toBe(values);
      }
    } finally {
      await recomputer.dispose();
    }
  });

  it('evaluates each α with statistics recomputed for θ(α), then in eval mode', async () => {
    const graph = residualNet();
    const from = randomState(graph, 1);
    const to = randomState(graph, 2);
    const statsExamples = randomExamples(graph, 17, 5);
    const testExamples = randomExamples(graph, 9, 6);
    const points: Array<{ alpha: number; loss: number; correct: number }> = [];
    await evaluateAlphas({
      engine,
      graph,
      from,
      to,
      moving: 'all',
      examples: testExamples,
      recomputeBatchNorm: statsExamples,
      alphas: [0, 0.4, 1],
      batchSize: 4,
      onPoint: async ({ alpha, tally }) => {
        points.push({ alpha, loss: tally.lossSum / tally.n, correct: tally.correct });
      },
    });
    for (const { alpha, loss, correct } of points) {
      // θ(α) in float64, its statistics from a training-mode pass over the statistics examples, then an
      // eval-mode pass over the test examples with them.
      const theta: F64State = new Map(
        [...from].map(([k, a]) => [k, Float64Array.from(a, (v, i) => v + alpha * (to.get(k)![i]! - v))]),
      );
      const { recorded } = forward(graph, theta, statsExamples.x, statsExamples.n, 'train');
      const { logits } = forward(graph, new Map([...theta, ...recorded]), testExamples.x, testExamples.n, 'eval');
      let lossSum = 0;
      let right = 0;
      for (let e = 0; e < testExamples.n; e++) {
        const row = Array.from(logits.subarray(e * 3, e * 3 + 3));
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
        lossSum += lse - row[testExamples.labels[e]!]!;
        if (row.indexOf(max) === testExamples.labels[e]) right++;
      }
      expect(Math.abs(loss - lossSum / testExamples.n) / (lossSum / testExamples.n), `α = ${alpha}`).toBeLessThan(1e-5);
      expect(correct, `α = ${alpha}`).toBe(right);
    }
  });
});

import type { BoundModel, Engine, PreparedModel, StateMap } from './engine.js';
import type { Examples } from '../domain/examples.js';
import { INPUT, opInputs, valueShapes, type ModelGraph, type Node } from './model-ir.js';

type BatchNormNode = Extract<Node, { op: 'batchnorm' }>;

/** The graph that computes one BatchNorm's input, flattened to [N, C·H·W]; undefined when that input is `x`. */
interface Probe {
  node: BatchNormNode;
  channels: number;
  /** Values per channel per example: H·W, or 1 for a [N, C] input. */
  spatial: number;
  prepared: PreparedModel | undefined;
}

/**
 * BatchNorm running statistics recomputed for a state, as PyTorch computes them in one training-mode forward
 * pass over all `n` examples as a single batch after `reset_running_stats()` with `momentum = None` (what
 * mode-connectivity code and `torch.optim.swa_utils.update_bn` do, without the dependence on batching):
 * - every BatchNorm normalises its input with that input's mean and *biased* variance over the batch
 *   (N, or N·H·W per channel), so a layer's statistics depend on the recomputed statistics before it;
 * - the stored `running_mean` is that mean, the stored `running_var` the *unbiased* variance (÷ (count − 1)).
 *
 * The pass is exact yet runs in batches of any size: the layers are taken in execution order, one forward
 * pass of the graph up to each layer's input (its ancestors only) per layer, with the statistics found so far
 * in place; means and variances are combined across batches in float64 (Chan et al.'s pairwise update). The
 * cost is one forward pass per BatchNorm layer over the examples, each no deeper than the layer.
 */
export class BatchNormRecomputer {
  private constructor(
    private readonly probes: readonly Probe[],
    private readonly inputShape: readonly number[],
  ) {}

  /** Lowers one probe graph per BatchNorm layer; throws a RangeError when the graph has none. */
  static async prepare(engine: Engine, graph: ModelGraph): Promise<BatchNormRecomputer> {
    const shapes = valueShapes(graph);
    const probes: Probe[] = [];
    try {
      for (const [index, node] of graph.nodes.entries()) {
        if (node.op !== 'batchnorm') continue;
        const [channels = 0, ...rest] = shapes.get(node.input)!;
        const spatial = rest.reduce((a, b) => a * b, 1);
        const probe = probeGraph(graph, index, channels * spatial);
        probes.push({
          node,
          channels,
          spatial,
          prepared: probe === undefined ? undefined : await engine.prepare(probe),
        });
      }
    } catch (error) {
      await Promise.all(probes.map((p) => p.prepared?.dispose()));
      throw error;
    }
    if (probes.length === 0)
      throw new RangeError(`${graph.architecture} has no BatchNorm layer whose statistics could be recomputed`);
    return new BatchNormRecomputer(probes, graph.inputShape);
  }

  /** `state` with every BatchNorm's running_mean and running_var recomputed over `examples`. */
  async recompute(state: StateMap, examples: Examples, batchSize: number): Promise<StateMap> {
    const perExample = this.inputShape.reduce((a, b) => a * b, 1);
    // What the training-mode pass normalises with: the mean and the biased variance.
    const normalising = new Map(state);
    const stored = new Map(state);
    for (const probe of this.probes) {
      const moments = new ChannelMoments(probe.channels);
      if (probe.prepared === undefined) {
        for (let start = 0; start < examples.n; start += batchSize) {
          const count = Math.min(batchSize, examples.n - start);
          moments.add(examples.x.subarray(start * perExample, (start + count) * perExample), count, probe.spatial);
        }
      } else {
        const bound: BoundModel = await probe.prepared.bind(normalising);
        try {
          for (let start = 0; start < examples.n; start += batchSize) {
            const count = Math.min(batchSize, examples.n - start);
            const values = await bound.logits(
              examples.x.subarray(start * perExample, (start + count) * perExample),
              count,
            );
            moments.add(values, count, probe.spatial);
          }
        } finally {
          await bound.dispose();
        }
      }
      const { mean, biased, unbiased } = moments.result();
      normalising.set(probe.node.runningMean, mean);
      normalising.set(probe.node.runningVar, biased);
      stored.set(probe.node.runningMean, mean);
      stored.set(probe.node.runningVar, unbiased);
    }
    return stored;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.probes.map((p) => p.prepared?.dispose()));
  }
}

/**
 * The ancestors of the `index`-th node's input, in execution order, with that input flattened to
 * [N, values] as the graph's output; undefined when the input is the graph input itself.
 */
function probeGraph(graph: ModelGraph, index: number, values: number): ModelGraph | undefined {
  const target = graph.nodes[index] as BatchNormNode;
  const [input] = opInputs(target);
  if (input === undefined || input === INPUT) return undefined;
  const needed = new Set([input]);
  const kept: Node[] = [];
  for (let i = index - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (!needed.has(node.output)) continue;
    kept.push(node);
    for (const read of opInputs(node)) needed.add(read);
  }
  kept.reverse();
  const flat = `${input}/flat`;
  return {
    ...graph,
    architecture: `${graph.architecture}/batchnorm-input:${target.runningMean}`,
    nodes: [...kept, { op: 'flatten', input, output: flat, block: target.block }],
    output: flat,
    outputs: values,
  };
}

/** Per-channel count, mean and sum of squared deviations, merged batch by batch in float64. */
class ChannelMoments {
  private count = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(private readonly channels: number) {
    this.mean = new Float64Array(channels);
    this.m2 = new Float64Array(channels);
  }

  /** `values` [n, channels, spatial] row-major. */
  add(values: Float32Array, n: number, spatial: number): void {
    const count = n * spatial;
    if (count === 0) return;
    for (let c = 0; c < this.channels; c++) {
      let sum = 0;
      for (let e = 0; e < n; e++) {
        const offset = (e * this.channels + c) * spatial;
        for (let s = 0; s < spatial; s++) sum += values[offset + s]!;
      }
      const batchMean = sum / count;
      let m2 = 0;
      for (let e = 0; e < n; e++) {
        const offset = (e * this.channels + c) * spatial;
        for (let s = 0; s < spatial; s++) {
          const d = values[offset + s]! - batchMean;
          m2 += d * d;
        }
      }
      const total = this.count + count;
      const delta = batchMean - this.mean[c]!;
      this.mean[c] = this.mean[c]! + (delta * count) / total;
      this.m2[c] = this.m2[c]! + m2 + (delta * delta * this.count * count) / total;
    }
    this.count += count;
  }

  result(): { mean: Float32Array; biased: Float32Array; unbiased: Float32Array } {
    if (this.count < 2) {
      throw new RangeError(`recomputing BatchNorm statistics needs at least 2 values per channel, got ${this.count}`);
    }
    return {
      mean: Float32Array.from(this.mean),
      biased: Float32Array.from(this.m2, (m2) => m2 / this.count),
      unbiased: Float32Array.from(this.m2, (m2) => m2 / (this.count - 1)),
    };
  }
}

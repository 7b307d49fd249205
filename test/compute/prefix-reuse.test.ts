import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { Engine, StateMap } from '../../src/compute/engine.js';
import {
  evaluateAlphas,
  evaluatePaths,
  type EvaluatedPoint,
  type EvaluationPlan,
} from '../../src/compute/evaluator.js';
import { graphCuts, opCosts, prefixCut, reuseShares, segmentGraph, suffixCut } from '../../src/compute/graph-cuts.js';
import type { ModelGraph } from '../../src/compute/model-ir.js';
import { OnnxEngine } from '../../src/compute/onnx/onnx.engine.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { selectBlocks } from '../../src/domain/blocks.js';
import type { Examples } from '../../src/domain/examples.js';
import { emptyTally, tallyBatch, type LossTally } from '../../src/domain/losses.js';
import {
  readCheckpointFixture,
  readReferenceFixture,
  readResnet18Subset,
  readTestSetFixture,
} from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, describeWithFixtures, itWithFixtures } from '../helpers/fixtures.js';

/**
 * Prefix reuse (evaluator.ts, graph-cuts.ts) against the naive evaluation of the same paths (every op per α,
 * prefixCacheBytes 0) and against PyTorch: the ResNet-18 fixture's block-wise logits (reference_logits, cut to
 * the first images), and for the MLP, whose fixture has no block-wise curves, the full path's α = 1 (every
 * block-wise state at α = 1 is θ_to bit for bit). Tolerances: the naive and the reused tallies are computed from
 * the same batches in the same order, so they differ only where an engine rounds differently across a cut:
 * mean loss within 1e-6 relative, `correct` equal. Against PyTorch, the engines' tolerance (1e-5 relative).
 */
const NAIVE_RELATIVE = 1e-6;
const PYTORCH_RELATIVE = 1e-5;

const movingOf = (graph: ModelGraph, block: string): ReadonlySet<string> | 'all' =>
  selectBlocks(
    graph.state.filter((s) => s.kind === 'float').map((s) => s.name),
    [block],
    { architecture: graph.architecture, topLevel: graph.blocks, aliases: graph.aliases },
  ).moving;

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(b));

/** Tallies of each block's path at each α, by evaluatePaths (one call for all blocks) or naively. */
async function sweep(
  engine: Engine,
  graph: ModelGraph,
  states: { from: StateMap; to: StateMap },
  examples: Examples,
  blocks: readonly string[],
  alphas: readonly number[],
  options: { batchSize: number; prefixCacheBytes: number },
): Promise<{ tallies: Map<string, LossTally[]>; plans: EvaluationPlan[] }> {
  const tallies = new Map<string, LossTally[]>(blocks.map((b) => [b, []]));
  let plans: EvaluationPlan[] = [];
  await evaluatePaths({
    engine,
    graph,
    ...states,
    examples,
    batchSize: options.batchSize,
    prefixCacheBytes: options.prefixCacheBytes,
    paths: blocks.map((block) => ({
      moving: movingOf(graph, block),
      alphas,
      onPoint: async (point: EvaluatedPoint) => void (tallies.get(block)![alphas.indexOf(point.alpha)] = point.tally),
    })),
    onPlan: (p) => (plans = p),
  });
  return { tallies, plans };
}

function expectSameTallies(reused: Map<string, LossTally[]>, naive: Map<string, LossTally[]>): number {
  let worst = 0;
  for (const [block, tallies] of naive) {
    const other = reused.get(block)!;
    expect(other).toHaveLength(tallies.length);
    tallies.forEach((t, i) => {
      expect(other[i]!.n).toBe(t.n);
      expect(other[i]!.correct, `${block} #${i}`).toBe(t.correct);
      worst = Math.max(worst, relative(other[i]!.lossSum, t.lossSum));
    });
  }
  expect(worst).toBeLessThanOrEqual(NAIVE_RELATIVE);
  return worst;
}

describeWithFixtures(RESNET18_FIXTURES, 'graph cuts', () => {
  let resnet: ModelGraph;
  const mlp = buildModelGraph('mlp', readCheckpointFixture('mlp/init.safetensors').tensors);
  beforeAll(() => {
    resnet = buildModelGraph('resnet18-cifar', readCheckpointFixture('resnet18/init.safetensors.gz').tensors);
  });

  it('cut ResNet-18 at the input, between the blocks of every stage and before fc, never inside a residual block', () => {
    const cuts = graphCuts(resnet);
    expect(cuts[0]).toMatchObject({ index: 0, value: 'x', shape: [3, 32, 32] });
    // Each block of a stage starts at a cut: stem's output, then the output of each BasicBlock.
    const starts = resnet.blocks.slice(1).map((block) => resnet.nodes.findIndex((n) => n.block === block));
    for (const start of starts) expect(cuts.map((c) => c.index)).toContain(start);
    // Inside a BasicBlock the skip connection is live beside the main branch: no cut there.
    const inside = resnet.nodes.findIndex((n) => n.op === 'conv2d' && n.weight === 'layer1.0.conv2.weight');
    expect(cuts.map((c) => c.index)).not.toContain(inside);
  });

  it('cut each block-wise path at the last cut before its first moving op', () => {
    expect(prefixCut(resnet, movingOf(resnet, 'stem'))).toBeUndefined();
    expect(prefixCut(resnet, 'all')).toBeUndefined();
    const layer3 = prefixCut(resnet, movingOf(resnet, 'layer3'))!;
    expect(resnet.nodes[layer3.index]!.block).toBe('layer3');
    expect(layer3.shape).toEqual([128, 16, 16]);
    // The fc block starts with the pooling, which moves nothing: the cut is after it, at 512 features.
    expect(prefixCut(resnet, movingOf(resnet, 'fc'))!.shape).toEqual([512]);
    // A sub-block: layer2.1 moves, layer2.0 is before the cut.
    expect(resnet.nodes[prefixCut(resnet, movingOf(resnet, 'layer2.1'))!.index]!.block).toBe('layer2');
    const fc2 = prefixCut(mlp, movingOf(mlp, mlp.blocks[1]!))!;
    expect(mlp.nodes[fc2.index]).toMatchObject({ op: 'linear', weight: `${mlp.blocks[1]}.weight` });
  });

  it("end each block-wise path's moving part at the next block's cut; fc's and the whole model's at the logits", () => {
    const cutOf = (block: string) => prefixCut(resnet, movingOf(resnet, block))!.index;
    expect(suffixCut(resnet, movingOf(resnet, 'stem'))!.index).toBe(cutOf('layer1'));
    expect(suffixCut(resnet, movingOf(resnet, 'layer1'))!.index).toBe(cutOf('layer2'));
    expect(suffixCut(resnet, movingOf(resnet, 'layer4'))!.index).toBe(cutOf('fc'));
    expect(suffixCut(resnet, movingOf(resnet, 'layer2.0'))!.index).toBe(cutOf('layer2.1'));
    expect(suffixCut(resnet, movingOf(resnet, 'fc'))).toBeUndefined();
    expect(suffixCut(resnet, 'all')).toBeUndefined();
    expect(suffixCut(resnet, new Set())).toBeUndefined();
    // No op that reads a moving tensor comes at or after the end.
    const end = suffixCut(resnet, movingOf(resnet, 'layer3'))!;
    const moving = movingOf(resnet, 'layer3') as ReadonlySet<string>;
    expect(resnet.nodes.slice(end.index).every((n) => n.block !== 'layer3')).toBe(true);
    expect(moving.size).toBeGreaterThan(0);
  });

  it('share the cost of a pass before and after each cut by multiply-accumulates', () => {
    // torchvision's ResNet-18 on 32×32 CIFAR input without the maxpool: 0.556 GMACs per image.
    const total = opCosts(resnet).reduce((a, b) => a + b, 0);
    expect(total).toBe(555_417_600 + 5120);
    expect(reuseShares(resnet, 'all')).toBeUndefined();
    expect(reuseShares(resnet, movingOf(resnet, 'stem'))).toBeUndefined();
    const layer4 = reuseShares(resnet, movingOf(resnet, 'layer4'))!;
    expect(layer4.before + layer4.after).toBeCloseTo(1, 12);
    expect(layer4.after).toBeGreaterThan(0.2);
    expect(layer4.after).toBeLessThan(0.3);
    expect(reuseShares(resnet, movingOf(resnet, 'fc'))!.after).toBeCloseTo(5120 / total, 12);
  });

  it('segment a graph into graphs with the cut value as their input', () => {
    const cut = prefixCut(resnet, movingOf(resnet, 'layer4'))!;
    const head = segmentGraph(resnet, undefined, cut);
    const tail = segmentGraph(resnet, cut, undefined);
    expect(head.outputs).toBe(256 * 8 * 8);
    expect(tail.inputShape).toEqual([256, 8, 8]);
    expect(head.nodes.length + tail.nodes.length).toBe(resnet.nodes.length + 1); // + the flatten
    expect(tail.nodes[0]).toMatchObject({ input: 'x' });
    expect(() => segmentGraph(resnet, cut, cut)).toThrow(/empty segment/);
  });
});

describe.each([
  { engineName: 'onnx', create: () => OnnxEngine.create({ provider: 'cpu', threads: 2 }) },
  // What a bench-sized evaluation (≥ 256 examples per α) gets: a session per bound state, θ as initializers.
  {
    engineName: 'onnx initializers',
    create: () => OnnxEngine.create({ provider: 'cpu', threads: 2, state: 'initializers' }),
  },
  { engineName: 'tfjs', create: () => TfjsEngine.create() },
] as const)('prefix reuse on $engineName', ({ engineName, create }) => {
  let engine: Engine;
  beforeAll(async () => void (engine = await create()));
  afterAll(async () => engine?.close());

  it('the MLP fixture: every block-wise path at all 11 α as naive, α = 1 as PyTorch, in several chunks', async () => {
    const init = readCheckpointFixture('mlp/init.safetensors');
    const final = readCheckpointFixture('mlp/final.safetensors');
    const reference = readReferenceFixture('mlp/reference.json');
    const test = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
    const graph = buildModelGraph('mlp', init.tensors);
    const examples: Examples = { x: test.x, labels: Int32Array.from(test.labels), n: test.n };
    const states = { from: init.state, to: final.state };
    const blocks = graph.blocks;
    const naive = await sweep(engine, graph, states, examples, blocks, reference.alphas, {
      batchSize: 500,
      prefixCacheBytes: 0,
    });
    // 5000 examples × (64 + 64) hidden values × 4 bytes: 2.6 MB; 1 MB holds two batches of 500 at a time.
    const reused = await sweep(engine, graph, states, examples, blocks, reference.alphas, {
      batchSize: 500,
      prefixCacheBytes: 2 ** 20,
    });
    expect(naive.plans.every((p) => p.cut === undefined)).toBe(true);
    expect(reused.plans.map((p) => p.cut?.index)).toEqual([undefined, 2, 4]);
    const worst = expectSameTallies(reused.tallies, naive.tallies);
    for (const block of blocks) {
      const atOne = reused.tallies.get(block)!.at(-1)!;
      expect(relative(atOne.lossSum / atOne.n, reference.full.loss.at(-1)!)).toBeLessThanOrEqual(PYTORCH_RELATIVE);
      expect(atOne.correct).toBe(reference.full.correct.at(-1));
    }
    console.info(`${engineName} mlp: prefix reuse vs naive, worst relative loss difference ${worst.toExponential(2)}`);
  });

  itWithFixtures(
    RESNET18_FIXTURES,
    'the ResNet-18 fixture: every block-wise path as naive and as PyTorch (first images, two chunks)',
    async () => {
      const images = engineName === 'tfjs' ? 4 : 8;
      const alphaIndices = [7];
      const { init, final, reference, subset, referenceRows } = readResnet18Subset(images);
      const graph = buildModelGraph('resnet18-cifar', final.tensors);
      const examples: Examples = { x: subset.x, labels: Int32Array.from(subset.labels), n: images };
      const states = { from: init.state, to: final.state };
      const alphas = alphaIndices.map((i) => reference.alphas[i]!);
      const blocks = graph.blocks;
      const batchSize = images / 2;
      const naive = await sweep(engine, graph, states, examples, blocks, alphas, { batchSize, prefixCacheBytes: 0 });
      // The cuts of layer1..fc hold 64·32·32 + 64·32·32 + 128·16·16 + 256·8·8 + 512 floats per example (0.72 MB):
      // 1.3 MB per example lets one batch (of two) in at a time.
      const reused = await sweep(engine, graph, states, examples, blocks, alphas, {
        batchSize,
        prefixCacheBytes: 1.3e6 * batchSize,
      });
      // The stem has no cut before it, but the ops after it (from layer1's cut on) are bound once at θ_to.
      expect(reused.plans[0]).toMatchObject({
        cut: undefined,
        end: { value: reused.plans[1]!.cut!.value },
        reason: expect.stringMatching(/^the first moving op comes before any cut of the graph; the ops from/),
      });
      expect(reused.plans.slice(1).every((p) => p.cut !== undefined)).toBe(true);
      // Each block's moving part ends where the next block's cut is; fc's runs to the logits.
      expect(reused.plans.slice(0, -1).map((p) => p.end?.index)).toEqual(
        reused.plans.slice(1).map((p) => p.cut?.index),
      );
      expect(reused.plans.at(-1)!.end).toBeUndefined();
      const worst = expectSameTallies(reused.tallies, naive.tallies);
      for (const block of blocks) {
        alphaIndices.forEach((alphaIndex, i) => {
          const logits = referenceRows(`block.${block}`, alphaIndex);
          const expected = tallyBatch(emptyTally(), logits, subset.labels, 10);
          const got = reused.tallies.get(block)![i]!;
          expect(relative(got.lossSum, expected.lossSum), `${block} α=${alphas[i]}`).toBeLessThanOrEqual(
            PYTORCH_RELATIVE,
          );
          expect(got.correct).toBe(expected.correct);
        });
      }
      console.info(
        `${engineName} resnet18: prefix reuse vs naive, worst relative loss difference ${worst.toExponential(2)}`,
      );
    },
    120_000,
  );

  it('evaluateAlphas on a block-wise path reuses the prefix; with RECOMPUTE it says why not', async () => {
    const init = readCheckpointFixture('mlp/init.safetensors');
    const final = readCheckpointFixture('mlp/final.safetensors');
    const graph = buildModelGraph('mlp', init.tensors);
    const test = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
    const size = graph.inputShape.reduce((a, b) => a * b, 1);
    const examples: Examples = {
      x: test.x.subarray(0, 100 * size),
      labels: Int32Array.from(test.labels.subarray(0, 100)),
      n: 100,
    };
    const plans: EvaluationPlan[] = [];
    const points: EvaluatedPoint[] = [];
    const common = { engine, graph, from: init.state, to: final.state, examples, batchSize: 50, alphas: [0.5] };
    await evaluateAlphas({
      ...common,
      moving: movingOf(graph, graph.blocks.at(-1)!),
      onPoint: async (p) => void points.push(p),
      onPlan: (p) => plans.push(p),
    });
    expect(plans[0]!.cut?.index).toBe(4);
    expect(points).toHaveLength(1);
    // The plan is told before any work; the MLP has no BatchNorm, so the naive evaluation then refuses.
    const planOnly: EvaluationPlan[] = [];
    await expect(
      evaluatePaths({
        ...common,
        recomputeBatchNorm: examples,
        paths: [{ moving: movingOf(graph, graph.blocks.at(-1)!), alphas: [0.5], onPoint: async () => undefined }],
        onPlan: (p) => planOnly.push(...p),
      }),
    ).rejects.toThrow(/no BatchNorm/);
    expect(planOnly[0]).toMatchObject({ cut: undefined, reason: expect.stringMatching(/RECOMPUTE/) });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/compute/engine.js';
import { evaluateAlphas, type EvaluatedPoint, type EvaluationPlan } from '../../src/compute/evaluator.js';
import { irUnavailable, type ModelGraph } from '../../src/compute/model-ir.js';
import { OnnxEngine } from '../../src/compute/onnx/onnx.engine.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { readOnnxModelFixture, type OnnxModelFixture, type PointReference } from '../helpers/onnx-fixtures.js';

/**
 * Architectures defined by a PyTorch ONNX export (test/fixtures/onnx, scripts/make-onnx-fixtures.py) against
 * PyTorch's own curves: the full path and one block-wise path, 11 α each, every example. Mean loss within 1e-5
 * relative, `correct` exact. Each model on each route it has: the IR route (both engines on the graph lowered
 * into linpath's model IR) and ONNX Runtime on the export itself (always possible; the only route of the ViT,
 * whose attention reshapes have no IR form).
 */
const LOSS_RELATIVE_TOLERANCE = 1e-5;
const ALPHAS = Array.from({ length: 11 }, (_, i) => i / 10);

/** The same architecture with its IR graph dropped: ONNX Runtime runs the export itself. */
const exportRoute = (graph: ModelGraph): ModelGraph => ({
  ...graph,
  nodes: [],
  output: graph.onnx!.output,
  onnx: { ...graph.onnx!, unsupportedOps: ['(forced by the test)'] },
});

async function curve(
  engine: Engine,
  graph: ModelGraph,
  fixture: OnnxModelFixture,
  block?: string,
): Promise<EvaluatedPoint[] & { plan?: EvaluationPlan }> {
  const points: EvaluatedPoint[] & { plan?: EvaluationPlan } = [];
  const moving =
    block === undefined
      ? ('all' as const)
      : new Set([...fixture.final.state.keys()].filter((n) => n === block || n.startsWith(`${block}.`)));
  await evaluateAlphas({
    engine,
    graph,
    from: fixture.init.state,
    to: fixture.final.state,
    moving,
    examples: fixture.examples,
    alphas: ALPHAS,
    batchSize: 64,
    onPoint: async (point) => void points.push(point),
    onPlan: (plan) => (points.plan = plan),
  });
  return points;
}

function expectCurve(reported: readonly EvaluatedPoint[], reference: readonly PointReference[]): void {
  // A block-wise path may report α = 1 (θ_to, where its prefix pass runs) first.
  const points = [...reported].sort((a, b) => a.alpha - b.alpha);
  expect(points.map((p) => p.alpha)).toEqual(reference.map((r) => r.alpha));
  points.forEach((point, i) => {
    const ref = reference[i]!;
    const loss = point.tally.lossSum / point.tally.n;
    expect(
      Math.abs(loss - ref.loss) / Math.abs(ref.loss),
      `α = ${point.alpha}: loss ${loss} vs ${ref.loss}`,
    ).toBeLessThan(LOSS_RELATIVE_TOLERANCE);
    expect(point.tally.correct, `α = ${point.alpha}: correct`).toBe(ref.correct);
    expect(point.tally.n).toBe(ref.n);
  });
}

describe('user architectures from ONNX exports against PyTorch', () => {
  const engines: Partial<Record<'onnx' | 'tfjs', Engine>> = {};
  beforeAll(async () => {
    engines.onnx = await OnnxEngine.create({ provider: 'cpu', threads: 1 });
    engines.tfjs = await TfjsEngine.create({ backend: 'cpu' });
  });
  afterAll(async () => {
    await engines.onnx?.close();
    await engines.tfjs?.close();
  });

  describe.each([
    { folder: 'mlp-bn', file: 'model.onnx', ir: true },
    { folder: 'mlp-bn', file: 'model.noparams.onnx', ir: true },
    // Exported at the init state: equal parameters deduplicated into Identity nodes, evaluated at states where
    // they differ.
    { folder: 'mlp-bn', file: 'model.dedup.onnx', ir: true },
    { folder: 'mobilenetv3', file: 'model.onnx', ir: true },
    { folder: 'vit', file: 'model.onnx', ir: false },
  ])('$folder ($file)', ({ folder, file, ir }) => {
    const fixture = readOnnxModelFixture(folder, file);

    it(`lowers into the model IR: ${ir}`, () => {
      expect(irUnavailable(fixture.graph) === undefined).toBe(ir);
      expect(fixture.graph.inputShape).toEqual(fixture.reference.inputShape);
      expect(fixture.graph.outputs).toBe(fixture.reference.classes);
    });

    const routes = [
      ...(ir ? (['onnx', 'tfjs'] as const).map((engine) => ({ engine, route: 'IR' })) : []),
      { engine: 'onnx' as const, route: 'export' },
    ];
    it.each(routes)('full and block-wise paths on $engine ($route route)', async ({ engine, route }) => {
      const graph = route === 'IR' ? fixture.graph : exportRoute(fixture.graph);
      expectCurve(await curve(engines[engine]!, graph, fixture), fixture.reference.full);
      const blockwise = await curve(engines[engine]!, graph, fixture, fixture.reference.block);
      expectCurve(blockwise, fixture.reference.blockwise);
      // The IR route reuses θ_to's activations before the moving block; the export route runs every op per α.
      if (route === 'IR') expect(blockwise.plan?.cut?.index).toBeGreaterThan(0);
      else expect(blockwise.plan).toMatchObject({ reason: expect.stringMatching(/runs as its ONNX export/) });
    });
  });

  it('tfjs refuses an export with ops that have no IR form, naming them', async () => {
    const { graph } = readOnnxModelFixture('vit');
    expect(graph.onnx!.unsupportedOps.join(' ')).toMatch(/Shape/);
    await expect(engines.tfjs!.prepare(graph)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringMatching(/engine tfjs: vit runs only on ONNX Runtime.*Shape/),
    });
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/compute/architectures/graph-builder.js';
import { INPUT, type ModelGraph } from '../../src/compute/model-ir.js';
import { trainGraph, type EpochProgress, type TrainingRecipe } from '../../src/compute/training/trainer.js';
import type { TensorToWrite } from '../../src/formats/safetensors.format.js';

/**
 * The learning curve's test points against PyTorch: test/fixtures/training/learning-curve.json
 * (make_reference.py, torch 1.13, float64) trains a BatchNorm MLP with BCE and Adam, and a plain MLP with
 * cross entropy and SGD, and after every epoch measures a held-out set in model.eval() under no_grad. The
 * trainer (float32) must give the same mean loss to 1e-5 relative and the same accuracy, with the training
 * itself unchanged by the measurement.
 */
interface Examples {
  n: number;
  x: number[];
  labels: number[];
}
interface Case {
  name: string;
  model: 'mlp' | 'mlp-bn';
  recipe: TrainingRecipe;
  data: Examples;
  evaluation: Examples;
  trainLosses: number[];
  evaluations: Array<{ loss: number; accuracy: number }>;
  snapshots: Array<{ tensors: Array<{ name: string; dtype: 'F32' | 'I64'; shape: number[]; data: number[] }> }>;
}

const reference = JSON.parse(
  readFileSync(new URL('../fixtures/training/learning-curve.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

function graphOf(model: Case['model']): ModelGraph {
  const b = new GraphBuilder().inBlock('body');
  const output =
    model === 'mlp'
      ? b.linear(b.relu(b.linear(INPUT, 'fc1', 3, 5)), 'fc2', 5, 3)
      : b.linear(b.relu(b.batchnorm(b.linear(INPUT, 'fc1', 3, 6), 'bn', 6)), 'fc2', 6, 1);
  return {
    architecture: model,
    inputShape: [3],
    output,
    outputs: model === 'mlp' ? 3 : 1,
    nodes: b.nodes,
    state: b.state,
    blocks: ['body'],
    aliases: {},
  };
}

const examples = (e: Examples) => ({ n: e.n, x: Float32Array.from(e.x), labels: Int32Array.from(e.labels) });
const initial = (c: Case): TensorToWrite[] =>
  c.snapshots[0]!.tensors.map((t) => ({
    name: t.name,
    dtype: t.dtype,
    shape: t.shape,
    data: t.dtype === 'I64' ? BigInt64Array.from(t.data, BigInt) : Float32Array.from(t.data),
  }));
const relative = (actual: number, expected: number) => Math.abs(actual - expected) / Math.max(1, Math.abs(expected));

describe('trainGraph measures a held-out set after every epoch, as PyTorch in eval mode', () => {
  it.each(reference.cases.flatMap((c) => (['cpu', 'wasm'] as const).map((backend) => [c.name, backend, c] as const)))(
    '%s (%s)',
    async (_name, backend, c) => {
      const progress: EpochProgress[] = [];
      const result = await trainGraph({
        graph: graphOf(c.model),
        initial: initial(c),
        data: examples(c.data),
        evaluation: examples(c.evaluation),
        recipe: c.recipe,
        backend: { backend },
        onEpoch: (p) => void progress.push(p),
      });
      expect(progress.map((p) => p.epoch)).toEqual(c.evaluations.map((_, i) => i + 1));
      progress.forEach((p, i) => {
        const want = c.evaluations[i]!;
        expect(p.evaluation!.accuracy, `epoch ${p.epoch} accuracy`).toBe(want.accuracy);
        expect(relative(p.evaluation!.loss!, want.loss), `epoch ${p.epoch} loss`).toBeLessThanOrEqual(1e-5);
        expect(relative(p.trainLoss, c.trainLosses[i]!), `epoch ${p.epoch} train loss`).toBeLessThanOrEqual(1e-5);
      });
      expect(result.evaluations).toEqual(progress.map((p) => p.evaluation));
    },
  );

  it('measures nothing without evaluation examples, and refuses ones that do not fit the model', async () => {
    const c = reference.cases[0]!;
    const args = { graph: graphOf(c.model), initial: initial(c), data: examples(c.data), recipe: c.recipe };
    const result = await trainGraph({ ...args, recipe: { ...c.recipe, epochs: 1 }, backend: { backend: 'cpu' } });
    expect(result.evaluations).toEqual([null]);
    await expect(
      trainGraph({ ...args, evaluation: { n: 2, x: new Float32Array(5), labels: Int32Array.from([0, 1]) } }),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      message: 'evaluation data: expected 2 × [3] = 6 inputs, got 5',
    });
  });
});

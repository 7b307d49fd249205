import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { Engine } from '../../src/compute/engine.js';
import { EngineProvider } from '../../src/compute/engines.js';
import { evaluateStates } from '../../src/compute/evaluator.js';
import { TfjsThreadEngine } from '../../src/compute/tfjs/tfjs.thread.js';
import { interpolateState } from '../../src/domain/interpolation.js';
import { meanLoss, type LossTally } from '../../src/domain/losses.js';
import { ErrorCode } from '../../src/errors.js';
import { readCheckpointFixture, readReferenceFixture, readTestSetFixture } from '../helpers/engine-fixtures.js';

/**
 * A crash of the TFJS thread (issue 13): the server's tfjs engine (EngineProvider's, in a worker thread) loses its
 * thread in the middle of an evaluation, once because the thread exits and once because an exception escapes in
 * it. The evaluation under way fails with UNAVAILABLE (which the job policy retries), and the next evaluation
 * gets a new thread and PyTorch's numbers (mlp/reference.json, init → final).
 */
const init = readCheckpointFixture('mlp/init.safetensors');
const final = readCheckpointFixture('mlp/final.safetensors');
const testSet = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
const reference = readReferenceFixture('mlp/reference.json');
const graph = buildModelGraph('mlp', final.tensors);
const examples = { x: testSet.x, labels: Int32Array.from(testSet.labels), n: testSet.n };

/** The thread behind an engine: the test reaches into the engine to end it as a crash would. */
const threadOf = (engine: Engine): Worker => {
  expect(engine).toBeInstanceOf(TfjsThreadEngine);
  return Reflect.get(engine, 'worker') as Worker;
};

/** Evaluates `alphas` on init → final; `afterFirst` runs once the first point is in. */
async function evaluate(engine: Engine, alphas: readonly number[], afterFirst?: () => Promise<void> | void) {
  const tallies: LossTally[] = [];
  await evaluateStates({
    engine,
    graph,
    examples,
    batchSize: 500,
    points: alphas.map((alpha) => ({ state: () => interpolateState(init.state, final.state, alpha, 'all') })),
    onPoint: async (_index, tally) => {
      tallies.push(tally);
      if (tallies.length === 1) await afterFirst?.();
    },
  });
  return tallies;
}

/** The respawned engine is held to PyTorch: loss at every reference α within 1e-5 relative. */
async function expectPyTorchCurve(engine: Engine): Promise<void> {
  const tallies = await evaluate(engine, reference.alphas);
  expect(tallies).toHaveLength(reference.alphas.length);
  tallies.forEach((tally, i) => {
    const expected = reference.full.loss[i]!;
    expect(Math.abs(meanLoss(tally) - expected)).toBeLessThanOrEqual(1e-5 * expected);
  });
}

describe('a crash of the TFJS thread', () => {
  const engines = new EngineProvider({ onnxProvider: 'cpu', threads: 0, tfjsBackend: 'cpu' });
  afterAll(() => engines.close());

  it(
    'that exits: the evaluation under way fails UNAVAILABLE, the next one runs on a new thread',
    { timeout: 120_000 },
    async () => {
      const crashed = await engines.get('tfjs');
      const exited = new Promise<number>((resolve) => threadOf(crashed).once('exit', resolve));
      const evaluation = evaluate(crashed, [0, 0.5, 1], () => void threadOf(crashed).terminate());
      await expect(evaluation).rejects.toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        message: expect.stringMatching(/^the tfjs thread exited \(code 1\)/),
      });
      expect(await exited).toBe(1);
      // The dead engine refuses at once with the same code, instead of hanging.
      await expect(crashed.prepare(graph)).rejects.toMatchObject({ code: ErrorCode.UNAVAILABLE });

      const respawned = await engines.get('tfjs');
      expect(respawned).not.toBe(crashed);
      await expectPyTorchCurve(respawned);
    },
  );

  it(
    'that throws: an exception escaping in the thread fails the evaluation UNAVAILABLE, then a new thread',
    { timeout: 120_000 },
    async () => {
      const crashed = await engines.get('tfjs');
      const evaluation = evaluate(crashed, [0, 0.5, 1], () => {
        // A message the thread's handler cannot answer: its reply throws, outside any request, and nothing catches
        // it there (an unhandled rejection ends a Node thread, as an uncaught exception does).
        threadOf(crashed).postMessage(null);
      });
      await expect(evaluation).rejects.toMatchObject({
        code: ErrorCode.UNAVAILABLE,
        message: expect.stringMatching(/^the tfjs thread failed: /),
      });

      const respawned = await engines.get('tfjs');
      expect(respawned).not.toBe(crashed);
      await expectPyTorchCurve(respawned);
    },
  );
});

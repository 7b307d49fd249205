import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { PreparedModel } from '../../src/compute/engine.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { interpolateState } from '../../src/domain/interpolation.js';
import { ErrorCode } from '../../src/errors.js';
import {
  evaluatePoint,
  fixtureFloats,
  maxAbsDiff,
  readCheckpointFixture,
  readReferenceFixture,
  readSafetensorsFixture,
  readTestSetFixture,
} from '../helpers/engine-fixtures.js';

/**
 * The TensorFlow.js engine against the PyTorch MLP fixture (test/fixtures/mlp): every α of init → final
 * and init → epoch5 on all 5000 test points, on the wasm backend (the default here) and on cpu (the same
 * contract, another backend).
 */

const init = readCheckpointFixture('mlp/init.safetensors');
const ends = {
  final: readCheckpointFixture('mlp/final.safetensors'),
  epoch5: readCheckpointFixture('mlp/epoch5.safetensors'),
};
const testSet = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
const reference = readReferenceFixture('mlp/reference.json');
const referenceLogits = readSafetensorsFixture('mlp/reference_logits.safetensors');
const graph = buildModelGraph('mlp', ends.final.tensors);
const N = testSet.n;

const CURVES = [
  { curve: 'full', end: 'final' },
  { curve: 'full_epoch5', end: 'epoch5' },
] as const;

describe.each(['wasm', 'cpu'] as const)('TfjsEngine (%s) on the MLP spiral fixture', (backend) => {
  let engine: TfjsEngine;
  let prepared: PreparedModel;
  const timings: number[] = [];
  const diffs: number[] = [];

  beforeAll(async () => {
    engine = await TfjsEngine.create({ backend });
    prepared = await engine.prepare(graph);
  });
  afterAll(async () => {
    await engine.close();
    const sorted = [...timings].sort((a, b) => a - b);
    console.info(
      `tfjs ${backend} MLP, ${N} points per α (bind + logits + dispose): median ${sorted[sorted.length >> 1]?.toFixed(1)} ms, ` +
        `max ${sorted.at(-1)?.toFixed(1)} ms; max |Δlogit| vs PyTorch ${Math.max(...diffs).toExponential(2)}`,
    );
  });

  it('names its backend in its version', () => {
    expect(engine.name).toBe('tfjs');
    expect(engine.version).toBe(`tfjs ${tf.version_core} ${backend}`);
  });

  describe.each(CURVES)('init → $end', ({ curve, end }) => {
    const logitRows = fixtureFloats(referenceLogits, curve, [reference.alphas.length, N]);
    const expected = reference[curve]!;
    const nearBoundary = reference.decision_margins[curve]!['count_margin_below_0.0001'];

    it.each(reference.alphas.map((alpha, index) => ({ alpha, index })))(
      'α = $alpha: logits, loss and accuracy as PyTorch',
      async ({ alpha, index }) => {
        const state = interpolateState(init.state, ends[end].state, alpha, 'all');
        const point = await evaluatePoint(prepared, state, testSet, 1, N);
        timings.push(point.milliseconds);

        const diff = maxAbsDiff(point.logits, logitRows.subarray(index * N, (index + 1) * N));
        diffs.push(diff);
        expect(diff).toBeLessThanOrEqual(1e-5);
        const loss = point.tally.lossSum / N;
        expect(Math.abs(loss - expected.loss[index]!)).toBeLessThanOrEqual(1e-5 * expected.loss[index]!);
        expect(point.tally.nonFinite).toBe(0);
        // Exact, except that a point whose PyTorch logit lies within 1e-4 of 0 may fall on the other side in
        // another float32 implementation: reference.json counts those per α (decision_margins).
        expect(Math.abs(point.tally.correct - expected.correct[index]!)).toBeLessThanOrEqual(nearBoundary[index]!);
      },
    );
  });
});

describe('TfjsEngine tensor ownership', () => {
  let engine: TfjsEngine;
  const state = interpolateState(init.state, ends.final.state, 0.5, 'all');
  const x = testSet.x.subarray(0, 2 * 100);

  beforeAll(async () => {
    engine = await TfjsEngine.create();
  });
  afterAll(() => engine.close());

  it('leaves tf.memory().numTensors as it was after prepare, bind, logits and dispose', async () => {
    const before = tf.memory().numTensors;
    const prepared = await engine.prepare(graph);
    const bound = await prepared.bind(state);
    expect(tf.memory().numTensors).toBe(before + 6); // the six bound state tensors, nothing else
    await bound.logits(x, 100);
    await bound.logits(x, 100);
    expect(tf.memory().numTensors).toBe(before + 6);
    await bound.dispose();
    await prepared.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('frees what is still bound when the model or the engine is disposed', async () => {
    const before = tf.memory().numTensors;
    const other = await TfjsEngine.create();
    const prepared = await other.prepare(graph);
    await prepared.bind(state);
    await prepared.bind(state);
    await (await other.prepare(graph)).bind(state);
    expect(tf.memory().numTensors).toBe(before + 18);
    await prepared.dispose();
    expect(tf.memory().numTensors).toBe(before + 6);
    await other.close();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a state without a tensor the graph reads, or of the wrong size, and uploads nothing', async () => {
    const prepared = await engine.prepare(graph);
    const before = tf.memory().numTensors;
    const broken = new Map(state);
    broken.delete('fc2.bias');
    broken.set('fc1.weight', new Float32Array(7));
    const error = await prepared.bind(broken).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.BAD_USER_INPUT });
    expect((error as Error).message).toContain('fc2.bias: missing');
    expect((error as Error).message).toContain('fc1.weight: expected 100 values ([50, 2]), got 7');
    expect(tf.memory().numTensors).toBe(before);
    await prepared.dispose();
  });

  it('rejects inputs that are not n examples of the input shape, and use after dispose', async () => {
    const prepared = await engine.prepare(graph);
    const bound = await prepared.bind(state);
    await expect(bound.logits(x, 99)).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      message: 'logits: expected 99 × [2] = 198 input values, got 200',
    });
    expect(await bound.logits(new Float32Array(0), 0)).toEqual(new Float32Array(0));
    await bound.dispose();
    await expect(bound.logits(x, 100)).rejects.toThrow(/disposed/);
    await prepared.dispose();
    await expect(prepared.bind(state)).rejects.toThrow(/disposed/);
  });
});

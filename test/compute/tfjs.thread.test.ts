import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph, buildNewModelGraph } from '../../src/compute/architectures/index.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { TfjsThreadEngine } from '../../src/compute/tfjs/tfjs.thread.js';
import { interpolateState } from '../../src/domain/interpolation.js';
import { ErrorCode } from '../../src/errors.js';
import { readCheckpointFixture, readTestSetFixture } from '../helpers/engine-fixtures.js';

/**
 * TFJS evaluation off the event loop (issue 13): the tfjs engine the server uses (EngineProvider) runs in a
 * worker thread. It gives the in-thread engine's logits bit for bit (that engine is held to PyTorch in
 * tfjs.engine.test.ts), keeps coded errors, and leaves this event loop free while a batch computes: the
 * measure is the longest gap between 10 ms timer ticks during one large batch, against the same batch on the
 * in-thread engine (the baseline, measured in the same run).
 */
describe('TfjsThreadEngine', () => {
  let thread: TfjsThreadEngine;
  let local: TfjsEngine;
  beforeAll(async () => {
    thread = await TfjsThreadEngine.create({ backend: 'cpu' });
    local = await TfjsEngine.create({ backend: 'cpu' });
  }, 60_000);
  afterAll(async () => {
    await thread?.close();
    await local?.close();
  });

  it('names the same engine and backend, and gives the in-thread logits bit for bit', async () => {
    expect(thread.name).toBe('tfjs');
    expect(thread.version).toBe(local.version);
    const init = readCheckpointFixture('mlp/init.safetensors');
    const final = readCheckpointFixture('mlp/final.safetensors');
    const testSet = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
    const graph = buildModelGraph('mlp', final.tensors);
    for (const alpha of [0, 0.37, 1]) {
      const state = interpolateState(init.state, final.state, alpha, 'all');
      const logits = async (engine: TfjsEngine | TfjsThreadEngine) => {
        const prepared = await engine.prepare(graph);
        const bound = await prepared.bind(state, { examples: testSet.n });
        const result = await bound.logits(testSet.x, testSet.n);
        await bound.dispose();
        await prepared.dispose();
        return result;
      };
      const [fromThread, fromHere] = [await logits(thread), await logits(local)];
      expect(fromThread).toHaveLength(testSet.n);
      expect(fromThread).toEqual(fromHere);
    }
  });

  it('keeps the codes of its errors (BAD_USER_INPUT for a state that does not fit)', async () => {
    const final = readCheckpointFixture('mlp/final.safetensors');
    const prepared = await thread.prepare(buildModelGraph('mlp', final.tensors));
    const partial = new Map([...final.state].slice(1));
    await expect(prepared.bind(partial)).rejects.toMatchObject({
      code: ErrorCode.BAD_USER_INPUT,
      message: expect.stringContaining('missing'),
    });
    await prepared.dispose();
  });

  it('leaves this event loop free while a batch computes', { timeout: 120_000 }, async () => {
    const graph = buildNewModelGraph('mlp', { inputShape: [2], outputs: 3, hiddenWidths: [512, 512] });
    const state = new Map(randomInitialState(graph, 5).map((t) => [t.name, t.data as Float32Array]));
    const n = 1024;
    const x = new Float32Array(2 * n).map((_, i) => Math.sin(i * 0.3));
    const timed = async (engine: TfjsEngine | TfjsThreadEngine) => {
      const prepared = await engine.prepare(graph);
      const bound = await prepared.bind(state);
      let last = performance.now();
      let gapMs = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        gapMs = Math.max(gapMs, now - last);
        last = now;
      }, 10);
      try {
        const logits = await bound.logits(x, n);
        return { logits, gapMs: Math.max(gapMs, performance.now() - last) };
      } finally {
        clearInterval(timer);
        await bound.dispose();
        await prepared.dispose();
      }
    };
    const here = await timed(local);
    const inThread = await timed(thread);
    expect(inThread.logits).toEqual(here.logits);
    console.log(
      `longest event-loop gap during one ${n}-example batch: in this thread ${here.gapMs.toFixed(0)} ms, ` +
        `in the tfjs thread ${inThread.gapMs.toFixed(0)} ms`,
    );
    expect(inThread.gapMs).toBeLessThan(here.gapMs / 3);
  });
});

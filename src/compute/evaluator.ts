import type { Examples } from '../domain/examples.js';
import { interpolateState } from '../domain/interpolation.js';
import { emptyTally, tallyBatch, type LossTally } from '../domain/losses.js';
import { BatchNormRecomputer } from './bn-recompute.js';
import type { Engine, StateMap } from './engine.js';
import type { ModelGraph } from './model-ir.js';

export interface EvaluatedPoint {
  alpha: number;
  tally: LossTally;
  durationMs: number;
}

export interface EvaluateAlphasArgs {
  engine: Engine;
  graph: ModelGraph;
  from: StateMap;
  to: StateMap;
  moving: ReadonlySet<string> | 'all';
  examples: Examples;
  alphas: readonly number[];
  /**
   * When given, every BatchNorm's running statistics are recomputed at each α over these examples with the
   * interpolated weights (bn-recompute.ts), replacing whatever the interpolation gave them.
   */
  recomputeBatchNorm?: Examples | undefined;
  /** Examples per forward pass: bounds the engine's activation memory. */
  batchSize: number;
  /** Called as each α completes, in order; a rejection stops the evaluation. */
  onPoint(point: EvaluatedPoint): Promise<void>;
}

/**
 * Loss and accuracy at each α: θ(α) is built once per α, bound to the engine once, and the examples run
 * through it in batches. Losses are summed from the logits by domain/losses.ts, whatever the engine.
 */
export async function evaluateAlphas(args: EvaluateAlphasArgs): Promise<void> {
  const { engine, graph, examples, batchSize } = args;
  const perExample = graph.inputShape.reduce((a, b) => a * b, 1);
  if (examples.x.length !== examples.n * perExample || examples.labels.length !== examples.n) {
    throw new RangeError(`evaluateAlphas: expected ${examples.n} examples of ${perExample} values with labels`);
  }
  const prepared = await engine.prepare(graph);
  let recomputer: BatchNormRecomputer | undefined;
  try {
    if (args.recomputeBatchNorm !== undefined) recomputer = await BatchNormRecomputer.prepare(engine, graph);
    for (const alpha of args.alphas) {
      const started = performance.now();
      const interpolated = interpolateState(args.from, args.to, alpha, args.moving);
      const state =
        recomputer === undefined
          ? interpolated
          : await recomputer.recompute(interpolated, args.recomputeBatchNorm!, batchSize);
      const bound = await prepared.bind(state, { examples: examples.n });
      let tally = emptyTally();
      try {
        for (let start = 0; start < examples.n; start += batchSize) {
          const count = Math.min(batchSize, examples.n - start);
          const logits = await bound.logits(
            examples.x.subarray(start * perExample, (start + count) * perExample),
            count,
          );
          tally = tallyBatch(tally, logits, examples.labels.subarray(start, start + count), graph.outputs);
        }
      } finally {
        await bound.dispose();
      }
      await args.onPoint({ alpha, tally, durationMs: performance.now() - started });
    }
  } finally {
    await recomputer?.dispose();
    await prepared.dispose();
  }
}

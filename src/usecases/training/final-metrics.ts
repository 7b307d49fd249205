import { evaluateAlphas } from '../../compute/evaluator.js';
import type { ModelGraph } from '../../compute/model-ir.js';
import type { Examples } from '../../domain/examples.js';
import { reportedMetrics } from '../../domain/losses.js';
import type { TensorToWrite } from '../../formats/safetensors.format.js';
import type { PathDeps } from '../paths/paths.deps.js';

/** The float tensors of a snapshot by name, as `measureFinalState` takes them. */
export const floatState = (tensors: readonly TensorToWrite[]): Map<string, Float32Array> =>
  new Map(tensors.filter((t) => t.data instanceof Float32Array).map((t) => [t.name, t.data as Float32Array]));

/** What a trained run reports: `trainLoss`, `trainAccuracy` and, given a test set, `testLoss`, `testAccuracy`. */
export type FinalMetrics = Record<string, number | null>;

/**
 * Loss and accuracy of a final state on the training set and the test set, with the evaluation engine (the
 * numbers its curves give at α = 1): the `reportedMetrics` of a run trained by `trainRun` or by the demo.
 * `state`: the float tensors by name (integer ones, such as num_batches_tracked, are not read).
 */
export async function measureFinalState(
  paths: Pick<PathDeps, 'engines' | 'settings'>,
  graph: ModelGraph,
  state: ReadonlyMap<string, Float32Array>,
  train: Examples,
  test: Examples | undefined,
): Promise<FinalMetrics> {
  const engine = await paths.engines.get(paths.settings.defaultEngine);
  const evaluate = async (examples: Examples) => {
    let result = { loss: null as number | null, accuracy: 0 };
    await evaluateAlphas({
      engine,
      graph,
      from: state,
      to: state,
      moving: 'all',
      examples,
      alphas: [1],
      batchSize: paths.settings.batchSize,
      onPoint: async ({ tally }) => {
        result = reportedMetrics(tally);
      },
    });
    return result;
  };
  const onTrain = await evaluate(train);
  const metrics: FinalMetrics = { trainLoss: onTrain.loss, trainAccuracy: onTrain.accuracy };
  if (test !== undefined) {
    const onTest = await evaluate(test);
    metrics.testLoss = onTest.loss;
    metrics.testAccuracy = onTest.accuracy;
  }
  return metrics;
}

import type { LearningCurveEpochRow } from '../../storage/training.tables.js';
import type { TrainingDeps } from './training.usecases.js';

/**
 * The learning curves of runs trained by linpath (per-epoch train and test loss and accuracy, as the training
 * worker recorded them), in the order of `runIds`, each in epoch order; empty for a run trained elsewhere or
 * not trained yet. One query for all of them.
 */
export async function learningCurves(
  deps: Pick<TrainingDeps, 'training'>,
  runIds: readonly string[],
): Promise<LearningCurveEpochRow[][]> {
  const byRun = new Map<string, LearningCurveEpochRow[]>(runIds.map((id) => [id, []]));
  for (const row of await deps.training.learningCurves([...new Set(runIds)])) byRun.get(row.runId)?.push(row);
  return runIds.map((id) => byRun.get(id)!);
}

import { describe, expect, it } from 'vitest';
import { buildNewModelGraph } from '../../src/compute/architectures/index.js';
import type { TrainingRecipe } from '../../src/compute/training/trainer.js';
import { checkTrainingWork, DEFAULT_TRAINING_LIMITS } from '../../src/usecases/training/training.limits.js';

/** Bounds on one training's model size, total work and checkpoints (issue 13, M6). */
describe('checkTrainingWork', () => {
  const mlp = (hiddenWidths: number[]) => buildNewModelGraph('mlp', { inputShape: [2], outputs: 1, hiddenWidths });
  const recipe = (epochs: number, checkpointEvery?: number): TrainingRecipe => ({
    optimizer: { kind: 'SGD', momentum: 0.9 },
    learningRate: 0.1,
    weightDecay: 0,
    epochs,
    batchSize: 100,
    seed: 1,
    ...(checkpointEvery === undefined ? {} : { checkpointEvery }),
  });

  it('lets the spiral study through', () => {
    expect(() => checkTrainingWork(mlp([50, 50]), recipe(60, 10), 5000, DEFAULT_TRAINING_LIMITS)).not.toThrow();
  });

  it('refuses a model over LINPATH_TRAIN_MAX_PARAMETERS', () => {
    expect(() => checkTrainingWork(mlp([65_536, 65_536]), recipe(1), 5000, DEFAULT_TRAINING_LIMITS)).toThrowError(
      /^model: mlp of this size has 4295294977 parameters, over the most a training may have, 50000000 \(LINPATH_TRAIN_MAX_PARAMETERS\)/,
    );
  });

  it('refuses parameters × examples × epochs over LINPATH_TRAIN_MAX_WORK', () => {
    // The request: hiddenWidths [1024, 1024] on 5000 examples for 10,000 epochs.
    expect(() => checkTrainingWork(mlp([1024, 1024]), recipe(10_000), 5000, DEFAULT_TRAINING_LIMITS)).toThrowError(
      /^epochs: 1053697 parameters × 5000 examples × 10000 epochs = 5\.27e\+13, over the most one training may do, 2\.00e\+13 \(LINPATH_TRAIN_MAX_WORK\)/,
    );
  });

  it('refuses more checkpoints than LINPATH_TRAIN_MAX_CHECKPOINTS', () => {
    expect(() => checkTrainingWork(mlp([8]), recipe(10_000, 1), 100, DEFAULT_TRAINING_LIMITS)).toThrowError(
      /^checkpointEvery: 1 over 10000 epochs stores 10001 checkpoints, over the most one training may store, 1000 \(LINPATH_TRAIN_MAX_CHECKPOINTS\)/,
    );
    expect(() => checkTrainingWork(mlp([8]), recipe(999, 1), 100, DEFAULT_TRAINING_LIMITS)).not.toThrow();
  });
});

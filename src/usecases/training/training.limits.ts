import type { ModelGraph } from '../../compute/model-ir.js';
import type { TrainingRecipe } from '../../compute/training/trainer.js';
import { badUserInput } from '../../errors.js';

/** Bounds on what one training request may cost; each names its variable in the error that enforces it. */
export interface TrainingLimits {
  /** LINPATH_TRAIN_MAX_PARAMETERS: state tensor elements of the model (its size in floats). */
  maxParameters: number;
  /** LINPATH_TRAIN_MAX_WORK: parameters × training examples × epochs (about a sixth of its FLOPs). */
  maxWork: number;
  /** LINPATH_TRAIN_MAX_CHECKPOINTS: checkpoints one training stores (initial, every checkpointEvery, final). */
  maxCheckpoints: number;
}

export const DEFAULT_TRAINING_LIMITS: TrainingLimits = {
  maxParameters: 50_000_000,
  maxWork: 2e13,
  maxCheckpoints: 1000,
};

/** Refuses (BAD_USER_INPUT, with the bound and its variable) a training over one of `limits`. */
export function checkTrainingWork(
  graph: ModelGraph,
  recipe: TrainingRecipe,
  examples: number,
  limits: TrainingLimits,
): void {
  const parameters = graph.state.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0);
  if (parameters > limits.maxParameters) {
    throw badUserInput(
      `model: ${graph.architecture} of this size has ${parameters} parameters, over the most a training may have, ${limits.maxParameters} (LINPATH_TRAIN_MAX_PARAMETERS); choose smaller hiddenWidths or width`,
    );
  }
  const work = parameters * examples * recipe.epochs;
  if (work > limits.maxWork) {
    throw badUserInput(
      `epochs: ${parameters} parameters × ${examples} examples × ${recipe.epochs} epochs = ${work.toExponential(2)}, over the most one training may do, ${limits.maxWork.toExponential(2)} (LINPATH_TRAIN_MAX_WORK); train fewer epochs, on fewer examples or a smaller model`,
    );
  }
  const every = recipe.checkpointEvery;
  const checkpoints = 2 + (every === undefined ? 0 : Math.floor((recipe.epochs - 1) / every));
  if (checkpoints > limits.maxCheckpoints) {
    throw badUserInput(
      `checkpointEvery: ${every} over ${recipe.epochs} epochs stores ${checkpoints} checkpoints, over the most one training may store, ${limits.maxCheckpoints} (LINPATH_TRAIN_MAX_CHECKPOINTS); checkpoint less often`,
    );
  }
}

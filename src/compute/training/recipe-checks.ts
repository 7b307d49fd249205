import { badUserInput } from '../../errors.js';
import type { Examples } from '../../domain/examples.js';
import type { ModelGraph } from '../model-ir.js';
import type { TrainingRecipe } from './trainer.js';

/** The checks of a training's recipe and examples, before anything is trained; BAD_USER_INPUT saying what is wrong. */
export function checkRecipe(recipe: TrainingRecipe, n: number): void {
  const fail = (what: string, expected: string, got: unknown) => {
    throw badUserInput(`training recipe: ${what}: expected ${expected}, got ${String(got)}`);
  };
  const integer = (value: number, min: number) => Number.isSafeInteger(value) && value >= min;
  if (!(Number.isFinite(recipe.learningRate) && recipe.learningRate >= 0))
    fail('learningRate', 'a finite number ≥ 0', recipe.learningRate);
  if (!(Number.isFinite(recipe.weightDecay) && recipe.weightDecay >= 0))
    fail('weightDecay', 'a finite number ≥ 0', recipe.weightDecay);
  if (!integer(recipe.epochs, 0)) fail('epochs', 'an integer ≥ 0', recipe.epochs);
  if (!integer(recipe.seed, 0)) fail('seed', 'an integer ≥ 0', recipe.seed);
  if (!integer(recipe.batchSize, 1) || recipe.batchSize > n) {
    fail(
      'batchSize',
      `an integer in [1, ${n}] (the number of examples; the last partial batch is dropped)`,
      recipe.batchSize,
    );
  }
  recipe.paramGroups?.forEach((group, i) => {
    if (group.blocks.length === 0 || group.blocks.some((b) => typeof b !== 'string' || b === ''))
      fail(`paramGroups[${i}].blocks`, 'one or more block names', JSON.stringify(group.blocks));
    if (group.lrScale !== undefined && !(Number.isFinite(group.lrScale) && group.lrScale >= 0))
      fail(`paramGroups[${i}].lrScale`, 'a finite number ≥ 0', group.lrScale);
    if (group.weightDecay !== undefined && !(Number.isFinite(group.weightDecay) && group.weightDecay >= 0))
      fail(`paramGroups[${i}].weightDecay`, 'a finite number ≥ 0', group.weightDecay);
  });
  if (
    recipe.stopAtTrainAccuracy !== undefined &&
    !(Number.isFinite(recipe.stopAtTrainAccuracy) && recipe.stopAtTrainAccuracy > 0 && recipe.stopAtTrainAccuracy <= 1)
  )
    fail('stopAtTrainAccuracy', 'a fraction in (0, 1]', recipe.stopAtTrainAccuracy);
  if (recipe.checkpointEvery !== undefined && !integer(recipe.checkpointEvery, 1))
    fail('checkpointEvery', 'an integer ≥ 1', recipe.checkpointEvery);
  if (recipe.schedule !== undefined) {
    const { milestones, factor } = recipe.schedule;
    if (!milestones.every((m) => integer(m, 1)))
      fail('schedule.milestones', 'integers ≥ 1 (epochs)', `[${milestones.join(', ')}]`);
    if (!(Number.isFinite(factor) && factor >= 0)) fail('schedule.factor', 'a finite number ≥ 0', factor);
  }
  const { optimizer } = recipe;
  const unit = (value: number) => Number.isFinite(value) && value >= 0 && value < 1;
  if (optimizer.kind === 'SGD') {
    if (!(Number.isFinite(optimizer.momentum) && optimizer.momentum >= 0))
      fail('optimizer.momentum', 'a finite number ≥ 0', optimizer.momentum);
    if (optimizer.nesterov === true && optimizer.momentum === 0)
      fail('optimizer.momentum', '> 0 with nesterov (as torch.optim.SGD)', 0);
  } else if (optimizer.kind === 'ADAM') {
    if (!unit(optimizer.beta1)) fail('optimizer.beta1', 'a number in [0, 1)', optimizer.beta1);
    if (!unit(optimizer.beta2)) fail('optimizer.beta2', 'a number in [0, 1)', optimizer.beta2);
    if (!(Number.isFinite(optimizer.epsilon) && optimizer.epsilon >= 0))
      fail('optimizer.epsilon', 'a finite number ≥ 0', optimizer.epsilon);
  } else {
    fail('optimizer.kind', 'SGD or ADAM', (optimizer as { kind: unknown }).kind);
  }
}

export function checkExamples(graph: ModelGraph, data: Examples, what = 'training data'): void {
  const width = size(graph.inputShape);
  if (!Number.isSafeInteger(data.n) || data.n < 0)
    throw badUserInput(`${what}: n: expected an integer ≥ 0, got ${data.n}`);
  if (data.x.length !== data.n * width) {
    throw badUserInput(
      `${what}: expected ${data.n} × [${graph.inputShape.join(', ')}] = ${data.n * width} inputs, got ${data.x.length}`,
    );
  }
  if (data.labels.length !== data.n)
    throw badUserInput(`${what}: expected ${data.n} labels, got ${data.labels.length}`);
  const classes = graph.outputs === 1 ? 2 : graph.outputs;
  const bad = data.labels.findIndex((label) => !(label >= 0 && label < classes));
  if (bad >= 0) {
    throw badUserInput(
      `${what}: label ${bad}: expected ${graph.outputs === 1 ? '0 or 1 (one output)' : `a class in [0, ${classes})`}, got ${data.labels[bad]}`,
    );
  }
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

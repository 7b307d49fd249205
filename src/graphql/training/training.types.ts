import { GraphQLJSONObject } from '../scalars.js';
import { Field, Float, GraphQLISODateTime, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum OptimizerEnum {
  SGD = 'SGD',
  ADAM = 'ADAM',
}
registerEnumType(OptimizerEnum, {
  name: 'Optimizer',
  valuesConfig: {
    SGD: { description: 'torch.optim.SGD: momentum (default 0.9), optional Nesterov, dampening 0.' },
    ADAM: { description: 'torch.optim.Adam (coupled weight decay, not AdamW): beta1, beta2, epsilon.' },
  },
});

export enum TrainingStatusEnum {
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETE = 'COMPLETE',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(TrainingStatusEnum, { name: 'TrainingStatus' });

@InputType({ description: 'A seeded fraction of the training labels redrawn uniformly from the classes.' })
export class RandomLabelsInput {
  @Field(() => Float, { description: 'Fraction of the training examples whose label is redrawn, in [0, 1].' })
  fraction!: number;

  @Field(() => Int, { description: 'Seeds which examples are redrawn and their new labels.' })
  seed!: number;
}

@InputType({
  description: 'One parameter group: blocks (or tensor names) with their own learning-rate scale and weight decay.',
})
export class ParamGroupInput {
  @Field(() => [String], { description: 'Blocks or state_dict names, e.g. ["fc1"] (fc1.weight, fc1.bias).' })
  blocks!: string[];

  @Field(() => Float, { nullable: true, description: 'Multiplies the learning rate (and its schedule); default 1.' })
  lrScale?: number | null;

  @Field(() => Float, { nullable: true, description: "Coupled L2 of this group; default the run's weightDecay." })
  weightDecay?: number | null;
}

@InputType({
  description: "A training run for TensorFlow.js in a worker. Matches PyTorch's semantics (see docs/training.md).",
})
export class TrainRunInput {
  @Field(() => String, { description: 'Name of the new run.' })
  run!: string;

  @Field(() => String, {
    nullable: true,
    description: 'mlp, resnet18-cifar, resnet34-cifar or vgg11-bn-cifar; default the architecture of init.',
  })
  architecture?: string | null;

  @Field(() => [Int], { nullable: true, description: 'mlp without init: hidden widths; default [50, 50].' })
  hiddenWidths?: number[] | null;

  @Field(() => Int, { nullable: true, description: 'ResNets without init: channels of the first stage; default 64.' })
  width?: number | null;

  @Field(() => ID, { description: 'The training examples.' })
  dataset!: string;

  @Field(() => ID, {
    nullable: true,
    description:
      "Where test metrics are measured; default the TEST split of the training dataset's name, if registered.",
  })
  testDataset?: string | null;

  @Field(() => OptimizerEnum)
  optimizer!: OptimizerEnum;

  @Field(() => Float, { nullable: true, description: 'SGD; default 0.9.' })
  momentum?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'SGD; default false.' })
  nesterov?: boolean | null;

  @Field(() => Float, { nullable: true, description: 'ADAM; default 0.9.' })
  beta1?: number | null;

  @Field(() => Float, { nullable: true, description: 'ADAM; default 0.999.' })
  beta2?: number | null;

  @Field(() => Float, { nullable: true, description: 'ADAM; default 1e-8.' })
  epsilon?: number | null;

  @Field(() => Float)
  learningRate!: number;

  @Field(() => [Int], {
    nullable: true,
    description: 'MultiStepLR: epochs after which the learning rate is multiplied by gamma.',
  })
  milestones?: number[] | null;

  @Field(() => Float, { nullable: true, description: 'MultiStepLR factor; default 0.1.' })
  gamma?: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Coupled L2 (PyTorch weight_decay): λ·θ added to each gradient; default 0.',
  })
  weightDecay?: number | null;

  @Field(() => Int)
  epochs!: number;

  @Field(() => Int, { description: 'Examples per step; the last partial batch of an epoch is dropped.' })
  batchSize!: number;

  @Field(() => Int, { description: 'Seeds the initialisation (without init) and the shuffling.' })
  seed!: number;

  @Field(() => ID, {
    nullable: true,
    description: 'Start from this checkpoint (e.g. a materialised barrier peak) instead of a random initialisation.',
  })
  init?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: 'Store a checkpoint after every k epochs, besides the initial and the final state.',
  })
  checkpointEvery?: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      'Stop after the first epoch whose running train accuracy (each batch measured before its step) reaches this fraction; epochs is then the most. That state is the FINAL checkpoint.',
  })
  stopAtTrainAccuracy?: number | null;

  @Field(() => RandomLabelsInput, {
    nullable: true,
    description:
      "Train on labels of which a seeded fraction is redrawn uniformly from the classes (the seed paper's adversarial initialisation: fraction 1, with stopAtTrainAccuracy).",
  })
  randomLabels?: RandomLabelsInput | null;

  @Field(() => [ParamGroupInput], {
    nullable: true,
    description:
      "PyTorch parameter groups (per-layer optimisation, the seed paper's Table A3): the tensors of each group's blocks train with learningRate × lrScale and the group's weightDecay; the first group naming a tensor wins; the rest train with the run's settings.",
  })
  paramGroups?: ParamGroupInput[] | null;

  @Field(() => [String], { nullable: true })
  tags?: string[] | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description:
      "More hyper-parameters to record on the run (e.g. an intervention label for report groupBy); not the recipe's own keys.",
  })
  hyperparameters?: Record<string, unknown> | null;
}

@ObjectType()
export class TrainingFailure {
  @Field(() => String, { description: 'An error code (BAD_USER_INPUT, NOT_FOUND, CONFLICT, UNAVAILABLE).' })
  code!: string;

  @Field(() => String)
  message!: string;
}

@ObjectType({ description: 'A training run being filled by a worker.' })
export class TrainingJob {
  @Field(() => ID)
  id!: string;

  runId!: string;

  @Field(() => TrainingStatusEnum)
  status!: TrainingStatusEnum;

  @Field(() => Int, { description: 'Epochs completed.' })
  epoch!: number;

  @Field(() => Int)
  epochs!: number;

  @Field(() => Int, { description: 'Optimizer steps taken.' })
  step!: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Mean training loss of the last epoch (batch means, as training saw them).',
  })
  trainLoss!: number | null;

  @Field(() => Int, {
    description: 'Times a worker started it; a retry starts over and reproduces the same checkpoints.',
  })
  attempts!: number;

  @Field(() => GraphQLJSONObject, {
    description: 'The resolved specification: architecture, model, datasets, init, recipe.',
  })
  spec!: Record<string, unknown>;

  @Field(() => TrainingFailure, { nullable: true })
  failure!: TrainingFailure | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;

  @Field(() => GraphQLISODateTime, { nullable: true })
  startedAt!: Date | null;

  @Field(() => GraphQLISODateTime, { nullable: true })
  finishedAt!: Date | null;
}

@ObjectType({ description: "One epoch of a run's learning curve." })
export class LearningCurveEpoch {
  @Field(() => Int, { description: 'Epochs completed (1-based).' })
  epoch!: number;

  @Field(() => Int, { description: 'Optimizer steps taken by the end of the epoch.' })
  step!: number;

  @Field(() => Float, { description: 'The learning rate the epoch trained with (after the schedule).' })
  learningRate!: number;

  @Field(() => Float, {
    nullable: true,
    description:
      "Mean over the epoch's batches of the batch-mean loss, each measured before its step (as training saw them, PyTorch's usual running loss); null when not finite.",
  })
  trainLoss!: number | null;

  @Field(() => Float, {
    description: "Fraction of the epoch's examples classified correctly, each measured before its step.",
  })
  trainAccuracy!: number;

  @Field(() => Float, {
    nullable: true,
    description:
      "Mean loss on the training's test dataset after the epoch, in eval mode (BatchNorm on running statistics); null without a test dataset, or when not finite.",
  })
  testLoss!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Accuracy on the test dataset after the epoch (see testLoss); null without a test dataset.',
  })
  testAccuracy!: number | null;
}

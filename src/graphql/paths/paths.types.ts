import { Field, Float, GraphQLISODateTime, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AlphaChoiceEnum, PathRefinement, RefineInput } from './refinement.types.js';

export enum EngineNameEnum {
  ONNX = 'onnx',
  TFJS = 'tfjs',
}
registerEnumType(EngineNameEnum, {
  name: 'EngineName',
  valuesConfig: {
    ONNX: { description: 'ONNX Runtime (onnxruntime-node): multi-threaded CPU, or CUDA.' },
    TFJS: {
      description: 'TensorFlow.js: the tensorflow backend when tfjs-node(-gpu) is installed, else wasm, else cpu.',
    },
  },
});

export enum BnStatsModeEnum {
  INTERPOLATE = 'INTERPOLATE',
  KEEP_TO = 'KEEP_TO',
  RECOMPUTE = 'RECOMPUTE',
}
registerEnumType(BnStatsModeEnum, {
  name: 'BnStatsMode',
  description: 'What happens to BatchNorm running statistics (running_mean, running_var) along a path.',
  valuesConfig: {
    INTERPOLATE: { description: 'They move with α like the weights (the default, as in the seed study).' },
    KEEP_TO: { description: 'They stay at `to`; only weights move.' },
    RECOMPUTE: {
      description:
        'At each α they are reset and recomputed with the interpolated weights over bnStatsExamples training examples, as one training-mode pass of PyTorch over them as a single batch (mean; unbiased variance), then the examples are evaluated in eval mode.',
    },
  },
});

export enum TensorGroupEnum {
  ALL = 'ALL',
  WEIGHTS = 'WEIGHTS',
  RUNNING_STATS = 'RUNNING_STATS',
}
registerEnumType(TensorGroupEnum, {
  name: 'TensorGroup',
  description:
    'Which floating-point tensors of the moving blocks move (parameter-group-wise interpolation, Vlaar & Frankle 2022, App. F).',
  valuesConfig: {
    ALL: { description: 'Every floating-point tensor.' },
    WEIGHTS: {
      description: 'Learned parameters (weights, biases, BatchNorm scale and shift), not the running statistics.',
    },
    RUNNING_STATS: { description: 'Only BatchNorm running means and variances.' },
  },
});

export enum PathStatusEnum {
  PENDING = 'PENDING',
  RUNNING = 'RUNNING',
  PARTIAL = 'PARTIAL',
  COMPLETE = 'COMPLETE',
  FAILED = 'FAILED',
}
registerEnumType(PathStatusEnum, {
  name: 'PathStatus',
  description: 'Where the requested alphas of a path stand.',
  valuesConfig: {
    PENDING: { description: 'Missing alphas are queued; no worker has started on them yet.' },
    RUNNING: { description: 'A worker is evaluating missing alphas.' },
    PARTIAL: {
      description:
        'Some alphas are missing and none of them is queued (their work was cancelled). Ask again to queue them.',
    },
    COMPLETE: { description: 'Every requested α is stored.' },
    FAILED: { description: 'The evaluation failed for good; `failure` says why. retryPath queues it again.' },
  },
});

@ObjectType()
export class PathProgress {
  @Field(() => Int, { description: 'Requested alphas stored.' })
  done!: number;

  @Field(() => Int, { description: 'Requested alphas.' })
  total!: number;

  @Field(() => Float, {
    nullable: true,
    description:
      "Rough seconds left: missing alphas × the mean time of this path's points ÷ its running jobs. Null before the first point.",
  })
  etaSeconds!: number | null;
}

@ObjectType()
export class PathFailure {
  @Field(() => String, { description: 'An error code (CONFLICT, BAD_USER_INPUT, NOT_FOUND, UNAVAILABLE).' })
  code!: string;

  @Field(() => String)
  message!: string;
}

/** Where queued evaluations stand: the fields of paths, planes, curves and their updates. */
@ObjectType()
export abstract class EvaluationState {
  @Field(() => PathStatusEnum)
  status!: PathStatusEnum;

  @Field(() => PathProgress)
  progress!: PathProgress;

  @Field(() => PathFailure, { nullable: true, description: 'Why it FAILED; null otherwise.' })
  failure!: PathFailure | null;
}

/** The measures of an evaluated state, shared by the points of paths, planes and curves. */
@ObjectType()
export abstract class MeasuredPoint {
  @Field(() => Float, {
    nullable: true,
    description:
      'Mean loss: binary cross-entropy with logits (one logit) or softmax cross-entropy. Null when it is NaN or infinite.',
  })
  loss!: number | null;

  @Field(() => Float, { description: 'correct / n. Prediction: logit > 0 (one logit) or argmax.' })
  accuracy!: number;

  @Field(() => Int, { description: 'Examples evaluated.' })
  n!: number;

  @Field(() => Int, { description: 'Examples whose loss was NaN or infinite.' })
  nonFinite!: number;

  @Field(() => String, { description: 'Engine that computed the point.' })
  engine!: string;

  @Field(() => Float, { description: 'Wall time of the evaluation of this point.' })
  durationMs!: number;

  @Field(() => Boolean, { description: 'True when the point was stored before this request asked for it.' })
  cached!: boolean;
}

@ObjectType({ description: "Loss and accuracy of θ(α) on the path's examples." })
export class PathPoint extends MeasuredPoint {
  @Field(() => Float)
  alpha!: number;

  @Field(() => Int)
  correct!: number;

  @Field(() => String, { description: 'Engine version and backend, e.g. "onnxruntime-node 1.30.0 cpu".' })
  engineVersion!: string;

  @Field(() => AlphaChoiceEnum, { description: 'How its α was chosen: asked for (GRID) or by adaptive refinement.' })
  chosenBy!: AlphaChoiceEnum;

  @Field(() => GraphQLISODateTime)
  computedAt!: Date;
}

@ObjectType({
  description:
    'The loss along θ(α) = (1 − α)·θ_from + α·θ_to. With blocks, only their tensors move and all others stay at θ_to (Vlaar & Frankle 2022, Eq. 2).',
})
export class InterpolationPath extends EvaluationState {
  @Field(() => ID)
  id!: string;

  fromCheckpointId!: string;
  toCheckpointId!: string;
  datasetId!: string;

  @Field(() => [String], { nullable: true, description: 'Moving blocks, sorted; null when the whole model moves.' })
  blocks!: string[] | null;

  @Field(() => Int, { description: 'Number of tensors that move.' })
  movingTensorCount!: number;

  @Field(() => Int, { description: 'The first exampleCount examples of the dataset are evaluated.' })
  exampleCount!: number;

  @Field(() => BnStatsModeEnum, { description: 'What the BatchNorm running statistics do along the path.' })
  bnStats!: BnStatsModeEnum;

  @Field(() => ID, {
    nullable: true,
    description: 'bnStats RECOMPUTE: the dataset the statistics are recomputed over; null otherwise.',
  })
  bnStatsDatasetId?: string | null;

  @Field(() => Int, { nullable: true, description: 'bnStats RECOMPUTE: how many of its examples; null otherwise.' })
  bnStatsExamples?: number | null;

  @Field(() => TensorGroupEnum, { description: 'Which tensors of the moving blocks move.' })
  tensorGroup!: TensorGroupEnum;

  @Field(() => [PathPoint], {
    description: 'The stored points of the requested alphas, ascending (all of them when status is COMPLETE).',
  })
  points!: PathPoint[];

  @Field(() => PathRefinement, {
    nullable: true,
    description: 'A request with refine: where its adaptive α stands (points then holds every point in its range).',
  })
  refinement!: PathRefinement | null;
}

@ObjectType({ description: 'One change of a path: a point stored (point set), or its final status (point null).' })
export class PathUpdate extends EvaluationState {
  @Field(() => ID)
  pathId!: string;

  @Field(() => PathPoint, {
    nullable: true,
    description: 'The point just stored; the first updates of a subscription bring the points stored before it began.',
  })
  point!: PathPoint | null;
}

@ObjectType()
export class CancelPathResult {
  @Field(() => [Float], { description: 'Alphas whose queued work was dropped.' })
  cancelled!: number[];

  @Field(() => InterpolationPath, { description: 'The path after: PARTIAL unless every α was stored already.' })
  path!: InterpolationPath;
}

@InputType()
export class InterpolationPathInput {
  @Field(() => ID, { description: 'Checkpoint at α = 0.' })
  from!: string;

  @Field(() => ID, { description: 'Checkpoint at α = 1.' })
  to!: string;

  @Field(() => ID)
  dataset!: string;

  @Field(() => [String], {
    nullable: true,
    description:
      'Blocks that move: state_dict prefixes at a dot boundary ("layer3", "layer3.1", "fc") or aliases ("stem"). Omit for the whole model.',
  })
  blocks?: string[] | null;

  @Field(() => [Float], {
    nullable: true,
    description: 'Default 0, 0.1, …, 1. At most LINPATH_MAX_ALPHAS values within ±LINPATH_MAX_ABS_ALPHA.',
  })
  alphas?: number[] | null;

  @Field(() => Int, { nullable: true, description: 'Evaluate only the first `limit` examples.' })
  limit?: number | null;

  @Field(() => EngineNameEnum, {
    nullable: true,
    description: 'Engine for points not stored yet; default LINPATH_ENGINE.',
  })
  engine?: EngineNameEnum | null;

  @Field(() => BnStatsModeEnum, {
    defaultValue: BnStatsModeEnum.INTERPOLATE,
    description: 'BatchNorm running statistics; part of the memo key.',
  })
  bnStats!: BnStatsModeEnum;

  @Field(() => ID, {
    nullable: true,
    description:
      "bnStats RECOMPUTE: the dataset whose examples the statistics are recomputed over. Default: the TRAIN split of the evaluated dataset's name.",
  })
  bnStatsDataset?: string | null;

  @Field(() => Int, {
    nullable: true,
    description:
      "bnStats RECOMPUTE: the first bnStatsExamples examples are used. Default: min(2048, the dataset's examples).",
  })
  bnStatsExamples?: number | null;

  @Field(() => TensorGroupEnum, {
    defaultValue: TensorGroupEnum.ALL,
    description: 'Which tensors of `blocks` (or of the whole model) move; the rest stay at `to`.',
  })
  tensors!: TensorGroupEnum;

  @Field(() => Boolean, {
    defaultValue: true,
    description:
      'true: answer when every α is stored, the path fails (an error with its code), or timeoutMs passes (then with status PENDING or RUNNING). false: queue the missing alphas and answer at once; follow with pathUpdated.',
  })
  wait!: boolean;

  @Field(() => Int, {
    nullable: true,
    description: 'Longest wait in milliseconds; default and maximum LINPATH_MAX_WAIT_MS.',
  })
  timeoutMs?: number | null;

  @Field(() => RefineInput, {
    nullable: true,
    description:
      "Adaptive α after the grid (at least 3 alphas): the answer then holds every stored point in the grid's range and waits for the refinement too.",
  })
  refine?: RefineInput | null;
}

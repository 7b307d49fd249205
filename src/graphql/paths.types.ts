import { Field, Float, GraphQLISODateTime, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';

export enum EngineNameEnum {
  ONNX = 'onnx',
  TFJS = 'tfjs',
}
registerEnumType(EngineNameEnum, {
  name: 'EngineName',
  valuesConfig: {
    ONNX: { description: 'ONNX Runtime (onnxruntime-node): multi-threaded CPU, or CUDA.' },
    TFJS: { description: 'TensorFlow.js: the tensorflow backend when tfjs-node(-gpu) is installed, else wasm, else cpu.' },
  },
});

@ObjectType({ description: 'Loss and accuracy of θ(α) on the path\'s examples.' })
export class PathPoint {
  @Field(() => Float)
  alpha!: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Mean loss: binary cross-entropy with logits (one logit) or softmax cross-entropy. Null when it is NaN or infinite.',
  })
  loss!: number | null;

  @Field(() => Float, { description: 'correct / n. Prediction: logit > 0 (one logit) or argmax.' })
  accuracy!: number;

  @Field(() => Int)
  correct!: number;

  @Field(() => Int, { description: 'Examples evaluated.' })
  n!: number;

  @Field(() => Int, { description: 'Examples whose loss was NaN or infinite.' })
  nonFinite!: number;

  @Field(() => String, { description: 'Engine that computed the point.' })
  engine!: string;

  @Field(() => String, { description: 'Engine version and backend, e.g. "onnxruntime-node 1.30.0 cpu".' })
  engineVersion!: string;

  @Field(() => Float, { description: 'Wall time of the evaluation of this point.' })
  durationMs!: number;

  @Field(() => Boolean, { description: 'True when the point was stored before this request asked for it.' })
  cached!: boolean;

  @Field(() => GraphQLISODateTime)
  computedAt!: Date;
}

@ObjectType({
  description:
    'The loss along θ(α) = (1 − α)·θ_from + α·θ_to. With blocks, only their tensors move and all others stay at θ_to (Vlaar & Frankle 2022, Eq. 2).',
})
export class InterpolationPath {
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

  @Field(() => String, { description: 'BatchNorm running statistics: INTERPOLATE (moved like weights).' })
  bnStats!: string;

  @Field(() => [PathPoint], { description: 'The requested alphas, ascending.' })
  points!: PathPoint[];
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
    description: 'Blocks that move: state_dict prefixes at a dot boundary ("layer3", "layer3.1", "fc") or aliases ("stem"). Omit for the whole model.',
  })
  blocks?: string[] | null;

  @Field(() => [Float], { nullable: true, description: 'Default 0, 0.1, …, 1. At most LINPATH_MAX_ALPHAS values within ±LINPATH_MAX_ABS_ALPHA.' })
  alphas?: number[] | null;

  @Field(() => Int, { nullable: true, description: 'Evaluate only the first `limit` examples.' })
  limit?: number | null;

  @Field(() => EngineNameEnum, { nullable: true, description: 'Engine for points not stored yet; default LINPATH_ENGINE.' })
  engine?: EngineNameEnum | null;
}

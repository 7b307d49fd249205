import { GraphQLJSON, GraphQLJSONObject } from '../scalars.js';
import { Field, Float, GraphQLISODateTime, ID, InputType, Int, ObjectType } from 'type-graphql';
import { RunOrderFieldEnum, SortDirectionEnum } from './registry.enums.js';
import {
  CheckpointRoleEnum,
  DatasetFormatEnum,
  DatasetSplitEnum,
  InputLayoutEnum,
  LabelKindEnum,
} from './registry.enums.js';

@ObjectType({ description: 'A training run: its settings and the checkpoints it saved.' })
export class Run {
  @Field(() => ID)
  id!: string;

  @Field(() => String, { description: 'Unique name.' })
  name!: string;

  @Field(() => String, { nullable: true, description: 'Model architecture, e.g. "mlp" or "resnet18-cifar".' })
  architecture!: string | null;

  @Field(() => String, { nullable: true, description: 'Name of the dataset the run was trained on.' })
  datasetName!: string | null;

  @Field(() => GraphQLJSONObject, { description: 'Hyper-parameters as the user registered them.' })
  hyperparameters!: Record<string, unknown>;

  @Field(() => Float, { nullable: true })
  seed!: number | null;

  @Field(() => [String])
  tags!: string[];

  @Field(() => GraphQLJSONObject, { description: 'Metrics reported by the training code, as registered.' })
  reportedMetrics!: Record<string, unknown>;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;
}

@ObjectType({ description: 'One tensor of a safetensors header.' })
export class TensorDescription {
  @Field(() => String, { description: 'PyTorch state_dict key.' })
  name!: string;

  @Field(() => String, { description: 'safetensors dtype: F32, F16, BF16, F64, I64, U8, ...' })
  dtype!: string;

  @Field(() => [Int])
  shape!: number[];
}

@ObjectType({ description: 'A model state (safetensors, PyTorch state_dict names) stored in S3.' })
export class Checkpoint {
  @Field(() => ID)
  id!: string;

  runId!: string;

  @Field(() => Float, { description: 'Training step at which the state was saved.' })
  step!: number;

  @Field(() => CheckpointRoleEnum)
  role!: CheckpointRoleEnum;

  @Field(() => String, { nullable: true })
  architecture!: string | null;

  @Field(() => String, { description: 's3://bucket/key' })
  uri!: string;

  @Field(() => Float, { description: 'Object size in bytes.' })
  size!: number;

  @Field(() => String, { description: 'ETag pinned at registration; reads of other contents fail with CONFLICT.' })
  etag!: string;

  @Field(() => String, {
    nullable: true,
    description: 'SHA-256 of the file, known when its bytes passed through linpath.',
  })
  sha256!: string | null;

  @Field(() => Int)
  tensorCount!: number;

  @Field(() => Float, {
    description:
      'Number of values in floating-point tensors other than BatchNorm buffers (running_mean, running_var, num_batches_tracked).',
  })
  parameterCount!: number;

  @Field(() => Float, { description: 'Number of values in all tensors.' })
  elementCount!: number;

  @Field(() => GraphQLJSONObject, { description: 'The safetensors __metadata__ map.' })
  metadata!: Record<string, string>;

  @Field(() => [TensorDescription], { description: 'Tensors in file order.' })
  tensors!: TensorDescription[];

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;
}

@ObjectType({ description: 'Per-channel normalisation, in stored value units: x = (v − mean[c]) / std[c].' })
export class Normalization {
  @Field(() => [Float])
  mean!: number[];

  @Field(() => [Float])
  std!: number[];
}

@ObjectType({
  description:
    'Examples and class labels (or float targets) stored in S3: one object, or images and labels (MNIST_IDX).',
})
export class Dataset {
  @Field(() => ID)
  id!: string;

  @Field(() => String)
  name!: string;

  @Field(() => DatasetSplitEnum)
  split!: DatasetSplitEnum;

  @Field(() => DatasetFormatEnum)
  format!: DatasetFormatEnum;

  @Field(() => String, { description: 'The inputs (MNIST_IDX: the images file).' })
  uri!: string;

  @Field(() => Float)
  size!: number;

  @Field(() => String)
  etag!: string;

  @Field(() => String, { nullable: true })
  sha256!: string | null;

  @Field(() => String, { nullable: true, description: 'MNIST_IDX: the labels file, pinned like `uri`.' })
  labelsUri!: string | null;

  @Field(() => Float, { nullable: true })
  labelsSize!: number | null;

  @Field(() => String, { nullable: true })
  labelsEtag!: string | null;

  @Field(() => String, { nullable: true })
  labelsSha256!: string | null;

  @Field(() => String, { description: 'Tensor holding the inputs, shape [N, ...] ("images" for the binary formats).' })
  inputKey!: string;

  @Field(() => String, { description: 'Tensor holding the labels, shape [N] ("labels" for the binary formats).' })
  labelKey!: string;

  @Field(() => Int)
  exampleCount!: number;

  @Field(() => [Int], {
    description: 'Shape of one example as models receive it: channels-first for images, e.g. [3, 32, 32].',
  })
  inputShape!: number[];

  @Field(() => String, { description: 'Stored element type: F32, F64, F16, BF16 or U8.' })
  inputDtype!: string;

  @Field(() => InputLayoutEnum, {
    nullable: true,
    description: 'Axis order of stored image examples (3 dimensions each); null for other inputs and MNIST_IDX.',
  })
  inputLayout!: InputLayoutEnum | null;

  @Field(() => Normalization, { nullable: true, description: 'Applied at load; null: values are used as stored.' })
  normalization!: Normalization | null;

  @Field(() => LabelKindEnum)
  labelKind!: LabelKindEnum;

  @Field(() => String)
  labelDtype!: string;

  @Field(() => Int, { nullable: true, description: 'For CLASS_INDEX labels: the largest label + 1.' })
  numClasses!: number | null;

  @Field(() => GraphQLISODateTime)
  createdAt!: Date;
}

@ObjectType()
export class PageInfo {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean, { description: 'Always false: the connection pages forward only.' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

@ObjectType()
export class RunEdge {
  @Field(() => String)
  cursor!: string;

  @Field(() => Run)
  node!: Run;
}

@ObjectType({ description: 'Runs in the requested order (Relay cursor connection, keyset cursors).' })
export class RunConnection {
  @Field(() => [RunEdge])
  edges!: RunEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Int, { description: 'Runs matching the filter, on every page (counted only when asked for).' })
  totalCount!: number | Promise<number>;
}

@InputType({
  description:
    'A condition on the hyper-parameter at a JSON path. gt/gte/lt/lte hold only for numbers; eq/ne/in compare JSON values (ne also holds where the path is absent). All given operators must hold.',
})
export class HyperparameterCondition {
  @Field(() => String, { description: 'Dot-separated path, e.g. "weight_decay" or "optimizer.lr".' })
  path!: string;

  @Field(() => GraphQLJSON, { nullable: true })
  eq?: unknown;

  @Field(() => GraphQLJSON, { nullable: true })
  ne?: unknown;

  @Field(() => [GraphQLJSON], { nullable: true })
  in?: unknown[] | null;

  @Field(() => Float, { nullable: true })
  gt?: number | null;

  @Field(() => Float, { nullable: true })
  gte?: number | null;

  @Field(() => Float, { nullable: true })
  lt?: number | null;

  @Field(() => Float, { nullable: true })
  lte?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'true: the path is present; false: it is absent.' })
  exists?: boolean | null;
}

@InputType({ description: 'All given conditions must hold.' })
export class RunFilter {
  @Field(() => String, { nullable: true })
  architecture?: string | null;

  @Field(() => String, { nullable: true })
  datasetName?: string | null;

  @Field(() => [String], { nullable: true, description: 'Runs carrying every one of these tags.' })
  tags?: string[] | null;

  @Field(() => String, { nullable: true, description: 'Case-insensitive substring of the name.' })
  nameContains?: string | null;

  @Field(() => [HyperparameterCondition], {
    nullable: true,
    description: 'Conditions on hyper-parameter values, e.g. [{ path: "weight_decay", gte: 0.0001 }].',
  })
  hyperparameters?: HyperparameterCondition[] | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Runs whose hyper-parameters contain this object, e.g. {"optimizer": "sgd"}.',
  })
  hyperparametersContain?: Record<string, unknown> | null;
}

@InputType({ description: 'Sort order of runs; ties are broken by creation order.' })
export class RunOrder {
  @Field(() => RunOrderFieldEnum)
  field!: RunOrderFieldEnum;

  @Field(() => SortDirectionEnum, { defaultValue: SortDirectionEnum.ASC })
  direction!: SortDirectionEnum;

  @Field(() => String, {
    nullable: true,
    description:
      'For REPORTED_METRIC and HYPERPARAMETER: dot-separated JSON path of a numeric value; runs without one sort last.',
  })
  path?: string | null;
}

@InputType()
export class CreateRunInput {
  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  architecture?: string | null;

  @Field(() => String, { nullable: true })
  datasetName?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  hyperparameters?: Record<string, unknown> | null;

  @Field(() => Float, { nullable: true, description: 'An integer.' })
  seed?: number | null;

  @Field(() => [String], { nullable: true })
  tags?: string[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true })
  reportedMetrics?: Record<string, unknown> | null;
}

@InputType({ description: 'Registers a safetensors object already in a configured bucket; only its header is read.' })
export class RegisterCheckpointInput {
  @Field(() => String, { description: 'Run id or run name.' })
  run!: string;

  @Field(() => Float, { description: 'Training step, an integer ≥ 0.' })
  step!: number;

  @Field(() => CheckpointRoleEnum)
  role!: CheckpointRoleEnum;

  @Field(() => String, { description: 's3://<bucket>/<key> in a configured bucket.' })
  uri!: string;

  @Field(() => String, { nullable: true, description: "Defaults to the run's architecture." })
  architecture?: string | null;
}

@InputType({ description: 'Per channel, in stored value units (0..255 for U8): x = (v − mean[c]) / std[c], std > 0.' })
export class NormalizationInput {
  @Field(() => [Float])
  mean!: number[];

  @Field(() => [Float])
  std!: number[];
}

@InputType({
  description: 'Registers a dataset already in a configured bucket; its object(s) are pinned (size and ETag).',
})
export class RegisterDatasetInput {
  @Field(() => String)
  name!: string;

  @Field(() => DatasetSplitEnum)
  split!: DatasetSplitEnum;

  @Field(() => String, { description: 's3://<bucket>/<key> in a configured bucket (MNIST_IDX: the images file).' })
  uri!: string;

  @Field(() => DatasetFormatEnum, { defaultValue: DatasetFormatEnum.SAFETENSORS })
  format!: DatasetFormatEnum;

  @Field(() => String, {
    nullable: true,
    description: 'MNIST_IDX only (and required): s3:// URI of the IDX labels file.',
  })
  labelsUri?: string | null;

  @Field(() => String, { nullable: true, description: 'SAFETENSORS only; default "x".' })
  inputKey?: string | null;

  @Field(() => String, { nullable: true, description: 'SAFETENSORS only; default "y".' })
  labelKey?: string | null;

  @Field(() => InputLayoutEnum, {
    nullable: true,
    description:
      'SAFETENSORS images (3 dimensions per example) only. Default: NCHW for float inputs; for U8, NHWC when only the last ' +
      'dimension is 1 or 3, NCHW when only the first is, otherwise required.',
  })
  inputLayout?: InputLayoutEnum | null;

  @Field(() => NormalizationInput, { nullable: true, description: 'One mean and one std per channel of the images.' })
  normalization?: NormalizationInput | null;
}

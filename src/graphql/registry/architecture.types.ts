import { Field, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ description: 'A parameter of an architecture: its PyTorch state_dict key and shape.' })
export class ArchitectureParameter {
  @Field(() => String)
  name!: string;

  @Field(() => [Int])
  shape!: number[];
}

@ObjectType({ description: 'An op type of an ONNX export and how often it occurs.' })
export class OpCount {
  @Field(() => String)
  op!: string;

  @Field(() => Int)
  count!: number;
}

@ObjectType({
  description:
    'A network linpath evaluates: built in, or defined by a PyTorch ONNX export (docs/architectures.md). Checkpoints name it.',
})
export class Architecture {
  @Field(() => String)
  name!: string;

  @Field(() => Boolean, { description: 'Built into linpath (sized from each checkpoint) rather than registered.' })
  builtIn!: boolean;

  @Field(() => String, { nullable: true, description: "The export's sha256; null for built-ins." })
  sha256!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'The registered export, s3://<bucket>/<key>; null for built-ins.',
  })
  uri!: string | null;

  @Field(() => Int, { nullable: true, description: "The export's opset; null for built-ins." })
  opset!: number | null;

  @Field(() => [Int], {
    nullable: true,
    description: 'Per-example input shape, e.g. [3, 64, 64]; null for built-ins, which are sized by each checkpoint.',
  })
  inputShape!: number[] | null;

  @Field(() => Int, { nullable: true, description: 'Logits per example; null for built-ins.' })
  outputs!: number | null;

  @Field(() => [ArchitectureParameter], {
    nullable: true,
    description: 'The parameter table every checkpoint must fit; null for built-ins.',
  })
  parameters!: ArchitectureParameter[] | null;

  @Field(() => [String], {
    description: 'Block prefixes for block-wise paths: the top-level modules and those one level below.',
  })
  blocks!: string[];

  @Field(() => [String], {
    description: 'Engines that evaluate it: onnx and tfjs on the model IR; onnx alone on an export with other ops.',
  })
  engines!: string[];

  @Field(() => [OpCount], { description: "The export's op types; empty for built-ins." })
  ops!: OpCount[];

  @Field(() => [String], {
    description: 'Op types with no form in the model IR (then ONNX Runtime runs the export itself); empty otherwise.',
  })
  unsupportedOps!: string[];
}

@InputType({ description: 'Registers an ONNX export already in a configured bucket as an architecture.' })
export class RegisterModelInput {
  @Field(() => String, { description: 'The architecture name checkpoints give; unique, never re-pointed.' })
  name!: string;

  @Field(() => String, { description: 's3://<bucket>/<key> of the .onnx file in a configured bucket.' })
  uri!: string;
}

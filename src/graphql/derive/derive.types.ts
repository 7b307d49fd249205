import { GraphQLJSONObject } from '../scalars.js';
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { BnStatsModeEnum, TensorGroupEnum } from '../paths/paths.types.js';

export enum DerivationOperationEnum {
  RANDOM_INIT = 'RANDOM_INIT',
  INTERPOLATE = 'INTERPOLATE',
  COMPOSE = 'COMPOSE',
  DIRECTION = 'DIRECTION',
}
registerEnumType(DerivationOperationEnum, {
  name: 'DerivationOperation',
  valuesConfig: {
    RANDOM_INIT: {
      description: "A draw from the architecture's PyTorch default initialisation (createRandomCheckpoint).",
    },
    INTERPOLATE: { description: 'θ(α) between two checkpoints (materializeInterpolation).' },
    COMPOSE: { description: 'A checkpoint with some blocks taken from others (composeCheckpoint).' },
    DIRECTION: {
      description:
        'A seeded random direction, filter-normalised against its parent (createDirection, Li et al. 2018): an axis of a loss plane, not a network.',
    },
  },
});

@ObjectType({ description: 'How linpath computed a DERIVED checkpoint.' })
export class Derivation {
  @Field(() => DerivationOperationEnum)
  operation!: DerivationOperationEnum;

  parentIds!: string[];

  @Field(() => GraphQLJSONObject, {
    description: 'The arguments of the operation, e.g. {"alpha": 0.3, "blocks": null, …}.',
  })
  arguments!: Record<string, unknown>;
}

@InputType()
export class RandomCheckpointInput {
  @Field(() => ID, { description: 'A checkpoint of the architecture whose shapes the draw takes.' })
  like!: string;

  @Field(() => Int, { description: 'Same seed, same state.' })
  seed!: number;

  @Field(() => String, {
    nullable: true,
    description: 'Run (id or name) to register it in; default the run of `like`.',
  })
  run?: string | null;
}

@InputType()
export class MaterializeInterpolationInput {
  @Field(() => ID)
  from!: string;

  @Field(() => ID)
  to!: string;

  @Field(() => Float, { description: 'e.g. the alphaAtMax of a path, to start training at the barrier peak.' })
  alpha!: number;

  @Field(() => [String], {
    nullable: true,
    description: 'Blocks that move (the rest at `to`); default the whole model.',
  })
  blocks?: string[] | null;

  @Field(() => BnStatsModeEnum, {
    defaultValue: BnStatsModeEnum.INTERPOLATE,
    description: 'RECOMPUTE: the running statistics of θ(α) recomputed over bnStatsDataset.',
  })
  bnStats!: BnStatsModeEnum;

  @Field(() => ID, {
    nullable: true,
    description: 'bnStats RECOMPUTE (required then): the dataset whose examples the statistics are recomputed over.',
  })
  bnStatsDataset?: string | null;

  @Field(() => Int, { nullable: true, description: 'bnStats RECOMPUTE: its first N examples; default min(2048, all).' })
  bnStatsExamples?: number | null;

  @Field(() => TensorGroupEnum, { defaultValue: TensorGroupEnum.ALL })
  tensors!: TensorGroupEnum;

  @Field(() => String, { nullable: true, description: 'Run (id or name) to register it in; default the run of `to`.' })
  run?: string | null;
}

@InputType()
export class BlockReplacementInput {
  @Field(() => [String], {
    description: 'Blocks (state_dict prefixes or aliases) whose tensors are taken from `from`.',
  })
  blocks!: string[];

  @Field(() => ID)
  from!: string;
}

@InputType()
export class ComposeCheckpointInput {
  @Field(() => ID)
  base!: string;

  @Field(() => [BlockReplacementInput], { description: 'Applied in order; a later replacement wins.' })
  replace!: BlockReplacementInput[];

  @Field(() => String, {
    nullable: true,
    description: 'Run (id or name) to register it in; default the run of `base`.',
  })
  run?: string | null;
}

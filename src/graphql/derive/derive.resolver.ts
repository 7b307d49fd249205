import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import {
  composeCheckpoint,
  createRandomCheckpoint,
  materializeInterpolation,
  type DeriveDeps,
} from '../../usecases/derive.usecases.js';
import { forbidden } from '../../errors.js';
import type { CheckpointRow } from '../../storage/registry.tables.js';
import { getCheckpoint } from '../../usecases/registry/checkpoints.usecases.js';
import type { GraphQLContext } from '../context.js';
import { toCheckpoint } from '../registry/registry.resolver.js';
import { Checkpoint } from '../registry/registry.types.js';
import {
  DerivationOperationEnum,
  Derivation,
  RandomCheckpointInput,
  MaterializeInterpolationInput,
  ComposeCheckpointInput,
} from './derive.types.js';

const deriveDeps = (ctx: GraphQLContext): DeriveDeps => ({ registry: ctx.registry, paths: ctx.paths });

/**
 * The `randomSeed` end-point selector of a bulk query (correlation, report): a random end point is stored as a
 * checkpoint, a write, so it is drawn only for requests that may write (FORBIDDEN otherwise, when it is asked).
 */
export const randomInitFor =
  (ctx: GraphQLContext) =>
  async (end: { like: string; seed: number; run: string }): Promise<CheckpointRow> => {
    if (ctx.mayWrite === false)
      throw forbidden('randomSeed stores a new checkpoint: it needs an API key with scope "write"');
    return createRandomCheckpoint(deriveDeps(ctx), end);
  };

@Resolver(() => Checkpoint)
export class DerivedCheckpointResolver {
  @FieldResolver(() => Derivation, {
    nullable: true,
    description: 'The lineage of a DERIVED checkpoint; null for checkpoints linpath was given.',
  })
  derivation(@Root() checkpoint: Checkpoint): Derivation | null {
    const derivation = (
      checkpoint as unknown as {
        derivation: {
          operation: DerivationOperationEnum;
          parents: string[];
          arguments: Record<string, unknown>;
        } | null;
      }
    ).derivation;
    return derivation === null
      ? null
      : { operation: derivation.operation, parentIds: derivation.parents, arguments: derivation.arguments };
  }

  @Mutation(() => Checkpoint, {
    description: "A checkpoint drawn from the architecture's PyTorch default initialisation; usable as `from` or `to`.",
  })
  async createRandomCheckpoint(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => RandomCheckpointInput) input: RandomCheckpointInput,
  ): Promise<Checkpoint> {
    return toCheckpoint(await createRandomCheckpoint(deriveDeps(ctx), input));
  }

  @Mutation(() => Checkpoint, {
    description: 'θ(α) of a path written to the store and registered as a DERIVED checkpoint.',
  })
  async materializeInterpolation(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => MaterializeInterpolationInput) input: MaterializeInterpolationInput,
  ): Promise<Checkpoint> {
    return toCheckpoint(await materializeInterpolation(deriveDeps(ctx), input));
  }

  @Mutation(() => Checkpoint, {
    description:
      'A checkpoint with some blocks taken from others, e.g. a trained network with one block reset to its initialisation.',
  })
  async composeCheckpoint(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => ComposeCheckpointInput) input: ComposeCheckpointInput,
  ): Promise<Checkpoint> {
    return toCheckpoint(await composeCheckpoint(deriveDeps(ctx), input));
  }
}

@Resolver(() => Derivation)
export class DerivationResolver {
  @FieldResolver(() => [Checkpoint], {
    description: 'The checkpoints it was computed from, in the order of the operation.',
  })
  async parents(@Ctx() ctx: GraphQLContext, @Root() derivation: Derivation): Promise<Checkpoint[]> {
    return Promise.all(derivation.parentIds.map(async (id) => toCheckpoint(await getCheckpoint(ctx.registry, id))));
  }
}

import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import {
  getArchitecture,
  listArchitectures,
  registerArchitecture,
  type ArchitectureInfo,
} from '../../usecases/registry/architectures.usecases.js';
import type { GraphQLContext } from '../context.js';
import { Architecture, RegisterModelInput } from './architecture.types.js';

const toArchitecture = (info: ArchitectureInfo): Architecture =>
  Object.assign(new Architecture(), {
    name: info.name,
    builtIn: info.builtIn,
    sha256: info.row?.sha256 ?? null,
    uri: info.row?.uri ?? null,
    opset: info.row?.opset ?? null,
    inputShape: info.inputShape ?? null,
    outputs: info.outputs ?? null,
    parameters: info.parameters ?? null,
    blocks: info.blocks,
    engines: info.engines,
    ops: info.row?.ops ?? [],
    unsupportedOps: info.row?.unsupportedOps ?? [],
  });

@Resolver(() => Architecture)
export class ArchitectureResolver {
  @Query(() => [Architecture], { description: 'Every architecture: the built-ins, then the registered ones by name.' })
  async architectures(@Ctx() ctx: GraphQLContext): Promise<Architecture[]> {
    return (await listArchitectures(ctx.registry)).map(toArchitecture);
  }

  @Query(() => Architecture, { nullable: true, description: 'An architecture by name; null when none has it.' })
  async architecture(
    @Ctx() ctx: GraphQLContext,
    @Arg('name', () => String) name: string,
  ): Promise<Architecture | null> {
    const info = await getArchitecture(ctx.registry, name);
    return info === undefined ? null : toArchitecture(info);
  }

  @Mutation(() => Architecture, {
    description:
      'Registers a PyTorch ONNX export in a configured bucket as an architecture (checked, pinned). The same name for the same graph is idempotent; for another graph, CONFLICT.',
  })
  async registerModel(
    @Ctx() ctx: GraphQLContext,
    @Arg('input', () => RegisterModelInput) input: RegisterModelInput,
  ): Promise<Architecture> {
    return toArchitecture((await registerArchitecture(ctx.registry, input)).architecture);
  }
}

import {
  filterNormalize,
  gaussianDirection,
  tensorRole,
  type DirectionScope,
  type DirectionTensorSpec,
  type LowDimensionRule,
} from '../../domain/directions.js';
import { badUserInput } from '../../errors.js';
import type { TensorToWrite } from '../../formats/safetensors.format.js';
import type { CheckpointRow } from '../../storage/registry.tables.js';
import { integerTensor, storeDerived, type DeriveDeps } from '../derive.usecases.js';
import { getCheckpoint } from '../registry/checkpoints.usecases.js';

export interface DirectionInput {
  /** The checkpoint the direction is drawn around and filter-normalised against. */
  center: string;
  seed: number;
  /** WEIGHTS (Li et al.'s dir_type 'weights', default) or STATES (running statistics too). */
  scope?: 'WEIGHTS' | 'STATES' | null | undefined;
  /** Tensors of at most one dimension (biases, BatchNorm): ZERO (Li et al.'s ignore='biasbn', default) or KEEP. */
  lowDimension?: 'ZERO' | 'KEEP' | null | undefined;
  run?: string | null | undefined;
}

/**
 * A random direction around a checkpoint for loss planes (Li et al. 2018): drawn from `seed`
 * (domain/directions.ts gaussianDirection) and filter-normalised against the checkpoint's weights
 * (filterNormalize), written to the store as safetensors and registered as a DERIVED checkpoint with its lineage
 * (operation DIRECTION, parent the centre, arguments seed, scope and rule), like every derived checkpoint. Integer
 * buffers (num_batches_tracked) are the centre's. The same arguments give the same object (one checkpoint).
 */
export async function createDirection(deps: DeriveDeps, input: DirectionInput): Promise<CheckpointRow> {
  if (!Number.isSafeInteger(input.seed) || input.seed < 0)
    throw badUserInput(`seed: expected an integer ≥ 0, got ${input.seed}`);
  const center = await getCheckpoint(deps.registry, input.center);
  if (center.architecture === null)
    throw badUserInput(`center: checkpoint ${center.id} has no architecture; a direction needs one`);
  const scope: DirectionScope = (input.scope ?? 'WEIGHTS') === 'STATES' ? 'states' : 'weights';
  const lowDimension: LowDimensionRule = (input.lowDimension ?? 'ZERO') === 'KEEP' ? 'keep' : 'zero';
  const state = await deps.paths.states.get(center);
  const specs: DirectionTensorSpec[] = center.header.tensors.map((info) => ({
    name: info.name,
    shape: info.shape,
    role: tensorRole(info.name, state.tensors.has(info.name) ? 'float' : 'int'),
  }));
  const direction = filterNormalize(gaussianDirection(specs, input.seed), state.tensors, specs, {
    scope,
    lowDimension,
  });
  const tensors = center.header.tensors.map((info): TensorToWrite => {
    const values = direction.get(info.name);
    if (values === undefined) return integerTensor(state.integers, info.name);
    return { name: info.name, dtype: 'F32', shape: [...info.shape], data: values };
  });
  return storeDerived(deps, {
    run: input.run ?? center.runId,
    architecture: center.architecture,
    tensors,
    derivation: {
      operation: 'DIRECTION',
      parents: [center.id],
      arguments: {
        seed: input.seed,
        scope: scope.toUpperCase(),
        lowDimension: lowDimension.toUpperCase(),
        normalization: 'FILTER',
      },
    },
  });
}

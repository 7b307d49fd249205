import { isUuid } from '../../domain/ids.js';
import { badUserInput, conflict, notFound } from '../../errors.js';
import type { TensorInfo } from '../../formats/safetensors.format.js';
import { formatS3Uri, parseS3Uri } from '../../storage/object-store.js';
import type { CheckpointRow, RunRow } from '../../storage/registry.tables.js';
import { checkCheckpointArchitecture } from './architectures.usecases.js';
import type { RegistryDeps } from './registry.deps.js';
import { updateRun } from './runs.usecases.js';
import { validateOptionalName, validateRun, validateStep } from './registry.validation.js';
import { FLOAT_DTYPES, readObjectHeader, storedObject, uploadValidated } from './stored-objects.js';

export type CheckpointRole = CheckpointRow['role'];

export interface RegisterCheckpointInput {
  /** A run id, or the name of a run. */
  run: string;
  step: number;
  role: CheckpointRole;
  uri: string;
  architecture?: string | null | undefined;
}

/** BatchNorm buffers: state, but not parameters. */
const BUFFER_SUFFIXES = ['.running_mean', '.running_var', '.num_batches_tracked'];

export async function getCheckpoint(deps: Pick<RegistryDeps, 'repository'>, id: string): Promise<CheckpointRow> {
  const checkpoint = isUuid(id) ? await deps.repository.findCheckpoint(id) : undefined;
  if (checkpoint === undefined) throw notFound(`no checkpoint with id "${id}"`);
  return checkpoint;
}

/**
 * Registers a safetensors object already in the bucket. Only the header is read (two range requests), and
 * the object's size and ETag are pinned: later reads of other contents fail with CONFLICT.
 */
export async function registerCheckpoint(
  deps: RegistryDeps,
  input: RegisterCheckpointInput,
  options: { sha256?: string; createRun?: boolean } = {},
): Promise<{ checkpoint: CheckpointRow; run: RunRow; created: boolean }> {
  const step = validateStep(input.step);
  const architecture = validateOptionalName('architecture', input.architecture);
  const ref = parseS3Uri(input.uri, deps.store.readableBuckets);
  const runKey = input.run.trim();
  if (runKey === '') throw badUserInput('run: expected a run id or name, got an empty string');
  const existingRun = isUuid(runKey)
    ? await deps.repository.findRunById(runKey)
    : await deps.repository.findRunByName(runKey);
  if (existingRun === undefined && !options.createRun) {
    throw notFound(`no run with id or name "${runKey}"; create it first with createRun`);
  }

  const { version, header } = await readObjectHeader(deps, ref);
  if (header.tensors.length === 0)
    throw badUserInput(`${formatS3Uri(ref)}: expected a checkpoint with tensors, got none`);
  await checkArchitectureChange(deps, existingRun, architecture);
  const runArchitecture = architecture ?? existingRun?.architecture ?? null;
  if (runArchitecture !== null) await checkCheckpointArchitecture(deps, runArchitecture, header.tensors);
  const counts = countElements(header.tensors);

  const { checkpoint, created } = await deps.repository.insertCheckpoint(
    {
      step,
      role: input.role,
      architecture: architecture ?? existingRun?.architecture ?? null,
      tensorCount: header.tensors.length,
      parameterCount: counts.parameters,
      elementCount: counts.elements,
      ...storedObject(ref, version, header, options.sha256),
    },
    existingRun !== undefined ? { id: existingRun.id } : { create: validateRun({ name: runKey, architecture }) },
  );
  let run = existingRun ?? (await deps.repository.findRunById(checkpoint.runId))!;
  if (architecture !== undefined && (run.architecture !== architecture || checkpoint.architecture !== architecture)) {
    // A run first registered without an architecture gets it now, on every checkpoint (each checked first).
    run = await updateRun(deps, { run: run.id, architecture });
    return { checkpoint: (await deps.repository.findCheckpoint(checkpoint.id))!, run, created };
  }
  return { checkpoint, run, created };
}

/**
 * A run keeps its architecture: another one given at import is refused, never ignored. A run without one gets
 * it, once every checkpoint it already has is checked against it.
 */
async function checkArchitectureChange(
  deps: Pick<RegistryDeps, 'repository'>,
  run: RunRow | undefined,
  architecture: string | undefined,
): Promise<void> {
  if (run === undefined || architecture === undefined || run.architecture === architecture) return;
  if (run.architecture !== null) {
    throw conflict(
      `run "${run.name}" has architecture ${run.architecture}, got ${architecture}; to change it, use linpath run update --arch (updateRun), which checks every checkpoint of the run`,
    );
  }
  for (const checkpoint of await deps.repository.checkpointsOfRun(run.id)) {
    await checkCheckpointArchitecture(deps, architecture, checkpoint.header.tensors);
  }
}

/** Uploads a local checkpoint file (validated first, so a bad file is never stored) and registers it. */
export async function importCheckpointFile(
  deps: RegistryDeps,
  filePath: string,
  input: Omit<RegisterCheckpointInput, 'uri'>,
): Promise<{ checkpoint: CheckpointRow; run: RunRow; created: boolean }> {
  validateStep(input.step);
  validateOptionalName('architecture', input.architecture);
  // Checked before the upload too, so that a file of another architecture is neither stored nor registered.
  const existingRun = isUuid(input.run.trim())
    ? await deps.repository.findRunById(input.run.trim())
    : await deps.repository.findRunByName(input.run.trim());
  const architecture = input.architecture ?? existingRun?.architecture ?? null;
  await checkArchitectureChange(deps, existingRun, input.architecture ?? undefined);
  const { sha256, ref } = await uploadValidated(deps, filePath, async (header) => {
    if (header.tensors.length === 0) throw badUserInput(`${filePath}: expected a checkpoint with tensors, got none`);
    if (architecture !== null) await checkCheckpointArchitecture(deps, architecture, header.tensors);
  });
  return registerCheckpoint(deps, { ...input, uri: formatS3Uri(ref) }, { sha256, createRun: true });
}

function countElements(tensors: TensorInfo[]): { elements: number; parameters: number } {
  let elements = 0;
  let parameters = 0;
  for (const tensor of tensors) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    elements += count;
    if (FLOAT_DTYPES.includes(tensor.dtype) && !BUFFER_SUFFIXES.some((s) => tensor.name.endsWith(s)))
      parameters += count;
  }
  return { elements, parameters };
}

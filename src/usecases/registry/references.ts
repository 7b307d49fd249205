import { isUuid } from '../../domain/ids.js';
import { badUserInput, notFound } from '../../errors.js';
import type { CheckpointRow, DatasetRow, RunRow } from '../../storage/registry.tables.js';
import type { RegistryDeps } from './registry.deps.js';
import { findRun } from './runs.usecases.js';

const SPLITS: ReadonlyArray<DatasetRow['split']> = ['TRAIN', 'VALIDATION', 'TEST'];

/**
 * A dataset named as a person would: its id, `name:split` (`spiral:test`), or `name` alone for its TEST split.
 * Without a reference, the TEST split of `run`'s dataset name.
 */
export async function resolveDataset(
  deps: Pick<RegistryDeps, 'repository'>,
  reference: string | undefined,
  run?: RunRow,
): Promise<DatasetRow> {
  if (reference === undefined) {
    if (run === undefined) throw badUserInput('dataset: expected a dataset id or name:split, got none');
    if (run.datasetName === null) {
      throw badUserInput(
        `dataset: run "${run.name}" has no dataset name, so give --dataset <name>:<split> (see linpath datasets), or set it with linpath run update ${run.name} --dataset <name>`,
      );
    }
    return resolveDataset(deps, `${run.datasetName}:test`);
  }
  const text = reference.trim();
  if (isUuid(text)) {
    const dataset = await deps.repository.findDataset(text);
    if (dataset === undefined) throw notFound(`no dataset with id "${text}"`);
    return dataset;
  }
  const colon = text.lastIndexOf(':');
  const name = colon < 0 ? text : text.slice(0, colon);
  const split = (colon < 0 ? 'TEST' : text.slice(colon + 1).toUpperCase()) as DatasetRow['split'];
  if (name === '' || !SPLITS.includes(split)) {
    throw badUserInput(
      `dataset: expected a dataset id, name or name:split (split one of train, validation, test), got "${text}"`,
    );
  }
  const dataset = await deps.repository.findDatasetByName(name, split);
  if (dataset === undefined) {
    const known = (await deps.repository.listDatasets()).map((d) => `${d.name}:${d.split.toLowerCase()}`);
    throw notFound(
      `no dataset "${name}" with split ${split.toLowerCase()}; there are ${known.length === 0 ? 'none' : [...new Set(known)].join(', ')}`,
    );
  }
  return dataset;
}

/** The checkpoints of `run` in two roles (default INITIAL → FINAL), with the run. */
export async function runEndpoints(
  deps: Pick<RegistryDeps, 'repository'>,
  input: { run: string; fromRole?: CheckpointRow['role'] | undefined; toRole?: CheckpointRow['role'] | undefined },
): Promise<{ run: RunRow; from: CheckpointRow; to: CheckpointRow }> {
  const run = await findRun(deps, input.run);
  const checkpoints = await deps.repository.checkpointsOfRun(run.id);
  const pick = (role: CheckpointRow['role']) => {
    const matching = checkpoints.filter((c) => c.role === role);
    if (matching.length === 0) {
      throw notFound(
        `run "${run.name}" has no ${role} checkpoint; it has ${checkpoints.length === 0 ? 'none' : checkpoints.map((c) => `${c.role} (step ${c.step})`).join(', ')}`,
      );
    }
    if (matching.length > 1) {
      throw badUserInput(
        `run "${run.name}" has ${matching.length} ${role} checkpoints (steps ${matching.map((c) => c.step).join(', ')}); give --from and --to checkpoint ids (see linpath checkpoints --run ${run.name})`,
      );
    }
    return matching[0]!;
  };
  return { run, from: pick(input.fromRole ?? 'INITIAL'), to: pick(input.toRole ?? 'FINAL') };
}

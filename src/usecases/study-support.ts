import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DatasetRow } from '../storage/registry.tables.js';
import type { TrainingJobRow } from '../storage/training.tables.js';
import { importDatasetFile } from './registry/datasets.usecases.js';
import type { RegistryDeps } from './registry/registry.deps.js';
import { getTrainingJob, isFinished, type TrainingDeps } from './training/training.usecases.js';

/** The dataset of that name and split, imported from the bytes `file` makes when it is not registered yet. */
export async function ensureDataset(
  deps: RegistryDeps,
  name: string,
  split: 'TRAIN' | 'TEST',
  file: () => Promise<Uint8Array>,
  log: (line: string) => void,
): Promise<DatasetRow> {
  const existing = await deps.repository.findDatasetByName(name, split);
  if (existing !== undefined) return existing;
  const scratch = await mkdtemp(path.join(tmpdir(), 'linpath-study-'));
  try {
    const target = path.join(scratch, `${name}-${split}.safetensors`);
    await writeFile(target, await file());
    const { dataset } = await importDatasetFile(deps, target, { name, split });
    log(`dataset: ${name} ${split} (${dataset.exampleCount} examples)`);
    return dataset;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Waits until every job is COMPLETE (a failed or cancelled one throws); returns the finished jobs in order. */
export async function waitForTraining(
  deps: TrainingDeps,
  ids: readonly string[],
  log: (line: string) => void,
): Promise<TrainingJobRow[]> {
  let reported = '';
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => getTrainingJob(deps, id)));
    const failed = jobs.find((j) => j.status === 'FAILED' || j.status === 'CANCELLED');
    if (failed !== undefined)
      throw new Error(`training job ${failed.id} ${failed.status}: ${failed.failureMessage ?? ''}`);
    const done = jobs.filter((j) => isFinished(j.status)).length;
    const line = `training: ${done} of ${ids.length} runs trained (stored runs are reused)`;
    if (line !== reported) {
      reported = line;
      log(line);
    }
    if (done === ids.length) return jobs;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

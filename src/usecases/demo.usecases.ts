import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { importCheckpointFile, importDatasetFile, type RegistryDeps } from './registry.usecases.js';

const DEMO_DIR = fileURLToPath(new URL('../../demo/spiral-mlp', import.meta.url));
export const DEMO_RUN = 'demo-spiral-mlp-adam';

/**
 * Loads the demo run (the seed study's spiral MLP, trained with PyTorch) and its datasets into an empty
 * registry. Returns false when the registry already has runs: the demo never mixes into a user's data.
 */
export async function seedDemo(deps: RegistryDeps): Promise<boolean> {
  if ((await deps.repository.countRuns()) > 0) return false;
  const file = (name: string) => path.join(DEMO_DIR, name);
  await importDatasetFile(deps, file('train_set.safetensors'), { name: 'spiral', split: 'TRAIN' });
  await importDatasetFile(deps, file('test_set.safetensors'), { name: 'spiral', split: 'TEST' });
  await deps.repository.findOrCreateRun({
    name: DEMO_RUN,
    architecture: 'mlp',
    datasetName: 'spiral',
    hyperparameters: { optimizer: 'adam', learningRate: 0.0005, batchSize: 500, epochs: 60, weightDecay: 0 },
    seed: 7,
    tags: ['demo', 'pytorch'],
    reportedMetrics: { testAccuracy: 0.8928, testLoss: 0.384257, trainAccuracy: 0.8917, trainLoss: 0.387721 },
  });
  const checkpoints = [
    { file: 'init.safetensors', step: 0, role: 'INITIAL' },
    { file: 'epoch5.safetensors', step: 100, role: 'INTERMEDIATE' },
    { file: 'final.safetensors', step: 1200, role: 'FINAL' },
  ] as const;
  for (const checkpoint of checkpoints) {
    await importCheckpointFile(deps, file(checkpoint.file), { run: DEMO_RUN, step: checkpoint.step, role: checkpoint.role });
  }
  return true;
}

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { buildNewModelGraph } from '../compute/architectures/index.js';
import { randomInitialState } from '../compute/random-init.js';
import type { TrainingRecipe, TrainingSnapshot } from '../compute/training/trainer.js';
import type { Examples } from '../domain/examples.js';
import { decodeTensor } from '../formats/safetensors.decode.js';
import { encodeSafetensors } from '../formats/safetensors.encode.js';
import { parseSafetensors, tensorBytes } from '../formats/safetensors.header.js';
import { importCheckpointFile } from './registry/checkpoints.usecases.js';
import { importDatasetFile } from './registry/datasets.usecases.js';
import type { PathDeps } from './paths/paths.deps.js';
import type { RegistryDeps } from './registry/registry.deps.js';
import { floatState, measureFinalState } from './training/final-metrics.js';

const DEMO_DIR = fileURLToPath(new URL('../../demo/spiral-mlp', import.meta.url));
export const DEMO_RUN = 'demo-spiral-mlp-adam';
export const DEMO_TFJS_SEEDS = [1, 2, 3] as const;
const demoTfjsRunName = (seed: number) => `demo-spiral-mlp-tfjs-seed${seed}`;

/** The seed study's spiral MLP (Appendix A): [2, 50, 50, 1], Adam 5e-4, batch 500; 60 epochs of 10,000 points. */
const HIDDEN_WIDTHS = [50, 50];
const RECIPE: Omit<TrainingRecipe, 'seed'> = {
  optimizer: { kind: 'ADAM', beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  learningRate: 0.0005,
  weightDecay: 0,
  batchSize: 500,
  epochs: 60,
  checkpointEvery: 5,
};
/** The epochs whose states a demo run keeps: initial, epoch 5 (step 100, as the PyTorch run) and final. */
const KEPT_EPOCHS = new Set([0, 5, RECIPE.epochs]);

const file = (name: string) => path.join(DEMO_DIR, name);

/**
 * Loads the PyTorch-trained demo run (the fixtures' spiral MLP) and the spiral datasets into an empty
 * registry. Returns false when the registry already has runs: the demo never mixes into a user's data.
 */
export async function seedDemo(deps: RegistryDeps): Promise<boolean> {
  if ((await deps.repository.countRuns()) > 0) return false;
  await importDatasetFile(deps, file('train_set.safetensors'), { name: 'spiral', split: 'TRAIN' });
  await importDatasetFile(deps, file('test_set.safetensors'), { name: 'spiral', split: 'TEST' });
  await deps.repository.findOrCreateRun({
    name: DEMO_RUN,
    architecture: 'mlp',
    datasetName: 'spiral',
    hyperparameters: {
      framework: 'pytorch',
      optimizer: 'adam',
      learningRate: 0.0005,
      batchSize: 500,
      epochs: 60,
      weightDecay: 0,
    },
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
    await importCheckpointFile(deps, file(checkpoint.file), {
      run: DEMO_RUN,
      step: checkpoint.step,
      role: checkpoint.role,
    });
  }
  return true;
}

/**
 * Trains the demo's small study with TensorFlow.js: the same MLP recipe for several seeds, each stored as an
 * ordinary run with its initial, step-100 and final checkpoints, and reporting the final state's train and
 * test loss and accuracy (`trainLoss`, `trainAccuracy`, `testLoss`, `testAccuracy`, as a run trained with
 * `trainRun` does), measured with the evaluation engine. Runs that exist already are skipped, so an
 * interrupted start finishes the rest next time; a trained run without metrics (an older demo) gets them.
 */
export async function trainDemoRuns(
  deps: RegistryDeps,
  paths: Pick<PathDeps, 'engines' | 'settings' | 'states'>,
  logger: Logger,
  seeds: readonly number[] = DEMO_TFJS_SEEDS,
  signal?: AbortSignal,
): Promise<void> {
  const data = await readExamples('train_set.safetensors');
  const test = await readExamples('test_set.safetensors');
  const graph = buildNewModelGraph('mlp', { inputShape: [2], outputs: 1, hiddenWidths: HIDDEN_WIDTHS });
  // Loaded on first use: a start without the demo need not load TensorFlow.js.
  const { trainGraph } = await import('../compute/training/trainer.js');
  const scratch = await mkdtemp(path.join(tmpdir(), 'linpath-demo-'));
  try {
    for (const seed of seeds) {
      signal?.throwIfAborted();
      const name = demoTfjsRunName(seed);
      const existing = await deps.repository.findRunByName(name);
      const existingFinal =
        existing === undefined
          ? undefined
          : (await deps.repository.checkpointsOfRun(existing.id)).find((c) => c.role === 'FINAL');
      if (existing !== undefined && existingFinal !== undefined) {
        if (Object.keys(existing.reportedMetrics as object).length === 0) {
          const state = (await paths.states.get(existingFinal)).tensors;
          const reportedMetrics = await measureFinalState(paths, graph, state, data, test);
          await deps.repository.updateRun(existing.id, { reportedMetrics });
        }
        continue;
      }
      const started = performance.now();
      const recipe = { ...RECIPE, seed };
      const snapshots: TrainingSnapshot[] = [];
      await trainGraph({
        graph,
        initial: randomInitialState(graph, seed),
        data,
        recipe,
        ...(signal === undefined ? {} : { signal }),
        onSnapshot: (snapshot) => {
          if (KEPT_EPOCHS.has(snapshot.epoch)) snapshots.push(snapshot);
        },
      });
      const final = snapshots.find((snapshot) => snapshot.final)!;
      const reportedMetrics = await measureFinalState(paths, graph, floatState(final.tensors), data, test);
      const run = await deps.repository.findOrCreateRun({
        name,
        architecture: 'mlp',
        datasetName: 'spiral',
        hyperparameters: {
          framework: 'tfjs',
          optimizer: 'adam',
          learningRate: recipe.learningRate,
          batchSize: recipe.batchSize,
          epochs: recipe.epochs,
          weightDecay: recipe.weightDecay,
        },
        seed,
        tags: ['demo', 'tfjs'],
        reportedMetrics,
      });
      // A run left by an interrupted start (created, its final checkpoint not yet stored).
      if (existing !== undefined) await deps.repository.updateRun(run.id, { reportedMetrics });
      for (const snapshot of snapshots) {
        const target = path.join(scratch, `seed${seed}-step${snapshot.step}.safetensors`);
        await writeFile(target, encodeSafetensors(snapshot.tensors));
        const role = snapshot.epoch === 0 ? 'INITIAL' : snapshot.epoch === recipe.epochs ? 'FINAL' : 'INTERMEDIATE';
        await importCheckpointFile(deps, target, { run: name, step: snapshot.step, role });
      }
      logger.info(
        { run: name, seconds: Math.round((performance.now() - started) / 100) / 10, ...reportedMetrics },
        'trained a demo run with TensorFlow.js',
      );
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The examples of one of the demo's spiral files (x: [n, 2] F32, y: [n] U8 labels 0/1). */
async function readExamples(name: string): Promise<Examples> {
  const bytes = new Uint8Array(await readFile(file(name)));
  const header = parseSafetensors(bytes);
  const tensor = (tensorName: string) => {
    const info = header.tensors.find((t) => t.name === tensorName)!;
    return decodeTensor(info, tensorBytes(bytes, header, info));
  };
  return {
    x: tensor('x') as Float32Array,
    labels: Int32Array.from(tensor('y') as Uint8Array),
    n: header.tensors.find((t) => t.name === 'y')!.shape[0]!,
  };
}

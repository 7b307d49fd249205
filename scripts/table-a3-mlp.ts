// The seed paper's Table A3 (per-layer learning rates), on the spiral MLP, end to end through linpath's use cases:
// `LINPATH_HOME=$(mktemp -d) npx tsx scripts/table-a3-mlp.ts [epochs] [seeds]` (default 150 epochs, seeds 1,2).
// 1. trains the 2-50-50-1 MLP (Adam 5e-4, batch 500, BCE) on the paper's spiral for each seed ("baseline");
// 2. its report (test split) gives each block's rise on the block-wise INITIAL → FINAL paths: the blocks that rise
//    (rise > 0 in some run; if none, the block with the largest mean rise) are the "barrier layers";
// 3. trains the same seeds with the barrier layers at lr × 0.1 ("barrier layers lr×0.1") and with the other
//    layers at lr × 0.1 ("other layers lr×0.1"), as torch.optim parameter groups (trainRun paramGroups);
// 4. prints the report of all runs grouped by variant (Markdown) and each block's mean rise per variant.
import { createLinpath, createLogger } from '../src/app.js';
import { loadConfig } from '../src/config/config.js';
import { trainRun } from '../src/usecases/training/training.usecases.js';
import { studyReport } from '../src/usecases/report.usecases.js';
import { spiralDatasetFile } from '../src/usecases/study-data.js';
import { ensureDataset, waitForTraining } from '../src/usecases/study-support.js';

const epochs = Number(process.argv[2] ?? 150);
const seeds = (process.argv[3] ?? '1,2').split(',').map(Number);
const log = (line: string) => process.stderr.write(`${line}\n`);
const app = await createLinpath(loadConfig(process.env), 'client', createLogger({ logLevel: 'warn' }));
try {
  if (app.hostsDatabase) await app.startWorkers(1);
  const registry = app.registry;
  const train = await ensureDataset(registry, 'spiral-a3', 'TRAIN', async () => spiralDatasetFile('TRAIN', {}), log);
  const test = await ensureDataset(registry, 'spiral-a3', 'TEST', async () => spiralDatasetFile('TEST', {}), log);
  const trainAll = async (variant: string, paramGroups: Array<{ blocks: string[]; lrScale: number }>) => {
    const jobs = [];
    for (const seed of seeds)
      jobs.push(
        await trainRun(app.training, {
          run: `a3-${variant.replace(/[^a-z0-9]+/gi, '-')}-seed${seed}`,
          dataset: train.id,
          testDataset: test.id,
          architecture: 'mlp',
          hiddenWidths: [50, 50],
          optimizer: 'ADAM',
          learningRate: 5e-4,
          weightDecay: 0,
          batchSize: 500,
          epochs,
          seed,
          paramGroups,
          tags: ['table-a3'],
          hyperparameters: { variant },
        }),
      );
    await waitForTraining(
      app.training,
      jobs.map((j) => j.id),
      log,
    );
  };
  const report = () =>
    studyReport(app.analytics, {
      runs: { tags: ['table-a3'] },
      dataset: test.id,
      groupBy: ['variant'],
      alphas: Array.from({ length: 21 }, (_, i) => i / 20),
      maxEvaluations: 1000,
    });
  const t0 = Date.now();
  await trainAll('baseline', []);
  const baseline = (await report()).groups.find((g) => g.values[0] === 'baseline')!;
  const blocks = [...new Set(baseline.runs.flatMap((r) => Object.keys(r.blocks)))].sort();
  const meanRise = (runs: typeof baseline.runs, block: string) =>
    runs.reduce((sum, r) => sum + (r.blocks[block]?.rise ?? 0), 0) / runs.length;
  let barrier = blocks.filter((b) => baseline.runs.some((r) => (r.blocks[b]?.rise ?? 0) > 0));
  if (barrier.length === 0 || barrier.length === blocks.length)
    barrier = [blocks.reduce((a, b) => (meanRise(baseline.runs, b) > meanRise(baseline.runs, a) ? b : a))];
  const others = blocks.filter((b) => !barrier.includes(b));
  log(`blocks ${blocks.join(', ')}; barrier layers: ${barrier.join(', ')}; others: ${others.join(', ')}`);
  await trainAll('barrier layers lr×0.1', [{ blocks: barrier, lrScale: 0.1 }]);
  await trainAll('other layers lr×0.1', [{ blocks: others, lrScale: 0.1 }]);
  const final = await report();
  process.stdout.write(final.markdown);
  process.stdout.write(`\nbarrier layers (from the baseline's block-wise rises): ${barrier.join(', ')}\n\n`);
  process.stdout.write(`| variant | ${blocks.map((b) => `${b} rise (mean)`).join(' | ')} | per-run test accuracy |\n`);
  process.stdout.write(`|---|${blocks.map(() => '---:').join('|')}|---|\n`);
  for (const g of final.groups)
    process.stdout.write(
      `| ${String(g.values[0])} | ${blocks.map((b) => meanRise(g.runs, b).toFixed(4)).join(' | ')} | ${g.runs.map((r) => `${r.run.name} ${r.accuracy.toFixed(4)}`).join(', ')} |\n`,
    );
  process.stdout.write(`\n${Math.round((Date.now() - t0) / 1000)} s, ${epochs} epochs, seeds ${seeds.join(', ')}\n`);
} finally {
  await app.close();
}

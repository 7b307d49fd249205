import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Linpath } from '../app.js';
import { resolveDataset } from '../usecases/registry/references.js';
import { parseRunFilter as parseRunFilterSyntax, RunFilterSyntaxError } from '../domain/run-filter-syntax.js';
import { badUserInput } from '../errors.js';
import type { RunRow } from '../storage/registry.tables.js';
import { findRun, type RunFilterInput } from '../usecases/registry/runs.usecases.js';
import { createRandomCheckpoint } from '../usecases/derive.usecases.js';
import { parseEndpoint, type EndpointSelector } from '../usecases/paths/endpoint-selectors.js';
import { enqueueSweep, sweepProgress, type Sweep, type SweepProgress } from '../usecases/sweep.usecases.js';
import { parseAlphas, progressBar } from './path.command.js';

interface SweepOptions extends RunSelection {
  dataset?: string;
  from: EndpointSelector;
  to: EndpointSelector;
  blocks?: 'all' | string[];
  alphas?: number[];
  limit?: number;
  engine?: 'onnx' | 'tfjs';
  /** Commander's --no-wait. */
  wait: boolean;
}

/** How often the progress of a sweep is read while waiting. */
const PROGRESS_INTERVAL_MS = 1000;

/** `linpath sweep`: queues every missing path of the matching runs and follows them to the end. */
export function addSweepCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  program
    .command('sweep')
    .description(
      "Queue the missing points of every matching run's path (at bulk priority) and show the progress until done.",
    )
    .option(
      '--runs <filter>',
      'runs: "all", or comma-separated terms name~text, arch=…, dataset=…, tag=…, hp.path=value, hp.path>=n (> < <= != too), or a JSON RunFilter',
      parseRunFilter,
    )
    .option('--run <name>', 'one run by name or id (see linpath runs), instead of --runs')
    .option('--dataset <dataset>', DATASET_HELP)
    .option(
      '--from <endpoint>',
      "checkpoint at α = 0: initial, intermediate or final of each run (role@step for one step; step:<n> for the INTERMEDIATE at step n), run:<name>:<role>[@step] (another run's), random:<seed> (a seeded random initialisation per run)",
      parseEndpointOption,
      { role: 'INITIAL' },
    )
    .option('--to <endpoint>', 'checkpoint at α = 1, as --from', parseEndpointOption, { role: 'FINAL' })
    .option(
      '--blocks <blocks>',
      '"all": the whole model and each top-level block; or comma-separated blocks, one path each; default: the whole model',
      parseBlocks,
    )
    .option('--alphas <list>', 'comma-separated alphas, or start:stop:step (default 0:1:0.1)', parseAlphas)
    .option('--limit <n>', 'evaluate only the first n examples', (value: string) => {
      if (!/^\d{1,9}$/.test(value) || Number(value) < 1)
        throw new InvalidArgumentError(`expected an integer ≥ 1, got "${value}"`);
      return Number(value);
    })
    .addOption(
      new Option('--engine <engine>', "engine for points not stored yet (default: each worker's)").choices([
        'onnx',
        'tfjs',
      ]),
    )
    .option('--no-wait', 'queue the work and return at once')
    .addHelpText(
      'after',
      '\nPrints one JSON object as its last line: {"ends","paths","skipped","progress"}; exits 1 when a path FAILED.',
    )
    .action(async (options: SweepOptions) => {
      await withLinpath(async (app) => {
        const randomInit = (input: { like: string; seed: number; run: string }) =>
          createRandomCheckpoint({ registry: app.registry, paths: app.paths }, input);
        const selected = await selectRuns(app, options);
        const sweep = await enqueueSweep(
          { ...app.paths, randomInit },
          {
            runs: selected.filter,
            dataset: (await resolveDataset(app.registry, options.dataset, selected.run)).id,
            from: options.from,
            to: options.to,
            blocks: options.blocks,
            alphas: options.alphas,
            limit: options.limit,
            engine: options.engine,
          },
        );
        let progress = await sweepProgress(app.paths, sweep);
        if (options.wait) {
          const bar = progressBar(process.stderr);
          try {
            while (!progress.settled) {
              bar.update(progress.done, progress.total);
              await sleep(PROGRESS_INTERVAL_MS);
              progress = await sweepProgress(app.paths, sweep);
            }
          } finally {
            bar.done();
          }
        }
        process.stdout.write(`${JSON.stringify(summary(sweep, progress))}\n`);
        if (progress.failures.length > 0) process.exitCode = 1;
      });
    });
}

function summary(sweep: Sweep, progress: SweepProgress) {
  return {
    ends: sweep.ends,
    paths: sweep.paths.map((p) => ({ run: p.run.name, block: p.block, pathId: p.pathId })),
    skipped: sweep.skipped.map((s) => ({ run: s.run.name, block: s.block, reason: s.reason })),
    progress,
  };
}

/** `--from` / `--to` of sweep and report: parseEndpoint's errors as commander's. */
export function parseEndpointOption(value: string): EndpointSelector {
  try {
    return parseEndpoint(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function parseBlocks(value: string): 'all' | string[] {
  if (value.trim() === 'all') return 'all';
  const blocks = value.split(',').map((s) => s.trim());
  if (blocks.some((b) => b === ''))
    throw new InvalidArgumentError(`expected "all" or comma-separated block names, got "${value}"`);
  return blocks;
}

/** `--runs <filter>` or `--run <name>` of sweep and report. */
export interface RunSelection {
  runs?: RunFilterInput;
  run?: string;
}

export const DATASET_HELP =
  "dataset to evaluate on: id, name:split, or name (its test split); default with --run: the run's dataset";

/** The runs of `--runs` or the one of `--run` (then also the run, whose dataset is the default). */
export async function selectRuns(
  app: Linpath,
  options: RunSelection,
): Promise<{ filter: RunFilterInput; run?: RunRow }> {
  if (options.run !== undefined && options.runs !== undefined)
    throw badUserInput('expected either --run <name> or --runs <filter>, got both');
  if (options.run === undefined) {
    if (options.runs === undefined)
      throw badUserInput('expected --runs <filter> or --run <name> (see linpath runs), got neither');
    return { filter: options.runs };
  }
  const run = await findRun(app.registry, options.run);
  return { filter: { name: run.name }, run };
}

/** `--runs`: see domain/run-filter-syntax.ts. */
export function parseRunFilter(value: string): RunFilterInput {
  try {
    return parseRunFilterSyntax(value);
  } catch (error) {
    if (error instanceof RunFilterSyntaxError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

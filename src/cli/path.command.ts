import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Linpath } from '../app.js';
import type { EngineName } from '../compute/engine.js';
import { AlphaSyntaxError, parseAlphaList } from '../domain/alphas.js';
import { interpolationPath, type InterpolationPathInput, type PathResult } from '../usecases/paths/paths.usecases.js';
import { pathBarrierMetrics } from '../domain/barrier.metrics.js';
import { reportedMetrics } from '../domain/losses.js';
import { badUserInput } from '../errors.js';
import type { CheckpointRole } from '../usecases/registry/checkpoints.usecases.js';
import { resolveDataset, runEndpoints } from '../usecases/registry/references.js';

export interface PathCommandOptions {
  from?: string;
  to?: string;
  run?: string;
  fromRole: string;
  toRole: string;
  dataset?: string;
  blocks?: string[];
  alphas?: number[];
  limit?: number;
  engine?: EngineName;
  json?: boolean;
  /** Commander's --no-wait. */
  wait: boolean;
  timeout?: number;
  bnStats?: 'interpolate' | 'keep-to' | 'recompute';
  bnStatsDataset?: string;
  bnStatsExamples?: number;
  tensors?: 'all' | 'weights' | 'running-stats';
  refine?: boolean;
  refineTolerance?: number;
  refineMaxPoints?: number;
  refineCurves?: string[];
}

/** `--refine` and its settings (any of them turns refinement on) as the input's `refine`. */
function refineOf(options: PathCommandOptions): InterpolationPathInput['refine'] {
  const on =
    options.refine === true ||
    options.refineTolerance !== undefined ||
    options.refineMaxPoints !== undefined ||
    options.refineCurves !== undefined;
  if (!on) return undefined;
  return {
    tolerance: options.refineTolerance,
    maxPoints: options.refineMaxPoints,
    curves: options.refineCurves?.map((c) => c.toUpperCase() as 'LOSS' | 'ERROR'),
  };
}

/** `keep-to` → `KEEP_TO`. */
const enumValue = <T extends string>(value: string | undefined): T | undefined =>
  value?.toUpperCase().replace('-', '_') as T | undefined;

/** `linpath path`: evaluates (or reads from the memo) a path and prints it as a table or JSON. */
export function addPathCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  program
    .command('path')
    .description('Loss and accuracy along θ(α) = (1−α)·θ_from + α·θ_to; evaluates only the points not stored yet.')
    .option('--from <id>', 'checkpoint id at α = 0 (or --run)')
    .option('--to <id>', 'checkpoint id at α = 1 (or --run)')
    .option('--run <name>', 'a run: from its --from-role checkpoint to its --to-role checkpoint')
    .addOption(roleOption('--from-role <role>', 'with --run: the checkpoint at α = 0', 'initial'))
    .addOption(roleOption('--to-role <role>', 'with --run: the checkpoint at α = 1', 'final'))
    .option(
      '--dataset <dataset>',
      "dataset id, name:split or name (its test split); default with --run: the run's dataset",
    )
    .option(
      '--blocks <names>',
      'comma-separated blocks that move (e.g. layer3,fc or stem); default: the whole model',
      parseList,
    )
    .option('--alphas <list>', 'comma-separated alphas, or start:stop:step (default 0:1:0.1)', parseAlphas)
    .option('--limit <n>', 'evaluate only the first n examples', parsePositiveInteger)
    .addOption(
      new Option('--engine <engine>', 'engine for points not stored yet (default LINPATH_ENGINE)').choices([
        'onnx',
        'tfjs',
      ]),
    )
    .addOption(
      new Option(
        '--bn-stats <mode>',
        'BatchNorm running statistics: interpolate (default), keep-to (they stay at --to) or recompute (at each α, over training examples)',
      ).choices(['interpolate', 'keep-to', 'recompute']),
    )
    .option(
      '--bn-stats-dataset <id>',
      "recompute: dataset of the examples (default: the TRAIN split of --dataset's name)",
    )
    .option(
      '--bn-stats-examples <n>',
      'recompute: use its first n examples (default min(2048, all))',
      parsePositiveInteger,
    )
    .addOption(
      new Option(
        '--tensors <group>',
        'which tensors of the blocks move: all (default), weights or running-stats',
      ).choices(['all', 'weights', 'running-stats']),
    )
    .option(
      '--refine',
      'adaptive α after the grid: more points around each peak of the loss (tolerance 1e-3, 64 points)',
    )
    .option('--refine-tolerance <x>', "refine: tolerance on the peak's α and height (implies --refine)", parseTolerance)
    .option(
      '--refine-max-points <n>',
      "refine: the most points in the grid's range (implies --refine)",
      parsePositiveInteger,
    )
    .addOption(
      new Option('--refine-curves <list>', 'refine: loss, error or loss,error (implies --refine)').argParser(parseList),
    )
    .option('--json', 'print the path as one JSON object instead of a table')
    .option('--no-wait', 'queue the missing points and print what is stored now, without waiting for the workers')
    .option('--timeout <ms>', 'wait at most this long (default and maximum LINPATH_MAX_WAIT_MS)', parsePositiveInteger)
    .action(async (options: PathCommandOptions) => {
      await withLinpath(async (app) => {
        const bar = progressBar(process.stderr);
        const input = {
          ...options,
          ...(await resolvePathReferences(app, options)),
          bnStats: enumValue<'INTERPOLATE' | 'KEEP_TO' | 'RECOMPUTE'>(options.bnStats),
          tensors: enumValue<'ALL' | 'WEIGHTS' | 'RUNNING_STATS'>(options.tensors),
          refine: refineOf(options),
        };
        const result = await interpolationPath(app.paths, input, {
          wait: options.wait,
          timeoutMs: options.timeout,
          onProgress: ({ done, total }) => bar.update(done, total),
        }).finally(bar.done);
        process.stdout.write(options.json ? `${JSON.stringify(pathToJson(result))}\n` : formatPathTable(result));
      });
    });
}

/** A role option (`initial`, `intermediate`, `final`). */
export const roleOption = (flags: string, description: string, fallback: string) =>
  new Option(flags, description).choices(['initial', 'intermediate', 'final']).default(fallback);

/** The ids of `--from`/`--to` or of `--run`'s checkpoints, and of `--dataset` (an id, name:split, or the run's). */
async function resolvePathReferences(
  app: Linpath,
  options: PathCommandOptions,
): Promise<{ from: string; to: string; dataset: string }> {
  if (options.run !== undefined && (options.from !== undefined || options.to !== undefined))
    throw badUserInput('expected either --run or --from and --to, got both');
  if (options.run === undefined && (options.from === undefined || options.to === undefined))
    throw badUserInput(
      'expected --run <name> (see linpath runs) or both --from and --to checkpoint ids (see linpath checkpoints)',
    );
  const ends =
    options.run === undefined
      ? undefined
      : await runEndpoints(app.registry, {
          run: options.run,
          fromRole: options.fromRole.toUpperCase() as CheckpointRole,
          toRole: options.toRole.toUpperCase() as CheckpointRole,
        });
  const dataset = await resolveDataset(app.registry, options.dataset, ends?.run);
  return { from: ends?.from.id ?? options.from!, to: ends?.to.id ?? options.to!, dataset: dataset.id };
}

/** Barrier measures and shape of the loss and error curves of the points there are (the API's defaults). */
function barriers(points: PathResult['points']) {
  const { loss, error } = pathBarrierMetrics(points.map((p) => ({ alpha: p.alpha, ...reportedMetrics(p) })));
  const pick = (m: typeof loss) => ({
    shape: m.shape,
    rise: m.rise,
    riseAboveStart: m.riseAboveStart,
    frankleHeight: m.frankleHeight,
    mliDelta: m.mliDelta,
    alphaAtMax: m.alphaAtMax,
    monotonic: m.monotonic,
  });
  return { loss: pick(loss), error: pick(error) };
}

export function pathToJson({ path, points, status, progress, failure, refinement }: PathResult) {
  return {
    ...(refinement === undefined ? {} : { refinement }),
    barrier: barriers(points),
    path: {
      id: path.id,
      blocks: path.blocks,
      exampleCount: path.exampleCount,
      movingTensorCount: path.movingTensorCount,
    },
    status,
    progress,
    failure,
    points: points.map((p) => ({
      alpha: p.alpha,
      ...reportedMetrics(p),
      correct: p.correct,
      n: p.n,
      cached: p.cached,
      chosenBy: p.chosenBy,
      engine: p.engineVersion,
    })),
  };
}

export function formatPathTable(result: PathResult): string {
  const rows = pathToJson(result).points.map((p) => [
    p.alpha.toFixed(4),
    p.loss === null ? 'non-finite' : p.loss.toFixed(6),
    p.accuracy.toFixed(4),
    `${p.correct}/${p.n}`,
    p.cached ? 'stored' : 'computed',
    p.chosenBy === 'REFINEMENT' ? 'refined' : 'grid',
    p.engine,
  ]);
  const header = ['alpha', 'loss', 'accuracy', 'correct', 'point', 'chosen', 'engine'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    `${cells
      .map((c, i) => (i < 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()}\n`;
  const blocks = result.path.blocks === null ? 'whole model' : `blocks ${result.path.blocks.join(', ')}`;
  const state =
    result.status === 'COMPLETE'
      ? ''
      : `, ${result.status}: ${result.progress.done}/${result.progress.total} points stored`;
  const { barrier } = pathToJson(result);
  const number = (v: number | null) => (v === null ? '-' : v.toFixed(6));
  const measures = (name: string, m: typeof barrier.loss) =>
    `${name}: ${m.shape ?? 'no shape (fewer than two finite points)'}, rise ${number(m.rise)}, rise above start ${number(m.riseAboveStart)}, Frankle height ${number(m.frankleHeight)}, α at max ${m.alphaAtMax ?? '-'}\n`;
  const partial = result.status === 'COMPLETE' ? '' : ` (of the ${result.points.length} points stored)`;
  const refinement =
    result.refinement === undefined
      ? ''
      : `refinement: ${result.refinement.status} (tolerance ${result.refinement.tolerance}, at most ${result.refinement.maxPoints} points), peaks: ${
          result.refinement.peaks
            .map((p) => `${p.curve.toLowerCase()} ${p.value.toFixed(6)} at α ${p.alpha.toFixed(6)}`)
            .join('; ') || 'none'
        }\n`;
  return (
    `path ${result.path.id} (${blocks}, ${result.path.exampleCount} examples${state})\n${line(header)}${rows.map(line).join('')}` +
    measures(`loss curve${partial}`, barrier.loss) +
    measures(`error curve${partial}`, barrier.error) +
    refinement
  );
}

/** A one-line progress bar on a terminal; silent when stderr is not one (logs, CI). */
export function progressBar(stream: NodeJS.WriteStream) {
  let shown = false;
  return {
    update: (done: number, total: number) => {
      if (!stream.isTTY || done === total) return;
      const width = 30;
      const filled = Math.round((done / total) * width);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} points`);
      shown = true;
    },
    done: () => {
      if (shown) stream.write('\r\x1b[K');
    },
  };
}

export function parseList(value: string): string[] {
  return value.split(',').map((s) => s.trim());
}

function parseTolerance(value: string): number {
  if (!/^\d*\.?\d+(e-?\d+)?$/i.test(value)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return Number(value);
}

export function parsePositiveInteger(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1)
    throw new InvalidArgumentError(`expected an integer ≥ 1, got "${value}"`);
  return Number(value);
}

/** `--alphas`: the α-list syntax of domain/alphas.ts, its errors as commander's usage errors. */
export function parseAlphas(value: string): number[] {
  try {
    return parseAlphaList(value);
  } catch (error) {
    if (error instanceof AlphaSyntaxError) throw new InvalidArgumentError(error.message.replace(/^alphas: /, ''));
    throw error;
  }
}

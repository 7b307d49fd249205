import { InvalidArgumentError, Option, type Command } from 'commander';
import type { Linpath } from '../app.js';
import { reportedMetrics } from '../domain/losses.js';
import { badUserInput } from '../errors.js';
import { createDirection } from '../usecases/landscapes/directions.usecases.js';
import { lossPlane, type LossPlaneResult, type PlaneRange } from '../usecases/landscapes/plane.usecases.js';
import { resolveDataset } from '../usecases/registry/references.js';
import { parsePositiveInteger, progressBar } from './path.command.js';

interface PlaneCommandOptions {
  center: string;
  xState?: string;
  yState?: string;
  xDirection?: string;
  yDirection?: string;
  xSeed?: number;
  ySeed?: number;
  orthogonalize?: boolean;
  range?: PlaneRange;
  resolution?: number;
  dataset?: string;
  limit?: number;
  engine?: 'onnx' | 'tfjs';
  bnStats?: 'interpolate' | 'recompute';
  bnStatsDataset?: string;
  bnStatsExamples?: number;
  json?: boolean;
  csv?: boolean;
  dryRun?: boolean;
  wait: boolean;
  timeout?: number;
}

/** `linpath plane`: the loss over a grid of a plane (docs/landscapes.md), as a table, CSV or JSON. */
export function addPlaneCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  program
    .command('plane')
    .description(
      'Loss over a grid of a plane: through three checkpoints (--x-state, --y-state) or around --center along two filter-normalised directions (--x-seed/--y-seed or --x-direction/--y-direction).',
    )
    .requiredOption('--center <id>', 'checkpoint at (0, 0): A of a three-state plane, or the centre of directions')
    .option('--x-state <id>', 'B: the x axis runs from A to B')
    .option('--y-state <id>', 'C: the y axis runs from A to C')
    .option('--x-direction <id>', 'a direction (a DIRECTION derived checkpoint) for the x axis')
    .option('--y-direction <id>', 'a direction for the y axis')
    .option(
      '--x-seed <n>',
      'draw the x direction around --center from this seed (created once, then reused)',
      parseSeed,
    )
    .option('--y-seed <n>', 'draw the y direction around --center from this seed', parseSeed)
    .option('--orthogonalize', 'three states: make the y axis orthogonal to B − A (Garipov et al.)')
    .option('--range <xMin:xMax,yMin:yMax>', 'plane coordinates (default -0.5:1.5,-0.5:1.5 or -1:1,-1:1)', parseRange)
    .option('--resolution <n>', 'points per axis (default 21, at most 51)', parsePositiveInteger)
    .option('--dataset <dataset>', 'dataset id, name:split or name (its test split)')
    .option('--limit <n>', 'evaluate only the first n examples', parsePositiveInteger)
    .addOption(new Option('--engine <engine>', 'engine for points not stored yet').choices(['onnx', 'tfjs']))
    .addOption(
      new Option(
        '--bn-stats <mode>',
        'BatchNorm statistics: interpolate (default) or recompute (at every grid point: expensive)',
      ).choices(['interpolate', 'recompute']),
    )
    .option('--bn-stats-dataset <id>', 'recompute: dataset of the examples')
    .option('--bn-stats-examples <n>', 'recompute: use its first n examples', parsePositiveInteger)
    .option('--json', 'print the plane as one JSON object')
    .option('--csv', 'print one CSV row per grid point: i,j,x,y,loss,accuracy,correct,n,stored')
    .option('--dry-run', 'print the cost only; queue nothing')
    .option('--no-wait', 'queue the missing points and print what is stored now')
    .option('--timeout <ms>', 'wait at most this long (default and maximum LINPATH_MAX_WAIT_MS)', parsePositiveInteger)
    .action(async (options: PlaneCommandOptions) => {
      if (options.json === true && options.csv === true) throw badUserInput('expected --json or --csv, got both');
      await withLinpath(async (app) => {
        const direction = async (axis: 'x' | 'y'): Promise<string | undefined> => {
          const seed = options[`${axis}Seed`];
          if (seed === undefined) return options[`${axis}Direction`];
          if (options[`${axis}Direction`] !== undefined)
            throw badUserInput(`expected --${axis}-seed or --${axis}-direction, got both`);
          return (await createDirection({ registry: app.registry, paths: app.paths }, { center: options.center, seed }))
            .id;
        };
        const dataset = await resolveDataset(app.registry, options.dataset);
        const bar = progressBar(process.stderr);
        const plane = await lossPlane(
          app.paths,
          {
            center: options.center,
            xState: options.xState,
            yState: options.yState,
            xDirection: await direction('x'),
            yDirection: await direction('y'),
            orthogonalize: options.orthogonalize ?? false,
            range: options.range,
            resolution: options.resolution,
            dataset: dataset.id,
            limit: options.limit,
            engine: options.engine,
            bnStats:
              options.bnStats === undefined ? undefined : options.bnStats === 'recompute' ? 'RECOMPUTE' : 'INTERPOLATE',
            bnStatsDataset: options.bnStatsDataset,
            bnStatsExamples: options.bnStatsExamples,
          },
          { wait: options.wait, timeoutMs: options.timeout, dryRun: options.dryRun === true },
        ).finally(bar.done);
        process.stdout.write(
          options.json === true
            ? `${JSON.stringify(planeToJson(plane))}\n`
            : options.csv === true
              ? formatPlaneCsv(plane)
              : formatPlaneTable(plane),
        );
      });
    });
}

export function planeToJson(plane: LossPlaneResult) {
  const { cells, ...rest } = plane;
  const value = (cell: (typeof cells)[number]) => (cell.point === undefined ? null : reportedMetrics(cell.point));
  return {
    ...rest,
    loss: plane.ys.map((_, j) => plane.xs.map((_, i) => value(cells[j * plane.xs.length + i]!)?.loss ?? null)),
    accuracy: plane.ys.map((_, j) => plane.xs.map((_, i) => value(cells[j * plane.xs.length + i]!)?.accuracy ?? null)),
  };
}

export function formatPlaneCsv(plane: LossPlaneResult): string {
  const rows = plane.cells.map((cell) => {
    const metrics = cell.point === undefined ? undefined : reportedMetrics(cell.point);
    return [
      cell.i,
      cell.j,
      cell.x,
      cell.y,
      metrics?.loss ?? '',
      metrics?.accuracy ?? '',
      cell.point?.correct ?? '',
      cell.point?.n ?? '',
      cell.point === undefined ? 'pending' : cell.cached ? 'stored' : 'computed',
    ].join(',');
  });
  return `i,j,x,y,loss,accuracy,correct,n,point\n${rows.join('\n')}\n`;
}

/** The loss grid, rows from the largest y down (as plotted), pending points as dots. */
export function formatPlaneTable(plane: LossPlaneResult): string {
  const width = 9;
  const cell = (i: number, j: number) => {
    const point = plane.cells[j * plane.xs.length + i]!.point;
    const loss = point === undefined ? undefined : reportedMetrics(point).loss;
    return (point === undefined ? '·' : loss === null ? 'non-fin' : loss!.toPrecision(5)).padStart(width);
  };
  const header = `${'y \\ x'.padStart(width)}${plane.xs.map((x) => String(x).padStart(width)).join('')}\n`;
  const rows = plane.ys
    .map((y, j) => ({ y, j }))
    .reverse()
    .map(({ y, j }) => `${String(y).padStart(width)}${plane.xs.map((_, i) => cell(i, j)).join('')}\n`)
    .join('');
  const markers = plane.markers.map((m) => `${m.label} ${m.checkpointId} at (${m.x}, ${m.y})`).join('; ');
  const { cost } = plane;
  return (
    `plane ${plane.combinationId ?? '(not asked for yet)'} (${plane.kind === 'THREE_STATES' ? 'three states' : 'directions'}, ${plane.status}: ${plane.progress.done}/${plane.progress.total} points stored)\n` +
    `${markers}${plane.lineInPlane ? '; the line A → B is the row y = 0' : ''}\n` +
    `cost: ${cost.toCompute} of ${cost.points} points to compute, about ${cost.estimatedSeconds.toFixed(1)} s of one worker (${cost.estimatedFrom.toLowerCase().replace('_', ' ')}); ${cost.note}\n` +
    `loss:\n${header}${rows}`
  );
}

function parseSeed(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError(`expected an integer ≥ 0, got "${value}"`);
  return Number(value);
}

/** `xMin:xMax,yMin:yMax`. */
export function parseRange(value: string): PlaneRange {
  const match = /^\s*(-?[\d.eE+-]+):(-?[\d.eE+-]+)\s*,\s*(-?[\d.eE+-]+):(-?[\d.eE+-]+)\s*$/.exec(value);
  const numbers = match?.slice(1).map(Number);
  if (numbers === undefined || numbers.some((n) => !Number.isFinite(n)))
    throw new InvalidArgumentError(`expected xMin:xMax,yMin:yMax (e.g. -1:1,-1:1), got "${value}"`);
  const [xMin, xMax, yMin, yMax] = numbers as [number, number, number, number];
  return { xMin, xMax, yMin, yMax };
}

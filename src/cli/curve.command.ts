import { Option, type Command } from 'commander';
import type { Linpath } from '../app.js';
import { pathBarrierMetrics } from '../domain/barrier.metrics.js';
import { reportedMetrics } from '../domain/losses.js';
import { curvePath, type CurvePathResult } from '../usecases/landscapes/curve.usecases.js';
import { resolveDataset } from '../usecases/registry/references.js';
import { parseAlphas, parsePositiveInteger, progressBar } from './path.command.js';

interface CurveCommandOptions {
  from: string;
  to: string;
  bend: string;
  kind: 'bezier' | 'polychain';
  ts?: number[];
  dataset?: string;
  limit?: number;
  engine?: 'onnx' | 'tfjs';
  json?: boolean;
  csv?: boolean;
  wait: boolean;
  timeout?: number;
}

/** `linpath curve`: the loss along a Bezier curve or polychain through a bend, with the straight line next to it. */
export function addCurveCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  program
    .command('curve')
    .description(
      'Loss along a curve from --from through --bend to --to (quadratic Bezier or polychain), next to the straight line from → to.',
    )
    .requiredOption('--from <id>', 'checkpoint at t = 0')
    .requiredOption('--to <id>', 'checkpoint at t = 1')
    .requiredOption('--bend <id>', 'the bend: a checkpoint of the same architecture')
    .addOption(new Option('--kind <kind>', 'curve').choices(['bezier', 'polychain']).default('bezier'))
    .option('--ts <list>', 'comma-separated t in [0, 1], or start:stop:step (default 0:1:0.1)', parseAlphas)
    .option('--dataset <dataset>', 'dataset id, name:split or name (its test split)')
    .option('--limit <n>', 'evaluate only the first n examples', parsePositiveInteger)
    .addOption(new Option('--engine <engine>', 'engine for points not stored yet').choices(['onnx', 'tfjs']))
    .option('--json', 'print the curve and the line as one JSON object')
    .option('--csv', 'print one CSV row per t: t,curve_loss,curve_accuracy,line_loss,line_accuracy')
    .option('--no-wait', 'queue the missing points and print what is stored now')
    .option('--timeout <ms>', 'wait at most this long (default and maximum LINPATH_MAX_WAIT_MS)', parsePositiveInteger)
    .action(async (options: CurveCommandOptions) => {
      await withLinpath(async (app) => {
        const dataset = await resolveDataset(app.registry, options.dataset);
        const bar = progressBar(process.stderr);
        const curve = await curvePath(
          app.paths,
          {
            from: options.from,
            to: options.to,
            bend: options.bend,
            kind: options.kind === 'polychain' ? 'POLYCHAIN' : 'BEZIER',
            ts: options.ts,
            dataset: dataset.id,
            limit: options.limit,
            engine: options.engine,
          },
          { wait: options.wait, timeoutMs: options.timeout },
        ).finally(bar.done);
        const json = curveToJson(curve);
        process.stdout.write(
          options.json === true
            ? `${JSON.stringify(json)}\n`
            : options.csv === true
              ? formatCurveCsv(json)
              : formatCurveTable(json, curve),
        );
      });
    });
}

export function curveToJson(curve: CurvePathResult) {
  const line = new Map(curve.line.points.map((p) => [p.alpha, reportedMetrics(p)]));
  const measures = (values: Array<{ alpha: number; loss: number | null; accuracy: number | null }>) => {
    const { loss } = pathBarrierMetrics(values);
    return { shape: loss.shape, rise: loss.rise, frankleHeight: loss.frankleHeight, alphaAtMax: loss.alphaAtMax };
  };
  const stored = curve.points.filter((p) => p.point !== undefined);
  return {
    curve: curve.combinationId,
    kind: curve.kind,
    status: curve.status,
    lineStatus: curve.line.status,
    progress: curve.progress,
    barrier: measures(stored.map((p) => ({ alpha: p.t, loss: p.loss, accuracy: p.accuracy }))),
    lineBarrier: measures(curve.line.points.map((p) => ({ alpha: p.alpha, ...reportedMetrics(p) }))),
    points: curve.points.map((p) => ({
      t: p.t,
      loss: p.loss,
      accuracy: p.accuracy,
      lineLoss: line.get(p.t)?.loss ?? null,
      lineAccuracy: line.get(p.t)?.accuracy ?? null,
    })),
  };
}

function formatCurveCsv(json: ReturnType<typeof curveToJson>): string {
  const cell = (v: number | null) => (v === null ? '' : String(v));
  return `t,curve_loss,curve_accuracy,line_loss,line_accuracy\n${json.points
    .map((p) => [p.t, cell(p.loss), cell(p.accuracy), cell(p.lineLoss), cell(p.lineAccuracy)].join(','))
    .join('\n')}\n`;
}

function formatCurveTable(json: ReturnType<typeof curveToJson>, curve: CurvePathResult): string {
  const number = (v: number | null, digits = 6) => (v === null ? '-' : v.toFixed(digits));
  const rows = json.points.map(
    (p) => `${p.t.toFixed(4).padStart(6)}  ${number(p.loss).padStart(10)}  ${number(p.lineLoss).padStart(10)}\n`,
  );
  const measures = (name: string, m: typeof json.barrier) =>
    `${name}: ${m.shape ?? 'no shape'}, rise ${number(m.rise)}, Frankle height ${number(m.frankleHeight)}, t at max ${m.alphaAtMax ?? '-'}\n`;
  return (
    `curve ${curve.combinationId} (${curve.kind.toLowerCase()}, ${curve.status}: ${curve.progress.done}/${curve.progress.total} points stored; line ${curve.line.status})\n` +
    `${'t'.padStart(6)}  ${'curve loss'.padStart(10)}  ${'line loss'.padStart(10)}\n${rows.join('')}` +
    measures('curve barrier', json.barrier) +
    measures('line barrier', json.lineBarrier)
  );
}

import type { Command } from 'commander';
import type { Linpath } from '../app.js';
import { hyperparameterEntries } from '../domain/hyperparameters.js';
import type { CheckpointRow, DatasetRow, RunRow } from '../storage/registry.tables.js';
import { findRun } from '../usecases/registry/runs.usecases.js';
import { printJson } from './options.js';

/** Columns padded to their widest cell, two spaces apart. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  return line(header) + rows.map(line).join('');
}

const MAX_LISTED = 1000;

/** `linpath runs`, `checkpoints`, `datasets`, `paths`: what is registered, with the ids other commands take. */
export function addListCommands(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  const print = (json: boolean | undefined, rows: object[], header: string[], cells: (row: never) => string[]) => {
    if (json) printJson(rows);
    else
      process.stdout.write(
        formatTable(
          header,
          rows.map((r) => cells(r as never)),
        ),
      );
  };

  program
    .command('runs')
    .description('List the runs (oldest first): name, architecture, dataset name, tags, hyper-parameters, checkpoints.')
    .option('--tag <tag>', 'only runs with this tag')
    .option('--json', 'print one JSON array')
    .action(async (options: { tag?: string; json?: boolean }) => {
      await withLinpath(async (app) => {
        const repository = app.registry.repository;
        const runs = await repository.listRuns(
          options.tag === undefined ? {} : { tags: [options.tag] },
          { field: 'CREATED_AT', direction: 'ASC' },
          MAX_LISTED,
          undefined,
        );
        const checkpoints = await repository.checkpointsOfRuns(runs.map((r) => r.id));
        const rows = runs.map(({ sortValue: _sortValue, ...run }) => ({
          ...runJson(run),
          checkpoints: checkpoints.filter((c) => c.runId === run.id).map(checkpointJson),
        }));
        print(
          options.json,
          rows,
          ['name', 'architecture', 'dataset', 'tags', 'checkpoints', 'hyper-parameters', 'id'],
          (r: (typeof rows)[number]) => [
            r.name,
            r.architecture ?? '-',
            r.datasetName ?? '-',
            r.tags.join(',') || '-',
            r.checkpoints.map((c) => c.role.toLowerCase()).join(',') || '-',
            hyperparameterEntries(r.hyperparameters)
              .map(([path, text]) => `${path}=${text}`)
              .join(' ') || '-',
            r.id,
          ],
        );
      });
    });

  program
    .command('checkpoints')
    .description('List the checkpoints (of one run, or of all): run, role, step, architecture, id.')
    .option('--run <name>', 'only the checkpoints of this run (name or id)')
    .option('--json', 'print one JSON array')
    .action(async (options: { run?: string; json?: boolean }) => {
      await withLinpath(async (app) => {
        const repository = app.registry.repository;
        const runs =
          options.run === undefined
            ? (await repository.listRuns({}, { field: 'CREATED_AT', direction: 'ASC' }, MAX_LISTED, undefined)).map(
                ({ sortValue: _sortValue, ...run }) => run,
              )
            : [await findRun(app.registry, options.run)];
        const checkpoints = await repository.checkpointsOfRuns(runs.map((r) => r.id));
        const rows = runs.flatMap((run) =>
          checkpoints
            .filter((c) => c.runId === run.id)
            .sort((a, b) => a.step - b.step)
            .map((c) => ({ run: run.name, ...checkpointJson(c) })),
        );
        print(
          options.json,
          rows,
          ['run', 'role', 'step', 'architecture', 'tensors', 'id'],
          (r: (typeof rows)[number]) => [
            r.run,
            r.role.toLowerCase(),
            String(r.step),
            r.architecture ?? '-',
            String(r.tensorCount),
            r.id,
          ],
        );
      });
    });

  program
    .command('datasets')
    .description('List the datasets: name:split (what --dataset takes), examples, input shape, classes, id.')
    .option('--json', 'print one JSON array')
    .action(async (options: { json?: boolean }) => {
      await withLinpath(async (app) => {
        const rows = (await app.registry.repository.listDatasets()).map(datasetJson);
        print(
          options.json,
          rows,
          ['dataset', 'examples', 'input', 'classes', 'format', 'id'],
          (r: (typeof rows)[number]) => [
            `${r.name}:${r.split.toLowerCase()}`,
            String(r.exampleCount),
            `[${r.inputShape.join(', ')}]`,
            r.numClasses === null ? '-' : String(r.numClasses),
            r.format.toLowerCase(),
            r.id,
          ],
        );
      });
    });

  program
    .command('paths')
    .description('List the newest paths (of one run, or of all): end points, dataset, blocks, points stored, id.')
    .option('--run <name>', 'only the paths from or to a checkpoint of this run')
    .option('--json', 'print one JSON array')
    .action(async (options: { run?: string; json?: boolean }) => {
      await withLinpath(async (app) => {
        const repository = app.registry.repository;
        const run = options.run === undefined ? undefined : await findRun(app.registry, options.run);
        const ofRun = run === undefined ? undefined : await repository.checkpointsOfRun(run.id);
        const paths = await app.paths.paths.listPaths({ limit: MAX_LISTED, checkpointIds: ofRun?.map((c) => c.id) });
        const checkpoints = new Map<string, CheckpointRow>();
        for (const id of new Set(paths.flatMap((p) => [p.fromCheckpointId, p.toCheckpointId]))) {
          const checkpoint = await repository.findCheckpoint(id);
          if (checkpoint !== undefined) checkpoints.set(id, checkpoint);
        }
        const runs = new Map(
          (await repository.findRunsByIds([...new Set([...checkpoints.values()].map((c) => c.runId))])).map((r) => [
            r.id,
            r,
          ]),
        );
        const datasets = new Map((await repository.listDatasets()).map((d) => [d.id, d]));
        const end = (id: string) => {
          const checkpoint = checkpoints.get(id);
          return checkpoint === undefined
            ? id
            : `${runs.get(checkpoint.runId)?.name ?? '?'}·${checkpoint.role.toLowerCase()}·${checkpoint.step}`;
        };
        const rows = paths.map((p) => {
          const dataset = datasets.get(p.datasetId);
          return {
            id: p.id,
            from: end(p.fromCheckpointId),
            to: end(p.toCheckpointId),
            fromCheckpointId: p.fromCheckpointId,
            toCheckpointId: p.toCheckpointId,
            dataset: dataset === undefined ? p.datasetId : `${dataset.name}:${dataset.split.toLowerCase()}`,
            datasetId: p.datasetId,
            blocks: p.blocks,
            bnStats: p.bnStats,
            exampleCount: p.exampleCount,
            storedPoints: p.storedPoints,
            failure: p.failureCode === null ? null : `${p.failureCode}: ${p.failureMessage ?? ''}`,
          };
        });
        print(
          options.json,
          rows,
          ['from', 'to', 'dataset', 'blocks', 'examples', 'points', 'id'],
          (r: (typeof rows)[number]) => [
            r.from,
            r.to,
            r.dataset,
            r.blocks?.join(',') ?? 'whole model',
            String(r.exampleCount),
            r.failure === null ? String(r.storedPoints) : `${r.storedPoints} (failed)`,
            r.id,
          ],
        );
      });
    });
}

const runJson = (run: RunRow) => ({
  id: run.id,
  name: run.name,
  architecture: run.architecture,
  datasetName: run.datasetName,
  tags: run.tags,
  hyperparameters: run.hyperparameters,
  seed: run.seed,
  reportedMetrics: run.reportedMetrics,
});

const checkpointJson = (c: CheckpointRow) => ({
  id: c.id,
  role: c.role,
  step: c.step,
  architecture: c.architecture,
  tensorCount: c.tensorCount,
  sha256: c.sha256,
});

const datasetJson = (d: DatasetRow) => ({
  id: d.id,
  name: d.name,
  split: d.split,
  exampleCount: d.exampleCount,
  inputShape: d.inputShape,
  numClasses: d.numClasses,
  format: d.format,
});

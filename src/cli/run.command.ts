import type { Command } from 'commander';
import type { Linpath } from '../app.js';
import type { RunRow } from '../storage/registry.tables.js';
import { findRun, updateRun } from '../usecases/registry/runs.usecases.js';
import type { RegistryDeps } from '../usecases/registry/registry.deps.js';
import { collect, mergeObjects, parseHyperparameter, printJson } from './options.js';

/** What `import checkpoint` and `run update` may say about a run. */
export interface RunDescription {
  arch?: string;
  dataset?: string;
  tag?: string[];
  untag?: string[];
  hparam?: Record<string, unknown>;
}

/**
 * Applies a description to a run: dataset name and architecture replaced, tags added (and removed), the
 * hyper-parameters merged key by key. Returns the run unchanged when nothing is said.
 */
export async function describeRun(deps: RegistryDeps, run: RunRow, description: RunDescription): Promise<RunRow> {
  const tags = [...new Set([...run.tags, ...(description.tag ?? [])])].filter((t) => !description.untag?.includes(t));
  const changes = {
    ...(description.arch !== undefined && description.arch !== run.architecture
      ? { architecture: description.arch }
      : {}),
    ...(description.dataset !== undefined ? { datasetName: description.dataset } : {}),
    ...(description.tag !== undefined || description.untag !== undefined ? { tags } : {}),
    ...(description.hparam !== undefined
      ? { hyperparameters: mergeObjects(run.hyperparameters, description.hparam) }
      : {}),
  };
  if (Object.keys(changes).length === 0) return run;
  return updateRun(deps, { run: run.id, ...changes });
}

/** The options of a run's description, shared by `import checkpoint` and `run update`. */
export function addRunDescriptionOptions(command: Command): Command {
  return command
    .option('--dataset <name>', "name of the run's datasets: its curves default to this name's TEST split")
    .option('--tag <tag>', 'a tag of the run (repeatable)', collect)
    .option(
      '--hparam <key=value>',
      'a hyper-parameter (repeatable; dotted keys nest; values parse as JSON, else text), e.g. --hparam weight_decay=0.0005',
      parseHyperparameter,
    );
}

/** `linpath run update`: describe a run after the fact. */
export function addRunCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  const runCommand = program.command('run').description('Change what is recorded about a run.');
  addRunDescriptionOptions(
    runCommand
      .command('update')
      .description(
        "Set a run's dataset name, tags, hyper-parameters or architecture (a new architecture is checked against every checkpoint of the run).",
      )
      .argument('<run>', 'run name or id')
      .option('--arch <name>', 'architecture, e.g. mlp or resnet18-cifar'),
  )
    .option('--untag <tag>', 'remove a tag (repeatable)', collect)
    .addHelpText('after', '\nPrints the run as one JSON object.')
    .action(async (name: string, options: RunDescription) => {
      await withLinpath(async (app) => {
        const run = await describeRun(app.registry, await findRun(app.registry, name), options);
        printJson({
          run: {
            id: run.id,
            name: run.name,
            architecture: run.architecture,
            datasetName: run.datasetName,
            tags: run.tags,
            hyperparameters: run.hyperparameters,
          },
        });
      });
    });
}

import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Linpath } from '../app.js';
import { resolveDataset } from '../usecases/registry/references.js';
import { studyReport } from '../usecases/report.usecases.js';
import { parseAlphas } from './path.command.js';
import { createRandomCheckpoint } from '../usecases/derive.usecases.js';
import type { EndpointSelector } from '../usecases/paths/endpoint-selectors.js';
import { DATASET_HELP, parseEndpointOption, parseRunFilter, selectRuns, type RunSelection } from './sweep.command.js';

interface ReportOptions extends RunSelection {
  dataset?: string;
  from?: EndpointSelector;
  to?: EndpointSelector;
  groupBy?: string[];
  alphas?: number[];
  limit?: number;
  /** Commander's --no-blocks. */
  blocks: boolean;
  maxEvaluations?: number;
  out?: string;
  title?: string;
}

/** `linpath report`: the seed study's Table 1 from stored runs, as Markdown on stdout (and files with --out). */
export function addReportCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  program
    .command('report')
    .description(
      "A table in the style of the seed study's Table 1: shapes, test accuracy (mean ± std), barrier height and its correlation per intervention.",
    )
    .option(
      '--runs <filter>',
      'runs: "all", or terms such as name~…, tag=…, hp.wd>=… (as linpath sweep)',
      parseRunFilter,
    )
    .option('--run <name>', 'one run by name or id (see linpath runs), instead of --runs')
    .option('--dataset <dataset>', DATASET_HELP)
    .option(
      '--from <endpoint>',
      'the α = 0 end of every curve, as linpath sweep --from: initial (default), step:<n>, role@step, run:<name>:<role>[@step], random:<seed>',
      parseEndpointOption,
    )
    .option('--to <endpoint>', 'the α = 1 end, as --from (default final)', parseEndpointOption)
    .option('--group-by <paths>', 'comma-separated hyper-parameter paths naming the interventions', (value: string) =>
      value.split(',').map((s) => s.trim()),
    )
    .option(
      '--alphas <list>',
      'comma-separated alphas including 0 and 1, or start:stop:step (default 0:1:0.1)',
      parseAlphas,
    )
    .option('--limit <n>', 'evaluate only the first n examples', (value: string) => Number(value))
    .option('--no-blocks', 'the whole-model curves only, no block-wise curves')
    .option('--max-evaluations <n>', 'most paths to queue (default 500)', (value: string) => Number(value))
    .option('--title <text>', 'title of the report')
    .option('--out <prefix>', 'also write <prefix>.md and <prefix>.html (with the curves as SVG)')
    .action(async (options: ReportOptions) => {
      await withLinpath(async (app) => {
        const selected = await selectRuns(app, options);
        const randomInit = (input: { like: string; seed: number; run: string }) =>
          createRandomCheckpoint({ registry: app.registry, paths: app.paths }, input);
        const report = await studyReport(
          { ...app.analytics, randomInit },
          {
            runs: selected.filter,
            from: options.from,
            to: options.to,
            dataset: (await resolveDataset(app.registry, options.dataset, selected.run)).id,
            groupBy: options.groupBy,
            alphas: options.alphas,
            limit: options.limit,
            blocks: options.blocks,
            maxEvaluations: options.maxEvaluations,
            title: options.title,
          },
        );
        if (options.out !== undefined) {
          await writeFile(`${options.out}.md`, report.markdown);
          await writeFile(`${options.out}.html`, report.html);
        }
        process.stdout.write(report.markdown);
      });
    });
}

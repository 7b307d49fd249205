import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Linpath } from '../app.js';
import { spiralStudy } from '../usecases/study.usecases.js';

interface StudyOptions {
  seeds: number[];
  mnistSeeds?: number[];
  otherInits: number;
  stopAt: number;
  spiralEpochs: number;
  mnistEpochs: number;
  turns?: number;
  noise?: number;
  data: string[];
  prefix: string;
  out?: string;
}

/** `linpath study spiral`: the seed study's Figure 1A with its protocol, trained and evaluated end to end. */
export function addStudyCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  const study = program.command('study').description('Worked studies that train, evaluate and report end to end.');
  const first = (value: string) => parseNumbers(value)[0]!;
  const integer = (value: string) => parseIntegers(value)[0]!;
  study
    .command('spiral')
    .description(
      "Vlaar & Frankle (2022) Fig. 1A with its protocol: the 2-50-50-1 MLP on the paper's spiral and 784-50-50-10 on MNIST " +
        'digits (Adam 5e-4), trained to the stop rule; θ_0 → θ_T and θ′_0 → θ_T from other initialisations, train and test, 21 α; ' +
        'the report of each data set.',
    )
    .option('--seeds <list>', 'comma-separated seeds of the training runs', parseIntegers, [1, 2, 3])
    .option('--mnist-seeds <list>', 'seeds on MNIST, when they differ from --seeds', parseIntegers)
    .option('--other-inits <n>', 'other random initialisations per run (green curves)', integer, 5)
    .option('--stop-at <fraction>', 'stop when the running train accuracy of an epoch reaches it', first, 0.99)
    .option('--spiral-epochs <n>', 'most epochs on the spiral', integer, 400)
    .option('--mnist-epochs <n>', 'most epochs on MNIST', integer, 60)
    .option('--turns <n>', 'turns of each spiral arm (default 2)', first)
    .option('--noise <sigma>', 'Gaussian noise of the spiral (default 0.02)', first)
    .option('--data <list>', 'data sets: mnist, spiral', (value: string) => value.split(','), ['mnist', 'spiral'])
    .option('--prefix <name>', 'run name prefix and tag', 'fig1a')
    .option('--out <prefix>', 'also write <prefix>.md, <prefix>.html and <prefix>.svg (the figure)')
    .action(async (options: StudyOptions) => {
      const data = options.data.map((d) => d.trim());
      const unknown = data.filter((d) => d !== 'mnist' && d !== 'spiral');
      if (unknown.length > 0)
        throw new InvalidArgumentError(`--data: expected mnist and/or spiral, got ${unknown.join(', ')}`);
      await withLinpath(async (app) => {
        const result = await spiralStudy(app, {
          seeds: options.seeds,
          ...(options.mnistSeeds === undefined ? {} : { seedsOf: { mnist: options.mnistSeeds } }),
          otherInits: options.otherInits,
          stopAtTrainAccuracy: options.stopAt,
          maxEpochs: { spiral: options.spiralEpochs, mnist: options.mnistEpochs },
          turns: options.turns,
          noise: options.noise,
          datasets: data as Array<'mnist' | 'spiral'>,
          prefix: options.prefix,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        if (options.out !== undefined) {
          await writeFile(`${options.out}.md`, result.markdown);
          await writeFile(`${options.out}.html`, result.html);
          await writeFile(`${options.out}.svg`, result.figure);
        }
        process.stdout.write(`${result.markdown}\n`);
      });
    });
}

function parseNumbers(value: string): number[] {
  const numbers = value.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)));
  if (numbers.some((n) => !Number.isFinite(n) || n < 0))
    throw new InvalidArgumentError(`expected comma-separated numbers ≥ 0, got "${value}"`);
  return numbers;
}

function parseIntegers(value: string): number[] {
  const numbers = parseNumbers(value);
  if (numbers.some((n) => !Number.isSafeInteger(n)))
    throw new InvalidArgumentError(`expected comma-separated integers, got "${value}"`);
  return numbers;
}

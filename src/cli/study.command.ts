import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { Linpath } from '../app.js';
import { spiralStudy } from '../usecases/study.usecases.js';

interface StudyOptions {
  seeds: number[];
  weightDecays: number[];
  epochs: number;
  prefix: string;
  out?: string;
}

/** `linpath study spiral`: the seed study's Figure 1A and a small Table 1, trained and evaluated end to end. */
export function addStudyCommand(
  program: Command,
  withLinpath: (work: (app: Linpath) => Promise<void>) => Promise<void>,
): void {
  const study = program.command('study').description('Worked studies that train, evaluate and report end to end.');
  study
    .command('spiral')
    .description(
      'Vlaar & Frankle (2022) Fig. 1A and a small Table 1: the 2-50-50-1 MLP on spiral data and on two Gaussian blobs, ' +
        'θ_0 → θ_T and another initialisation → θ_T, new runs from each barrier peak, and the report.',
    )
    .option('--seeds <list>', 'comma-separated seeds', parseIntegers, [1, 2, 3])
    .option('--weight-decays <list>', 'comma-separated weight decays (Adam, coupled L2)', parseNumbers, [0, 1e-3])
    .option(
      '--epochs <n>',
      'epochs of 10,000 points (the seed study: 60)',
      (value: string) => parseIntegers(value)[0]!,
      60,
    )
    .option('--prefix <name>', 'run name prefix and tag', 'study-spiral')
    .option('--out <prefix>', 'also write <prefix>.md and <prefix>.html')
    .action(async (options: StudyOptions) => {
      await withLinpath(async (app) => {
        const result = await spiralStudy(app, {
          ...options,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        if (options.out !== undefined) {
          await writeFile(`${options.out}.md`, result.markdown);
          await writeFile(`${options.out}.html`, result.html);
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

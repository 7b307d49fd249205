import 'reflect-metadata';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { Logger } from 'pino';
import { createLinpath, createLogger, type Linpath } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { publishServerUrl } from './embedded/services.js';
import { badUserInput, type ErrorCode, isLinpathError } from './errors.js';
import { buildLinpathSchema } from './graphql/schema.js';
import { startHttpServer, startMetricsServer } from './server/http.js';
import { addPathCommand } from './cli/path.command.js';
import { addSweepCommand } from './cli/sweep.command.js';
import { addReportCommand } from './cli/report.command.js';
import { addKeysCommand } from './cli/keys.command.js';
import { ensureFirstAdminKey } from './usecases/api-keys.usecases.js';
import path from 'node:path';
import { addStudyCommand } from './cli/study.command.js';
import { DEMO_RUN, DEMO_TFJS_SEEDS, seedDemo, trainDemoRuns } from './usecases/demo.usecases.js';
import type { InputLayout } from './storage/registry.tables.js';
import {
  importCheckpointFile,
  importDatasetFile,
  type CheckpointRole,
  type DatasetFormat,
  type DatasetSplit,
} from './usecases/registry/registry.usecases.js';

/** CLI exit status by error code, so scripts can tell bad input from a conflict or an outage. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INTERNAL_SERVER_ERROR: 1,
  BAD_USER_INPUT: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  FORBIDDEN: 5,
  UNAVAILABLE: 6,
  UNAUTHENTICATED: 7,
  TOO_MANY_REQUESTS: 8,
};

export function buildCli(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('linpath')
    .description('Linear-interpolation analysis of neural-network loss landscapes, served over GraphQL.')
    .showHelpAfterError()
    .exitOverride()
    // Usage mistakes read like every other error: a code, then what was expected and given.
    .configureOutput({
      outputError: (text, write) => write(`linpath: BAD_USER_INPUT: ${text.replace(/^error: /, '')}`),
    });

  program
    .command('start')
    .description('Serve the GraphQL API at http://$HOST:$PORT/graphql (embedded Postgres and S3 unless configured).')
    .action(async () => serve(loadConfig(env)));

  const importCommand = program
    .command('import')
    .description(
      'Upload a local file (a safetensors checkpoint; a safetensors, CIFAR-10 binary or MNIST IDX dataset) to the store and register it.',
    );

  importCommand
    .command('checkpoint')
    .description(
      'Upload a PyTorch checkpoint (safetensors, state_dict names) and register it in a run (created if missing).',
    )
    .argument('<file>', 'a .safetensors file')
    .requiredOption('--run <name>', 'run name (created when it does not exist)')
    .requiredOption('--step <n>', 'training step, an integer ≥ 0', parseStep)
    .addOption(
      new Option('--role <role>', 'where the checkpoint sits in its run')
        .choices(['initial', 'intermediate', 'final'])
        .makeOptionMandatory(),
    )
    .option('--arch <name>', "architecture (defaults to the run's)")
    .addHelpText(
      'after',
      '\nPrints one JSON object as its last line: {"run":{"id","name"},"checkpoint":{"id","sha256",...}}',
    )
    .action(async (file: string, options: { run: string; step: number; role: string; arch?: string }) => {
      await withLinpath(loadConfig(env), async (app) => {
        const { run, checkpoint, created } = await importCheckpointFile(app.registry, file, {
          run: options.run,
          step: options.step,
          role: options.role.toUpperCase() as CheckpointRole,
          architecture: options.arch,
        });
        printJson({
          run: { id: run.id, name: run.name },
          checkpoint: {
            id: checkpoint.id,
            sha256: checkpoint.sha256,
            uri: checkpoint.uri,
            step: checkpoint.step,
            role: checkpoint.role,
            tensorCount: checkpoint.tensorCount,
            parameterCount: checkpoint.parameterCount,
            created,
          },
        });
      });
    });

  importCommand
    .command('dataset')
    .description('Upload a dataset (safetensors, CIFAR-10 binary or MNIST IDX) and register it.')
    .argument('<file>', 'a .safetensors file, a CIFAR-10 *_batch.bin file, or an MNIST IDX images file')
    .requiredOption('--name <name>', 'dataset name, e.g. cifar10')
    .addOption(
      new Option('--split <split>', 'which split').choices(['train', 'validation', 'test']).makeOptionMandatory(),
    )
    .addOption(
      new Option('--format <format>', 'how the file is stored')
        .choices(['safetensors', 'cifar10-binary', 'mnist-idx'])
        .default('safetensors'),
    )
    .option('--labels <file>', 'mnist-idx: the IDX labels file')
    .option('--input-key <key>', 'safetensors: tensor holding the inputs (default "x")')
    .option('--label-key <key>', 'safetensors: tensor holding the labels (default "y")')
    .addOption(
      new Option('--layout <layout>', 'safetensors images: axis order of the stored examples').choices([
        'nchw',
        'nhwc',
      ]),
    )
    .option('--mean <values>', 'per-channel means in stored units, e.g. 125.3,123,113.9 (with --std)', parseNumberList)
    .option('--std <values>', 'per-channel standard deviations, e.g. 63,62.1,66.7 (with --mean)', parseNumberList)
    .addHelpText(
      'after',
      '\nInputs are fed to models as x = (v - mean[c]) / std[c] when --mean and --std are given, as stored otherwise.' +
        '\nPrints one JSON object as its last line: {"dataset":{"id","sha256",...}}',
    )
    .action(
      async (
        file: string,
        options: {
          name: string;
          split: string;
          format: string;
          labels?: string;
          inputKey?: string;
          labelKey?: string;
          layout?: string;
          mean?: number[];
          std?: number[];
        },
      ) => {
        if ((options.mean === undefined) !== (options.std === undefined)) {
          throw badUserInput(
            `normalization: expected --mean and --std together, got only ${options.mean ? '--mean' : '--std'}`,
          );
        }
        await withLinpath(loadConfig(env), async (app) => {
          const { dataset, created } = await importDatasetFile(app.registry, file, {
            name: options.name,
            split: options.split.toUpperCase() as DatasetSplit,
            format: options.format.toUpperCase().replace('-', '_') as DatasetFormat,
            labelsFile: options.labels,
            inputKey: options.inputKey,
            labelKey: options.labelKey,
            inputLayout: options.layout?.toUpperCase() as InputLayout | undefined,
            normalization: options.mean && options.std ? { mean: options.mean, std: options.std } : undefined,
          });
          printJson({
            dataset: {
              id: dataset.id,
              sha256: dataset.sha256,
              uri: dataset.uri,
              ...(dataset.labelsUri !== null
                ? { labelsSha256: dataset.labelsSha256, labelsUri: dataset.labelsUri }
                : {}),
              name: dataset.name,
              split: dataset.split,
              format: dataset.format,
              exampleCount: dataset.exampleCount,
              inputShape: dataset.inputShape,
              numClasses: dataset.numClasses,
              created,
            },
          });
        });
      },
    );

  addPathCommand(program, (work) => withLinpath(loadConfig(env), work));
  addSweepCommand(program, (work) => withLinpath(loadConfig(env), work));
  addReportCommand(program, (work) => withLinpath(loadConfig(env), work));
  addKeysCommand(program, (work) => withLinpath(loadConfig(env), work, { workers: false }));
  addStudyCommand(program, (work) => withLinpath(loadConfig(env), work));

  program
    .command('worker')
    .description(
      'Evaluate queued points (a worker host): uses DATABASE_URL and S3_* like the server, or a running embedded server.',
    )
    .addOption(
      new Option('--engine <engine>', 'engine for jobs that name none (default LINPATH_ENGINE)').choices([
        'onnx',
        'tfjs',
      ]),
    )
    .addOption(
      new Option('--provider <provider>', 'ONNX Runtime execution provider (default LINPATH_ONNX_PROVIDER)').choices([
        'cpu',
        'cuda',
      ]),
    )
    .option('--threads <n>', 'engine threads (default LINPATH_THREADS; 0: one per core)', parseStep)
    .option('--concurrency <n>', 'jobs at once (default 1: an engine uses every core already)', parseStep)
    .option('--metrics-port <port>', 'serve /metrics and /healthz on HOST:port (0: a free port)', parseStep)
    .action(async (options: WorkerOptions) => runWorker(loadConfig(env), options));

  return program;
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger(config);
  logUnhandledRejections(logger);
  const app = await createLinpath(config, 'server', logger);
  try {
    const demo = config.demo && app.endpoints.embedded.database && (await seedDemo(app.registry));
    if (demo) logger.info('loaded the demo run into the empty embedded database (LINPATH_DEMO=0 to skip)');
    await announceFirstAdminKey(app);
    const http = await startHttpServer(app, await buildLinpathSchema());
    if (config.queue.workers > 0) await app.startWorkers(config.queue.workers);
    // The tfjs-trained demo runs are trained after the server answers, so they delay neither /healthz nor
    // the API; a start interrupted before they finished completes them next time.
    const training = new AbortController();
    const demoTraining =
      config.demo && (demo || (await app.registry.repository.findRunByName(DEMO_RUN)) !== undefined)
        ? trainDemoRuns(app.registry, logger, DEMO_TFJS_SEEDS, training.signal).catch((error: unknown) => {
            if (!training.signal.aborted) logger.warn({ err: error }, 'training the demo runs failed');
          })
        : Promise.resolve();
    // The handlers go in before the URL is announced: whoever reads it may signal at once.
    onTerminationSignals(logger, 'shutting down', async () => {
      training.abort();
      // Waiting requests answer with what they know, so that HTTP drains at once.
      app.paths.watcher.close();
      await http.stop();
      await demoTraining;
      await app.close();
    });
    publishServerUrl(config, http.url);
    logger.info(
      { url: http.url, embedded: app.endpoints.embedded, home: config.home, workers: config.queue.workers },
      'linpath is serving',
    );
    console.log(`linpath: GraphQL at ${http.url}`);
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** Where the embedded default writes the admin key of its first start. */
export const adminKeyFile = (config: Pick<Config, 'home'>): string => path.join(config.home, 'admin-key');

/**
 * The embedded default (no DATABASE_URL) creates an admin key at its first start, when no key exists, and
 * prints it once, so that a fresh `npm start` can write; with a configured database the operator creates keys.
 */
async function announceFirstAdminKey(app: Linpath): Promise<void> {
  const { config, logger } = app;
  if (!config.auth.enabled) {
    logger.warn(
      'LINPATH_AUTH is off: every GraphQL operation, mutations included, is open to whoever reaches the server',
    );
    return;
  }
  if (!app.endpoints.embedded.database) {
    if ((await app.apiKeys.repository.count()) === 0)
      logger.warn('no API keys yet: mutations need one; create it with `linpath keys create --scope admin`');
    return;
  }
  const file = adminKeyFile(config);
  const created = await ensureFirstAdminKey(app.apiKeys, file);
  if (created === undefined) return;
  console.log(`linpath: created an admin API key (shown once; also in ${file}, mode 0600): ${created.key}`);
  console.log('linpath: send it as "Authorization: Bearer <key>"; the dashboard asks for it under "API key"');
}

interface WorkerOptions {
  engine?: 'onnx' | 'tfjs';
  provider?: 'cpu' | 'cuda';
  threads?: number;
  concurrency?: number;
  metricsPort?: number;
}

async function runWorker(base: Config, options: WorkerOptions): Promise<void> {
  const config: Config = {
    ...base,
    compute: {
      ...base.compute,
      engine: options.engine ?? base.compute.engine,
      onnxProvider: options.provider ?? base.compute.onnxProvider,
      threads: options.threads ?? base.compute.threads,
    },
  };
  const concurrency = options.concurrency ?? 1;
  if (concurrency < 1 || concurrency > 64)
    throw badUserInput(`--concurrency: expected an integer from 1 to 64, got ${concurrency}`);
  const logger = createLogger(config);
  logUnhandledRejections(logger);
  const app = await createLinpath(config, 'client', logger);
  try {
    // Load the engine now: a host without its libraries (CUDA, tfjs) fails here, not on its first job.
    await app.paths.engines.get(config.compute.engine);
    const http =
      options.metricsPort === undefined ? undefined : await startMetricsServer(app, config.host, options.metricsPort);
    await app.startWorkers(concurrency);
    onTerminationSignals(
      logger,
      'worker shutting down: the running job hands its remaining alphas back to the queue',
      async () => {
        await http?.stop();
        await app.close();
      },
    );
    logger.info(
      {
        engine: config.compute.engine,
        provider: config.compute.onnxProvider,
        concurrency,
        metrics: http?.url,
        embedded: app.endpoints.embedded,
      },
      'linpath worker is running',
    );
    console.log(`linpath: worker running${http === undefined ? '' : `, metrics at ${http.url}`}`);
  } catch (error) {
    await app.close();
    throw error;
  }
}

/**
 * A long-running process logs a stray rejection instead of exiting on it. pg-boss completes and fails jobs
 * without awaiting them, so a database that goes away while a job runs would otherwise take the API or
 * the worker down with it; the queue retries once the database is back.
 */
function logUnhandledRejections(logger: Logger): void {
  process.on('unhandledRejection', (reason) =>
    logger.error({ err: reason }, 'unhandled rejection; the process keeps running'),
  );
}

/** On the first SIGINT or SIGTERM: `stop`, then exit 0 (1 when stopping fails). Later signals are ignored. */
function onTerminationSignals(logger: Logger, message: string, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, message);
    try {
      await stop();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutting down failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void handle('SIGINT'));
  process.once('SIGTERM', () => void handle('SIGTERM'));
}

async function withLinpath(
  config: Config,
  work: (app: Linpath) => Promise<void>,
  options: { workers?: boolean } = {},
): Promise<void> {
  const app = await createLinpath(config, 'client', createLogger({ logLevel: 'warn' }));
  try {
    // With no server running, this command hosts the embedded database, and nobody else can evaluate.
    if (options.workers !== false && app.hostsDatabase && config.queue.workers > 0) await app.startWorkers(1);
    await work(app);
  } finally {
    await app.close();
  }
}

function parseStep(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError(`expected an integer ≥ 0, got "${value}"`);
  return Number(value);
}

function parseNumberList(value: string): number[] {
  const numbers = value.split(',').map((part) => (part.trim() === '' ? Number.NaN : Number(part)));
  if (numbers.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError(`expected comma-separated numbers such as 125.3,123,113.9, got "${value}"`);
  }
  return numbers;
}

const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

/** Runs the CLI; errors become one line on stderr and an exit status from EXIT_CODES. */
export async function main(argv: string[] = process.argv): Promise<void> {
  // The SDK warns that releases after January 2027 need Node 22; linpath supports Node 20 until then.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the help or the usage error already.
      process.exitCode = error.exitCode === 0 ? 0 : EXIT_CODES.BAD_USER_INPUT;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`linpath: ${error.message}\n`);
      process.exitCode = EXIT_CODES.BAD_USER_INPUT;
    } else if (isLinpathError(error)) {
      process.stderr.write(`linpath: ${error.code}: ${error.message}\n`);
      process.exitCode = EXIT_CODES[error.code];
    } else {
      process.stderr.write(
        `linpath: INTERNAL_SERVER_ERROR: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = EXIT_CODES.INTERNAL_SERVER_ERROR;
    }
  }
}

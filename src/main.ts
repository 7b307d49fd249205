import 'reflect-metadata';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { createLinpath, createLogger, type Linpath } from './app.js';
import { ConfigError, loadConfig, type Config } from './config/config.js';
import { publishServerUrl } from './embedded/services.js';
import { ErrorCode, isLinpathError } from './errors.js';
import { buildLinpathSchema } from './graphql/schema.js';
import { startHttpServer } from './server/http.js';
import { seedDemo } from './usecases/demo.usecases.js';
import { importCheckpointFile, importDatasetFile, type CheckpointRole, type DatasetSplit } from './usecases/registry.usecases.js';

/** CLI exit status by error code, so scripts can tell bad input from a conflict or an outage. */
export const EXIT_CODES: Record<ErrorCode, number> = {
  INTERNAL_SERVER_ERROR: 1,
  BAD_USER_INPUT: 2,
  NOT_FOUND: 3,
  CONFLICT: 4,
  FORBIDDEN: 5,
  UNAVAILABLE: 6,
};

export function buildCli(env: NodeJS.ProcessEnv = process.env): Command {
  const program = new Command('linpath')
    .description('Linear-interpolation analysis of neural-network loss landscapes, served over GraphQL.')
    .showHelpAfterError()
    .exitOverride()
    // Usage mistakes read like every other error: a code, then what was expected and given.
    .configureOutput({ outputError: (text, write) => write(`linpath: BAD_USER_INPUT: ${text.replace(/^error: /, '')}`) });

  program
    .command('start')
    .description('Serve the GraphQL API at http://$HOST:$PORT/graphql (embedded Postgres and S3 unless configured).')
    .action(async () => serve(loadConfig(env)));

  const importCommand = program.command('import').description('Upload a local safetensors file to the store and register it.');

  importCommand
    .command('checkpoint')
    .description('Upload a PyTorch checkpoint (safetensors, state_dict names) and register it in a run (created if missing).')
    .argument('<file>', 'a .safetensors file')
    .requiredOption('--run <name>', 'run name (created when it does not exist)')
    .requiredOption('--step <n>', 'training step, an integer ≥ 0', parseStep)
    .addOption(
      new Option('--role <role>', 'where the checkpoint sits in its run')
        .choices(['initial', 'intermediate', 'final'])
        .makeOptionMandatory(),
    )
    .option('--arch <name>', "architecture (defaults to the run's)")
    .addHelpText('after', '\nPrints one JSON object as its last line: {"run":{"id","name"},"checkpoint":{"id","sha256",...}}')
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
    .description('Upload a dataset (safetensors with inputs [N, ...] and labels [N]) and register it.')
    .argument('<file>', 'a .safetensors file')
    .requiredOption('--name <name>', 'dataset name, e.g. cifar10')
    .addOption(new Option('--split <split>', 'which split').choices(['train', 'validation', 'test']).makeOptionMandatory())
    .option('--input-key <key>', 'tensor holding the inputs', 'x')
    .option('--label-key <key>', 'tensor holding the labels', 'y')
    .addHelpText('after', '\nPrints one JSON object as its last line: {"dataset":{"id","sha256",...}}')
    .action(async (file: string, options: { name: string; split: string; inputKey: string; labelKey: string }) => {
      await withLinpath(loadConfig(env), async (app) => {
        const { dataset, created } = await importDatasetFile(app.registry, file, {
          name: options.name,
          split: options.split.toUpperCase() as DatasetSplit,
          inputKey: options.inputKey,
          labelKey: options.labelKey,
        });
        printJson({
          dataset: {
            id: dataset.id,
            sha256: dataset.sha256,
            uri: dataset.uri,
            name: dataset.name,
            split: dataset.split,
            exampleCount: dataset.exampleCount,
            created,
          },
        });
      });
    });

  return program;
}

async function serve(config: Config): Promise<void> {
  const logger = createLogger(config);
  const app = await createLinpath(config, 'server', logger);
  try {
    if (config.demo && app.endpoints.embedded.database && (await seedDemo(app.registry))) {
      logger.info('loaded the demo runs into the empty embedded database (LINPATH_DEMO=0 to skip)');
    }
    const http = await startHttpServer(app, await buildLinpathSchema());
    publishServerUrl(config, http.url);
    logger.info({ url: http.url, embedded: app.endpoints.embedded, home: config.home }, 'linpath is serving');
    console.log(`linpath: GraphQL at ${http.url}`);

    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      await http.stop();
      await app.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  } catch (error) {
    await app.close();
    throw error;
  }
}

async function withLinpath(config: Config, work: (app: Linpath) => Promise<void>): Promise<void> {
  const app = await createLinpath(config, 'client', createLogger({ logLevel: 'warn' }));
  try {
    await work(app);
  } finally {
    await app.close();
  }
}

function parseStep(value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new InvalidArgumentError(`expected an integer ≥ 0, got "${value}"`);
  return Number(value);
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
      process.stderr.write(`linpath: INTERNAL_SERVER_ERROR: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exitCode = EXIT_CODES.INTERNAL_SERVER_ERROR;
    }
  }
}

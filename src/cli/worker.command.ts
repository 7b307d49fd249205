import { Option, type Command } from 'commander';
import { createLinpath, createLogger } from '../app.js';
import { loadConfig, type Config } from '../config/config.js';
import { badUserInput } from '../errors.js';
import { parseStep } from './options.js';
import { logUnhandledRejections, onTerminationSignals } from './process.js';

/** `linpath worker`: a host that evaluates queued points (and trains), with the server's configuration. */
export function addWorkerCommand(program: Command, env: NodeJS.ProcessEnv): void {
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
      options.metricsPort === undefined
        ? undefined
        : await (await import('../server/http.js')).startMetricsServer(app, config.host, options.metricsPort);
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

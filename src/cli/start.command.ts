import path from 'node:path';
import type { Command } from 'commander';
import { createLinpath, createLogger, type Linpath } from '../app.js';
import { loadConfig, type Config } from '../config/config.js';
import { publishServerUrl } from '../embedded/services.js';
import { ensureFirstAdminKey } from '../usecases/api-keys.usecases.js';
import { logUnhandledRejections, onTerminationSignals } from './process.js';

/** `linpath start`: the GraphQL server (and its workers, LINPATH_WORKERS). */
export function addStartCommand(program: Command, env: NodeJS.ProcessEnv): void {
  program
    .command('start')
    .description('Serve the GraphQL API at http://$HOST:$PORT/graphql (embedded Postgres and S3 unless configured).')
    .action(async () => serve(loadConfig(env)));
}

async function serve(config: Config): Promise<void> {
  // The server's own modules (Apollo, the GraphQL schema, the demo) load here, not with every CLI command.
  const [{ buildLinpathSchema }, { startHttpServer }, { DEMO_RUN, DEMO_TFJS_SEEDS, seedDemo, trainDemoRuns }] =
    await Promise.all([
      import('../graphql/schema.js'),
      import('../server/http.js'),
      import('../usecases/demo.usecases.js'),
    ]);
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
        ? trainDemoRuns(app.registry, app.paths, logger, DEMO_TFJS_SEEDS, training.signal).catch((error: unknown) => {
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
    console.log(`linpath: dashboard at ${new URL('/', http.url).href}`);
  } catch (error) {
    await app.close();
    throw error;
  }
}

/** Where the embedded default writes the admin key of its first start. */
const adminKeyFile = (config: Pick<Config, 'home'>): string => path.join(config.home, 'admin-key');

/**
 * The embedded default (no DATABASE_URL) creates an admin key at its first start, when no key exists, so that
 * a fresh `npm start` can write; with a configured database the operator creates keys. The key goes to its
 * file (0600) only: standard output ends up in container and CI logs, so it prints the file's path.
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
  console.log(`linpath: created an admin API key in ${file} (mode 0600; it is not printed)`);
  console.log(
    'linpath: send it as "Authorization: Bearer <key>"; the dashboard asks for it under "API key" ' +
      `(\`cat ${file}\`)`,
  );
}

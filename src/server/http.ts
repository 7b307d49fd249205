import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import type { Linpath } from '../app.js';
import type { GraphQLContext } from '../graphql/context.js';
import { formatError } from '../graphql/errors.js';
import { createLoaders } from '../graphql/loaders.js';
import { unavailable } from '../errors.js';

export interface HttpServer {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

/** Serves POST/GET /graphql and GET /healthz. */
export async function startHttpServer(app: Linpath, schema: GraphQLSchema): Promise<HttpServer> {
  const expressApp = express();
  expressApp.disable('x-powered-by');
  const server = createServer(expressApp);
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError: formatError(app.logger),
    includeStacktraceInErrorResponses: false,
    introspection: true,
    // main.ts owns SIGINT/SIGTERM: it stops HTTP, then the database and embedded services, then exits.
    stopOnTerminationSignals: false,
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer: server })],
  });
  await apollo.start();

  expressApp.get('/healthz', async (_request, response) => {
    const checks = await Promise.allSettled([app.database.pool.query('SELECT 1'), app.store.ping()]);
    const [database, store] = checks.map((check) => (check.status === 'fulfilled' ? 'ok' : 'unavailable'));
    const healthy = database === 'ok' && store === 'ok';
    response.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', database, store });
  });

  expressApp.use(
    '/graphql',
    express.json({ limit: app.config.maxRequestBytes }),
    expressMiddleware(apollo, {
      context: async () => ({
        registry: app.registry,
        paths: app.paths,
        analytics: app.analytics,
        logger: app.logger,
        loaders: createLoaders(app.registry, app.analytics),
      }),
    }),
  );

  // Body too large or not JSON: answer as GraphQL would, with a code, instead of Express's HTML page.
  expressApp.use((error: Error & { status?: number; type?: string }, _request: express.Request, response: express.Response, next: express.NextFunction) => {
    if (response.headersSent) return next(error);
    const status = error.status ?? 500;
    const message =
      error.type === 'entity.too.large'
        ? `request body larger than LINPATH_MAX_REQUEST_BYTES (${app.config.maxRequestBytes} bytes)`
        : status < 500
          ? `bad request: ${error.message}`
          : 'Internal server error';
    if (status >= 500) app.logger.error({ err: error }, 'unexpected HTTP error');
    response.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR' } }] });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(app.config.port, app.config.host, () => resolve());
    });
  } catch (error) {
    await apollo.stop();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw unavailable(`cannot listen on ${app.config.host}:${app.config.port} (${code}); set HOST or PORT to another value`, error);
    }
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const host = app.config.host.includes(':') ? `[${app.config.host}]` : app.config.host;
  return {
    url: `http://${host}:${port}/graphql`,
    server,
    stop: () => apollo.stop(),
  };
}

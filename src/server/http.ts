import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Linpath } from '../app.js';
import { forRequester, type GraphQLContext } from '../graphql/context.js';
import { formatError } from '../graphql/pipeline/errors.js';
import { createLoaders } from '../graphql/loaders.js';
import { unavailable } from '../errors.js';
import {
  authenticateRequest,
  holdsScope,
  limitBucket,
  presentedKey,
  requesterOf,
  type RequestAuth,
} from '../graphql/pipeline/auth.js';
import { clientAddress, closedSignal } from '../graphql/pipeline/client.js';
import { EvaluationSlots } from '../graphql/pipeline/evaluation-slots.js';
import { guardPlugin, type GuardSettings } from '../graphql/pipeline/request-guard.js';
import { socketOperations } from '../graphql/pipeline/socket-operations.js';
import { HttpBoundary, securityHeaders } from './boundary.js';

export interface HttpServer {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

/**
 * Serves POST/GET /graphql, GraphQL subscriptions over graphql-ws (a WebSocket at the same URL), GET
 * /healthz and GET /metrics (Prometheus).
 */
export async function startHttpServer(app: Linpath, schema: GraphQLSchema): Promise<HttpServer> {
  const expressApp = express();
  expressApp.disable('x-powered-by');
  const boundary = new HttpBoundary(app.config.boundary, app.config.host);
  const server = createServer(boundary.serverOptions(), expressApp);
  const evaluations = new EvaluationSlots(app.config.limits.maxEvaluationsPerKey);
  const guard: GuardSettings = { auth: app.config.auth, limits: app.config.limits };
  const authenticate = (key: string | undefined, client: string | undefined): Promise<RequestAuth> =>
    authenticateRequest(app.apiKeys, app.config.auth, key, client ?? 'unknown');
  const context = (auth: RequestAuth, signal: AbortSignal): GraphQLContext => {
    // The work this client queues counts against its quotas (docs/security.md, work quotas); its waits and
    // evaluation slots end when it goes away.
    const { paths, analytics } = forRequester(app, requesterOf(auth), signal);
    return {
      auth,
      mayWrite: !app.config.auth.enabled || holdsScope(auth, 'write'),
      evaluations,
      signal,
      registry: app.registry,
      paths,
      analytics,
      training: app.training,
      pollMs: app.config.queue.pollMs,
      maxReplayPoints: app.config.boundary.maxReplayPoints,
      logger: app.logger,
      loaders: createLoaders(app.registry, analytics, app.training, {
        evaluationSlot: () => evaluations.acquireUntil(limitBucket(auth), signal),
      }),
    };
  };
  boundary.attach(server);
  // noServer: the socket server is not attached to the HTTP server's events, so a failure to listen is reported
  // once, by listen() below, instead of also being re-emitted (and dumped) by the socket server. ws itself
  // answers 400 to an upgrade of any other path (query strings aside) or a malformed handshake, and closes a
  // socket (1009) that sends a message over maxPayload.
  const sockets = new WebSocketServer({ noServer: true, path: '/graphql', maxPayload: app.config.maxRequestBytes });
  server.on('upgrade', (request, socket, head) => {
    if (!boundary.admitSocket(request, socket)) return;
    sockets.handleUpgrade(request, socket, head, (client) => sockets.emit('connection', client, request));
  });
  const formatErrors = formatError(app.logger);
  const subscriptions = useServer(
    socketOperations({
      schema,
      guard,
      // Every operation is authenticated (a key revoked while the socket is open stops working), then guarded.
      authenticate: (key, { request }) =>
        authenticate(key, clientAddress(request.socket.remoteAddress, request.headers, app.config.auth.trustedProxies)),
      context: (auth, { socket }) => context(auth, closedSignal(socket)),
      formatError: formatErrors,
      logger: app.logger,
      maxSubscriptionsPerSocket: app.config.boundary.maxSubscriptionsPerSocket,
      maxSocketBufferBytes: app.config.boundary.maxSocketBufferBytes,
    }),
    sockets,
  );
  const apollo = new ApolloServer<GraphQLContext>({
    schema,
    formatError: formatErrors,
    includeStacktraceInErrorResponses: false,
    introspection: true,
    // Bounds parsing and validation, which run before the guard: a document of 20,000 aliases never gets that far.
    parseOptions: { maxTokens: app.config.limits.maxQueryTokens },
    // main.ts owns SIGINT/SIGTERM: it stops HTTP, then the database and embedded services, then exits.
    stopOnTerminationSignals: false,
    plugins: [
      // Apollo's landing page loads from a CDN; linpath serves its own bundled GraphiQL (below).
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginDrainHttpServer({ httpServer: server }),
      guardPlugin(guard),
      { serverWillStart: async () => ({ drainServer: async () => void (await subscriptions.dispose()) }) },
    ],
  });
  await apollo.start();

  expressApp.use(boundary.middleware());
  addOperationsRoutes(expressApp, app, metricsAccess(app, authenticate));
  expressApp.use(securityHeaders());
  addDashboardRoutes(expressApp);

  expressApp.use(
    '/graphql',
    express.json({ limit: app.config.maxRequestBytes }),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        const client = clientAddress(req.socket.remoteAddress, req.headers, app.config.auth.trustedProxies);
        return context(await authenticate(presentedKey(req.headers), client), closedSignal(res));
      },
    }),
  );

  // Body too large or not JSON: answer as GraphQL would, with a code, instead of Express's HTML page.
  expressApp.use(
    (
      error: Error & { status?: number; type?: string },
      _request: express.Request,
      response: express.Response,
      next: express.NextFunction,
    ) => {
      if (response.headersSent) return next(error);
      const status = error.status ?? 500;
      const message =
        error.type === 'entity.too.large'
          ? `request body larger than LINPATH_MAX_REQUEST_BYTES (${app.config.maxRequestBytes} bytes)`
          : status < 500
            ? `bad request: ${error.message}`
            : 'Internal server error';
      if (status >= 500) app.logger.error({ err: error }, 'unexpected HTTP error');
      response
        .status(status)
        .json({ errors: [{ message, extensions: { code: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR' } }] });
    },
  );

  try {
    await listen(server, app.config.host, app.config.port, 'set HOST or PORT to another value');
  } catch (error) {
    await apollo.stop();
    throw error;
  }
  return {
    url: `${origin(server, app.config.host)}/graphql`,
    server,
    stop: () => apollo.stop(),
  };
}

/** A worker's HTTP: /metrics and /healthz only. */
export async function startMetricsServer(app: Linpath, host: string, port: number): Promise<HttpServer> {
  const expressApp = express();
  expressApp.disable('x-powered-by');
  addOperationsRoutes(expressApp, app);
  const server = createServer(expressApp);
  await listen(server, host, port, 'choose another --metrics-port');
  return {
    url: `${origin(server, host)}/metrics`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The dashboard and GraphiQL, built by `npm run build` (Vite) into dist/web; both work offline. */
const WEB_ROOT = fileURLToPath(new URL('../../dist/web/', import.meta.url));

function addDashboardRoutes(expressApp: express.Express): void {
  const built = existsSync(`${WEB_ROOT}index.html`);
  const notBuilt = (_request: express.Request, response: express.Response) =>
    void response.status(503).type('text/plain').send('The dashboard is not built: run `npm run build`.\n');
  // Browsers ask for /favicon.ico whatever the page says: the dashboard's icon, not a 404 in every log.
  expressApp.get('/favicon.ico', (_request, response) => {
    response.type('image/svg+xml').setHeader('cache-control', 'max-age=86400');
    response.send(FAVICON);
  });
  // A browser opening /graphql (no query, asking for HTML) gets GraphiQL; API clients get Apollo.
  expressApp.get('/graphql', (request, response, next) => {
    if (request.query.query !== undefined || request.accepts(['application/json', 'text/html']) !== 'text/html')
      return next();
    if (!built) return notBuilt(request, response);
    response.sendFile('graphiql.html', { root: WEB_ROOT });
  });
  if (!built) {
    expressApp.get('/', notBuilt);
    return;
  }
  expressApp.use(express.static(WEB_ROOT, { index: 'index.html', maxAge: '1h', setHeaders: noCacheHtml }));
}

/** A loss curve over a barrier: the dashboard's icon. */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1f4e79"/>' +
  '<path d="M4 24 C10 24 12 8 16 8 S22 22 28 22" fill="none" stroke="#fff" stroke-width="3"/></svg>';

const noCacheHtml = (response: express.Response, file: string): void => {
  if (file.endsWith('.html')) response.setHeader('cache-control', 'no-cache');
};

/** Who may read /metrics on the API port (LINPATH_METRICS): anyone, an admin key, or nobody. */
type MetricsAccess = (request: express.Request) => Promise<{ status: number; message: string } | undefined>;

function metricsAccess(
  app: Linpath,
  authenticate: (key: string | undefined, client: string | undefined) => Promise<RequestAuth>,
): MetricsAccess {
  const setting = app.config.boundary.metrics;
  return async (request) => {
    if (setting === 'open' || !app.config.auth.enabled) return undefined;
    if (setting === 'off')
      return {
        status: 404,
        message: '/metrics is off on this port (LINPATH_METRICS=off); workers serve it on --metrics-port\n',
      };
    const auth = await authenticate(presentedKey(request.headers), request.socket.remoteAddress);
    if (holdsScope(auth, 'admin')) return undefined;
    return {
      status: 401,
      message:
        '/metrics needs an admin API key as "Authorization: Bearer <key>" (LINPATH_METRICS=admin; open: LINPATH_METRICS=open)\n',
    };
  };
}

function addOperationsRoutes(expressApp: express.Express, app: Linpath, access?: MetricsAccess): void {
  expressApp.get('/healthz', async (_request, response) => {
    const checks = await Promise.allSettled([app.database.pool.query('SELECT 1'), app.store.ping()]);
    const [database, store] = checks.map((check) => (check.status === 'fulfilled' ? 'ok' : 'unavailable'));
    const healthy = database === 'ok' && store === 'ok';
    response.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', database, store });
  });

  expressApp.get('/metrics', async (request, response) => {
    try {
      const refusal = await access?.(request);
      if (refusal !== undefined) return void response.status(refusal.status).type('text/plain').send(refusal.message);
      response.type(app.metrics.registry.contentType).send(await app.metrics.registry.metrics());
    } catch (error) {
      app.logger.warn({ err: error }, 'collecting metrics failed');
      response.status(503).type('text/plain').send('metrics unavailable: the database cannot be reached\n');
    }
  });
}

async function listen(server: Server, host: string, port: number, advice: string): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
      throw unavailable(`cannot listen on ${host}:${port} (${code}); ${advice}`, error);
    }
    throw error;
  }
}

function origin(server: Server, host: string): string {
  const { port } = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

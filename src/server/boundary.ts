import { STATUS_CODES, type IncomingMessage, type Server, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type express from 'express';
import type { BoundarySettings } from '../config/boundary.config.js';
import { addressGroup } from '../graphql/pipeline/auth.js';
import { ConnectionCounter } from './connection-limits.js';
import { RequestOrigins } from './request-origin.js';

/** A refusal before any GraphQL runs: an HTTP status and a coded GraphQL-style error. */
interface Refusal {
  status: number;
  code: 'FORBIDDEN' | 'TOO_MANY_REQUESTS' | 'UNAVAILABLE';
  message: string;
}

/**
 * The HTTP side of the request boundary, shared by plain requests and WebSocket upgrades: connections per
 * client (LINPATH_MAX_CONNECTIONS_PER_CLIENT), the time a client may take to send a request
 * (LINPATH_HEADERS_TIMEOUT_MS, LINPATH_REQUEST_TIMEOUT_MS), `Host` and `Origin` (request-origin.ts), and
 * WebSockets in all and per client (LINPATH_MAX_SOCKETS, LINPATH_MAX_SOCKETS_PER_CLIENT). Every refusal is
 * a JSON body `{ errors: [{ message, extensions: { code } }] }` whose message names the setting.
 */
export class HttpBoundary {
  private readonly origins: RequestOrigins;
  private readonly connections: ConnectionCounter;
  private readonly sockets: ConnectionCounter;
  /** Connections past the per-client cap: their requests are answered 429, then they are closed. */
  private readonly overCap = new WeakSet<Socket>();

  constructor(
    private readonly settings: BoundarySettings,
    listenHost: string,
  ) {
    this.origins = new RequestOrigins(settings, listenHost);
    this.connections = new ConnectionCounter(settings.maxConnectionsPerClient);
    this.sockets = new ConnectionCounter(settings.maxSocketsPerClient, settings.maxSockets);
  }

  /**
   * Options for `createServer`: Node checks the headers and request timeouts only every
   * `connectionsCheckingInterval` (30 s by default), so a 10 s bound held slow clients for up to 40 s.
   */
  serverOptions(): ServerOptions {
    return { connectionsCheckingInterval: Math.min(1000, Math.floor(this.settings.headersTimeoutMs / 4)) };
  }

  /** Counts the connections of `server` per client, and bounds how long a client may take to send a request. */
  attach(server: Server): void {
    server.headersTimeout = this.settings.headersTimeoutMs;
    server.requestTimeout = this.settings.requestTimeoutMs;
    server.on('connection', (socket: Socket) => {
      const client = addressGroup(socket.remoteAddress ?? 'unknown');
      if (this.connections.open(client) !== 'ok') {
        this.overCap.add(socket);
        // One that sends nothing goes at the headers timeout; one that sends a request is answered 429.
        return;
      }
      socket.once('close', () => this.connections.close(client));
    });
  }

  /** Express middleware: connections, then `Host` (but for /healthz), then `Origin` (for /graphql). */
  middleware(): express.RequestHandler {
    return (request, response, next) => {
      const refusal = this.refusal(request, request.path === '/healthz', request.path === '/graphql');
      if (refusal === undefined) return next();
      if (refusal.status === 429) response.setHeader('connection', 'close');
      response
        .status(refusal.status)
        .json({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
    };
  }

  /**
   * The checks of an upgrade to a WebSocket, which Express never sees: when one refuses it, answers the
   * handshake with the refusal and returns false; else counts the socket until it closes and returns true.
   */
  admitSocket(request: IncomingMessage, socket: Duplex): boolean {
    const client = addressGroup(request.socket.remoteAddress ?? 'unknown');
    let refusal = this.refusal(request, false, true);
    if (refusal === undefined) {
      const verdict = this.sockets.open(client);
      if (verdict === 'client')
        refusal = {
          status: 429,
          code: 'TOO_MANY_REQUESTS',
          message: `expected at most ${this.settings.maxSocketsPerClient} WebSockets at once per client (LINPATH_MAX_SOCKETS_PER_CLIENT); close one first`,
        };
      else if (verdict === 'total')
        refusal = {
          status: 503,
          code: 'UNAVAILABLE',
          message: `the server holds its most WebSockets at once (LINPATH_MAX_SOCKETS, ${this.settings.maxSockets}); retry later`,
        };
      else socket.once('close', () => this.sockets.close(client));
    }
    if (refusal === undefined) return true;
    const body = JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
    socket.end(
      `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\nconnection: close\r\n` +
        `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    return false;
  }

  private refusal(request: IncomingMessage, anyHost: boolean, checkOrigin: boolean): Refusal | undefined {
    if (this.overCap.has(request.socket as Socket))
      return {
        status: 429,
        code: 'TOO_MANY_REQUESTS',
        message: `expected at most ${this.settings.maxConnectionsPerClient} connections at once per client (LINPATH_MAX_CONNECTIONS_PER_CLIENT)`,
      };
    const host = anyHost ? undefined : this.origins.hostRefusal(request.headers);
    if (host !== undefined) return { status: 403, code: 'FORBIDDEN', message: host };
    const origin = checkOrigin ? this.origins.originRefusal(request.headers) : undefined;
    if (origin !== undefined) return { status: 403, code: 'FORBIDDEN', message: origin };
    return undefined;
  }
}

/**
 * Headers of the dashboard and GraphiQL pages. A Content-Security-Policy that runs only the server's own script
 * files (`script-src 'self'`: no inline script, no `eval`, nothing from elsewhere, so markup injected into a page,
 * a run name say, cannot run), connects only to the server itself (HTTP and its WebSocket, named with the
 * request's `Host`, which the boundary checked before), and lets no page frame the dashboard (`frame-ancestors
 * 'none'`, and `X-Frame-Options: DENY` for older browsers): no clickjacking. Styles may be inline (GraphiQL's page
 * carries one, and the plots set style attributes); a style runs no code. No plugins, no rebased relative URLs,
 * forms only to the server.
 */
export function securityHeaders(): express.RequestHandler {
  return (request, response, next) => {
    response.setHeader('content-security-policy', contentSecurityPolicy(request.headers.host));
    response.setHeader('x-frame-options', 'DENY');
    response.setHeader('x-content-type-options', 'nosniff');
    response.setHeader('referrer-policy', 'no-referrer');
    next();
  };
}

/** The policy of `securityHeaders`, for a request to `host` (its `Host` header). */
export function contentSecurityPolicy(host: string | undefined): string {
  // CSP level 3 lets 'self' cover ws: and wss: of the same host; browsers that predate it need them named.
  const sockets = host !== undefined && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "worker-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    "form-action 'self'",
  ].join('; ');
}

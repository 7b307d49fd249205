/**
 * The settings of the request boundary (src/server/boundary.ts), read by loadConfig (config.ts) with its own
 * readers of the environment, so that every setting is validated in one pass.
 */

/** RFC 1123 host names: dot-separated labels of letters, digits and inner hyphens. */
export const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * What the HTTP server lets in before any GraphQL runs: which browsers' pages and host names, how many
 * connections, sockets and subscriptions, and how long a client may take to send its request.
 */
export interface BoundarySettings {
  /** LINPATH_ALLOWED_ORIGINS: origins (scheme://host:port) of pages allowed besides the server's own; `*`: any. */
  allowedOrigins: string[] | '*';
  /** LINPATH_ALLOWED_HOSTS: host names accepted in `Host` besides localhost names, IP literals and HOST; `*`: any. */
  allowedHosts: string[] | '*';
  /** HTTP connections (WebSockets included) open at once per client address. */
  maxConnectionsPerClient: number;
  /** WebSockets open at once, in all and per client address. */
  maxSockets: number;
  maxSocketsPerClient: number;
  /** Operations running at once on one WebSocket. */
  maxSubscriptionsPerSocket: number;
  /** Bytes queued for a WebSocket that reads too slowly, beyond which it is closed. */
  maxSocketBufferBytes: number;
  /** Stored points a `pathUpdated` subscription replays before its live updates. */
  maxReplayPoints: number;
  /** Node's headersTimeout and requestTimeout: the longest a client may take to send headers, and a request. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** `/metrics` on the API port: `open`, `admin` (an admin key), or `off`. */
  metrics: 'open' | 'admin' | 'off';
}

export function readBoundary(
  read: (name: string) => string | undefined,
  integer: (name: string, fallback: number, min: number, max: number) => number,
  choice: <T extends string>(name: string, options: readonly T[], fallback: T) => T,
  problems: string[],
): BoundarySettings {
  const list = (name: string, check: (item: string) => boolean, expected: string): string[] | '*' => {
    const items = (read(name) ?? '')
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    if (items.includes('*')) return '*';
    for (const item of items) if (!check(item)) problems.push(`${name}: expected ${expected}, got "${item}"`);
    return items.map((item) => item.toLowerCase().replace(/\/$/, ''));
  };
  const boundary: BoundarySettings = {
    allowedOrigins: list('LINPATH_ALLOWED_ORIGINS', isOrigin, 'origins such as https://lab.example.org:8443, or *'),
    allowedHosts: list('LINPATH_ALLOWED_HOSTS', (host) => HOSTNAME.test(host), 'host names without a port, or *'),
    maxConnectionsPerClient: integer('LINPATH_MAX_CONNECTIONS_PER_CLIENT', 256, 1, 1_000_000),
    maxSockets: integer('LINPATH_MAX_SOCKETS', 256, 1, 1_000_000),
    maxSocketsPerClient: integer('LINPATH_MAX_SOCKETS_PER_CLIENT', 16, 1, 1_000_000),
    maxSubscriptionsPerSocket: integer('LINPATH_MAX_SUBSCRIPTIONS_PER_SOCKET', 16, 1, 10_000),
    maxSocketBufferBytes: integer('LINPATH_MAX_SOCKET_BUFFER_BYTES', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxReplayPoints: integer('LINPATH_MAX_REPLAY_POINTS', 256, 2, 100_000),
    headersTimeoutMs: integer('LINPATH_HEADERS_TIMEOUT_MS', 10_000, 1000, 600_000),
    requestTimeoutMs: integer('LINPATH_REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000),
    metrics: choice('LINPATH_METRICS', ['open', 'admin', 'off'] as const, 'admin'),
  };
  if (boundary.headersTimeoutMs > boundary.requestTimeoutMs) {
    problems.push(
      `LINPATH_HEADERS_TIMEOUT_MS: expected at most LINPATH_REQUEST_TIMEOUT_MS (${boundary.requestTimeoutMs}), got ${boundary.headersTimeoutMs}`,
    );
  }
  return boundary;
}

/** `scheme://host[:port]` with nothing after it. */
function isOrigin(raw: string): boolean {
  try {
    const url = new URL(raw);
    return /^https?:$/.test(url.protocol) && url.origin === raw.toLowerCase().replace(/\/$/, '');
  } catch {
    return false;
  }
}

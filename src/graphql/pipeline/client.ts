import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';

/**
 * The address of the client that sent a request: the peer of the connection, or, when that peer is one of
 * `trustedProxies` (LINPATH_TRUSTED_PROXIES), the nearest address of its X-Forwarded-For that is not a
 * trusted proxy itself. An untrusted peer's X-Forwarded-For is ignored: any client can write one.
 */
export function clientAddress(
  peer: string | undefined,
  headers: IncomingHttpHeaders,
  trustedProxies: readonly string[],
): string {
  const direct = unmapped(peer ?? 'unknown');
  if (trustedProxies.length === 0 || !trustedProxies.includes(direct)) return direct;
  const raw = headers['x-forwarded-for'];
  const hops = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map((hop) => unmapped(hop.trim()))
    .filter((hop) => hop !== '');
  // Proxies append the address they received from: read from the right, past every trusted proxy.
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!;
    if (trustedProxies.includes(hop)) continue;
    return isIP(hop) !== 0 ? hop : direct;
  }
  return direct;
}

/** An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) as IPv4. */
const unmapped = (address: string): string => /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;

/** Something that emits 'close' once: an HTTP response, a WebSocket. */
export interface Closable {
  once(event: 'close', listener: () => void): unknown;
}

const endings = new WeakMap<Closable, AbortSignal>();

/**
 * Aborted when `connection` closes: an HTTP response when it has been sent or its client went away, a
 * WebSocket when either side closes it. Waits and evaluation slots of the request end with it. One signal per
 * connection, however many operations a WebSocket carries.
 */
export function closedSignal(connection: Closable): AbortSignal {
  let signal = endings.get(connection);
  if (signal === undefined) {
    const controller = new AbortController();
    connection.once('close', () => controller.abort());
    signal = controller.signal;
    endings.set(connection, signal);
  }
  return signal;
}

import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { BoundarySettings } from '../config/boundary.config.js';

/**
 * Which pages and which host names may reach the server. Two browser attacks on a researcher's local
 * server are closed here, before any GraphQL runs:
 *
 * - cross-site requests and WebSocket hijacking: a page of another site sends an `Origin` that is not the
 *   server's own, and is refused (requests without `Origin` come from programs, not pages, and pass);
 * - DNS rebinding: a page of `attacker.example` whose name is made to resolve to 127.0.0.1 reaches the server
 *   as same-origin, but with `Host: attacker.example`, which is refused. Accepted host names: IP literals,
 *   `localhost` and `*.localhost`, the machine's own name, HOST, and LINPATH_ALLOWED_HOSTS.
 */
export class RequestOrigins {
  private readonly hosts: ReadonlySet<string>;

  constructor(
    private readonly settings: Pick<BoundarySettings, 'allowedOrigins' | 'allowedHosts'>,
    listenHost: string,
  ) {
    const machine = hostname().toLowerCase();
    this.hosts = new Set([listenHost.toLowerCase(), machine, machine.split('.')[0]!]);
  }

  /** Why a request's `Host` is refused, or undefined when it is accepted. */
  hostRefusal(headers: IncomingHttpHeaders): string | undefined {
    if (this.settings.allowedHosts === '*') return undefined;
    const host = parseHost(headers.host);
    if (host === undefined) return `the Host header "${headers.host ?? ''}" is not a host name`;
    const name = host.name;
    if (isIP(name) !== 0 || isLocalName(name) || this.hosts.has(name) || this.settings.allowedHosts.includes(name))
      return undefined;
    return (
      `the host name "${name}" is not one this server answers to (a page may have made its own name resolve to ` +
      `this server); add it to LINPATH_ALLOWED_HOSTS if it is this server's`
    );
  }

  /** Why a request's `Origin` is refused, or undefined when it has none or an accepted one. */
  originRefusal(headers: IncomingHttpHeaders): string | undefined {
    const origin = headers.origin;
    if (origin === undefined) return undefined;
    const refusal =
      `pages of the origin "${origin}" may not use this server (cross-site request); ` +
      `add it to LINPATH_ALLOWED_ORIGINS if they should`;
    if (this.settings.allowedOrigins === '*') return undefined;
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      return refusal; // "null": a sandboxed frame or a local file
    }
    if (this.settings.allowedOrigins.includes(url.origin)) return undefined;
    const host = parseHost(headers.host);
    if (host === undefined || !/^https?:$/.test(url.protocol)) return refusal;
    // The server's own pages, under the name the browser used to reach it.
    if (url.host === host.text) return undefined;
    // The server's own dashboard under another name of this machine (localhost vs 127.0.0.1), same port.
    const port = (url: URL) => url.port || (url.protocol === 'https:' ? '443' : '80');
    if (isLoopback(url.hostname) && isLoopback(host.name) && port(url) === (host.port ?? '80')) return undefined;
    return refusal;
  }
}

/** `name`, `name:port` or `[v6]:port`, lower-cased; undefined when it is anything else. */
function parseHost(header: string | undefined): { name: string; port: string | undefined; text: string } | undefined {
  if (header === undefined || header === '') return undefined;
  let url: URL;
  try {
    url = new URL(`http://${header}`);
  } catch {
    return undefined;
  }
  if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '')
    return undefined;
  return { name: url.hostname.replace(/^\[|\]$/g, ''), port: url.port || undefined, text: url.host };
}

const isLocalName = (name: string): boolean => name === 'localhost' || name.endsWith('.localhost');

const isLoopback = (name: string): boolean => {
  const bare = name.replace(/^\[|\]$/g, '');
  return isLocalName(bare) || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
};

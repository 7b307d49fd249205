import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** What the proxy does to one request instead of passing it through. */
export type Fault =
  /** Answer with this status and an S3-style XML error, without reaching the server. */
  | { kind: 'status'; status: 500 | 503 }
  /** Forward the request, but only the first `afterBytes` of its body, then drop both connections. */
  | { kind: 'cut-request'; afterBytes: number }
  /** Forward the request and the response head, then the first `afterBytes` of the body, then drop the connection. */
  | { kind: 'cut-response'; afterBytes: number };

/** Decides, per request, whether it meets a fault; undefined: pass it through. */
export type FaultRule = (request: { method: string; url: string }) => Fault | undefined;

export interface FaultyProxy {
  /** http://127.0.0.1:PORT: point an S3 client here (path-style) instead of at the server. */
  readonly endpoint: string;
  /** Requests seen since start, as `METHOD url` (after the fault, if any: `METHOD url -> kind`). */
  readonly log: string[];
  /** Sets the rule for the requests that come next (undefined: every request passes). */
  setRule(rule: FaultRule | undefined): void;
  /** Stops listening and drops every open connection: new connections are refused (ECONNREFUSED). */
  refuse(): Promise<void>;
  /** Listens again on the same port after `refuse()`. */
  accept(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy on loopback between an S3 client and a real S3 server (s3rver), that injects faults:
 * refused connections (the server stopped), 500/503 answers, connections cut in the middle of a request
 * or response body. The request is forwarded with its headers unchanged (Host included), so SigV4
 * signatures made for the proxy's address still verify at the server.
 */
export async function startFaultyProxy(upstream: string): Promise<FaultyProxy> {
  const target = new URL(upstream);
  let rule: FaultRule | undefined;
  const log: string[] = [];
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const request = { method: req.method ?? 'GET', url: req.url ?? '/' };
    const fault = rule?.(request);
    log.push(`${request.method} ${request.url}${fault === undefined ? '' : ` -> ${fault.kind}`}`);
    if (fault?.kind === 'status') {
      req.resume();
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${fault.status === 503 ? 'ServiceUnavailable' : 'InternalError'}</Code><Message>injected fault</Message></Error>`;
      res.writeHead(fault.status, {
        'content-type': 'application/xml',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
      return;
    }
    const upstreamRequest = http.request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    const drop = () => {
      upstreamRequest.destroy();
      req.socket.destroy();
    };
    upstreamRequest.on('error', () => req.socket.destroy());
    upstreamRequest.on('response', (upstreamResponse) => {
      res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
      if (fault?.kind !== 'cut-response') {
        upstreamResponse.pipe(res);
        return;
      }
      let sent = 0;
      upstreamResponse.on('data', (chunk: Buffer) => {
        if (sent >= fault.afterBytes) return;
        const part = chunk.subarray(0, fault.afterBytes - sent);
        sent += part.length;
        res.write(part);
        // The head (with the full content-length) and the allowed bytes go out; then the connection goes.
        if (sent >= fault.afterBytes) {
          upstreamResponse.destroy();
          setTimeout(drop, 20);
        }
      });
      upstreamResponse.on('end', () => {
        if (sent < fault.afterBytes) res.end();
      });
    });
    if (fault?.kind !== 'cut-request') {
      req.pipe(upstreamRequest);
      return;
    }
    let forwarded = 0;
    req.on('data', (chunk: Buffer) => {
      if (forwarded >= fault.afterBytes) return;
      const part = chunk.subarray(0, fault.afterBytes - forwarded);
      forwarded += part.length;
      upstreamRequest.write(part);
      if (forwarded >= fault.afterBytes) setTimeout(drop, 20);
    });
    req.on('end', () => {
      if (forwarded < fault.afterBytes) upstreamRequest.end();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 1000;

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      if (!server.listening) return resolve();
      server.close(() => resolve());
    });

  const port = await listen(0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    log,
    setRule: (next) => {
      rule = next;
    },
    refuse: stop,
    accept: async () => {
      if (!server.listening) await listen(port);
    },
    close: stop,
  };
}

/** A rule that meets `fault` for the first `times` requests that match, then lets everything pass. */
export function faultTimes(
  times: number,
  fault: Fault,
  matches: (request: { method: string; url: string }) => boolean,
): FaultRule {
  let left = times;
  return (request) => {
    if (left <= 0 || !matches(request)) return undefined;
    left--;
    return fault;
  };
}

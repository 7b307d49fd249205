import type { IncomingHttpHeaders } from 'node:http';
import { isIPv6 } from 'node:net';
import type { Requester } from '../../queue/eval-queue.js';
import { forbidden, isLinpathError, unauthenticated, type LinpathError } from '../../errors.js';
import type { AuthSettings } from '../../config/config.js';
import {
  authenticateApiKey,
  keyLabel,
  scopeCovers,
  type ApiKeyDeps,
  type ApiKeyRow,
  type ApiKeyScope,
} from '../../usecases/api-keys.usecases.js';

/** Who sent a request: nobody in particular, a stored key, or a key that failed (reported when it matters). */
export type RequestAuth =
  { kind: 'anonymous'; client: string } | { kind: 'key'; key: ApiKeyRow } | { kind: 'invalid'; error: LinpathError };

const HOW_TO_SEND =
  'send it as an "Authorization: Bearer <key>" (or "x-api-key: <key>") header, or over graphql-ws as connectionParams { authorization: "Bearer <key>" }';

/** The key a request presents, from `Authorization: Bearer <key>` or `x-api-key` (graphql-ws: its connectionParams). */
export function presentedKey(
  source: IncomingHttpHeaders | Readonly<Record<string, unknown>> | undefined,
): string | undefined {
  if (source === undefined || source === null) return undefined;
  const lookup = (name: string): string | undefined => {
    const entry = Object.entries(source).find(([header]) => header.toLowerCase() === name)?.[1];
    const value = Array.isArray(entry) ? entry[0] : entry;
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  const authorization = lookup('authorization');
  if (authorization !== undefined) return authorization.replace(/^Bearer\s+/i, '');
  return lookup('x-api-key') ?? lookup('apikey');
}

/**
 * Resolves who sends a request. A presented key that is unknown, revoked or malformed makes the request
 * `invalid` whatever it asks for: a client that sends a key should learn at once that it does not work.
 */
export async function authenticateRequest(
  deps: ApiKeyDeps,
  settings: AuthSettings,
  key: string | undefined,
  client: string,
): Promise<RequestAuth> {
  if (!settings.enabled || key === undefined) return { kind: 'anonymous', client };
  try {
    return { kind: 'key', key: await authenticateApiKey(deps, key) };
  } catch (error) {
    if (isLinpathError(error)) return { kind: 'invalid', error };
    throw error;
  }
}

export type OperationKind = 'query' | 'mutation' | 'subscription';

/** The scope an operation needs: every mutation `write`; queries and subscriptions `read` when reads need a key. */
function requiredScope(operation: OperationKind, settings: AuthSettings): ApiKeyScope | undefined {
  if (!settings.enabled) return undefined;
  if (operation === 'mutation') return 'write';
  return settings.reads === 'key' ? 'read' : undefined;
}

/** Throws UNAUTHENTICATED or FORBIDDEN when `auth` may not run an operation of this kind. */
export function authorizeOperation(auth: RequestAuth, operation: OperationKind, settings: AuthSettings): void {
  if (!settings.enabled) return;
  if (auth.kind === 'invalid') throw unauthenticated(`${auth.error.message}; ${HOW_TO_SEND}`);
  const needed = requiredScope(operation, settings);
  if (needed === undefined) return;
  if (auth.kind === 'anonymous') {
    throw unauthenticated(
      `a ${operation} needs an API key with scope "${needed}"${operation === 'mutation' ? '' : ' (LINPATH_AUTH_READS=key)'}: ${HOW_TO_SEND}. ` +
        `Create one with \`npx linpath keys create --scope ${needed}\``,
    );
  }
  if (!scopeCovers(auth.key.scope, needed)) {
    throw forbidden(
      `API key ${keyLabel(auth.key.id)} has scope "${auth.key.scope}"; a ${operation} needs scope "${needed}" (or a scope above it)`,
    );
  }
}

/**
 * What per-key limits (evaluation slots, queue quotas) count by: the key, or for requests without one the
 * client's address, IPv6 addresses by their /64 (one host commonly holds a whole /64).
 */
export const limitBucket = (auth: RequestAuth): string =>
  auth.kind === 'key'
    ? `key ${keyLabel(auth.key.id)}`
    : `client ${auth.kind === 'anonymous' ? addressGroup(auth.client) : 'unknown'}`;

/** The requester of queued evaluation work: a key's work is keyed, everything else is anonymous. */
export const requesterOf = (auth: RequestAuth): Requester => ({
  bucket: limitBucket(auth),
  anonymous: auth.kind !== 'key',
});

/**
 * An address as limits count it: IPv4 as it is (also when mapped into IPv6), IPv6 by its /64 prefix
 * (`2001:db8:0:1::/64`); anything else (a name, `unknown`) as it is.
 */
export function addressGroup(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  const bare = address.replace(/%.*$/, ''); // the zone of a link-local address
  if (isIPv6(bare)) {
    // A dotted IPv4 tail is the last two groups.
    const hex = bare.toLowerCase().replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_, a, b, c, d) =>
      [
        [a, b],
        [c, d],
      ]
        .map(([x, y]) => ((Number(x) << 8) | Number(y)).toString(16))
        .join(':'),
    );
    const [head = '', tail] = hex.split('::');
    const left = head === '' ? [] : head.split(':');
    const right = tail === undefined || tail === '' ? [] : tail.split(':');
    const groups =
      tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
    const prefix = groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, ''));
    return `${prefix.join(':')}::/64`;
  }
  return address;
}

/** Whether a request presents a working key whose scope covers `scope`. */
export const holdsScope = (auth: RequestAuth, scope: ApiKeyScope): boolean =>
  auth.kind === 'key' && scopeCovers(auth.key.scope, scope);

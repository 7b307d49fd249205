import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { badUserInput, notFound, unauthenticated } from '../errors.js';
import type { ApiKeysRepository } from '../storage/api-keys.repository.js';
import type { ApiKeyRow, ApiKeyScope } from '../storage/api-keys.tables.js';

export interface ApiKeyDeps {
  repository: ApiKeysRepository;
}

export type { ApiKeyRow, ApiKeyScope };

/** Scopes from least to most: each includes the ones before it (admin ⊃ write ⊃ read). */
export const API_KEY_SCOPES: readonly ApiKeyScope[] = ['read', 'write', 'admin'];

export const scopeCovers = (held: ApiKeyScope, needed: ApiKeyScope): boolean =>
  API_KEY_SCOPES.indexOf(held) >= API_KEY_SCOPES.indexOf(needed);

/** `lp_<16 hex id>_<43 base64url characters: 256 random bits>`. */
const KEY_FORMAT = /^lp_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** How the key is shown in lists and messages: its id, never its secret. */
export const keyLabel = (id: string): string => `lp_${id}`;

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** A use is recorded at most this often per key, so that authenticating does not write on every request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface CreatedApiKey {
  /** The whole key: shown once, stored only as its sha256. */
  key: string;
  row: ApiKeyRow;
}

export async function createApiKey(
  deps: ApiKeyDeps,
  input: { scope: string; name?: string | null | undefined },
): Promise<CreatedApiKey> {
  if (!(API_KEY_SCOPES as readonly string[]).includes(input.scope)) {
    throw badUserInput(`scope: expected one of ${API_KEY_SCOPES.join(', ')}, got "${input.scope}"`);
  }
  const name = input.name?.trim() || null;
  if (name !== null && name.length > 200)
    throw badUserInput(`name: expected at most 200 characters, got ${name.length}`);
  const id = randomBytes(8).toString('hex');
  const key = `lp_${id}_${randomBytes(32).toString('base64url')}`;
  const row = await deps.repository.insert({ id, name, scope: input.scope as ApiKeyScope, secretSha256: sha256(key) });
  return { key, row };
}

export const listApiKeys = (deps: ApiKeyDeps): Promise<ApiKeyRow[]> => deps.repository.list();

/** Revokes a key by id (`lp_<id>` or the bare id); revoking a revoked key again changes nothing. */
export async function revokeApiKey(deps: ApiKeyDeps, idOrLabel: string): Promise<ApiKeyRow> {
  const id = idOrLabel.replace(/^lp_/, '').replace(/_.*$/, '');
  const row = await deps.repository.revoke(id, new Date());
  if (row === undefined) throw notFound(`no API key with id "${idOrLabel}"; \`linpath keys list\` shows them`);
  return row;
}

/** The stored key a request presents; UNAUTHENTICATED when it is malformed, unknown or revoked. */
export async function authenticateApiKey(deps: ApiKeyDeps, presented: string): Promise<ApiKeyRow> {
  const match = KEY_FORMAT.exec(presented);
  if (match === null)
    throw unauthenticated('malformed API key: expected lp_<id>_<secret> as `linpath keys create` prints it');
  const id = match[1]!;
  const row = await deps.repository.find(id);
  // The hashes have a fixed length, so comparing them in constant time leaks nothing about the secret.
  if (
    row === undefined ||
    !timingSafeEqual(Buffer.from(row.secretSha256, 'hex'), Buffer.from(sha256(presented), 'hex'))
  ) {
    throw unauthenticated(`unknown API key ${keyLabel(id)}`);
  }
  if (row.revokedAt !== null)
    throw unauthenticated(`API key ${keyLabel(id)} was revoked at ${row.revokedAt.toISOString()}`);
  const now = new Date();
  if (row.lastUsedAt === null || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await deps.repository.touch(id, now, new Date(now.getTime() - LAST_USED_RESOLUTION_MS));
  }
  return row;
}

/**
 * At the first start of a server with no key at all, an admin key, so that a fresh install can write at once.
 * It is written to `file` (mode 0600) for the user to read once; undefined when keys exist already.
 */
export async function ensureFirstAdminKey(deps: ApiKeyDeps, file: string): Promise<CreatedApiKey | undefined> {
  if ((await deps.repository.count()) > 0) return undefined;
  const created = await createApiKey(deps, { scope: 'admin', name: 'first start' });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${created.key}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // writeFile's mode applies only to a file it creates
  return created;
}

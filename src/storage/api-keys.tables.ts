import { check, index, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';

export type ApiKeyScope = 'read' | 'write' | 'admin';

/**
 * API keys. A key reads `lp_<id>_<secret>`: the id finds its row without scanning, and only the sha256 of the
 * whole key is stored, so a copy of the table (or a backup) lets no one in.
 */
export const apiKeysTable = pgTable(
  'api_keys',
  {
    /** The public part of the key: 16 hex digits, random. */
    id: text('id').primaryKey(),
    name: text('name'),
    scope: text('scope').$type<ApiKeyScope>().notNull(),
    /** sha256 (hex) of the whole key as presented. */
    secretSha256: text('secret_sha256').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Updated at most once a minute per key, so that a busy key does not write on every request. */
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    check('api_keys_scope_check', sql`${t.scope} in ('read', 'write', 'admin')`),
    index('api_keys_created_at_idx').on(t.createdAt),
  ],
);

export type ApiKeyRow = typeof apiKeysTable.$inferSelect;

import { and, asc, count, eq, isNull, lt, or } from 'drizzle-orm';
import { apiKeysTable, type ApiKeyRow } from './api-keys.tables.js';
import type { Db } from './database.js';

export type NewApiKey = typeof apiKeysTable.$inferInsert;

/** Stored API keys (hashed); see usecases/api-keys.usecases.ts. */
export class ApiKeysRepository {
  constructor(private readonly db: Db) {}

  async insert(key: NewApiKey): Promise<ApiKeyRow> {
    const [row] = await this.db.insert(apiKeysTable).values(key).returning();
    return row!;
  }

  async find(id: string): Promise<ApiKeyRow | undefined> {
    return this.db.query.apiKeysTable.findFirst({ where: eq(apiKeysTable.id, id) });
  }

  async list(): Promise<ApiKeyRow[]> {
    return this.db.select().from(apiKeysTable).orderBy(asc(apiKeysTable.createdAt), asc(apiKeysTable.id));
  }

  /** Every key ever created, revoked ones included. */
  async count(): Promise<number> {
    const [row] = await this.db.select({ n: count() }).from(apiKeysTable);
    return row?.n ?? 0;
  }

  /** Revokes a key once; undefined when there is no such key. The first revocation time stays. */
  async revoke(id: string, at: Date): Promise<ApiKeyRow | undefined> {
    const [revoked] = await this.db
      .update(apiKeysTable)
      .set({ revokedAt: at })
      .where(and(eq(apiKeysTable.id, id), isNull(apiKeysTable.revokedAt)))
      .returning();
    return revoked ?? (await this.find(id));
  }

  /** Records a use unless one was recorded after `notBefore`. */
  async touch(id: string, at: Date, notBefore: Date): Promise<void> {
    await this.db
      .update(apiKeysTable)
      .set({ lastUsedAt: at })
      .where(and(eq(apiKeysTable.id, id), or(isNull(apiKeysTable.lastUsedAt), lt(apiKeysTable.lastUsedAt, notBefore))));
  }
}

import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface EmbeddedPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * PGlite (Postgres compiled to WebAssembly) served over the Postgres wire protocol on a free loopback port.
 * linpath then has one database code path (drizzle over `pg`) for real Postgres and PGlite, and the CLI or
 * a second process can use the server's embedded database while it runs. `dataDir` undefined: in memory.
 */
export async function startEmbeddedPostgres(
  dataDir: string | undefined,
  options: {
    socketDir?: string | undefined;
    /**
     * A data directory dumped by PGlite (`dumpDataDir`) to start from instead of running initdb (seconds of
     * CPU): the tests start each in-memory database from one dump of an empty cluster.
     */
    initialData?: Blob | undefined;
  } = {},
): Promise<EmbeddedPostgres> {
  // 0700: the database files are the data of whoever runs linpath, not of every local user.
  if (dataDir !== undefined) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await chmod(dataDir, 0o700);
  }
  const db =
    options.initialData === undefined
      ? await PGlite.create(dataDir)
      : await PGlite.create({ ...(dataDir === undefined ? {} : { dataDir }), loadDataDir: options.initialData });
  // pglite-socket multiplexes connections onto the single PGlite session. Its own queue interleaves the
  // messages of concurrent extended-protocol queries (one connection's Bind can meet another's Parse),
  // so linpath replaces it with one that gives a connection the session for a whole query and for a whole
  // transaction. Code must never wait on a second connection while holding a transaction.
  // PGlite accepts any user and password as its superuser: with `socketDir` (a directory only this user can
  // enter) it listens on a Unix socket there, out of reach of other local users; else on a loopback port.
  const server = new PGLiteSocketServer({
    db,
    ...(options.socketDir === undefined
      ? { host: '127.0.0.1', port: 0 }
      : { path: path.join(options.socketDir, '.s.PGSQL.5432') }),
    maxConnections: 64,
  });
  (server as unknown as { queryQueue: ProtocolQueue }).queryQueue = new ProtocolQueue(db);
  await server.start();
  return {
    url:
      options.socketDir === undefined
        ? `postgres://postgres@${server.getServerConn()}/postgres`
        : `postgres://postgres@localhost/postgres?host=${encodeURIComponent(options.socketDir)}`,
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}

/** Messages of the extended query protocol up to its Sync: Parse, Bind, Describe, Execute, Close, Flush. */
const EXTENDED = new Set([0x50, 0x42, 0x44, 0x45, 0x43, 0x48]);
/** The Sync message: 'S', length 4. */
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);

interface Queued {
  handlerId: number;
  message: Uint8Array;
  onData(data: Uint8Array): void;
  resolve(bytes: number): void;
  reject(error: unknown): void;
}

/**
 * The message queue of pglite-socket's server (same interface), serialising connections by query: once a
 * connection sends a Parse/Bind/Describe/Execute/Close/Flush it owns the session until its Sync, and
 * inside a transaction until the transaction ends. Messages of other connections wait.
 */
export class ProtocolQueue {
  private queue: Queued[] = [];
  private processing = false;
  /** The connection that holds the session: mid extended query (until its Sync) or in a transaction. */
  private owner: number | null = null;
  /** Whether the owner is mid extended query (then PGlite awaits its Sync). */
  private midQuery = false;
  private executing: number | null = null;
  /** Connections that went away while one of their messages ran: released when it ends. */
  private readonly gone = new Set<number>();

  constructor(private readonly db: PGlite) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.process();
    });
  }

  getQueueLength(): number {
    return this.queue.length;
  }

  clearQueueForHandler(handlerId: number): void {
    this.queue = this.queue.filter((item) => {
      if (item.handlerId !== handlerId) return true;
      item.reject(new Error('connection closed'));
      return false;
    });
  }

  /** A connection went away: whatever it held (a transaction, a half-sent query) is ended for it. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.executing === handlerId) {
      this.gone.add(handlerId); // released by process() when its message ends
      return;
    }
    if (this.owner === handlerId) await this.release();
    void this.process();
  }

  /** Ends the owner's open query (Sync) and transaction (ROLLBACK), and frees the session. */
  private async release(): Promise<void> {
    if (this.midQuery)
      await this.db
        .runExclusive(() => this.db.execProtocolRawStream(SYNC, { onRawData: () => undefined }))
        .catch(() => undefined);
    if (this.db.isInTransaction()) await this.db.exec('ROLLBACK').catch(() => undefined);
    this.owner = null;
    this.midQuery = false;
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        const index = this.owner === null ? 0 : this.queue.findIndex((item) => item.handlerId === this.owner);
        if (index === -1) break; // the owner's next message has not arrived yet
        const [item] = this.queue.splice(index, 1) as [Queued];
        let bytes = 0;
        let failure: unknown;
        this.executing = item.handlerId;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(item.message, {
              onRawData: (data) => {
                bytes += data.length;
                item.onData(data);
              },
            }),
          );
        } catch (error) {
          failure = error;
        } finally {
          this.executing = null;
        }
        // An extended query lasts until its Sync (after an error, Postgres skips messages until then).
        const type = item.message[0]!;
        this.midQuery = EXTENDED.has(type) || (type !== SYNC[0] && this.owner === item.handlerId && this.midQuery);
        this.owner = this.midQuery || this.db.isInTransaction() ? item.handlerId : null;
        if (this.gone.delete(item.handlerId) && this.owner === item.handlerId) await this.release();
        if (failure === undefined) item.resolve(bytes);
        else item.reject(failure);
      }
    } finally {
      this.processing = false;
    }
  }
}

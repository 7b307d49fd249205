import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LinpathError, unavailable } from '../../errors.js';
import type { BoundModel, Engine, PreparedModel, StateMap } from '../engine.js';
import type { ModelGraph } from '../model-ir.js';
import type { TfjsBackendName } from './tfjs.backend.js';
import type { TfjsEngineOptions } from './tfjs.engine.js';

/** What the main thread asks of the tfjs thread; models and bound states are numbered there. */
export type ThreadRequest = { id: number } & (
  | { op: 'init' }
  | { op: 'prepare'; graph: ModelGraph }
  | { op: 'bind'; model: number; state: Array<[string, Float32Array]>; hints?: { examples?: number } }
  | { op: 'logits'; state: number; x: Float32Array; n: number }
  | { op: 'unbind'; state: number }
  | { op: 'dispose'; model: number }
  | { op: 'close' }
);

export type ThreadReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code?: LinpathError['code'] } };

type Payload<R> = R extends unknown ? Omit<R, 'id'> : never;

export interface TfjsThreadOptions extends TfjsEngineOptions {
  /** Called once if the thread ends on its own (a crash): the engine is then unusable and should be replaced. */
  onLost?: () => void;
}

/**
 * The TensorFlow.js engine in a worker thread of its own, behind the same Engine interface: a tfjs backend
 * (wasm, cpu, or tensorflow) computes synchronously for as long as a batch takes — seconds for a ResNet on
 * the wasm backend — which in the server's thread would hold every HTTP request, /healthz included, for that
 * long. States and inputs are copied to the thread, logits moved back. The thread does not keep the process
 * alive while it has nothing to do.
 */
export class TfjsThreadEngine implements Engine {
  readonly name = 'tfjs' as const;

  private constructor(
    private readonly worker: Worker,
    private readonly connection: Connection,
    readonly version: string,
    readonly backend: TfjsBackendName,
  ) {}

  static async create(options: TfjsThreadOptions = {}): Promise<TfjsThreadEngine> {
    const { onLost, ...engineOptions } = options;
    const fromSource = import.meta.url.endsWith('.ts');
    const entry = new URL(`./tfjs.thread-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
    // From the TypeScript sources (the tests), through tsx (a development dependency), registered in the thread
    // itself: Node 20 does not pass `--import` on to worker threads.
    const worker = fromSource
      ? new Worker(
          `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`,
          { eval: true, workerData: engineOptions },
        )
      : new Worker(fileURLToPath(entry), { workerData: engineOptions });
    worker.unref();
    let started = false;
    const connection = new Connection(worker, () => {
      if (started) onLost?.();
    });
    try {
      const { version, backend } = (await connection.call({ op: 'init' })) as {
        version: string;
        backend: TfjsBackendName;
      };
      started = true;
      return new TfjsThreadEngine(worker, connection, version, backend);
    } catch (error) {
      await worker.terminate();
      throw error;
    }
  }

  async prepare(graph: ModelGraph): Promise<PreparedModel> {
    const model = (await this.connection.call({ op: 'prepare', graph })) as number;
    const connection = this.connection;
    return {
      bind: async (state: StateMap, hints?: { examples?: number }): Promise<BoundModel> => {
        const bound = (await connection.call({
          op: 'bind',
          model,
          state: [...state],
          ...(hints !== undefined ? { hints } : {}),
        })) as number;
        return {
          logits: async (x, n) => (await connection.call({ op: 'logits', state: bound, x, n })) as Float32Array,
          dispose: async () => void (await connection.call({ op: 'unbind', state: bound })),
        };
      },
      dispose: async () => void (await connection.call({ op: 'dispose', model })),
    };
  }

  async close(): Promise<void> {
    await this.connection.call({ op: 'close' }).catch(() => undefined);
    await this.worker.terminate();
  }
}

/** Requests and their answers over the worker's port; the worker is referenced only while one is pending. */
class Connection {
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private nextId = 1;
  private lost: Error | undefined;

  constructor(
    private readonly worker: Worker,
    onLost: (error: Error) => void,
  ) {
    worker.on('message', (reply: ThreadReply) => {
      const waiter = this.pending.get(reply.id);
      if (waiter === undefined) return;
      this.settled(reply.id);
      if (reply.ok) waiter.resolve(reply.value);
      else waiter.reject(rebuild(reply.error));
    });
    const lose = (error: Error) => {
      if (this.lost !== undefined) return;
      this.lost = error;
      for (const waiter of this.pending.values()) waiter.reject(error);
      this.pending.clear();
      onLost(error);
    };
    worker.on('error', (error) => lose(unavailable(`the tfjs thread failed: ${error.message}`, error)));
    worker.on('exit', (code) => lose(unavailable(`the tfjs thread exited (code ${code})`)));
  }

  call(request: Payload<ThreadRequest>): Promise<unknown> {
    if (this.lost !== undefined) return Promise.reject(this.lost);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id });
    });
  }

  private settled(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }
}

/** The thread's error as the caller would have seen it in-process: a coded LinpathError keeps its code. */
function rebuild(error: { name: string; message: string; code?: LinpathError['code'] }): Error {
  if (error.code !== undefined) return new LinpathError(error.code, error.message);
  const rebuilt = new Error(error.message);
  rebuilt.name = error.name;
  return rebuilt;
}

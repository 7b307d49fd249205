import { parentPort, workerData } from 'node:worker_threads';
import { isLinpathError } from '../../errors.js';
import type { BoundModel, PreparedModel } from '../engine.js';
import { TfjsEngine, type TfjsEngineOptions } from './tfjs.engine.js';
import type { ThreadReply, ThreadRequest } from './tfjs.thread.js';

/**
 * The entry of the TensorFlow.js thread (tfjs.thread.ts starts it): one TfjsEngine, and the models and states
 * the main thread asked for, by number. Its ops block this thread, not the server's event loop.
 */
const port = parentPort!;
const engine = TfjsEngine.create(workerData as TfjsEngineOptions);
// A backend that cannot start is reported to the first request ('init'), not as an unhandled rejection.
engine.catch(() => undefined);
const models = new Map<number, PreparedModel>();
const states = new Map<number, BoundModel>();
let nextHandle = 1;

const take = <T>(handles: Map<number, T>, handle: number, what: string): T => {
  const value = handles.get(handle);
  if (value === undefined) throw new Error(`tfjs thread: no ${what} ${handle} (disposed?)`);
  return value;
};

async function handle(request: ThreadRequest): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> {
  switch (request.op) {
    case 'init': {
      const { version, backend } = await engine;
      return { value: { version, backend } };
    }
    case 'prepare': {
      const handle = nextHandle++;
      models.set(handle, await (await engine).prepare(request.graph));
      return { value: handle };
    }
    case 'bind': {
      const model = take(models, request.model, 'model');
      const handle = nextHandle++;
      states.set(handle, await model.bind(new Map(request.state), request.hints));
      return { value: handle };
    }
    case 'logits': {
      const logits = await take(states, request.state, 'state').logits(request.x, request.n);
      return { value: logits, transfer: [logits.buffer as ArrayBuffer] };
    }
    case 'unbind':
      await states.get(request.state)?.dispose();
      states.delete(request.state);
      return { value: undefined };
    case 'dispose':
      await models.get(request.model)?.dispose();
      models.delete(request.model);
      return { value: undefined };
    case 'close':
      await (await engine).close();
      models.clear();
      states.clear();
      return { value: undefined };
  }
}

port.on('message', (request: ThreadRequest) => {
  handle(request).then(
    ({ value, transfer }) =>
      port.postMessage({ id: request.id, ok: true, value } satisfies ThreadReply, transfer ?? []),
    (error: unknown) => {
      const { name, message } = error instanceof Error ? error : new Error(String(error));
      port.postMessage({
        id: request.id,
        ok: false,
        error: { name, message, ...(isLinpathError(error) ? { code: error.code } : {}) },
      } satisfies ThreadReply);
    },
  );
});

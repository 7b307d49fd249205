import * as tf from '@tensorflow/tfjs-core';
import { badUserInput, unavailable } from '../../errors.js';

/**
 * The TensorFlow.js backends linpath can run on, fastest first:
 * - `tensorflow`: the TensorFlow C library through `@tensorflow/tfjs-node-gpu` (CUDA) or `@tensorflow/tfjs-node`
 *   (CPU, multi-threaded). Neither is a dependency: a GPU host runs
 *   `npm install @tensorflow/tfjs-node-gpu@4.22.0` — the same version as `@tensorflow/tfjs-core`, so npm
 *   dedupes tfjs-core and the binding registers its backend with the engine linpath uses.
 * - `wasm`: XNNPACK compiled to WebAssembly, SIMD, single-threaded in Node. It reads its `.wasm` from its own
 *   package directory, so it works offline (no `setWasmPaths`).
 * - `cpu`: plain JavaScript; about 25× slower than wasm on convolutions, but always there.
 */
export const TFJS_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type TfjsBackendName = (typeof TFJS_BACKENDS)[number];

export interface TfjsBackendOptions {
  /** Use exactly this backend; without it the fastest available one is chosen. */
  backend?: TfjsBackendName;
}

export interface TfjsBackend {
  name: TfjsBackendName;
  /** What results computed on it record, e.g. `tfjs 4.22.0 wasm`, `tfjs 4.22.0 tensorflow (@tensorflow/tfjs-node-gpu)`. */
  version: string;
}

/** The Node bindings that provide the `tensorflow` backend, preferred first. */
const NODE_BINDINGS = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

type Availability = { ok: true; backend: TfjsBackend } | { ok: false; reason: string; cause?: unknown };

/**
 * One load-and-initialise attempt per backend per process: importing registers the backend with the
 * process-wide tfjs engine, initialising instantiates it (the wasm module is compiled here). A failure is
 * remembered too; it will not change while the process runs.
 */
const attempts = new Map<TfjsBackendName, Promise<Availability>>();
/**
 * Attempts run one after another: tfjs abandons a pending asynchronous initialisation (wasm) when another
 * backend is initialised meanwhile, and would then report it as failed.
 */
let queue: Promise<unknown> = Promise.resolve();
let automatic: Promise<TfjsBackend> | undefined;

/**
 * Loads, initialises and activates a backend: the forced one, or else the first of `tensorflow`, `wasm`,
 * `cpu` that works. Throws UNAVAILABLE when the forced backend (or, unforced, every backend) cannot run here.
 */
export async function initTfjsBackend(options: TfjsBackendOptions = {}): Promise<TfjsBackend> {
  let backend: TfjsBackend;
  if (options.backend !== undefined) {
    if (!(TFJS_BACKENDS as readonly string[]).includes(options.backend)) {
      throw badUserInput(`tfjs backend: expected one of ${TFJS_BACKENDS.join(', ')}, got "${String(options.backend)}"`);
    }
    const availability = await attempt(options.backend);
    if (!availability.ok) {
      throw unavailable(
        `tfjs backend "${options.backend}" is not available: ${availability.reason}`,
        availability.cause,
      );
    }
    backend = availability.backend;
  } else {
    automatic ??= chooseFastest();
    backend = await automatic;
  }
  useTfjsBackend(backend.name);
  return backend;
}

/**
 * Makes `name` — initialised by `initTfjsBackend` — tfjs' active backend, synchronously. tfjs runs every op on
 * the one active backend of the process, so an engine calls this immediately before its ops, in the same
 * synchronous stretch of code: two engines on different backends can then share a process without an
 * `await` between switching and computing letting the other switch back (each tensor stays on the backend
 * that made it). `tf.setBackend` of an initialised backend completes before its promise is returned.
 */
export function useTfjsBackend(name: TfjsBackendName): void {
  if (tf.getBackend() === name) return;
  if (tf.findBackend(name) == null) throw new Error(`tfjs: the "${name}" backend is not initialised`);
  void tf.setBackend(name).catch(() => undefined);
  if (tf.getBackend() !== name) throw new Error(`tfjs: could not switch to the "${name}" backend`);
}

async function chooseFastest(): Promise<TfjsBackend> {
  const reasons: string[] = [];
  for (const name of TFJS_BACKENDS) {
    const availability = await attempt(name);
    if (availability.ok) return availability.backend;
    reasons.push(`${name}: ${availability.reason}`);
  }
  throw unavailable(`no tfjs backend is available (${reasons.join('; ')})`);
}

function attempt(name: TfjsBackendName): Promise<Availability> {
  let pending = attempts.get(name);
  if (pending === undefined) {
    pending = queue.then(() => load(name));
    queue = pending;
    attempts.set(name, pending);
  }
  return pending;
}

async function load(name: TfjsBackendName): Promise<Availability> {
  let binding: string | undefined;
  switch (name) {
    case 'tensorflow': {
      const failures: string[] = [];
      for (const specifier of NODE_BINDINGS) {
        const imported = await importOptional(specifier);
        if (imported.ok) {
          binding = specifier;
          break;
        }
        failures.push(`${specifier}: ${imported.reason}`);
      }
      if (binding === undefined) {
        return {
          ok: false,
          reason:
            `neither Node binding could be imported (${failures.join('; ')}); on a GPU host run ` +
            '`npm install @tensorflow/tfjs-node-gpu@4.22.0`, or choose the wasm or cpu backend',
        };
      }
      break;
    }
    case 'wasm': {
      const imported = await importOptional('@tensorflow/tfjs-backend-wasm');
      if (!imported.ok) return { ok: false, reason: `@tensorflow/tfjs-backend-wasm: ${imported.reason}` };
      break;
    }
    case 'cpu': {
      const imported = await importOptional('@tensorflow/tfjs-backend-cpu');
      if (!imported.ok) return { ok: false, reason: `@tensorflow/tfjs-backend-cpu: ${imported.reason}` };
      break;
    }
  }
  if (tf.findBackendFactory(name) === null) {
    return {
      ok: false,
      reason: `importing it registered no "${name}" backend with @tensorflow/tfjs-core ${tf.version_core}`,
    };
  }
  try {
    // setBackend initialises the backend (compiling the wasm module, loading the TensorFlow library) and
    // answers false when that fails; the caller activates the backend it finally uses.
    if (!(await tf.setBackend(name))) return { ok: false, reason: 'its initialisation failed' };
  } catch (error) {
    return { ok: false, reason: `its initialisation failed: ${message(error)}`, cause: error };
  }
  const version = `tfjs ${tf.version_core} ${name}${binding === undefined ? '' : ` (${binding})`}`;
  return { ok: true, backend: { name, version } };
}

/**
 * `import()` of a package that may not be installed. The specifier is a variable so that neither tsc nor a
 * bundler tries to resolve it at build time; what the module exports is not needed, only its side effect of
 * registering a backend.
 */
async function importOptional(specifier: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await import(specifier);
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: message(error) };
  }
}

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0]!;

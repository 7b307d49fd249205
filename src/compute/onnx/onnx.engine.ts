import { createHash } from 'node:crypto';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { unavailable } from '../../errors.js';
import type { BoundModel, Engine, PreparedModel, StateMap } from '../engine.js';
import { INPUT, type ModelGraph } from '../model-ir.js';
import { lowerToOnnx, type LoweredModel } from './onnx.lowering.js';
import { exportWithStateInputs } from './onnx.user-graph.js';

export type OnnxProvider = 'cpu' | 'cuda';

export interface OnnxEngineOptions {
  provider: OnnxProvider;
  /** ONNX Runtime's intra-op threads (CPU provider); its default is one per physical core. */
  threads?: number;
  /** CUDA device ordinal (CUDA provider). */
  deviceId?: number;
  /** Sessions no prepared model uses that stay cached for the next `prepare` of the same graph. */
  maxIdleSessions?: number;
  /**
   * How a state reaches ONNX Runtime. `inputs`: as graph inputs of one session shared by every state.
   * `initializers`: baked into a session of its own per bound state, which ORT optimises further (BatchNorm
   * folded into convolutions, weights pre-packed in its blocked layout): 80–180 ms to create on ResNet-18,
   * then ~1.2–1.5× faster convolutions. `auto` (default): initializers for a convolutional graph on the CPU
   * bound for at least INITIALIZER_MIN_EXAMPLES examples, inputs otherwise.
   */
  state?: OnnxStateMode;
}

export type OnnxStateMode = 'auto' | 'inputs' | 'initializers';

/** Below this many examples per state, building a session per state costs more than it saves. */
export const INITIALIZER_MIN_EXAMPLES = 256;

/** Whether a state bound for `examples` examples (undefined: not said) goes in as initializers. */
export function usesInitializers(
  mode: OnnxStateMode,
  provider: OnnxProvider,
  graph: ModelGraph,
  examples: number | undefined,
): boolean {
  if (mode !== 'auto') return mode === 'initializers';
  const convolutional = graph.nodes.some((node) => node.op === 'conv2d');
  return provider === 'cpu' && convolutional && examples !== undefined && examples >= INITIALIZER_MIN_EXAMPLES;
}

/**
 * How to get the CUDA provider. The npm package bundles only the CPU provider
 * (bin/napi-v6/linux/x64/libonnxruntime.so.1). On linux/x64 its postinstall script
 * (node_modules/onnxruntime-node/script/install.js, flags parsed in install-utils.js) downloads the NuGet
 * package Microsoft.ML.OnnxRuntime.Gpu.Linux of the same version and extracts libonnxruntime_providers_cuda.so,
 * libonnxruntime_providers_shared.so and libonnxruntime_providers_tensorrt.so next to it.
 * The flag is read from env ONNXRUNTIME_NODE_INSTALL, else npm config `onnxruntime-node-install`
 * (env npm_config_onnxruntime_node_install, .npmrc or `--onnxruntime-node-install=` on the npm command
 * line): `skip` skips; `1`/`true`/`ON` re-downloads the platform's manifest (linux/x64: cuda12) even if
 * present; unset fetches it when missing; and in 1.30.0 `cuda12` falls through the parser without a return,
 * which also means "fetch when missing". Only when that flag is unset does it consult the deprecated
 * ONNXRUNTIME_NODE_INSTALL_CUDA=v12 (or npm config `onnxruntime-node-install-cuda`).
 * This project's .npmrc sets `onnxruntime-node-install=skip` and package.json's `allowScripts` denies the
 * script (npm 11 advises, npm 12 enforces; npm 12 also stops passing unknown .npmrc keys to scripts), so a
 * plain `npm install` never fetches it. Running the script directly with ONNXRUNTIME_NODE_INSTALL=cuda12 (read
 * before any npm config) fetches it on every npm version. The provider then loads CUDA 12.x and cuDNN 9.x from
 * the system library path.
 * The node binding passes the CUDA provider only a device id, so its other options keep their defaults,
 * among them use_tf32 = true: on Ampere and newer GPUs float32 convolutions and GEMMs round their inputs to
 * TF32's 10-bit mantissa (~1e-3 relative). NVIDIA_TF32_OVERRIDE=0 in the process's environment makes cuBLAS
 * and cuDNN ignore that setting (not tried here: no GPU on this host).
 */
const CUDA_HELP =
  'onnxruntime-node bundles only the CPU provider; its install script fetches the CUDA 12 provider ' +
  '(NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux, linux/x64 only), which this project skips on install. On the GPU ' +
  'host, with network access, run ' +
  '`ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js` and make the ' +
  'CUDA 12.x and cuDNN 9.x libraries loadable (LD_LIBRARY_PATH); or use the cpu provider';

interface CachedSession {
  session: Promise<ort.InferenceSession>;
  users: number;
}

/**
 * The ONNX Runtime engine (onnxruntime-node). Each graph is lowered once to an ONNX model whose state
 * tensors are graph inputs, so one InferenceSession serves every α of every path over that graph; sessions
 * are cached per graph structure and shared by concurrent prepares of it.
 */
export class OnnxEngine implements Engine {
  readonly name = 'onnx' as const;
  readonly version: string;
  private readonly sessions = new Map<string, CachedSession>();
  private closed = false;

  private constructor(private readonly options: OnnxEngineOptions & { maxIdleSessions: number }) {
    const versions = ort.env.versions;
    this.version = `onnxruntime-node ${versions.node ?? versions.common} ${options.provider}`;
  }

  /**
   * An engine whose provider works: a one-op model is run first, so a missing CUDA provider fails here
   * (UNAVAILABLE, with how to install it) rather than in the first job.
   */
  static async create(options: OnnxEngineOptions): Promise<OnnxEngine> {
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) {
      throw new RangeError(`OnnxEngine: threads: expected a positive integer, got ${options.threads}`);
    }
    const engine = new OnnxEngine({ maxIdleSessions: 4, ...options });
    const probe: ModelGraph = {
      architecture: 'probe',
      inputShape: [1],
      output: 'y',
      outputs: 1,
      nodes: [{ op: 'relu', input: INPUT, output: 'y', block: 'probe' }],
      state: [],
      blocks: ['probe'],
      aliases: {},
    };
    const session = await engine.createSession(lowerToOnnx(probe).model);
    try {
      const out = await session.run({ [INPUT]: new ort.Tensor('float32', Float32Array.of(-1, 2), [2, 1]) });
      const y = out.y?.data;
      if (!(y instanceof Float32Array) || y[0] !== 0 || y[1] !== 2) {
        throw new Error(`OnnxEngine: the ${options.provider} provider computed relu([-1, 2]) as ${String(y)}`);
      }
    } finally {
      await session.release();
    }
    return engine;
  }

  async prepare(graph: ModelGraph): Promise<PreparedModel> {
    if (this.closed) throw new Error('OnnxEngine: prepare after close');
    const { model, stateInputs, input } = lowerForRuntime(graph);
    // The serialized model is the graph's structure (architecture, input and state shapes, every attribute):
    // equal graphs share a session, and two graphs that lower differently never do.
    const key = createHash('sha256').update(model).digest('hex');
    let cached = this.sessions.get(key);
    if (cached === undefined) {
      cached = { session: this.createSession(model), users: 0 };
      this.sessions.set(key, cached);
    } else {
      // Map order is recency order for evicting idle sessions.
      this.sessions.delete(key);
      this.sessions.set(key, cached);
    }
    cached.users += 1;
    let session: ort.InferenceSession;
    try {
      session = await cached.session;
    } catch (error) {
      cached.users -= 1;
      if (this.sessions.get(key) === cached) this.sessions.delete(key); // a later prepare tries again
      throw error;
    }
    const specs = new Map(graph.state.map((s) => [s.name, s.shape]));
    const inputs = stateInputs.map((name) => {
      const shape = specs.get(name)!;
      return { name, shape, size: shape.reduce((a, b) => a * b, 1) };
    });
    const initializers = (examples: number | undefined) =>
      usesInitializers(this.options.state ?? 'auto', this.options.provider, graph, examples);
    const sessionWith = (state: ReadonlyMap<string, Float32Array>) =>
      this.createSession(withInitializers(model, inputs, state));
    return new OnnxPreparedModel(
      session,
      graph,
      input,
      inputs,
      () => this.releaseUse(cached),
      initializers,
      sessionWith,
    );
  }

  /** Releases every session; prepared and bound models of this engine must not be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (c) => (await c.session.catch(() => undefined))?.release()));
  }

  private async releaseUse(cached: CachedSession): Promise<void> {
    cached.users -= 1;
    if (this.closed || cached.users > 0) return;
    const idle = [...this.sessions.entries()].filter(([, c]) => c.users === 0);
    const evicted = idle.slice(0, Math.max(0, idle.length - this.options.maxIdleSessions));
    for (const [k] of evicted) this.sessions.delete(k);
    await Promise.all(evicted.map(async ([, c]) => (await c.session.catch(() => undefined))?.release()));
  }

  private async createSession(model: Uint8Array): Promise<ort.InferenceSession> {
    const { provider, threads, deviceId } = this.options;
    const executionProvider: ort.InferenceSession.ExecutionProviderConfig =
      provider === 'cuda' ? { name: 'cuda', ...(deviceId === undefined ? {} : { deviceId }) } : 'cpu';
    try {
      return await ort.InferenceSession.create(model, {
        // Only the asked-for provider, so that a CUDA engine that cannot load CUDA fails instead of running
        // on the CPU under a "cuda" version string.
        executionProviders: [executionProvider],
        ...(threads === undefined ? {} : { intraOpNumThreads: threads }),
        interOpNumThreads: 1,
        executionMode: 'sequential',
        // State tensors are inputs, not initializers, so no optimization folds BatchNorm into Conv weights:
        // what runs is the same arithmetic for every α.
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
    } catch (error) {
      if (provider !== 'cuda') throw error;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      throw unavailable(`ONNX Runtime's CUDA provider could not start a session (${reason}). ${CUDA_HELP}`, error);
    }
  }
}

interface StateInput {
  name: string;
  shape: number[];
  size: number;
}

class OnnxPreparedModel implements PreparedModel {
  private disposed = false;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly graph: ModelGraph,
    private readonly input: string,
    private readonly stateInputs: readonly StateInput[],
    private readonly releaseSession: () => Promise<void>,
    private readonly useInitializers: (examples: number | undefined) => boolean,
    private readonly sessionWith: (state: ReadonlyMap<string, Float32Array>) => Promise<ort.InferenceSession>,
  ) {}

  /**
   * Wraps the state's arrays as ort.Tensors (no copy; they must not change while the bound model is used), or
   * builds a session with the state as initializers (see OnnxEngineOptions.state), released on dispose.
   */
  async bind(state: StateMap, hints: { examples?: number } = {}): Promise<BoundModel> {
    if (this.disposed) throw new Error('OnnxEngine: bind on a disposed prepared model');
    const problems: string[] = [];
    const feeds: Record<string, ort.Tensor> = {};
    for (const { name, shape, size } of this.stateInputs) {
      const values = state.get(name);
      if (values === undefined) {
        problems.push(`"${name}" is missing (expected [${shape.join(', ')}])`);
      } else if (values.length !== size) {
        problems.push(`"${name}": expected [${shape.join(', ')}] (${size} values), got ${values.length} values`);
      } else {
        feeds[name] = new ort.Tensor('float32', values, shape);
      }
    }
    if (problems.length > 0) {
      const shown = problems.slice(0, 10).join('; ') + (problems.length > 10 ? `; … (${problems.length} in all)` : '');
      throw new Error(`OnnxEngine: the state does not fit ${this.graph.architecture}: ${shown}`);
    }
    if (!this.useInitializers(hints.examples))
      return new OnnxBoundModel(this.session, this.graph, this.input, feeds, undefined);
    const own = await this.sessionWith(
      new Map(Object.entries(feeds).map(([name, tensor]) => [name, tensor.data as Float32Array])),
    );
    return new OnnxBoundModel(own, this.graph, this.input, {}, () => own.release());
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.releaseSession();
  }
}

class OnnxBoundModel implements BoundModel {
  private readonly exampleSize: number;
  private feeds: Record<string, ort.Tensor> | undefined;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly graph: ModelGraph,
    private readonly input: string,
    feeds: Record<string, ort.Tensor>,
    /** For a session of this bound state's own (initializers): releases it. */
    private readonly releaseOwnSession: (() => Promise<void>) | undefined,
  ) {
    this.feeds = feeds;
    this.exampleSize = graph.inputShape.reduce((a, b) => a * b, 1);
  }

  async logits(x: Float32Array, n: number): Promise<Float32Array> {
    if (this.feeds === undefined) throw new Error('OnnxEngine: logits on a disposed bound model');
    const { inputShape, output, outputs } = this.graph;
    if (!Number.isInteger(n) || n < 0 || x.length !== n * this.exampleSize) {
      throw new RangeError(
        `OnnxEngine.logits: expected ${n} × [${inputShape.join(', ')}] = ${n * this.exampleSize} input values, got ${x.length}`,
      );
    }
    if (n === 0) return new Float32Array(0);
    const results = await this.session.run(
      { ...this.feeds, [this.input]: new ort.Tensor('float32', x, [n, ...inputShape]) },
      [output],
    );
    const result = results[output];
    if (result === undefined || !(result.data instanceof Float32Array) || result.data.length !== n * outputs) {
      throw new Error(
        `OnnxEngine.logits: expected float32 logits [${n}, ${outputs}], got ${result?.type} [${result?.dims.join(', ')}]`,
      );
    }
    // A copy the caller owns, whatever ORT does with its output buffers.
    const logits = result.data.slice();
    result.dispose();
    return logits;
  }

  async dispose(): Promise<void> {
    if (this.feeds === undefined) return;
    this.feeds = undefined;
    await this.releaseOwnSession?.();
  }
}

/**
 * What ONNX Runtime runs for a graph: the IR lowered (onnx.lowering.ts), or, for an architecture whose ONNX export
 * has ops with no IR form, the export itself with its parameters turned into graph inputs.
 */
function lowerForRuntime(graph: ModelGraph): LoweredModel & { input: string } {
  if (graph.onnx !== undefined && graph.nodes.length === 0) {
    return { ...exportWithStateInputs(graph.onnx.model, graph.state), input: graph.onnx.input };
  }
  return { ...lowerToOnnx(graph), input: INPUT };
}

/** The lowered model with `state` as initializers instead of graph inputs (OnnxEngineOptions.state). */
function withInitializers(
  model: Uint8Array,
  inputs: readonly StateInput[],
  state: ReadonlyMap<string, Float32Array>,
): Uint8Array {
  const { onnx } = onnxProto;
  const decoded = onnx.ModelProto.decode(model);
  const graph = decoded.graph!;
  const names = new Set(inputs.map((input) => input.name));
  graph.input = (graph.input ?? []).filter((input) => !names.has(input.name ?? ''));
  // Initializers that are no state (a user export's integer constants) stay.
  const kept = (graph.initializer ?? []).filter((tensor) => !names.has(tensor.name ?? ''));
  graph.initializer = [
    ...kept,
    ...inputs.map(({ name, shape }) => {
      const values = state.get(name)!;
      return onnx.TensorProto.create({
        name,
        dims: shape,
        dataType: onnx.TensorProto.DataType.FLOAT,
        rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      });
    }),
  ];
  return onnx.ModelProto.encode(decoded).finish();
}

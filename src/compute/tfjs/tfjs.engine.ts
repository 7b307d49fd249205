import * as tf from '@tensorflow/tfjs-core';
import { badUserInput } from '../../errors.js';
import type { BoundModel, Engine, PreparedModel, StateMap } from '../engine.js';
import { irUnavailable, type ModelGraph } from '../model-ir.js';
import { initTfjsBackend, useTfjsBackend, type TfjsBackendName, type TfjsBackendOptions } from './tfjs.backend.js';
import { lowerToTfjs, uploadParameter, type TfjsProgram } from './tfjs.lowering.js';

export type TfjsEngineOptions = TfjsBackendOptions;

/**
 * The TensorFlow.js engine: lowers a ModelGraph to tfjs ops in NHWC (tfjs.lowering.ts) and runs it on the
 * process's fastest backend (tfjs.backend.ts), or the one forced. Every tensor it makes is owned by a
 * BoundModel (the uploaded state, until `dispose`) or lives inside one `logits` call: after bind, logits and
 * dispose, `tf.memory().numTensors` is what it was.
 */
export class TfjsEngine implements Engine {
  readonly name = 'tfjs' as const;
  private readonly prepared = new Set<TfjsPreparedModel>();

  private constructor(
    /** e.g. `tfjs 4.22.0 wasm`. */
    readonly version: string,
    readonly backend: TfjsBackendName,
  ) {}

  /** Initialises the backend (once per process); throws UNAVAILABLE when a forced backend cannot run here. */
  static async create(options: TfjsEngineOptions = {}): Promise<TfjsEngine> {
    const backend = await initTfjsBackend(options);
    return new TfjsEngine(backend.version, backend.name);
  }

  async prepare(graph: ModelGraph): Promise<PreparedModel> {
    const unavailable = irUnavailable(graph);
    if (unavailable !== undefined) throw badUserInput(`engine tfjs: ${unavailable}; use the onnx engine`);
    const model = new TfjsPreparedModel(graph, lowerToTfjs(graph), this.backend, () => this.prepared.delete(model));
    this.prepared.add(model);
    return model;
  }

  /** Disposes every model still prepared and every state still bound. */
  async close(): Promise<void> {
    await Promise.all([...this.prepared].map((model) => model.dispose()));
  }
}

class TfjsPreparedModel implements PreparedModel {
  private readonly bound = new Set<TfjsBoundModel>();
  private disposed = false;

  constructor(
    private readonly graph: ModelGraph,
    private readonly program: TfjsProgram,
    private readonly backend: TfjsBackendName,
    private readonly onDispose: () => void,
  ) {}

  async bind(state: StateMap): Promise<BoundModel> {
    if (this.disposed) throw new Error(`tfjs: bind on a disposed ${this.graph.architecture} model`);
    const problems: string[] = [];
    for (const spec of this.program.parameters) {
      const values = state.get(spec.name);
      const expected = spec.shape.reduce((a, b) => a * b, 1);
      if (values === undefined) problems.push(`${spec.name}: missing`);
      else if (values.length !== expected) {
        problems.push(`${spec.name}: expected ${expected} values ([${spec.shape.join(', ')}]), got ${values.length}`);
      }
    }
    if (problems.length > 0) {
      throw badUserInput(
        `state does not fit ${this.graph.architecture} (${problems.length} tensor${problems.length === 1 ? '' : 's'}): ` +
          `${problems.slice(0, 20).join('; ')}${problems.length > 20 ? '; …' : ''}`,
      );
    }
    const parameters = new Map<string, tf.Tensor>();
    useTfjsBackend(this.backend); // no await from here until the state is uploaded
    try {
      for (const spec of this.program.parameters)
        parameters.set(spec.name, uploadParameter(spec, state.get(spec.name)!));
    } catch (error) {
      tf.dispose([...parameters.values()]);
      throw error;
    }
    const model = new TfjsBoundModel(this.graph, this.program, this.backend, parameters, () =>
      this.bound.delete(model),
    );
    this.bound.add(model);
    return model;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await Promise.all([...this.bound].map((model) => model.dispose()));
    this.onDispose();
  }
}

class TfjsBoundModel implements BoundModel {
  private readonly exampleSize: number;
  private parameters: Map<string, tf.Tensor> | undefined;

  constructor(
    private readonly graph: ModelGraph,
    private readonly program: TfjsProgram,
    private readonly backend: TfjsBackendName,
    parameters: Map<string, tf.Tensor>,
    private readonly onDispose: () => void,
  ) {
    this.parameters = parameters;
    this.exampleSize = graph.inputShape.reduce((a, b) => a * b, 1);
  }

  async logits(x: Float32Array, n: number): Promise<Float32Array> {
    const parameters = this.parameters;
    if (parameters === undefined) throw new Error(`tfjs: logits on a disposed ${this.graph.architecture} state`);
    if (!Number.isSafeInteger(n) || n < 0) throw badUserInput(`logits: expected a number of examples ≥ 0, got ${n}`);
    if (x.length !== n * this.exampleSize) {
      throw badUserInput(
        `logits: expected ${n} × [${this.graph.inputShape.join(', ')}] = ${n * this.exampleSize} input values, got ${x.length}`,
      );
    }
    if (n === 0) return new Float32Array(0);
    useTfjsBackend(this.backend); // no await between switching and computing
    const output = tf.tidy(() => this.program.run(tf.tensor(x, [n, ...this.graph.inputShape], 'float32'), parameters));
    try {
      if (output.shape[0] !== n || output.shape[1] !== this.graph.outputs) {
        throw new Error(`tfjs: expected logits [${n}, ${this.graph.outputs}], got [${output.shape.join(', ')}]`);
      }
      // A copy: the cpu backend hands out the array behind the tensor.
      return (await output.data<'float32'>()).slice();
    } finally {
      output.dispose();
    }
  }

  async dispose(): Promise<void> {
    if (this.parameters === undefined) return;
    tf.dispose([...this.parameters.values()]);
    this.parameters = undefined;
    this.onDispose();
  }
}

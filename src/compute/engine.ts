import type { ModelGraph } from './model-ir.js';

/** Float state by state_dict key; every float tensor the graph reads, in its PyTorch layout. */
export type StateMap = ReadonlyMap<string, Float32Array>;

export type EngineName = 'onnx' | 'tfjs';

/**
 * A compute engine that lowers a ModelGraph and computes logits. Losses and accuracies are computed from the
 * logits by pure code (domain/losses.ts), identically for every engine.
 */
export interface Engine {
  readonly name: EngineName;
  /** What each stored point records, e.g. "onnxruntime-node 1.30.0 cpu" or "tfjs 4.22.0 wasm". */
  readonly version: string;
  /** Lowers the graph once; the result serves any number of states. */
  prepare(graph: ModelGraph): Promise<PreparedModel>;
  close(): Promise<void>;
}

export interface PreparedModel {
  /**
   * Loads one state (per α) into the engine: uploads, transposes, whatever is done once per state.
   * `examples` says how many examples the bound model will see, when known: an engine may spend more per
   * state (e.g. ONNX Runtime's pre-packed weights) where that pays off over many examples.
   */
  bind(state: StateMap, hints?: { examples?: number }): Promise<BoundModel>;
  dispose(): Promise<void>;
}

export interface BoundModel {
  /**
   * Logits for `n` examples: `x` holds them in the graph's input layout ([n, ...inputShape], NCHW for
   * images), the result is [n, outputs] row-major.
   */
  logits(x: Float32Array, n: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

import { SeededRandom } from '../domain/random.js';
import type { TensorToWrite } from '../formats/safetensors.format.js';
import type { ModelGraph } from './model-ir.js';

/**
 * A state drawn from PyTorch's module defaults for an architecture, deterministic in `seed`:
 * - Linear and Conv2d weights: kaiming_uniform_(a = √5), i.e. U(−b, b) with b = 1/√fan_in
 *   (gain √(2/(1 + a²)) = √(1/3), bound √3·gain/√fan_in); fan_in = in_features, or in_channels·kh·kw;
 * - their biases: U(−1/√fan_in, 1/√fan_in);
 * - BatchNorm: weight 1, bias 0, running_mean 0, running_var 1, num_batches_tracked 0.
 * The draws come from linpath's SplitMix64 generator, not PyTorch's: the distribution is PyTorch's, the values
 * are not. Tensors are returned in the graph's state_dict order, float32 (int64 for num_batches_tracked).
 */
export function randomInitialState(graph: ModelGraph, seed: number): TensorToWrite[] {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed: expected an integer ≥ 0, got ${seed}`);
  const random = new SeededRandom(seed);
  const shapes = new Map(graph.state.map((s) => [s.name, s.shape]));
  const values = new Map<string, Float32Array | BigInt64Array>();
  const uniform = (name: string, bound: number) => {
    const size = shapes.get(name)!.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = random.uniform(-bound, bound);
    values.set(name, data);
  };
  const filled = (name: string, value: number) =>
    values.set(name, new Float32Array(shapes.get(name)!.reduce((a, b) => a * b, 1)).fill(value));

  for (const node of graph.nodes) {
    if (node.op === 'linear' || node.op === 'conv2d') {
      const [, ...rest] = shapes.get(node.weight)!;
      const fanIn = rest.reduce((a, b) => a * b, 1);
      const bound = 1 / Math.sqrt(fanIn);
      uniform(node.weight, bound);
      if (node.bias !== undefined) uniform(node.bias, bound);
    } else if (node.op === 'batchnorm') {
      filled(node.weight, 1);
      filled(node.bias, 0);
      filled(node.runningMean, 0);
      filled(node.runningVar, 1);
    }
  }
  return graph.state.map((spec) => {
    if (spec.kind === 'int')
      return {
        name: spec.name,
        dtype: 'I64',
        shape: spec.shape,
        data: new BigInt64Array(spec.shape.reduce((a, b) => a * b, 1)),
      };
    const data = values.get(spec.name);
    if (data === undefined)
      throw new Error(`random init: ${graph.architecture} has no initialisation rule for "${spec.name}"`);
    return { name: spec.name, dtype: 'F32', shape: spec.shape, data };
  });
}

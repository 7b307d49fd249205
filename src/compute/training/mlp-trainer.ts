import * as tf from '@tensorflow/tfjs-core';
// tfjs-core registers the gradients of its ops only through the @tensorflow/tfjs bundle (its own
// dist/register_all_gradients.js is extension-less ESM that Node cannot load); training needs them.
import '@tensorflow/tfjs';
import { SeededRandom } from '../../domain/random.js';
import { initTfjsBackend, type TfjsBackendOptions } from '../tfjs/tfjs.backend.js';

export interface MlpTrainingOptions {
  /** Widths from input to output, e.g. [2, 50, 50, 1] (the seed study's spiral MLP). */
  widths: readonly number[];
  seed: number;
  learningRate: number;
  batchSize: number;
  epochs: number;
  /** Steps after which a snapshot is taken (besides step 0 and the last). */
  snapshotSteps: readonly number[];
}

export interface TrainingData {
  x: Float32Array;
  /** 0/1 labels for one output; class indices otherwise. */
  labels: Uint8Array | Int32Array;
  n: number;
}

/** A state_dict snapshot: `fc1.weight` [out, in], `fc1.bias` [out], … */
export interface MlpSnapshot {
  step: number;
  tensors: Array<{ name: string; shape: number[]; data: Float32Array }>;
}

/**
 * Trains an MLP (Linear layers `fc1`, `fc2`, … with ReLU between) with Adam on binary cross-entropy with
 * logits, as the seed study trains its spiral MLP (Appendix A). Initialisation follows PyTorch's Linear
 * defaults: weights and biases uniform in ±1/√fan_in (kaiming_uniform with a = √5). Deterministic for a
 * seed and backend. Yields to the event loop between steps, so a server keeps answering while it trains.
 */
export async function trainMlp(
  data: TrainingData,
  options: MlpTrainingOptions,
  backend: TfjsBackendOptions = {},
  signal?: AbortSignal,
): Promise<MlpSnapshot[]> {
  await initTfjsBackend(backend);
  const random = new SeededRandom(options.seed);
  const layers = options.widths.slice(1).map((out, i) => {
    const fanIn = options.widths[i]!;
    const bound = 1 / Math.sqrt(fanIn);
    const weight = Float32Array.from({ length: out * fanIn }, () => random.uniform(-bound, bound));
    const bias = Float32Array.from({ length: out }, () => random.uniform(-bound, bound));
    return {
      name: `fc${i + 1}`,
      // Kept as [in, out] for matMul; snapshots transpose back to PyTorch's [out, in].
      weight: tf.variable(tf.transpose(tf.tensor2d(weight, [out, fanIn]))),
      bias: tf.variable(tf.tensor1d(bias)),
    };
  });
  const inputs = options.widths[0]!;
  const optimizer = tf.train.adam(options.learningRate);
  const snapshots: MlpSnapshot[] = [];
  const snapshot = (step: number) =>
    snapshots.push({
      step,
      tensors: layers.flatMap((layer) => {
        const weight = tf.tidy(() => tf.transpose(layer.weight));
        const result = [
          { name: `${layer.name}.weight`, shape: weight.shape, data: weight.dataSync() as Float32Array },
          { name: `${layer.name}.bias`, shape: layer.bias.shape, data: layer.bias.dataSync() as Float32Array },
        ];
        weight.dispose();
        return result.map((t) => ({ ...t, data: Float32Array.from(t.data) }));
      }),
    });

  const forward = (x: tf.Tensor2D): tf.Tensor2D =>
    layers.reduce((h, layer, i) => {
      const z = tf.add(tf.matMul(h, layer.weight), layer.bias) as tf.Tensor2D;
      return i < layers.length - 1 ? tf.relu(z) : z;
    }, x);

  try {
    snapshot(0);
    const batchesPerEpoch = Math.floor(data.n / options.batchSize);
    let step = 0;
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const order = random.permutation(data.n);
      for (let b = 0; b < batchesPerEpoch; b++) {
        signal?.throwIfAborted();
        const xs = new Float32Array(options.batchSize * inputs);
        const ys = new Float32Array(options.batchSize);
        for (let i = 0; i < options.batchSize; i++) {
          const row = order[b * options.batchSize + i]!;
          xs.set(data.x.subarray(row * inputs, (row + 1) * inputs), i * inputs);
          ys[i] = data.labels[row]!;
        }
        tf.tidy(() => {
          const x = tf.tensor2d(xs, [options.batchSize, inputs]);
          const y = tf.tensor2d(ys, [options.batchSize, 1]);
          optimizer.minimize(() => tf.losses.sigmoidCrossEntropy(y, forward(x)) as tf.Scalar);
        });
        step++;
        if (options.snapshotSteps.includes(step)) snapshot(step);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    if (snapshots.at(-1)?.step !== step) snapshot(step);
    return snapshots;
  } finally {
    optimizer.dispose();
    for (const layer of layers) {
      layer.weight.dispose();
      layer.bias.dispose();
    }
  }
}

import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph, buildNewModelGraph } from '../../src/compute/architectures/index.js';
import type { StateMap } from '../../src/compute/engine.js';
import type { ModelGraph } from '../../src/compute/model-ir.js';
import { OnnxEngine } from '../../src/compute/onnx/onnx.engine.js';
import { randomInitialState } from '../../src/compute/random-init.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import { SeededRandom } from '../../src/domain/random.js';
import { maxAbsDiff, maxScaledDiff } from '../helpers/engine-fixtures.js';

/**
 * ResNet-34 and VGG-11-BN (CIFAR), which no PyTorch fixture covers, on both engines: a deterministic state drawn
 * from PyTorch's module defaults (randomInitialState) with BatchNorm made non-trivial (running_mean ~ N(0, 0.1²),
 * running_var ~ U(0.5, 1.5), weight ~ U(0.8, 1.2) (× BN_GAIN before a ReLU), bias ~ N(0, 0.1²)), four N(0, 1)
 * images 3×32×32.
 *
 * Checked: ONNX Runtime and TensorFlow.js (the default backend, wasm here) agree within 1e-5 · max(1, |z|);
 * both match a float64 forward pass written below from torchvision's module structure (by state_dict names,
 * not from the IR, so it also checks the graph builders) on the first REFERENCE_IMAGES images, within the
 * same tolerance; tfjs leaves tf.memory().numTensors as it was.
 */

const IMAGES = 4;
const REFERENCE_IMAGES = 2;
const CLASSES = 10;
/**
 * BatchNorm weights before a ReLU are scaled by this. At PyTorch's defaults a conv (weights of variance
 * 1/(3·fan_in)) then ReLU keeps 1/6 of the variance, so after VGG's eight layers the logits are almost all
 * bias and barely depend on the image (measured: 4e-4 across images), which would make the comparison vacuous.
 * A gain of 2 keeps about 2/3 per layer. BatchNorms that feed a residual sum keep gain 1: at √6 everywhere
 * ResNet-34 logits reach ±320, where 1e-5 · max(1, |z|) per logit is below float32 noise after cancellation.
 */
const BN_GAIN = 2;
const TOLERANCE = 1e-5;
const IMAGE_SIZE = 3 * 32 * 32;
/** Each class's logit must range over at least this across the images (500 · TOLERANCE). */
const MIN_INPUT_DEPENDENCE = 5e-3;

/** The smallest, over classes, of max − min of that class's logit over the images. */
function inputDependence(logits: Float32Array): number {
  let smallest = Infinity;
  for (let k = 0; k < CLASSES; k++) {
    const column = Array.from({ length: logits.length / CLASSES }, (_, n) => logits[n * CLASSES + k]!);
    smallest = Math.min(smallest, Math.max(...column) - Math.min(...column));
  }
  return smallest;
}

/** N(0, 1) by Box–Muller from linpath's generator. */
function normal(random: SeededRandom): number {
  return Math.sqrt(-2 * Math.log(1 - random.next())) * Math.cos(2 * Math.PI * random.next());
}

/** The graph (built from the state's tensor shapes, as a checkpoint's would be) and its float state. */
function randomModel(architecture: string, seed: number): { graph: ModelGraph; state: Map<string, Float32Array> } {
  const tensors = randomInitialState(
    buildNewModelGraph(architecture, { inputShape: [3, 32, 32], outputs: CLASSES }),
    seed,
  );
  const graph = buildModelGraph(architecture, tensors);
  const state = new Map<string, Float32Array>();
  for (const t of tensors) if (t.data instanceof Float32Array) state.set(t.name, t.data);
  const random = new SeededRandom(seed + 1_000_003);
  const intoRelu = new Set(graph.nodes.flatMap((n) => (n.op === 'relu' ? [n.input] : [])));
  for (const node of graph.nodes) {
    if (node.op !== 'batchnorm') continue;
    const gain = intoRelu.has(node.output) ? BN_GAIN : 1;
    const fill = (name: string, draw: () => number) => {
      const values = state.get(name)!;
      for (let i = 0; i < values.length; i++) values[i] = draw();
    };
    fill(node.runningMean, () => 0.1 * normal(random));
    fill(node.runningVar, () => random.uniform(0.5, 1.5));
    fill(node.weight, () => gain * random.uniform(0.8, 1.2));
    fill(node.bias, () => 0.1 * normal(random));
  }
  return { graph, state };
}

function randomImages(seed: number): Float32Array {
  const random = new SeededRandom(seed);
  return Float32Array.from({ length: IMAGES * IMAGE_SIZE }, () => normal(random));
}

// ---- float64 reference, one image at a time, activations [C, H, W] ----

interface Activation {
  data: Float64Array;
  c: number;
  h: number;
  w: number;
}

function get(state: StateMap, name: string): Float32Array {
  const values = state.get(name);
  if (values === undefined) throw new Error(`reference: no state tensor "${name}"`);
  return values;
}

/** torch.nn.Conv2d, square kernel k, symmetric zero padding; weight [out, in, k, k]. */
function conv2d(
  x: Activation,
  state: StateMap,
  prefix: string,
  k: number,
  stride: number,
  padding: number,
  bias: boolean,
): Activation {
  const weight = get(state, `${prefix}.weight`);
  const out = weight.length / (x.c * k * k);
  const oh = Math.floor((x.h + 2 * padding - k) / stride) + 1;
  const ow = Math.floor((x.w + 2 * padding - k) / stride) + 1;
  const y = new Float64Array(out * oh * ow);
  const b = bias ? get(state, `${prefix}.bias`) : undefined;
  const input = x.data;
  const { c: inChannels, h, w } = x;
  for (let o = 0; o < out; o++) {
    if (b !== undefined) y.fill(b[o]!, o * oh * ow, (o + 1) * oh * ow);
    for (let i = 0; i < inChannels; i++) {
      for (let kh = 0; kh < k; kh++) {
        for (let kw = 0; kw < k; kw++) {
          const wv = weight[((o * inChannels + i) * k + kh) * k + kw]!;
          // Output columns whose input column yw·stride + kw − padding lies inside [0, w).
          const first = Math.max(0, Math.ceil((padding - kw) / stride));
          const last = Math.min(ow - 1, Math.floor((w - 1 + padding - kw) / stride));
          for (let yh = 0; yh < oh; yh++) {
            const ih = yh * stride + kh - padding;
            if (ih < 0 || ih >= h) continue;
            const rowX = (i * h + ih) * w - padding + kw;
            const rowY = (o * oh + yh) * ow;
            for (let yw = first; yw <= last; yw++) y[rowY + yw] = y[rowY + yw]! + wv * input[rowX + yw * stride]!;
          }
        }
      }
    }
  }
  return { data: y, c: out, h: oh, w: ow };
}

/** torch.nn.BatchNorm2d in eval mode, eps 1e-5. */
function batchnorm(x: Activation, state: StateMap, prefix: string): Activation {
  const weight = get(state, `${prefix}.weight`);
  const bias = get(state, `${prefix}.bias`);
  const mean = get(state, `${prefix}.running_mean`);
  const variance = get(state, `${prefix}.running_var`);
  const y = new Float64Array(x.data.length);
  const size = x.h * x.w;
  for (let c = 0; c < x.c; c++) {
    const scale = weight[c]! / Math.sqrt(variance[c]! + 1e-5);
    for (let j = c * size; j < (c + 1) * size; j++) y[j] = (x.data[j]! - mean[c]!) * scale + bias[c]!;
  }
  return { ...x, data: y };
}

function relu(x: Activation): Activation {
  return { ...x, data: x.data.map((v) => Math.max(0, v)) };
}

function add(a: Activation, b: Activation): Activation {
  return { ...a, data: a.data.map((v, i) => v + b.data[i]!) };
}

/** torch.nn.MaxPool2d(2, 2). */
function maxpool2x2(x: Activation): Activation {
  const h = Math.floor(x.h / 2);
  const w = Math.floor(x.w / 2);
  const y = new Float64Array(x.c * h * w);
  for (let c = 0; c < x.c; c++) {
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const at = (r: number, s: number) => x.data[(c * x.h + 2 * i + r) * x.w + 2 * j + s]!;
        y[(c * h + i) * w + j] = Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1));
      }
    }
  }
  return { data: y, c: x.c, h, w };
}

/** torch.nn.Linear on a flat vector. */
function linear(x: Float64Array, state: StateMap, prefix: string): Float64Array {
  const weight = get(state, `${prefix}.weight`);
  const bias = get(state, `${prefix}.bias`);
  const y = new Float64Array(bias.length);
  for (let o = 0; o < bias.length; o++) {
    let sum = bias[o]!;
    for (let i = 0; i < x.length; i++) sum += weight[o * x.length + i]! * x[i]!;
    y[o] = sum;
  }
  return y;
}

/** torchvision vgg11_bn features (cfg A), 32×32 → 512×1×1, flatten, `classifier` Linear(512, classes). */
function referenceVgg11Bn(state: StateMap, image: Float32Array): Float64Array {
  let x: Activation = { data: Float64Array.from(image), c: 3, h: 32, w: 32 };
  let index = 0;
  for (const item of [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'] as const) {
    if (item === 'M') {
      x = maxpool2x2(x);
      index += 1;
    } else {
      x = relu(batchnorm(conv2d(x, state, `features.${index}`, 3, 1, 1, true), state, `features.${index + 1}`));
      index += 3;
    }
  }
  return linear(x.data, state, 'classifier');
}

/** torchvision ResNet with BasicBlocks, CIFAR stem (3×3 stride 1, no max-pool), global average pool, `fc`. */
function referenceResnetCifar(stages: readonly number[], state: StateMap, image: Float32Array): Float64Array {
  let x: Activation = { data: Float64Array.from(image), c: 3, h: 32, w: 32 };
  x = relu(batchnorm(conv2d(x, state, 'conv1', 3, 1, 1, false), state, 'bn1'));
  stages.forEach((count, stage) => {
    for (let i = 0; i < count; i++) {
      const prefix = `layer${stage + 1}.${i}`;
      const stride = stage > 0 && i === 0 ? 2 : 1;
      let y = relu(batchnorm(conv2d(x, state, `${prefix}.conv1`, 3, stride, 1, false), state, `${prefix}.bn1`));
      y = batchnorm(conv2d(y, state, `${prefix}.conv2`, 3, 1, 1, false), state, `${prefix}.bn2`);
      let shortcut = x;
      if (state.has(`${prefix}.downsample.0.weight`)) {
        shortcut = batchnorm(
          conv2d(x, state, `${prefix}.downsample.0`, 1, stride, 0, false),
          state,
          `${prefix}.downsample.1`,
        );
      }
      x = relu(add(y, shortcut));
    }
  });
  const pooled = new Float64Array(x.c);
  const size = x.h * x.w;
  for (let c = 0; c < x.c; c++) {
    let sum = 0;
    for (let j = c * size; j < (c + 1) * size; j++) sum += x.data[j]!;
    pooled[c] = sum / size;
  }
  return linear(pooled, state, 'fc');
}

const CASES = [
  { architecture: 'vgg11-bn-cifar', seed: 11, reference: referenceVgg11Bn },
  {
    architecture: 'resnet34-cifar',
    seed: 34,
    reference: (state: StateMap, image: Float32Array) => referenceResnetCifar([3, 4, 6, 3], state, image),
  },
];

describe('ONNX Runtime and TensorFlow.js on random ResNet-34 and VGG-11-BN states', () => {
  let onnx: OnnxEngine;
  let tfjs: TfjsEngine;
  const report: string[] = [];

  beforeAll(async () => {
    onnx = await OnnxEngine.create({ provider: 'cpu', threads: availableParallelism() });
    tfjs = await TfjsEngine.create();
  });
  afterAll(async () => {
    await onnx?.close();
    await tfjs?.close();
    console.info(`${onnx?.version} vs ${tfjs?.version}, ${IMAGES} images:\n${report.join('\n')}`);
  });

  describe.each(CASES)('$architecture', ({ architecture, seed, reference }) => {
    const { graph, state } = randomModel(architecture, seed);
    const images = randomImages(seed + 7);
    let onnxLogits: Float32Array;
    let tfjsLogits: Float32Array;

    async function logits(engine: OnnxEngine | TfjsEngine): Promise<Float32Array> {
      const prepared = await engine.prepare(graph);
      try {
        const bound = await prepared.bind(state);
        try {
          return await bound.logits(images, IMAGES);
        } finally {
          await bound.dispose();
        }
      } finally {
        await prepared.dispose();
      }
    }

    beforeAll(async () => {
      onnxLogits = await logits(onnx);
      tfjsLogits = await logits(tfjs);
    }, 120_000);

    it('has the state_dict of the architecture, with non-trivial logits', () => {
      expect(graph.architecture).toBe(architecture);
      expect([...state.keys()]).toEqual(graph.state.filter((s) => s.kind === 'float').map((s) => s.name));
      expect(onnxLogits).toHaveLength(IMAGES * CLASSES);
      expect(onnxLogits.every(Number.isFinite)).toBe(true);
      // Guard against a vacuous comparison: every logit must move with the image, by far more than TOLERANCE.
      expect(inputDependence(onnxLogits), "min over classes of the logit's range over images").toBeGreaterThan(
        MIN_INPUT_DEPENDENCE,
      );
    });

    it(`ONNX and tfjs logits agree within ${TOLERANCE} · max(1, |z|)`, () => {
      const scaled = maxScaledDiff(tfjsLogits, onnxLogits);
      report.push(
        `  ${architecture}: |z| ≤ ${Math.max(...onnxLogits.map(Math.abs)).toFixed(3)}, input dependence ${inputDependence(onnxLogits).toFixed(3)}; ` +
          `tfjs vs onnx max |Δz| ${maxAbsDiff(tfjsLogits, onnxLogits).toExponential(2)}, scaled ${scaled.toExponential(2)}`,
      );
      expect(scaled, 'max |Δlogit| / max(1, |logit|)').toBeLessThanOrEqual(TOLERANCE);
    });

    it(
      `both match a float64 reference on ${REFERENCE_IMAGES} images within ${TOLERANCE} · max(1, |z|)`,
      { timeout: 120_000 },
      () => {
        const started = performance.now();
        const expected = new Float32Array(REFERENCE_IMAGES * CLASSES);
        for (let n = 0; n < REFERENCE_IMAGES; n++) {
          expected.set(reference(state, images.subarray(n * IMAGE_SIZE, (n + 1) * IMAGE_SIZE)), n * CLASSES);
        }
        const seconds = (performance.now() - started) / 1000;
        const onnxScaled = maxScaledDiff(onnxLogits.subarray(0, expected.length), expected);
        const tfjsScaled = maxScaledDiff(tfjsLogits.subarray(0, expected.length), expected);
        report.push(
          `  ${architecture}: float64 reference (${seconds.toFixed(1)} s): scaled |Δz| onnx ${onnxScaled.toExponential(2)}, ` +
            `tfjs ${tfjsScaled.toExponential(2)}`,
        );
        expect(onnxScaled, 'onnx vs float64').toBeLessThanOrEqual(TOLERANCE);
        expect(tfjsScaled, 'tfjs vs float64').toBeLessThanOrEqual(TOLERANCE);
      },
    );

    it('tfjs leaves tf.memory().numTensors as it was after prepare, bind, logits and dispose', async () => {
      const before = tf.memory().numTensors;
      const prepared = await tfjs.prepare(graph);
      const bound = await prepared.bind(state);
      expect(tf.memory().numTensors).toBe(before + state.size); // every float state tensor, nothing else
      await bound.logits(images.subarray(0, 2 * IMAGE_SIZE), 2);
      expect(tf.memory().numTensors).toBe(before + state.size);
      await bound.dispose();
      await prepared.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});

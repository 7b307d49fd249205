import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { PreparedModel, StateMap } from '../../src/compute/engine.js';
import type { ModelGraph } from '../../src/compute/model-ir.js';
import { INITIALIZER_MIN_EXAMPLES, OnnxEngine, usesInitializers } from '../../src/compute/onnx/onnx.engine.js';
import { interpolateState } from '../../src/domain/interpolation.js';
import { emptyTally, tallyBatch } from '../../src/domain/losses.js';
import {
  maxScaledDiff,
  readCheckpointFixture,
  readResnet18Subset,
  type Resnet18Subset,
} from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, describeWithFixtures } from '../helpers/fixtures.js';

/**
 * OnnxEngine's two ways of handing ONNX Runtime a state (LINPATH_ONNX_STATE): graph inputs of one shared
 * session, or initializers of a session per state (which ORT optimises: BatchNorm folded into convolutions,
 * pre-packed weights). Both against PyTorch's logits on the first 100 ResNet-18 fixture images; `auto`
 * picks initializers for a convolutional graph bound for many examples, inputs otherwise.
 */

const IMAGES = 100;
const CLASSES = 10;
let init: Resnet18Subset['init'];
let final: Resnet18Subset['final'];
let reference: Resnet18Subset['reference'];
let exampleSize: number;
let referenceRows: Resnet18Subset['referenceRows'];
let x: Float32Array;
let labels: Uint8Array;
let graph: ModelGraph;

async function logitsOf(
  prepared: PreparedModel,
  state: StateMap,
  hints?: { examples?: number },
): Promise<Float32Array> {
  const bound = await prepared.bind(state, hints);
  try {
    const out = new Float32Array(IMAGES * CLASSES);
    for (let start = 0; start < IMAGES; start += 50) {
      out.set(await bound.logits(x.subarray(start * exampleSize, (start + 50) * exampleSize), 50), start * CLASSES);
    }
    return out;
  } finally {
    await bound.dispose();
    await bound.dispose(); // twice is harmless
  }
}

describeWithFixtures(RESNET18_FIXTURES, 'OnnxEngine state modes on ResNet-18', () => {
  const engines: OnnxEngine[] = [];
  const prepared: Record<'inputs' | 'initializers' | 'auto', PreparedModel> = {} as never;

  beforeAll(async () => {
    const fixture = readResnet18Subset(IMAGES);
    ({ init, final, reference, exampleSize, referenceRows } = fixture);
    ({ x, labels } = fixture.subset);
    graph = buildModelGraph('resnet18-cifar', final.tensors);
    for (const state of ['inputs', 'initializers', 'auto'] as const) {
      const engine = await OnnxEngine.create({ provider: 'cpu', threads: 2, state });
      engines.push(engine);
      prepared[state] = await engine.prepare(graph);
    }
  });
  afterAll(async () => {
    for (const p of Object.values(prepared)) await p.dispose();
    for (const engine of engines) await engine.close();
  });

  it.each([0.3, 1])("α = %s: both modes give PyTorch's logits and loss", async (alpha) => {
    const state = interpolateState(init.state, final.state, alpha, 'all');
    const expected = referenceRows('full', reference.alphas.indexOf(alpha));
    const expectedTally = tallyBatch(emptyTally(), expected, labels, CLASSES);
    for (const mode of ['inputs', 'initializers'] as const) {
      const logits = await logitsOf(prepared[mode], state);
      expect(maxScaledDiff(logits, expected), `${mode}: max |Δlogit| / max(1, |logit|)`).toBeLessThanOrEqual(1e-5);
      const tally = tallyBatch(emptyTally(), logits, labels, CLASSES);
      expect(Math.abs(tally.lossSum - expectedTally.lossSum), mode).toBeLessThanOrEqual(1e-5 * expectedTally.lossSum);
      expect(tally.correct, mode).toBe(expectedTally.correct);
    }
  });

  it(`auto: initializers when bound for ≥ ${INITIALIZER_MIN_EXAMPLES} examples, inputs otherwise`, async () => {
    const state = interpolateState(init.state, final.state, 1, 'all');
    const inputs = await logitsOf(prepared.inputs, state);
    const initializers = await logitsOf(prepared.initializers, state);
    // Folding BatchNorm into the convolutions changes the float32 arithmetic: the modes are told apart by bits.
    expect(Buffer.from(inputs.buffer).equals(Buffer.from(initializers.buffer))).toBe(false);
    const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer).equals(Buffer.from(b.buffer));
    expect(same(await logitsOf(prepared.auto, state, { examples: INITIALIZER_MIN_EXAMPLES }), initializers)).toBe(true);
    expect(same(await logitsOf(prepared.auto, state, { examples: INITIALIZER_MIN_EXAMPLES - 1 }), inputs)).toBe(true);
    expect(same(await logitsOf(prepared.auto, state), inputs)).toBe(true);
  });

  it('auto: initializers only for convolutional graphs on the CPU with enough examples; explicit modes always', () => {
    const mlp = buildModelGraph('mlp', readCheckpointFixture('mlp/final.safetensors').tensors);
    expect(usesInitializers('auto', 'cpu', graph, 10_000)).toBe(true);
    expect(usesInitializers('auto', 'cpu', mlp, 10_000)).toBe(false);
    expect(usesInitializers('auto', 'cuda', graph, 10_000)).toBe(false);
    expect(usesInitializers('auto', 'cpu', graph, undefined)).toBe(false);
    expect(usesInitializers('initializers', 'cuda', mlp, 1)).toBe(true);
    expect(usesInitializers('inputs', 'cpu', graph, 10_000)).toBe(false);
  });
});

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import type { CheckpointTensor } from '../../src/compute/architectures/index.js';
import type { PreparedModel, StateMap } from '../../src/compute/engine.js';
import { emptyTally, tallyBatch, type LossTally } from '../../src/domain/losses.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import type { DecodedTensor, TensorInfo } from '../../src/formats/safetensors.format.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import { fixturePath } from './fixtures.js';

/**
 * Engine-neutral loaders and checks for the PyTorch reference fixtures (mlp/, resnet18/: test/helpers/fixtures.ts),
 * shared by the tests of every compute engine.
 */

/** A whole safetensors fixture decoded in memory; `.gz` files are gunzipped first. */
export interface SafetensorsFixture {
  tensors: TensorInfo[];
  values: Map<string, DecodedTensor>;
}

export function readSafetensorsFixture(relative: string): SafetensorsFixture {
  const raw = readFileSync(fixturePath(relative));
  const file = relative.endsWith('.gz')
    ? new Uint8Array(gunzipSync(raw))
    : new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
  const header = parseSafetensors(file);
  const values = new Map(
    header.tensors.map((info) => [info.name, decodeTensor(info, tensorBytes(file, header, info))]),
  );
  return { tensors: header.tensors, values };
}

/** One tensor of a fixture, checked to be float with the expected shape. */
export function fixtureFloats(fixture: SafetensorsFixture, name: string, shape: readonly number[]): Float32Array {
  const info = fixture.tensors.find((t) => t.name === name);
  const values = fixture.values.get(name);
  if (info === undefined || !(values instanceof Float32Array)) throw new Error(`fixture: no float tensor "${name}"`);
  if (info.shape.join(',') !== shape.join(',')) {
    throw new Error(`fixture: "${name}" expected [${shape.join(', ')}], got [${info.shape.join(', ')}]`);
  }
  return values;
}

/** A checkpoint fixture: its header (for buildModelGraph) and its float state (for interpolation). */
export interface CheckpointFixture {
  tensors: CheckpointTensor[];
  state: Map<string, Float32Array>;
}

export function readCheckpointFixture(relative: string): CheckpointFixture {
  const fixture = readSafetensorsFixture(relative);
  const state = new Map<string, Float32Array>();
  for (const [name, values] of fixture.values) if (values instanceof Float32Array) state.set(name, values);
  return { tensors: fixture.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), state };
}

/** A test split: inputs [n, ...] as float32 and integer labels. */
export interface TestSetFixture {
  x: Float32Array;
  labels: Uint8Array;
  n: number;
  exampleShape: number[];
}

export function readTestSetFixture(relative: string, inputKey: string, labelKey: string): TestSetFixture {
  const fixture = readSafetensorsFixture(relative);
  const xInfo = fixture.tensors.find((t) => t.name === inputKey);
  const x = fixture.values.get(inputKey);
  const labels = fixture.values.get(labelKey);
  if (xInfo === undefined || !(x instanceof Float32Array) || !(labels instanceof Uint8Array)) {
    throw new Error(`fixture ${relative}: expected float "${inputKey}" and u8 "${labelKey}"`);
  }
  const [n = 0, ...exampleShape] = xInfo.shape;
  return { x, labels, n, exampleShape };
}

/** A curve of reference.json: `full`, `full_epoch5`, `blockwise.<block>`. */
export interface CurveReference {
  loss: number[];
  accuracy: number[];
  correct: number[];
}

export interface MarginReference {
  min_margin: number[];
  'count_margin_below_0.0001': number[];
}

export interface FixtureReference {
  alphas: number[];
  full: CurveReference;
  full_epoch5?: CurveReference;
  blockwise?: Record<string, CurveReference>;
  blocks?: Record<string, string[]>;
  decision_margins: Record<string, MarginReference>;
}

export function readReferenceFixture(relative: string): FixtureReference {
  return JSON.parse(readFileSync(fixturePath(relative), 'utf8')) as FixtureReference;
}

/**
 * The ResNet-18 fixture with its first `images` test images: both checkpoints, reference.json and PyTorch's
 * logits, whose rows for those images `referenceRows` cuts out (path `full` or `block.<name>`, α by index).
 */
export interface Resnet18Subset {
  init: CheckpointFixture;
  final: CheckpointFixture;
  reference: FixtureReference;
  subset: TestSetFixture;
  exampleSize: number;
  referenceRows(path: string, alphaIndex: number): Float32Array;
}

export function readResnet18Subset(images: number): Resnet18Subset {
  const classes = 10;
  const reference = readReferenceFixture('resnet18/reference.json');
  const referenceLogits = readSafetensorsFixture('resnet18/reference_logits.safetensors');
  const all = readTestSetFixture('resnet18/test_set.safetensors', 'images_f32_nchw', 'labels');
  const exampleSize = all.exampleShape.reduce((a, b) => a * b, 1);
  return {
    init: readCheckpointFixture('resnet18/init.safetensors.gz'),
    final: readCheckpointFixture('resnet18/final.safetensors.gz'),
    reference,
    subset: {
      x: all.x.subarray(0, images * exampleSize),
      labels: all.labels.subarray(0, images),
      n: images,
      exampleShape: all.exampleShape,
    },
    exampleSize,
    referenceRows(path, alphaIndex) {
      const rows = fixtureFloats(referenceLogits, path, [reference.alphas.length, all.n, classes]);
      const start = alphaIndex * all.n * classes;
      return rows.subarray(start, start + images * classes);
    },
  };
}

/** What one engine computes at one α over a whole test split, in batches. */
export interface PointEvaluation {
  logits: Float32Array;
  tally: LossTally;
  milliseconds: number;
}

/** Binds `state`, computes the logits of the whole split in batches of `batch` and tallies loss and accuracy. */
export async function evaluatePoint(
  prepared: PreparedModel,
  state: StateMap,
  data: TestSetFixture,
  outputs: number,
  batch: number,
): Promise<PointEvaluation> {
  const started = performance.now();
  const bound = await prepared.bind(state);
  const exampleSize = data.exampleShape.reduce((a, b) => a * b, 1);
  const logits = new Float32Array(data.n * outputs);
  let tally = emptyTally();
  try {
    for (let start = 0; start < data.n; start += batch) {
      const count = Math.min(batch, data.n - start);
      const z = await bound.logits(data.x.subarray(start * exampleSize, (start + count) * exampleSize), count);
      logits.set(z, start * outputs);
      tally = tallyBatch(tally, z, data.labels.subarray(start, start + count), outputs);
    }
  } finally {
    await bound.dispose();
  }
  return { logits, tally, milliseconds: performance.now() - started };
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/**
 * max |a − b| / max(1, |b|): an absolute difference for values up to 1, a relative one beyond. Large logits
 * (the ResNet fixture's reach 351, where one float32 ulp is 3e-5) cannot meet an absolute 1e-5.
 */
export function maxScaledDiff(actual: Float32Array, reference: Float32Array): number {
  if (actual.length !== reference.length)
    throw new RangeError(`maxScaledDiff: lengths ${actual.length} and ${reference.length} differ`);
  let max = 0;
  for (let i = 0; i < actual.length; i++)
    max = Math.max(max, Math.abs(actual[i]! - reference[i]!) / Math.max(1, Math.abs(reference[i]!)));
  return max;
}

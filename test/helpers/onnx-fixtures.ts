import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readOnnxArchitecture, type OnnxArchitecture } from '../../src/compute/onnx/onnx.import.js';
import { userModelGraph } from '../../src/compute/onnx/onnx.to-ir.js';
import type { ModelGraph } from '../../src/compute/model-ir.js';
import type { Examples } from '../../src/domain/examples.js';
import { decodeTensor } from '../../src/formats/safetensors.decode.js';
import { parseSafetensors, tensorBytes } from '../../src/formats/safetensors.header.js';
import type { CheckpointTensor } from '../../src/compute/architectures/index.js';

/** The committed fixtures of user architectures (test/fixtures/onnx, made by scripts/make-onnx-fixtures.py). */
export const onnxFixturePath = (relative: string): string =>
  fileURLToPath(new URL(`../fixtures/onnx/${relative}`, import.meta.url));

export const readOnnxFixtureBytes = (relative: string): Uint8Array =>
  new Uint8Array(readFileSync(onnxFixturePath(relative)));

export interface PointReference {
  alpha: number;
  loss: number;
  lossSum: number;
  correct: number;
  n: number;
}

export interface OnnxModelReference {
  model: string;
  dataset: string;
  inputShape: number[];
  classes: number;
  examples: number;
  full: PointReference[];
  block: string;
  blockwise: PointReference[];
}

export interface OnnxModelFixture {
  arch: OnnxArchitecture;
  graph: ModelGraph;
  init: { tensors: CheckpointTensor[]; state: Map<string, Float32Array> };
  final: { tensors: CheckpointTensor[]; state: Map<string, Float32Array> };
  examples: Examples;
  reference: OnnxModelReference;
}

function readSafetensors(relative: string) {
  const bytes = readOnnxFixtureBytes(relative);
  const header = parseSafetensors(bytes);
  return {
    header,
    values: new Map(header.tensors.map((t) => [t.name, decodeTensor(t, tensorBytes(bytes, header, t))])),
  };
}

function readCheckpoint(relative: string) {
  const { header, values } = readSafetensors(relative);
  const state = new Map<string, Float32Array>();
  for (const [name, v] of values) if (v instanceof Float32Array) state.set(name, v);
  return { tensors: header.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), state };
}

/** One model folder: the export read as an architecture, both checkpoints, its examples and PyTorch's curves. */
export function readOnnxModelFixture(folder: string, onnxFile = 'model.onnx'): OnnxModelFixture {
  const bytes = readOnnxFixtureBytes(`${folder}/${onnxFile}`);
  const arch = readOnnxArchitecture(bytes, onnxFile);
  const reference = JSON.parse(readFileSync(onnxFixturePath(`${folder}/reference.json`), 'utf8')) as OnnxModelReference;
  const data = readSafetensors(`${folder}/${reference.dataset}`);
  const x = data.values.get('x');
  const labels = data.values.get('labels');
  if (!(x instanceof Float32Array) || !(labels instanceof Uint8Array)) throw new Error(`${folder}: bad dataset`);
  return {
    arch,
    graph: userModelGraph(folder, arch),
    init: readCheckpoint(`${folder}/init.safetensors`),
    final: readCheckpoint(`${folder}/final.safetensors`),
    examples: { x, labels: Int32Array.from(labels), n: labels.length },
    reference,
  };
}

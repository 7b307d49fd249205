#!/usr/bin/env node
// ONNX Runtime session options on the ResNet-18-CIFAR α-point: what the OnnxEngine's settings are worth.
// It lowers the graph with linpath's own lowering (dist/compute/onnx/onnx.lowering.js) and runs it through
// onnxruntime-node directly, so options the engine does not expose (graph optimization level, spinning, …)
// can be compared; one α-point is timed exactly as bench/engines.bench.mjs does (interpolateState, feeds,
// logits in batches, tallyBatch).
//
//   npm run build && node bench/onnx-options.bench.mjs [--images 1000] [--runs 3] [--only label,label]
//
// Variants whose label starts with `const` bake θ(α) into the model as initializers (a new session per α,
// its creation timed with the point): the arithmetic ORT can then fold and pre-pack (BatchNorm into Conv,
// NCHWc weight layouts) shows what the state-as-inputs design costs.

import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { HOW_TO_GET, fixtureRoot, fixtureRoots, safetensorsReader } from './fixtures.mjs';

const DIST = new URL('../dist/', import.meta.url);
const { values: opts } = parseArgs({
  options: {
    images: { type: 'string', default: '1000' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    fixtures: { type: 'string' },
  },
});
const RESNET = ['resnet18/init.safetensors.gz', 'resnet18/final.safetensors.gz', 'resnet18/test_set.safetensors'];
const FIXTURES = fixtureRoot(RESNET, opts.fixtures);
if (FIXTURES === undefined) {
  console.log(
    `bench: the ResNet-18 fixtures are not in ${fixtureRoots(opts.fixtures).join(', ')}: ${HOW_TO_GET}; nothing to measure.`,
  );
  process.exit(0);
}
const CORES = availableParallelism();
const IMAGES = Number(opts.images);
const RUNS = Number(opts.runs);
const ALPHA = 0.5;

const { buildModelGraph } = await import(new URL('compute/architectures/index.js', DIST).href);
const { lowerToOnnx } = await import(new URL('compute/onnx/onnx.lowering.js', DIST).href);
const { interpolateState } = await import(new URL('domain/interpolation.js', DIST).href);
const { emptyTally, tallyBatch } = await import(new URL('domain/losses.js', DIST).href);
const readSafetensorsFile = await safetensorsReader(DIST);

const readSafetensors = (relative) => readSafetensorsFile(`${FIXTURES}/${relative}`);
const floats = (values) => new Map([...values].filter(([, v]) => v instanceof Float32Array));
const init = readSafetensors('resnet18/init.safetensors.gz');
const final = readSafetensors('resnet18/final.safetensors.gz');
const from = floats(init.values);
const to = floats(final.values);
const graph = buildModelGraph(
  'resnet18-cifar',
  final.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
);
const test = readSafetensors('resnet18/test_set.safetensors');
const x500 = test.values.get('images_f32_nchw');
const y500 = test.values.get('labels');
const x = new Float32Array(IMAGES * 3072);
const labels = new Uint8Array(IMAGES);
for (let i = 0; i < IMAGES; i += 500) {
  const k = Math.min(500, IMAGES - i);
  x.set(x500.subarray(0, k * 3072), i * 3072);
  labels.set(y500.subarray(0, k), i);
}
const specs = new Map(graph.state.map((s) => [s.name, s.shape]));
const { model, stateInputs } = lowerToOnnx(graph);

/** The lowered model with the state as initializers instead of inputs. */
function constantModel(state) {
  const { onnx } = onnxProto;
  const m = onnx.ModelProto.decode(model);
  const names = new Set(stateInputs);
  m.graph.input = m.graph.input.filter((i) => !names.has(i.name));
  m.graph.initializer = stateInputs.map((name) => {
    const v = state.get(name);
    return onnx.TensorProto.create({
      name,
      dims: specs.get(name),
      dataType: onnx.TensorProto.DataType.FLOAT,
      rawData: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    });
  });
  return onnx.ModelProto.encode(m).finish();
}

const base = {
  executionProviders: ['cpu'],
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
  logSeverityLevel: 3,
};
const VARIANTS = [
  { label: 'state as inputs: threads=cores, level all, batch 250', options: { intraOpNumThreads: CORES }, batch: 250 },
  { label: 'threads unset (ORT default)', options: {}, batch: 250 },
  { label: 'threads 1', options: { intraOpNumThreads: 1 }, batch: 250 },
  { label: 'level disabled', options: { intraOpNumThreads: CORES, graphOptimizationLevel: 'disabled' }, batch: 250 },
  { label: 'level basic', options: { intraOpNumThreads: CORES, graphOptimizationLevel: 'basic' }, batch: 250 },
  { label: 'level extended', options: { intraOpNumThreads: CORES, graphOptimizationLevel: 'extended' }, batch: 250 },
  {
    label: 'no spinning',
    options: { intraOpNumThreads: CORES, extra: { session: { intra_op: { allow_spinning: '0' } } } },
    batch: 250,
  },
  {
    label: 'no mem arena/pattern',
    options: { intraOpNumThreads: CORES, enableCpuMemArena: false, enableMemPattern: false },
    batch: 250,
  },
  { label: 'batch 50', options: { intraOpNumThreads: CORES }, batch: 50 },
  { label: 'batch 1000', options: { intraOpNumThreads: CORES }, batch: 1000 },
  {
    label: 'const weights, level all (session per α)',
    options: { intraOpNumThreads: CORES },
    batch: 250,
    constant: true,
  },
  {
    label: 'const weights, level basic (session per α)',
    options: { intraOpNumThreads: CORES, graphOptimizationLevel: 'basic' },
    batch: 250,
    constant: true,
  },
];

async function point(variant, session) {
  const started = performance.now();
  const state = interpolateState(from, to, ALPHA, 'all');
  let s = session;
  const feeds = {};
  if (variant.constant) {
    s = await ort.InferenceSession.create(constantModel(state), { ...base, ...variant.options });
  } else {
    for (const name of stateInputs) feeds[name] = new ort.Tensor('float32', state.get(name), specs.get(name));
  }
  let tally = emptyTally();
  for (let start = 0; start < IMAGES; start += variant.batch) {
    const count = Math.min(variant.batch, IMAGES - start);
    const out = await s.run(
      { ...feeds, x: new ort.Tensor('float32', x.subarray(start * 3072, (start + count) * 3072), [count, 3, 32, 32]) },
      [graph.output],
    );
    const z = out[graph.output].data.slice();
    tally = tallyBatch(tally, z, labels.subarray(start, start + count), graph.outputs);
  }
  const ms = performance.now() - started;
  if (variant.constant) await s.release();
  return { ms, loss: tally.lossSum / tally.n };
}

const only = opts.only?.split(',');
console.log(
  `onnxruntime-node ${ort.env.versions?.node ?? ''}, ${CORES} cores, ${IMAGES} images, median of ${RUNS} after 1 warm-up`,
);
console.log('| variant | median ms | images/s | runs | loss |');
console.log('|---|---:|---:|---|---:|');
for (const variant of VARIANTS) {
  if (only !== undefined && !only.some((o) => variant.label.includes(o))) continue;
  const session = variant.constant
    ? undefined
    : await ort.InferenceSession.create(model, { ...base, ...variant.options });
  await point(variant, session);
  const times = [];
  let loss;
  for (let i = 0; i < RUNS; i++) {
    const r = await point(variant, session);
    times.push(r.ms);
    loss = r.loss;
  }
  await session?.release();
  const sorted = [...times].sort((a, b) => a - b);
  const ms = sorted[sorted.length >> 1];
  console.log(
    `| ${variant.label} | ${ms.toFixed(0)} | ${((IMAGES * 1000) / ms).toFixed(1)} | ${times.map((t) => t.toFixed(0)).join(', ')} | ${loss.toFixed(7)} |`,
  );
}

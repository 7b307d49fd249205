#!/usr/bin/env node
// bench/gpu/run.sh's measurement: ResNet-18-CIFAR (the fixture's 500 test images) on ONNX Runtime's CPU and
// CUDA execution providers, through linpath's own engine (dist/compute/onnx/onnx.engine.js). For each α it
// compares the two providers' logits (max |Δ| / max(1, |z_cpu|)) and mean losses, and both losses with the
// fixture's PyTorch reference (reference.json `full`); then it times the α = 0.5 point (median of --runs)
// on each provider and prints images/s. Exit 1 when the providers disagree beyond the tolerances below,
// 2 when the CUDA provider does not start (its message says why).
//
//   node bench/gpu/parity.mjs [--alphas 0,0.5,1] [--batch 250] [--runs 5] [--cpu-only] [--json FILE]

import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { HOW_TO_GET, fixtureRoot, fixtureRoots, safetensorsReader } from '../fixtures.mjs';

const { values: opts } = parseArgs({
  options: {
    alphas: { type: 'string', default: '0,0.5,1' },
    batch: { type: 'string', default: '250' },
    runs: { type: 'string', default: '5' },
    'cpu-only': { type: 'boolean', default: false },
    fixtures: { type: 'string' },
    json: { type: 'string' },
  },
});
/** float32 on both sides (TF32 off): logits within 1e-4 scaled, mean loss within 1e-5 relative. */
const LOGIT_SCALED = 1e-4;
const LOSS_RELATIVE = 1e-5;
const DIST = new URL('../../dist/', import.meta.url);
const FIXTURES = fixtureRoot(
  [
    'resnet18/init.safetensors.gz',
    'resnet18/final.safetensors.gz',
    'resnet18/test_set.safetensors',
    'resnet18/reference.json',
  ],
  opts.fixtures,
);
if (FIXTURES === undefined) {
  console.error(`parity: the ResNet-18 fixture is not in ${fixtureRoots(opts.fixtures).join(', ')}: ${HOW_TO_GET}`);
  process.exit(1);
}
const { buildModelGraph } = await import(new URL('compute/architectures/index.js', DIST).href);
const { OnnxEngine } = await import(new URL('compute/onnx/onnx.engine.js', DIST).href);
const { interpolateState } = await import(new URL('domain/interpolation.js', DIST).href);
const { emptyTally, tallyBatch } = await import(new URL('domain/losses.js', DIST).href);
const readSafetensorsFile = await safetensorsReader(DIST);

const readSafetensors = (relative) => readSafetensorsFile(`${FIXTURES}/${relative}`);
const floatState = ({ values }) => new Map([...values].filter(([, v]) => v instanceof Float32Array));
const init = readSafetensors('resnet18/init.safetensors.gz');
const final = readSafetensors('resnet18/final.safetensors.gz');
const test = readSafetensors('resnet18/test_set.safetensors');
const reference = JSON.parse(readFileSync(`${FIXTURES}/resnet18/reference.json`, 'utf8'));
const graph = buildModelGraph(
  'resnet18-cifar',
  final.tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })),
);
const x = test.values.get('images_f32_nchw');
const labels = test.values.get('labels');
const n = labels.length;
const perExample = x.length / n;
const BATCH = Number(opts.batch);
const alphas = opts.alphas.split(',').map(Number);

async function point(prepared, alpha) {
  const started = performance.now();
  const bound = await prepared.bind(interpolateState(floatState(init), floatState(final), alpha, 'all'), {
    examples: n,
  });
  const logits = new Float32Array(n * graph.outputs);
  let tally = emptyTally();
  try {
    for (let start = 0; start < n; start += BATCH) {
      const count = Math.min(BATCH, n - start);
      const z = await bound.logits(x.subarray(start * perExample, (start + count) * perExample), count);
      logits.set(z, start * graph.outputs);
      tally = tallyBatch(tally, z, labels.subarray(start, start + count), graph.outputs);
    }
  } finally {
    await bound.dispose();
  }
  return { logits, loss: tally.lossSum / tally.n, correct: tally.correct, ms: performance.now() - started };
}

async function measure(provider) {
  let engine;
  try {
    engine = await OnnxEngine.create({ provider, ...(provider === 'cpu' ? { threads: availableParallelism() } : {}) });
  } catch (error) {
    console.error(`parity: the ${provider} provider did not start: ${error.message}`);
    process.exit(2);
  }
  const prepared = await engine.prepare(graph);
  const points = new Map();
  for (const alpha of alphas) points.set(alpha, await point(prepared, alpha));
  await point(prepared, 0.5); // warm-up
  const times = [];
  for (let i = 0; i < Number(opts.runs); i++) times.push((await point(prepared, 0.5)).ms);
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  await prepared.dispose();
  await engine.close();
  return { version: engine.version, points, median, imagesPerSecond: (n * 1000) / median };
}

const results = [await measure('cpu')];
if (!opts['cpu-only']) results.push(await measure('cuda'));
let ok = true;
const rows = [];
for (const alpha of alphas) {
  const cpu = results[0].points.get(alpha);
  const index = reference.alphas.findIndex((a) => Math.abs(a - alpha) < 1e-12);
  const expected = index === -1 ? null : reference.full.loss[index];
  const row = { alpha, cpuLoss: cpu.loss, pytorchLoss: expected };
  if (results[1] !== undefined) {
    const gpu = results[1].points.get(alpha);
    let scaled = 0;
    for (let i = 0; i < cpu.logits.length; i++)
      scaled = Math.max(scaled, Math.abs(gpu.logits[i] - cpu.logits[i]) / Math.max(1, Math.abs(cpu.logits[i])));
    const lossRelative = Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss);
    Object.assign(row, { gpuLoss: gpu.loss, logitsScaled: scaled, lossRelative, correct: [cpu.correct, gpu.correct] });
    if (!(scaled <= LOGIT_SCALED && lossRelative <= LOSS_RELATIVE)) ok = false;
  }
  rows.push(row);
}
console.log(`\nResNet-18-CIFAR, ${n} images, batch ${BATCH}`);
for (const r of results)
  console.log(`  ${r.version}: ${r.median.toFixed(1)} ms per α-point, ${r.imagesPerSecond.toFixed(0)} images/s`);
console.log(
  '\n| α | loss cpu | loss cuda | PyTorch (reference.json) | logits max scaled Δ | loss rel. Δ | correct cpu / cuda |',
);
console.log('|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(
    `| ${r.alpha} | ${r.cpuLoss.toFixed(7)} | ${r.gpuLoss?.toFixed(7) ?? '—'} | ${r.pytorchLoss?.toFixed(7) ?? '—'} | ${r.logitsScaled?.toExponential(1) ?? '—'} | ${r.lossRelative?.toExponential(1) ?? '—'} | ${r.correct?.join(' / ') ?? '—'} |`,
  );
}
if (opts.json !== undefined)
  writeFileSync(
    opts.json,
    JSON.stringify(
      {
        results: results.map((r) => ({ version: r.version, median: r.median, imagesPerSecond: r.imagesPerSecond })),
        rows,
      },
      null,
      2,
    ),
  );
if (!ok) {
  console.error(
    `parity: CPU and CUDA disagree beyond ${LOGIT_SCALED} scaled (logits) or ${LOSS_RELATIVE} relative (loss)`,
  );
  process.exit(1);
}

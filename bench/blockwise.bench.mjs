#!/usr/bin/env node
// Part of `npm run bench`: the block-wise sweep of ResNet-18-CIFAR (one path per block, `stem` … `fc`, each
// moving only that block) evaluated twice in the same run, by compute/evaluator.ts's evaluatePaths:
//   naive  — every op of the network at every α of every path (LINPATH_PREFIX_CACHE_BYTES=0);
//   reuse  — prefix reuse: one pass at θ_to per chunk of examples yields the activations at every path's cut,
//            then only the ops after each path's cut run per α (docs/engines.md#prefix-reuse).
// It prints both times (wall and this process's CPU time), their ratio (target ≤ 0.6×) and checks that both
// give the same points (mean loss within 1e-6 relative, the same `correct`) and, with the defaults, the
// fixture's PyTorch block-wise curves (reference.json `blockwise`, 1e-5 relative); it exits 1 when one fails.
//
//   node bench/blockwise.bench.mjs [--engines onnx,tfjs] [--images 500] [--alphas 11] [--batch 250]
//                                  [--threads N] [--cache-mb 512] [--json FILE]
//
// It runs the compiled modules (dist/, made by `npm run build`).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { HOW_TO_GET, fixtureRoot, fixtureRoots, safetensorsReader } from './fixtures.mjs';
import { cpuModel } from './machine.mjs';

const RESNET18_FILES = [
  'resnet18/init.safetensors.gz',
  'resnet18/final.safetensors.gz',
  'resnet18/test_set.safetensors',
  'resnet18/reference.json',
];

const DIST = new URL('../dist/', import.meta.url);
const { values: opts } = parseArgs({
  options: {
    engines: { type: 'string', default: 'onnx' },
    images: { type: 'string', default: '500' },
    alphas: { type: 'string', default: '11' },
    batch: { type: 'string', default: '250' },
    threads: { type: 'string' },
    'cache-mb': { type: 'string', default: '512' },
    fixtures: { type: 'string' },
    json: { type: 'string' },
  },
});
const FIXTURES = fixtureRoot(RESNET18_FILES, opts.fixtures);
const IMAGES = Number(opts.images);
const ALPHA_COUNT = Number(opts.alphas);
const BATCH = Number(opts.batch);
const THREADS = opts.threads === undefined ? availableParallelism() : Number(opts.threads);
const CACHE_BYTES = Number(opts['cache-mb']) * 2 ** 20;
const SAME_RELATIVE = 1e-6;
const PYTORCH_RELATIVE = 1e-5;

function fail(message) {
  console.error(`blockwise bench: ${message}`);
  process.exit(1);
}
if (FIXTURES === undefined) {
  console.log(
    `blockwise bench: the ResNet-18 fixture is not in ${fixtureRoots(opts.fixtures).join(', ')}: ${HOW_TO_GET}; nothing to measure.`,
  );
  process.exit(0);
}
if (!existsSync(new URL('compute/evaluator.js', DIST))) fail('dist/ is missing: run `npm run build` first');
if (!(Number.isInteger(IMAGES) && IMAGES >= 1 && IMAGES <= 500)) fail(`--images: expected 1–500, got ${opts.images}`);
if (!(Number.isInteger(ALPHA_COUNT) && ALPHA_COUNT >= 2)) fail(`--alphas: expected ≥ 2, got ${opts.alphas}`);
if (!(Number.isInteger(BATCH) && BATCH >= 1)) fail(`--batch: expected a positive integer, got ${opts.batch}`);

const { buildModelGraph } = await import(new URL('compute/architectures/index.js', DIST).href);
const { evaluatePaths } = await import(new URL('compute/evaluator.js', DIST).href);
const { selectBlocks } = await import(new URL('domain/blocks.js', DIST).href);
const readSafetensorsFile = await safetensorsReader(DIST);

const readSafetensors = (relative) => readSafetensorsFile(`${FIXTURES}/${relative}`);
function readState(relative) {
  const { tensors, values } = readSafetensors(relative);
  const state = new Map();
  for (const [name, v] of values) if (v instanceof Float32Array) state.set(name, v);
  return { tensors: tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), state };
}

const init = readState('resnet18/init.safetensors.gz');
const final = readState('resnet18/final.safetensors.gz');
const reference = JSON.parse(readFileSync(`${FIXTURES}/resnet18/reference.json`, 'utf8'));
const testSet = readSafetensors('resnet18/test_set.safetensors');
const graph = buildModelGraph('resnet18-cifar', final.tensors);
const perExample = graph.inputShape.reduce((a, b) => a * b, 1);
const examples = {
  x: testSet.values.get('images_f32_nchw').subarray(0, IMAGES * perExample),
  labels: Int32Array.from(testSet.values.get('labels').subarray(0, IMAGES)),
  n: IMAGES,
};
const alphas = Array.from({ length: ALPHA_COUNT }, (_, i) => Math.fround(i / (ALPHA_COUNT - 1)));
// The reference's alphas are 0, 0.1, …, 1 as float64: compare against PyTorch only on its own grid and images.
const onReferenceGrid = IMAGES === 500 && ALPHA_COUNT === 11;
const gridAlphas = onReferenceGrid ? reference.alphas : alphas;
const floatTensors = graph.state.filter((s) => s.kind === 'float').map((s) => s.name);
const context = { architecture: graph.architecture, topLevel: graph.blocks, aliases: graph.aliases };

async function createEngine(name) {
  if (name === 'onnx') {
    const { OnnxEngine } = await import(new URL('compute/onnx/onnx.engine.js', DIST).href);
    return OnnxEngine.create({ provider: 'cpu', threads: THREADS });
  }
  const { TfjsEngine } = await import(new URL('compute/tfjs/tfjs.engine.js', DIST).href);
  return TfjsEngine.create();
}

async function sweep(engine, prefixCacheBytes) {
  const points = new Map(graph.blocks.map((b) => [b, []]));
  let plans = [];
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const load = loadavg()[0];
  await evaluatePaths({
    engine,
    graph,
    from: init.state,
    to: final.state,
    examples,
    batchSize: BATCH,
    prefixCacheBytes,
    paths: graph.blocks.map((block) => ({
      moving: selectBlocks(floatTensors, [block], context).moving,
      alphas: gridAlphas,
      onPoint: async ({ alpha, tally }) => void (points.get(block)[gridAlphas.indexOf(alpha)] = tally),
    })),
    onPlan: (p) => (plans = p),
  });
  const used = process.cpuUsage(cpu);
  return {
    points,
    plans,
    wallMs: performance.now() - wall,
    cpuMs: (used.user + used.system) / 1000,
    load: (load + loadavg()[0]) / 2,
  };
}

const rows = [];
let failed = false;
for (const name of opts.engines.split(',').filter((e) => e !== '')) {
  const engine = await createEngine(name);
  // Warm-up: one α of the fc path, so that neither measurement pays for loading the runtime.
  const warm = Math.min(BATCH, IMAGES);
  await evaluatePaths({
    engine,
    graph,
    from: init.state,
    to: final.state,
    examples: { x: examples.x.subarray(0, perExample * warm), labels: examples.labels.subarray(0, warm), n: warm },
    batchSize: BATCH,
    paths: [{ moving: selectBlocks(floatTensors, ['fc'], context).moving, alphas: [0.5], onPoint: async () => {} }],
  });
  const naive = await sweep(engine, 0);
  const reuse = await sweep(engine, CACHE_BYTES);
  await engine.close();
  let worst = 0;
  let worstPytorch = 0;
  let sameCorrect = true;
  for (const block of graph.blocks) {
    naive.points.get(block).forEach((t, i) => {
      const r = reuse.points.get(block)[i];
      worst = Math.max(worst, Math.abs(r.lossSum - t.lossSum) / Math.abs(t.lossSum));
      if (r.correct !== t.correct) sameCorrect = false;
      if (onReferenceGrid) {
        const expected = reference.blockwise[block].loss[i];
        worstPytorch = Math.max(worstPytorch, Math.abs(r.lossSum / r.n - expected) / Math.abs(expected));
      }
    });
  }
  const ok = worst <= SAME_RELATIVE && sameCorrect && (!onReferenceGrid || worstPytorch <= PYTORCH_RELATIVE);
  if (!ok) failed = true;
  rows.push({
    engine: engine.version,
    naiveWallMs: naive.wallMs,
    reuseWallMs: reuse.wallMs,
    wallRatio: reuse.wallMs / naive.wallMs,
    naiveCpuMs: naive.cpuMs,
    reuseCpuMs: reuse.cpuMs,
    cpuRatio: reuse.cpuMs / naive.cpuMs,
    loadAverage: Math.max(naive.load, reuse.load),
    worstRelativeLossDifference: worst,
    sameCorrect,
    worstRelativeToPytorch: onReferenceGrid ? worstPytorch : null,
    cuts: reuse.plans.map((p, i) => `${graph.blocks[i]}: ${p.cut === undefined ? 'naive' : p.cut.value}`),
    ok,
  });
}

const fmt = (ms) => (ms / 1000).toFixed(1);
console.log(
  `\nBlock-wise sweep of ResNet-18-CIFAR: ${graph.blocks.length} paths (${graph.blocks.join(', ')}) × ${ALPHA_COUNT} α × ${IMAGES} images, batch ${BATCH}; ${cpuModel()}, ${THREADS} threads\n`,
);
console.log(
  '| engine | naive s (wall / CPU) | prefix reuse s (wall / CPU) | ratio wall | ratio CPU | load avg | same points | vs PyTorch |',
);
console.log('|---|---:|---:|---:|---:|---:|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.engine} | ${fmt(r.naiveWallMs)} / ${fmt(r.naiveCpuMs)} | ${fmt(r.reuseWallMs)} / ${fmt(r.reuseCpuMs)} | **${r.wallRatio.toFixed(2)}×** | ${r.cpuRatio.toFixed(2)}× | ${r.loadAverage.toFixed(1)} | ${r.sameCorrect ? 'yes' : 'NO'}, loss ≤ ${r.worstRelativeLossDifference.toExponential(1)} rel. | ${r.worstRelativeToPytorch === null ? '— (not the reference grid)' : `≤ ${r.worstRelativeToPytorch.toExponential(1)} rel.`} |`,
  );
}
console.log(`\ncuts: ${rows[0]?.cuts.join('; ')}`);
if (opts.json !== undefined)
  writeFileSync(opts.json, JSON.stringify({ images: IMAGES, alphas: ALPHA_COUNT, batch: BATCH, rows }, null, 2));
if (failed) fail('prefix reuse and the naive evaluation disagree (or disagree with PyTorch); see the table');

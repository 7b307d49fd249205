#!/usr/bin/env node
// Part of `npm run bench`: what a point of a loss plane costs against a point of a straight path on the same
// model, measured in the same run, points interleaved (path, plane, path, plane, …) so that other load on the
// machine falls on both alike. A point is what an evaluation does for it:
//   path  — θ(α) = combination of (θ_A, θ_B) with (1 − α, α) (interpolateState), bound, logits, tally;
//   plane — θ(x, y) = combination of three states (combineStates): on the MLP the plane through init, final and
//           epoch5, (1 − x − y, x, y); on ResNet-18 Li et al.'s plane around final, (x, y, 1) of
//           (d_x, d_y, final) with linpath's seeded, filter-normalised directions (test/helpers/landscape-fixtures.ts
//           seeds); then bound, logits, tally.
// The path's α are i/(points + 1), i = 1 … points; the plane's points lie on the reference grids. It prints the
// median time per point (the combination apart), the ratio plane / path, and checks the plane points against
// PyTorch (test/fixtures/landscape/{mlp,resnet18}.json; ResNet-18 on its first 50 images) within 1e-5 relative
// where they are on the reference grid (the default --points 5, and --images 50 for ResNet-18). It exits 1 when
// a check fails.
//
//   node bench/landscape.bench.mjs [--workload mlp|resnet|all] [--engines onnx,tfjs] [--points 5]
//                                  [--images 50] [--rounds R] [--threads N] [--json FILE]
// Each round visits every point once; the medians are over all rounds (defaults: 5 rounds on the MLP, whose
// points take milliseconds, 1 on ResNet-18).
//
// It runs the compiled modules (dist/, made by `npm run build`).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HOW_TO_GET, fixtureRoot, fixtureRoots, safetensorsReader } from './fixtures.mjs';
import { cpuModel } from './machine.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = new URL('../dist/', import.meta.url);
const { values: opts } = parseArgs({
  options: {
    workload: { type: 'string', default: 'all' },
    engines: { type: 'string', default: 'onnx' },
    points: { type: 'string', default: '5' },
    images: { type: 'string', default: '50' },
    rounds: { type: 'string' },
    threads: { type: 'string' },
    fixtures: { type: 'string' },
    json: { type: 'string' },
  },
});
const POINTS = Number(opts.points);
const IMAGES = Number(opts.images);
const THREADS = opts.threads === undefined ? availableParallelism() : Number(opts.threads);
const PYTORCH_RELATIVE = 1e-5;

function fail(message) {
  console.error(`landscape bench: ${message}`);
  process.exit(1);
}
if (!existsSync(new URL('domain/combination.js', DIST))) fail('dist/ is missing: run `npm run build` first');
if (!(Number.isInteger(POINTS) && POINTS >= 2)) fail(`--points: expected an integer ≥ 2, got ${opts.points}`);
if (!(Number.isInteger(IMAGES) && IMAGES >= 1 && IMAGES <= 500)) fail(`--images: expected 1–500, got ${opts.images}`);

const { buildModelGraph } = await import(new URL('compute/architectures/index.js', DIST).href);
const { combineStates, planeCoefficients, directionPlaneCoefficients } = await import(
  new URL('domain/combination.js', DIST).href
);
const { interpolateState } = await import(new URL('domain/interpolation.js', DIST).href);
const { gaussianDirection, filterNormalize, tensorRole } = await import(new URL('domain/directions.js', DIST).href);
const { emptyTally, tallyBatch } = await import(new URL('domain/losses.js', DIST).href);
const readSafetensorsFile = await safetensorsReader(DIST);

function readState(root, relative) {
  const { tensors, values } = readSafetensorsFile(`${root}/${relative}`);
  const state = new Map();
  for (const [name, v] of values) if (v instanceof Float32Array) state.set(name, v);
  return { tensors: tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), state };
}

async function createEngine(name) {
  if (name === 'onnx') {
    const { OnnxEngine } = await import(new URL('compute/onnx/onnx.engine.js', DIST).href);
    return OnnxEngine.create({ provider: 'cpu', threads: THREADS });
  }
  const { TfjsEngine } = await import(new URL('compute/tfjs/tfjs.engine.js', DIST).href);
  return TfjsEngine.create();
}

/** Builds the state (timed apart), binds it, computes the logits in batches and tallies them. */
async function point(prepared, build, examples, outputs, batch) {
  const started = performance.now();
  const state = build();
  const built = performance.now();
  const bound = await prepared.bind(state);
  let tally = emptyTally();
  try {
    for (let start = 0; start < examples.n; start += batch) {
      const count = Math.min(batch, examples.n - start);
      const z = await bound.logits(examples.x.subarray(start * examples.size, (start + count) * examples.size), count);
      tally = tallyBatch(tally, z, examples.labels.subarray(start, start + count), outputs);
    }
  } finally {
    await bound.dispose();
  }
  return { tally, combineMs: built - started, totalMs: performance.now() - started };
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const grid = (count, low, high) => Array.from({ length: count }, (_, i) => low + ((high - low) * i) / (count - 1));

function mlpWorkload(root) {
  const [init, final, epoch5] = ['init', 'final', 'epoch5'].map((n) => readState(root, `mlp/${n}.safetensors`));
  const test = readSafetensorsFile(`${root}/mlp/test_set.safetensors`);
  const reference = JSON.parse(readFileSync(`${ROOT}/test/fixtures/landscape/mlp.json`, 'utf8'));
  const planeAt = grid(POINTS, -0.5, 1.5).map((x) => [x, 0.5]);
  return {
    label: 'MLP 2-50-50-1, 5,000 points',
    graph: buildModelGraph('mlp', init.tensors),
    examples: { x: test.values.get('x'), labels: test.values.get('y'), n: 5000, size: 2 },
    outputs: 1,
    batch: 5000,
    rounds: 5,
    path: pathAlphas().map((alpha) => () => interpolateState(init.state, final.state, alpha, 'all')),
    plane: planeAt.map(
      ([x, y]) =>
        () =>
          combineStates([init.state, final.state, epoch5.state], planeCoefficients(x, y)),
    ),
    planeLabel: 'plane through init, final, epoch5 at (x, ½)',
    check: (planePoints) => againstPytorch(planePoints, planeAt, reference.planes.three.points, 5000),
  };
}

/** The path's α: inside (0, 1), so that no path state is an end point (which a plane point may be). */
const pathAlphas = () => Array.from({ length: POINTS }, (_, i) => (i + 1) / (POINTS + 1));

/** The plane points' mean losses against the PyTorch reference's at the same coordinates. */
function againstPytorch(planePoints, planeAt, referencePoints, n) {
  let worst = 0;
  let compared = 0;
  planePoints.forEach((p, i) => {
    const [x, y] = planeAt[i];
    const expected = referencePoints.find((q) => q.x === x && q.y === y);
    if (expected === undefined || p.tally.n !== n) return;
    compared++;
    worst = Math.max(worst, Math.abs(p.tally.lossSum / p.tally.n - expected.loss) / expected.loss);
  });
  if (compared === 0) return { ok: true, text: '— (no plane point on the reference grid)' };
  const ok = worst <= PYTORCH_RELATIVE;
  return {
    ok,
    text: `${compared} plane points vs PyTorch: loss ≤ ${worst.toExponential(1)} rel.${ok ? '' : ' FAILED'}`,
  };
}

function resnetWorkload(root) {
  const init = readState(root, 'resnet18/init.safetensors.gz');
  const final = readState(root, 'resnet18/final.safetensors.gz');
  const test = readSafetensorsFile(`${root}/resnet18/test_set.safetensors`);
  const graph = buildModelGraph('resnet18-cifar', final.tensors);
  const size = graph.inputShape.reduce((a, b) => a * b, 1);
  const specs = final.tensors.map(({ name, dtype, shape }) => ({
    name,
    shape,
    role: tensorRole(name, dtype === 'F32' ? 'float' : 'int'),
  }));
  // The seeds and rules of test/helpers/landscape-fixtures.ts (LANDSCAPE_DIRECTIONS.resnet18).
  const rule = { scope: 'weights', lowDimension: 'zero' };
  const started = performance.now();
  const dx = filterNormalize(gaussianDirection(specs, 11), final.state, specs, rule);
  const dy = filterNormalize(gaussianDirection(specs, 12), final.state, specs, rule);
  const directionsMs = performance.now() - started;
  const reference = JSON.parse(readFileSync(`${ROOT}/test/fixtures/landscape/resnet18.json`, 'utf8'));
  const coordinates = grid(POINTS, -1, 1);
  const planeAt = coordinates.map((x) => [x, Number((-x).toFixed(12))]);
  return {
    label: `ResNet-18-CIFAR, ${IMAGES} images`,
    graph,
    examples: {
      x: test.values.get('images_f32_nchw').subarray(0, IMAGES * size),
      labels: Int32Array.from(test.values.get('labels').subarray(0, IMAGES)),
      n: IMAGES,
      size,
    },
    outputs: 10,
    batch: Math.min(IMAGES, 250),
    rounds: 1,
    path: pathAlphas().map((alpha) => () => interpolateState(init.state, final.state, alpha, 'all')),
    plane: planeAt.map(
      ([x, y]) =>
        () =>
          combineStates([dx, dy, final.state], directionPlaneCoefficients(x, y)),
    ),
    planeLabel: `Li et al. plane around final at (x, −x), directions drawn and normalised in ${(directionsMs / 1000).toFixed(1)} s (once)`,
    check: (planePoints) => againstPytorch(planePoints, planeAt, reference.planes.directions.points, 50),
  };
}

const workloads = [];
if (opts.workload === 'mlp' || opts.workload === 'all') {
  const root = fixtureRoot(['mlp/init.safetensors', 'mlp/final.safetensors', 'mlp/epoch5.safetensors'], opts.fixtures);
  if (root === undefined) fail(`the MLP fixture is not in ${fixtureRoots(opts.fixtures).join(', ')}: ${HOW_TO_GET}`);
  workloads.push(mlpWorkload(root));
}
if (opts.workload === 'resnet' || opts.workload === 'all') {
  const files = ['resnet18/init.safetensors.gz', 'resnet18/final.safetensors.gz', 'resnet18/test_set.safetensors'];
  const root = fixtureRoot(files, opts.fixtures);
  if (root === undefined) {
    console.log(
      `landscape bench: the ResNet-18 fixture is not in ${fixtureRoots(opts.fixtures).join(', ')}: ${HOW_TO_GET}; ResNet-18 skipped.`,
    );
  } else workloads.push(resnetWorkload(root));
}

const rows = [];
let failed = false;
for (const workload of workloads) {
  for (const engineName of opts.engines.split(',').filter((e) => e !== '')) {
    const engine = await createEngine(engineName);
    const prepared = await engine.prepare(workload.graph);
    const run = (build) => point(prepared, build, workload.examples, workload.outputs, workload.batch);
    await run(workload.path[0]); // warm-up, not timed
    await run(workload.plane[0]);
    const pathPoints = [];
    const planePoints = [];
    const load = loadavg()[0];
    const rounds = opts.rounds === undefined ? workload.rounds : Number(opts.rounds);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < POINTS; i++) {
        pathPoints.push(await run(workload.path[i]));
        planePoints.push(await run(workload.plane[i]));
      }
    }
    await prepared.dispose();
    await engine.close();
    const check = workload.check(planePoints.slice(0, POINTS));
    if (!check.ok) failed = true;
    const path = {
      total: median(pathPoints.map((p) => p.totalMs)),
      combine: median(pathPoints.map((p) => p.combineMs)),
    };
    const plane = {
      total: median(planePoints.map((p) => p.totalMs)),
      combine: median(planePoints.map((p) => p.combineMs)),
    };
    rows.push({
      workload: workload.label,
      plane: workload.planeLabel,
      engine: engine.version,
      pathMsPerPoint: path.total,
      pathCombineMs: path.combine,
      planeMsPerPoint: plane.total,
      planeCombineMs: plane.combine,
      ratio: plane.total / path.total,
      loadAverage: (load + loadavg()[0]) / 2,
      check: check.text,
      ok: check.ok,
    });
  }
}

const ms = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
console.log(
  `\nLoss plane vs path, cost per point (median over the rounds of ${POINTS} points each, interleaved); ${cpuModel()}, ${THREADS} threads\n`,
);
console.log(
  '| workload | engine | path ms/point (combination) | plane ms/point (combination) | plane / path | load avg | check |',
);
console.log('|---|---|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(
    `| ${r.workload} | ${r.engine} | ${ms(r.pathMsPerPoint)} (${ms(r.pathCombineMs)}) | ${ms(r.planeMsPerPoint)} (${ms(r.planeCombineMs)}) | **${r.ratio.toFixed(2)}×** | ${r.loadAverage.toFixed(1)} | ${r.check} |`,
  );
}
for (const r of rows) console.log(`  ${r.workload}: ${r.plane}`);
if (opts.json !== undefined)
  writeFileSync(opts.json, JSON.stringify({ cpu: cpuModel(), threads: THREADS, rows }, null, 2));
if (failed) process.exit(1);

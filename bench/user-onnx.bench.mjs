#!/usr/bin/env node
// Part of `npm run bench`: one α-point of an architecture defined by a PyTorch ONNX export (the torchvision
// MobileNetV3-small fixture of test/fixtures/onnx, its 32 images repeated to 256; and the ViT fixture, whose
// export has ops the model IR lacks) on each route linpath has for it:
//   - the model IR (the export lowered into linpath's ops), on ONNX Runtime and on TensorFlow.js;
//   - ONNX Runtime running the export itself, with θ(α) fed as graph inputs: the baseline of the ratios.
// Each line also gives the loss's relative difference from PyTorch's (the fixture's reference.json at α = 0.5)
// and whether the correct count is PyTorch's. Ratios only: no timed assertion anywhere.
//
//   node bench/user-onnx.bench.mjs [--runs 5] [--threads N] [--json FILE]

import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { cpuModel } from './machine.mjs';

const DIST = new URL('../dist/', import.meta.url);
const FIXTURES = new URL('../test/fixtures/onnx/', import.meta.url);
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});
const RUNS = Number(opts.runs);
const THREADS = opts.threads === undefined ? availableParallelism() : Number(opts.threads);
const ALPHA = 0.5;
const REPEAT = 8;

const load = async (path) => import(new URL(path, DIST).href);
const { readOnnxArchitecture } = await load('compute/onnx/onnx.import.js');
const { userModelGraph } = await load('compute/onnx/onnx.to-ir.js');
const { OnnxEngine } = await load('compute/onnx/onnx.engine.js');
const { TfjsEngine } = await load('compute/tfjs/tfjs.engine.js');
const { interpolateState } = await load('domain/interpolation.js');
const { emptyTally, tallyBatch } = await load('domain/losses.js');
const { parseSafetensors, tensorBytes } = await load('formats/safetensors.header.js');
const { decodeTensor } = await load('formats/safetensors.decode.js');

const bytesOf = (relative) => new Uint8Array(readFileSync(new URL(relative, FIXTURES)));
function tensorsOf(relative) {
  const file = bytesOf(relative);
  const header = parseSafetensors(file);
  return new Map(header.tensors.map((t) => [t.name, decodeTensor(t, tensorBytes(file, header, t))]));
}
const floats = (map) => new Map([...map].filter(([, v]) => v instanceof Float32Array));

function fixture(folder) {
  const reference = JSON.parse(readFileSync(new URL(`${folder}/reference.json`, FIXTURES), 'utf8'));
  const model = bytesOf(`${folder}/model.onnx`);
  const graph = userModelGraph(folder, readOnnxArchitecture(model, `${folder}/model.onnx`));
  const data = tensorsOf(`${folder}/${reference.dataset}`);
  const x = data.get('x');
  const labels = data.get('labels');
  const n = labels.length;
  const xs = new Float32Array(x.length * REPEAT);
  const ys = new Int32Array(n * REPEAT);
  for (let r = 0; r < REPEAT; r++) {
    xs.set(x, r * x.length);
    ys.set(labels, r * n);
  }
  return {
    graph,
    from: floats(tensorsOf(`${folder}/init.safetensors`)),
    to: floats(tensorsOf(`${folder}/final.safetensors`)),
    examples: { x: xs, labels: ys, n: n * REPEAT, perExample: x.length / n },
    reference: reference.full.find((p) => p.alpha === ALPHA),
  };
}

/** The same architecture with its IR graph dropped: ONNX Runtime runs the export itself. */
const exportRoute = (graph) => ({
  ...graph,
  nodes: [],
  output: graph.onnx.output,
  onnx: { ...graph.onnx, unsupportedOps: ['(the export route)'] },
});

async function point(prepared, graph, f) {
  const started = performance.now();
  const bound = await prepared.bind(interpolateState(f.from, f.to, ALPHA, 'all'), { examples: f.examples.n });
  let tally = emptyTally();
  try {
    const { x, labels, n, perExample } = f.examples;
    for (let start = 0; start < n; start += 64) {
      const count = Math.min(64, n - start);
      const z = await bound.logits(x.subarray(start * perExample, (start + count) * perExample), count);
      tally = tallyBatch(tally, z, labels.subarray(start, start + count), graph.outputs);
    }
  } finally {
    await bound.dispose();
  }
  return { ms: performance.now() - started, tally };
}

async function measure(engine, graph, f) {
  const prepared = await engine.prepare(graph);
  try {
    await point(prepared, graph, f); // warm-up
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await point(prepared, graph, f));
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[runs.length >> 1];
    return { ms, tally: runs.at(-1).tally };
  } finally {
    await prepared.dispose();
  }
}

const onnx = await OnnxEngine.create({ provider: 'cpu', threads: THREADS });
const tfjs = await TfjsEngine.create({});
const rows = [];
for (const folder of ['mobilenetv3', 'vit']) {
  const f = fixture(folder);
  const routes = [{ route: 'export (ORT)', engine: onnx, graph: exportRoute(f.graph) }];
  if (f.graph.nodes.length > 0) {
    routes.push({ route: 'IR on onnx', engine: onnx, graph: f.graph });
    routes.push({ route: `IR on ${tfjs.version}`, engine: tfjs, graph: f.graph });
  }
  let baseline;
  for (const { route, engine, graph } of routes) {
    const { ms, tally } = await measure(engine, graph, f);
    baseline ??= ms;
    const loss = tally.lossSum / tally.n;
    rows.push({
      model: folder,
      route,
      examples: f.examples.n,
      ms,
      ratio: ms / baseline,
      lossRelDiff: Math.abs(loss - f.reference.loss) / f.reference.loss,
      correctMatches: tally.correct === f.reference.correct * REPEAT,
    });
  }
}
await onnx.close();
await tfjs.close();

console.log(
  `\nUser ONNX architectures, one α-point at α = ${ALPHA} (${cpuModel()}, ${THREADS} ORT threads, median of ${RUNS})`,
);
console.log('| model | route | examples | ms | × export route | loss vs PyTorch (rel.) | correct = PyTorch |');
console.log('|---|---|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(
    `| ${r.model} | ${r.route} | ${r.examples} | ${r.ms.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.lossRelDiff.toExponential(1)} | ${r.correctMatches ? 'yes' : 'NO'} |`,
  );
}
if (opts.json !== undefined)
  writeFileSync(opts.json, `${JSON.stringify({ alpha: ALPHA, threads: THREADS, rows }, null, 2)}\n`);

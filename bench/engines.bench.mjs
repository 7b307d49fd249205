#!/usr/bin/env node
// `npm run bench`: the cost of one α-point — θ(α) built by interpolateState, bound to the engine, the test
// examples' logits computed in batches and tallied into loss and accuracy — for each linpath engine, on
// ResNet-18-CIFAR (1,000 images) and on the seed study's MLP (5,000 points), next to the same work done by
// PyTorch in the same run (bench/pytorch_baseline.py) when `python3 -c "import torch"` works.
//
// It runs the compiled modules (dist/, made by `npm run build`), so it needs no TypeScript runner. Speed
// targets are judged by the ratios this prints, never by timed assertions in tests.
//
//   node bench/engines.bench.mjs [--workload resnet|mlp|all] [--engines onnx,tfjs] [--threads N]
//                                [--runs-resnet 3] [--runs-mlp 20] [--no-pytorch] [--wait-idle 120]
//                                [--max-other 0.1] [--json FILE]
//
// Other processes on the machine skew every number. Before each measurement the bench waits (up to
// --wait-idle seconds) for them to use under --max-other of the CPUs; a timed point during which they used
// more is discarded and run again (at most `runs` times), and the table reports the most they used during a
// kept point (`other load`, — where a point is too short to tell).

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { HOW_TO_GET, fixtureRoot, fixtureRoots, safetensorsReader } from './fixtures.mjs';
import { cpuModel } from './machine.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = new URL('../dist/', import.meta.url);

const { values: opts } = parseArgs({
  options: {
    workload: { type: 'string', default: 'all' },
    engines: { type: 'string', default: 'onnx,tfjs' },
    threads: { type: 'string' },
    'runs-resnet': { type: 'string', default: '3' },
    'runs-mlp': { type: 'string', default: '20' },
    'no-pytorch': { type: 'boolean', default: false },
    fixtures: { type: 'string' },
    json: { type: 'string' },
    'wait-idle': { type: 'string', default: '120' },
    'max-other': { type: 'string', default: '0.1' },
  },
});

const THREADS = opts.threads === undefined ? availableParallelism() : Number(opts.threads);
const ALPHA = 0.5;
const WAIT_IDLE_S = Number(opts['wait-idle']);
const MAX_OTHER = Number(opts['max-other']);

const WORKLOADS = {
  resnet: {
    name: 'resnet',
    label: 'ResNet-18-CIFAR, 1,000 images',
    architecture: 'resnet18-cifar',
    init: 'resnet18/init.safetensors.gz',
    final: 'resnet18/final.safetensors.gz',
    testSet: 'resnet18/test_set.safetensors',
    inputKey: 'images_f32_nchw',
    labelKey: 'labels',
    repeat: 2, // the 500 test images twice
    batch: 250,
    runs: Number(opts['runs-resnet']),
    reference: 'resnet18/reference.json',
  },
  mlp: {
    name: 'mlp',
    label: 'MLP 2-50-50-1, 5,000 points',
    architecture: 'mlp',
    init: 'mlp/init.safetensors',
    final: 'mlp/final.safetensors',
    testSet: 'mlp/test_set.safetensors',
    inputKey: 'x',
    labelKey: 'y',
    repeat: 1,
    batch: 5000,
    runs: Number(opts['runs-mlp']),
    reference: 'mlp/reference.json',
  },
};

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

const requested = opts.workload === 'all' ? Object.keys(WORKLOADS) : opts.workload.split(',');
for (const w of requested) if (!(w in WORKLOADS)) fail(`--workload: expected resnet, mlp or all, got "${w}"`);
/** Each workload's fixture folder (bench/fixtures.mjs); a workload whose fixtures are absent is left out. */
const FIXTURES = new Map();
for (const name of requested) {
  const w = WORKLOADS[name];
  const files = [w.init, w.final, w.testSet, w.reference];
  const root = fixtureRoot(files, opts.fixtures);
  if (root !== undefined) FIXTURES.set(name, root);
  else
    console.log(
      `bench: ${w.label}: skipped, its fixtures are not in ${fixtureRoots(opts.fixtures).join(', ')}: ${HOW_TO_GET}`,
    );
}
if (FIXTURES.size === 0) {
  console.log('bench: no workload has its fixtures; nothing to measure.');
  process.exit(0);
}
if (!existsSync(new URL('compute/architectures/index.js', DIST))) fail('dist/ is missing: run `npm run build` first');
if (!Number.isInteger(THREADS) || THREADS < 1) fail(`--threads: expected a positive integer, got ${opts.threads}`);
if (!(WAIT_IDLE_S >= 0)) fail(`--wait-idle: expected seconds ≥ 0, got ${opts['wait-idle']}`);
if (!(MAX_OTHER > 0 && MAX_OTHER <= 1)) fail(`--max-other: expected a share in (0, 1], got ${opts['max-other']}`);

const { buildModelGraph } = await import(new URL('compute/architectures/index.js', DIST).href);
const { interpolateState } = await import(new URL('domain/interpolation.js', DIST).href);
const { emptyTally, tallyBatch } = await import(new URL('domain/losses.js', DIST).href);
const readSafetensorsFile = await safetensorsReader(DIST);

const workloadNames = [...FIXTURES.keys()];
const engineNames = opts.engines.split(',').filter((e) => e !== '');
for (const e of engineNames) if (e !== 'onnx' && e !== 'tfjs') fail(`--engines: expected onnx and/or tfjs, got "${e}"`);

// ---------------------------------------------------------------------------------------------- fixtures

/** A fixture file of workload `w`: `relative` (e.g. `mlp/init.safetensors`) in the workload's fixture folder. */
const fixtureFile = (w, relative) => `${FIXTURES.get(w.name)}/${relative}`;

const readSafetensors = (w, relative) => readSafetensorsFile(fixtureFile(w, relative));

function readCheckpoint(w, relative) {
  const { tensors, values } = readSafetensors(w, relative);
  const state = new Map();
  for (const [name, v] of values) if (v instanceof Float32Array) state.set(name, v);
  return { tensors: tensors.map(({ name, dtype, shape }) => ({ name, dtype, shape })), state };
}

function readExamples(w) {
  const { tensors, values } = readSafetensors(w, w.testSet);
  const info = tensors.find((t) => t.name === w.inputKey);
  const x = values.get(w.inputKey);
  const labels = values.get(w.labelKey);
  if (info === undefined || !(x instanceof Float32Array) || !(labels instanceof Uint8Array)) {
    fail(`${w.testSet}: expected float "${w.inputKey}" and u8 "${w.labelKey}"`);
  }
  const n = info.shape[0];
  const xs = new Float32Array(x.length * w.repeat);
  const ys = new Uint8Array(n * w.repeat);
  for (let r = 0; r < w.repeat; r++) {
    xs.set(x, r * x.length);
    ys.set(labels, r * n);
  }
  return { x: xs, labels: ys, n: n * w.repeat, perExample: x.length / n };
}

// ---------------------------------------------------------------------------------------------- timing

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One α-point, exactly as compute/evaluator.ts does it: interpolate, bind, logits in batches, tally. */
async function alphaPoint(prepared, graph, from, to, examples, batch) {
  const started = performance.now();
  const state = interpolateState(from, to, ALPHA, 'all');
  const bound = await prepared.bind(state, { examples: examples.n });
  let tally = emptyTally();
  try {
    for (let start = 0; start < examples.n; start += batch) {
      const count = Math.min(batch, examples.n - start);
      const z = await bound.logits(
        examples.x.subarray(start * examples.perExample, (start + count) * examples.perExample),
        count,
      );
      tally = tallyBatch(tally, z, examples.labels.subarray(start, start + count), graph.outputs);
    }
  } finally {
    await bound.dispose();
  }
  return { ms: performance.now() - started, tally };
}

async function createEngine(name) {
  if (name === 'onnx') {
    const { OnnxEngine } = await import(new URL('compute/onnx/onnx.engine.js', DIST).href);
    return OnnxEngine.create({ provider: 'cpu', threads: THREADS });
  }
  const { TfjsEngine } = await import(new URL('compute/tfjs/tfjs.engine.js', DIST).href);
  return TfjsEngine.create({});
}

/**
 * A warm-up point, then `w.runs` timed points. A point during which other processes took more than
 * --max-other of the CPUs is discarded and run again after a quiet second (at most `runs` times over).
 */
async function measureEngine(engine, w, graph, from, to, examples) {
  const prepared = await engine.prepare(graph);
  try {
    const warm = await alphaPoint(prepared, graph, from, to, examples, w.batch);
    const times = [];
    const loads = [];
    let discarded = 0;
    let tally = warm.tally;
    while (times.length < w.runs) {
      const before = cpuSnapshot();
      const point = await alphaPoint(prepared, graph, from, to, examples, w.batch);
      const load = otherLoad(before, cpuSnapshot());
      if (load !== undefined && load > MAX_OTHER && discarded < w.runs) {
        discarded++;
        await waitForQuiet();
        continue;
      }
      times.push(point.ms);
      if (load !== undefined) loads.push(load);
      tally = point.tally;
    }
    const ms = median(times);
    return {
      ms,
      times,
      discarded,
      otherLoad: loads.length === 0 ? undefined : Math.max(...loads),
      imagesPerS: (examples.n * 1000) / ms,
      loss: tally.lossSum / tally.n,
      correct: tally.correct,
      n: tally.n,
    };
  } finally {
    await prepared.dispose();
  }
}

// ---------------------------------------------------------------------------------------------- PyTorch

/**
 * The first Python whose `import torch, numpy` works: $LINPATH_BENCH_PYTHON, else `python3` on the PATH, else
 * Debian's /usr/bin/python3 (where apt's python3-torch lands when a pyenv or venv python3 shadows it).
 */
function torchAvailable() {
  if (opts['no-pytorch']) return { ok: false, reason: '--no-pytorch' };
  const candidates = process.env.LINPATH_BENCH_PYTHON
    ? [process.env.LINPATH_BENCH_PYTHON]
    : ['python3', '/usr/bin/python3'];
  const reasons = [];
  for (const python of [...new Set(candidates)]) {
    const probe = spawnSync(python, ['-c', 'import torch, numpy; print(torch.__version__)'], { encoding: 'utf8' });
    if (probe.error !== undefined) reasons.push(`${python}: ${probe.error.message}`);
    else if (probe.status !== 0)
      reasons.push(`${python}: ${probe.stderr.trim().split('\n').at(-1) ?? 'import torch failed'}`);
    else return { ok: true, python, version: probe.stdout.trim() };
  }
  return { ok: false, reason: `${reasons.join('; ')}; apt-get install python3-torch python3-numpy` };
}

function runPytorch(workload, w) {
  const args = [
    `${ROOT}bench/pytorch_baseline.py`,
    '--fixtures',
    FIXTURES.get(workload),
    '--workload',
    workload,
    '--threads',
    String(THREADS),
    '--runs',
    String(w.runs),
    '--alpha',
    String(ALPHA),
    '--max-other',
    String(MAX_OTHER),
  ];
  const child = spawnSync(torch.python, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (child.status !== 0) {
    return {
      error: `pytorch_baseline.py exited ${child.status ?? child.signal}: ${child.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    };
  }
  const last = child.stdout.trim().split('\n').at(-1);
  return JSON.parse(last);
}

// ---------------------------------------------------------------------------------------------- other load

/**
 * CPU time the rest of the machine used while something was measured: /proc/stat's busy time less this
 * process's (its threads, and the children it has waited for: the PyTorch baseline), as a share of all
 * cores. A bench on a shared machine is only as good as this number is small.
 */
function cpuSnapshot() {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    const self = readFileSync('/proc/self/stat', 'utf8');
    const after = self
      .slice(self.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // Fields 14–17 of /proc/self/stat: utime, stime, cutime, cstime (after the name: indexes 11–14).
    const own = after[11] + after[12] + after[13] + after[14];
    return {
      busy: user + nice + system + irq + softirq + steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
      own,
    };
  } catch {
    return undefined; // not Linux
  }
}

/** Share of the machine (0..1) that other processes used between two snapshots. */
function otherLoad(a, b) {
  // Under a quarter of a second of CPU time (clock ticks are 10 ms) says nothing: the MLP's points are sub-ms.
  if (a === undefined || b === undefined || b.total - a.total < 25 * availableParallelism()) return undefined;
  return Math.max(0, (b.busy - a.busy - (b.own - a.own)) / (b.total - a.total));
}

/** Waits (up to --wait-idle seconds) until other processes use under --max-other of the machine for one second. */
async function waitForQuiet() {
  const deadline = performance.now() + WAIT_IDLE_S * 1000;
  let load;
  do {
    const a = cpuSnapshot();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    load = otherLoad(a, cpuSnapshot());
    if (load === undefined || load < MAX_OTHER) return;
  } while (performance.now() < deadline);
  console.log(
    `bench: other processes still use ${(load * 100).toFixed(0)}% of the CPUs; measuring anyway (numbers will be low)`,
  );
}

// ---------------------------------------------------------------------------------------------- main

const machine = {
  cores: availableParallelism(),
  cpu: cpuModel(),
  node: process.version,
  threads: THREADS,
};

const torch = torchAvailable();
console.log(`bench: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, threads ${THREADS}, α = ${ALPHA}`);
console.log(
  `bench: PyTorch baseline: ${torch.ok ? `torch ${torch.version} (${torch.python})` : `skipped (${torch.reason})`}`,
);

const engines = new Map();
const rows = [];
const checks = [];
const versions = {};
try {
  for (const workload of workloadNames) {
    const w = WORKLOADS[workload];
    const from = readCheckpoint(w, w.init);
    const to = readCheckpoint(w, w.final);
    const graph = buildModelGraph(w.architecture, to.tensors);
    const examples = readExamples(w);
    const reference = JSON.parse(readFileSync(fixtureFile(w, w.reference), 'utf8'));
    const alphaIndex = reference.alphas.findIndex((a) => Math.abs(a - ALPHA) < 1e-12);
    const referenceLoss = alphaIndex >= 0 ? reference.full.loss[alphaIndex] : undefined;

    // PyTorch first, while this process is idle (no ORT spinning threads competing for the cores).
    let baseline;
    if (torch.ok) {
      process.stdout.write(`bench: ${w.label}: pytorch …`);
      await waitForQuiet();
      baseline = runPytorch(workload, w);
      if (baseline.error !== undefined) {
        console.log(` failed: ${baseline.error}`);
        baseline = undefined;
      } else {
        versions.pytorch = `torch ${baseline.torch_version}, numpy ${baseline.numpy_version}, ${baseline.threads} threads`;
        console.log(
          ` ${baseline.median_ms.toFixed(2)} ms (runs: ${baseline.times_ms.map((t) => t.toFixed(t < 10 ? 2 : 0)).join(', ')}${baseline.discarded > 0 ? `; ${baseline.discarded} discarded for other load` : ''})`,
        );
        rows.push({ workload: w.label, engine: `pytorch ${baseline.torch_version}`, ...pick(baseline), ratio: 1 });
      }
    }
    for (const name of engineNames) {
      let engine = engines.get(name);
      if (engine === undefined) {
        engine = await createEngine(name);
        engines.set(name, engine);
        versions[name] = engine.version;
      }
      process.stdout.write(`bench: ${w.label}: ${engine.version} …`);
      await waitForQuiet();
      const m = await measureEngine(engine, w, graph, from.state, to.state, examples);
      console.log(
        ` ${m.ms.toFixed(2)} ms (runs: ${m.times.map((t) => t.toFixed(t < 10 ? 2 : 0)).join(', ')}${m.discarded > 0 ? `; ${m.discarded} discarded for other load` : ''})`,
      );
      rows.push({
        workload: w.label,
        engine: engine.version + (name === 'onnx' ? `, ${THREADS} threads` : ''),
        ms: m.ms,
        imagesPerS: m.imagesPerS,
        loss: m.loss,
        correct: m.correct,
        n: m.n,
        ratio: baseline === undefined ? undefined : m.imagesPerS / baseline.images_per_s,
        otherLoad: m.otherLoad,
        discarded: m.discarded,
      });
      const rel = (a, b) => Math.abs(a - b) / Math.abs(b);
      if (baseline !== undefined) {
        checks.push({
          workload: w.label,
          what: `${name} loss vs pytorch`,
          a: m.loss,
          b: baseline.loss,
          rel: rel(m.loss, baseline.loss),
        });
      }
      if (referenceLoss !== undefined) {
        checks.push({
          workload: w.label,
          what: `${name} loss vs reference.json`,
          a: m.loss,
          b: referenceLoss,
          rel: rel(m.loss, referenceLoss),
        });
      }
    }
    if (baseline !== undefined && referenceLoss !== undefined) {
      const r = Math.abs(baseline.loss - referenceLoss) / referenceLoss;
      checks.push({
        workload: w.label,
        what: 'pytorch loss vs reference.json',
        a: baseline.loss,
        b: referenceLoss,
        rel: r,
      });
    }
  }
} finally {
  for (const engine of engines.values()) await engine.close();
}

function pick(b) {
  return {
    ms: b.median_ms,
    imagesPerS: b.images_per_s,
    loss: b.loss,
    correct: b.correct,
    n: b.n,
    otherLoad: b.other_load ?? undefined,
    discarded: b.discarded,
  };
}

// ---------------------------------------------------------------------------------------------- report

const fmt = (x, digits) => (x === undefined ? '—' : x.toFixed(digits));
console.log('');
console.log(
  `| workload | engine | median ms / α-point | images/s | ratio to PyTorch | loss at α = ${ALPHA} | accuracy | other load |`,
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  console.log(
    `| ${r.workload} | ${r.engine} | ${fmt(r.ms, r.ms < 10 ? 2 : 1)} | ${fmt(r.imagesPerS, 0)} | ${r.ratio === undefined ? 'n/a' : `${r.ratio.toFixed(2)}×`} | ` +
      `${r.loss.toFixed(7)} | ${(r.correct / r.n).toFixed(4)} | ${r.otherLoad === undefined ? '—' : `${(r.otherLoad * 100).toFixed(0)}%`}${r.discarded > 0 ? ` (${r.discarded} rerun)` : ''} |`,
  );
}
console.log('');
console.log('| workload | loss check (1e-5 relative) | value | against | relative difference | ok |');
console.log('|---|---|---:|---:|---:|---|');
let allOk = true;
for (const c of checks) {
  const ok = c.rel <= 1e-5;
  allOk &&= ok;
  console.log(
    `| ${c.workload} | ${c.what} | ${c.a.toPrecision(10)} | ${c.b.toPrecision(10)} | ${c.rel.toExponential(2)} | ${ok ? 'yes' : 'NO'} |`,
  );
}
console.log('');
console.log(
  `machine: ${machine.cores} cores, ${machine.cpu}; Node ${machine.node}; ${Object.values(versions).join('; ')}`,
);

const target = rows.find((r) => r.workload === WORKLOADS.resnet.label && r.engine.startsWith('onnxruntime'));
if (target?.ratio !== undefined) {
  console.log(
    `target ONNX Runtime ≥ 1.0× PyTorch on ResNet-18: ${target.ratio.toFixed(2)}× — ${target.ratio >= 1 ? 'met' : 'NOT met'}`,
  );
}
if (opts.json !== undefined)
  writeFileSync(opts.json, JSON.stringify({ machine, versions, alpha: ALPHA, rows, checks }, null, 2));
if (!allOk) {
  console.log('bench: a loss check failed (see above)');
  process.exitCode = 1;
}

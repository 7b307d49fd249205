#!/usr/bin/env node
// `npm run bench:load`: HTTP load on a real `linpath start` (the embedded defaults — PGlite, s3rver, one
// in-process worker — with its demo data, in a temporary LINPATH_HOME, on a loopback port), driven by
// autocannon in this process. Three scenarios, each a short warm-up then a timed window:
//
//   baseline   `{ __typename }`: Apollo and Express with no resolver work — the yardstick of the run
//   memoized   `interpolationPath` of the demo run's INITIAL → FINAL on the spiral TEST split (α = 0, 0.1, …, 1),
//              stored before the timed window, so each request reads 11 memoized points
//   mixed      the memoized request, except a share (--evaluate-share) that asks for a new α with `wait: false`:
//              each of those queues an evaluation that the server's worker computes during the window
//
// It prints p50/p99 latency and requests/s of each, their ratios to the baseline measured in the same run, the
// server's CPU and the rest of the machine's (other load skews every figure), and the server's resident memory
// (VmRSS, sampled every second) at the start and end of each window and its maximum. Every response is
// checked: a non-2xx status, a GraphQL `errors` entry, a socket error or a timeout counts as an error, and any
// error makes the exit status 1. Speed is judged by these ratios, never by timed assertions in tests.
//
// It runs the compiled CLI (dist/, made by `npm run build`).
//
//   node bench/load.bench.mjs [--duration 10] [--warmup 2] [--connections 10] [--evaluate-share 0.1]
//                             [--drain 60] [--wait-idle 240] [--json FILE]

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { cpuModel } from './machine.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'linpath.js');
const DEMO_RUN = 'demo-spiral-mlp-adam';
const MIB = 1024 * 1024;

const { values: opts } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    connections: { type: 'string', default: '10' },
    'evaluate-share': { type: 'string', default: '0.1' },
    drain: { type: 'string', default: '60' },
    'wait-idle': { type: 'string', default: '240' },
    json: { type: 'string' },
  },
});

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}

const DURATION_S = Number(opts.duration);
const WARMUP_S = Number(opts.warmup);
const CONNECTIONS = Number(opts.connections);
const EVALUATE_SHARE = Number(opts['evaluate-share']);
const DRAIN_S = Number(opts.drain);
const WAIT_IDLE_S = Number(opts['wait-idle']);
if (!(Number.isInteger(DURATION_S) && DURATION_S >= 1 && DURATION_S <= 600))
  fail(`--duration: expected whole seconds in 1..600, got ${opts.duration}`);
if (!(Number.isInteger(WARMUP_S) && WARMUP_S >= 0 && WARMUP_S <= 60))
  fail(`--warmup: expected whole seconds in 0..60, got ${opts.warmup}`);
if (!(Number.isInteger(CONNECTIONS) && CONNECTIONS >= 1 && CONNECTIONS <= 1000))
  fail(`--connections: expected 1..1000, got ${opts.connections}`);
if (!(EVALUATE_SHARE >= 0 && EVALUATE_SHARE <= 1))
  fail(`--evaluate-share: expected a share in [0, 1], got ${opts['evaluate-share']}`);
if (!(DRAIN_S >= 0)) fail(`--drain: expected seconds ≥ 0, got ${opts.drain}`);
if (!(WAIT_IDLE_S >= 0)) fail(`--wait-idle: expected seconds ≥ 0, got ${opts['wait-idle']}`);
if (!existsSync(path.join(ROOT, 'dist', 'main.js')))
  fail('dist/ is missing: run `npm run build` first (or `npm run bench:load`)');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------- the server

/**
 * `linpath start` as `npm start` runs it, but in a temporary LINPATH_HOME, on a free loopback port, and with
 * nothing inherited that would point it elsewhere (DATABASE_URL, S3_*, AWS_*, LINPATH_*, HOST, PORT).
 * The per-client evaluation limit is raised to the connection count: every autocannon connection comes from
 * one address, and the bench measures throughput, not the limiter (which answers TOO_MANY_REQUESTS).
 */
async function startServer(home) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(DATABASE_URL|S3_.*|AWS_.*|LINPATH_.*|HOST|PORT|LOG_LEVEL|NODE_ENV)$/.test(name),
    ),
  );
  const env = {
    ...inherited,
    LINPATH_HOME: home,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    LINPATH_MAX_EVALUATIONS_PER_KEY: String(Math.max(16, CONNECTIONS)),
  };
  const child = spawn(process.execPath, [BIN, 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output = (output + chunk).slice(-200_000)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const deadline = Date.now() + 180_000;
  for (;;) {
    const match = /^linpath: GraphQL at (http:\/\/\S+)$/m.exec(output);
    if (match !== null) return { child, url: match[1], exited, output: () => output };
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`linpath start exited before serving; output:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`linpath start printed no URL within 180 s; output:\n${output}`);
    }
    await sleep(100);
  }
}

async function stopServer(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return server.exited;
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 20_000);
  try {
    return await server.exited;
  } finally {
    clearTimeout(timer);
  }
}

async function graphql(url, query, variables) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (!response.ok || body.errors !== undefined)
    throw new Error(`${query.trim().split('\n')[0]}: HTTP ${response.status} ${JSON.stringify(body.errors ?? body)}`);
  return body.data;
}

// ------------------------------------------------------------------------------------ processes and memory

/** CPU clock ticks of a process (utime + stime; fields 14–15 of /proc/<pid>/stat). */
function processTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const after = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return after[11] + after[12];
}

function cpuSnapshot(serverPid) {
  try {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    return {
      busy: user + nice + system + irq + softirq + steal,
      total: user + nice + system + idle + iowait + irq + softirq + steal,
      self: processTicks('self'),
      server: processTicks(serverPid),
    };
  } catch {
    return undefined; // not Linux
  }
}

/** Shares between two snapshots: the server's CPU in cores, and the rest of the machine's share of all cores. */
function cpuShares(a, b) {
  if (a === undefined || b === undefined || b.total === a.total)
    return { serverCores: undefined, otherLoad: undefined };
  const cores = availableParallelism();
  const total = b.total - a.total;
  return {
    serverCores: ((b.server - a.server) / total) * cores,
    otherLoad: Math.max(0, (b.busy - a.busy - (b.self - a.self) - (b.server - a.server)) / total),
  };
}

/** VmRSS of a process in bytes, or undefined where /proc is not there. */
function rssOf(pid) {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return line === undefined ? undefined : Number(line.split(/\s+/)[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Samples the server's RSS every second from start() to stop(); each sample has the scenario it fell in. */
function rssSampler(pid) {
  const samples = [];
  let phase = 'setup';
  let timer;
  const sample = () => {
    const rss = rssOf(pid);
    if (rss !== undefined) samples.push({ t: performance.now(), phase, rss });
  };
  return {
    samples,
    start() {
      sample();
      timer = setInterval(sample, 1000);
    },
    phase(name) {
      phase = name;
      sample();
    },
    stop() {
      clearInterval(timer);
      sample();
    },
  };
}

/**
 * Waits until the server has used under 5% of a core for 3 s running: the demo's TensorFlow.js runs train
 * after the server answers (about 4 s each on 2 cores), and a timed window must not share the CPUs with them.
 */
async function waitForServerIdle(pid) {
  const deadline = performance.now() + WAIT_IDLE_S * 1000;
  let quiet = 0;
  while (quiet < 3) {
    if (performance.now() > deadline) {
      console.log(`bench: the server was still busy after ${WAIT_IDLE_S} s; measuring anyway`);
      return;
    }
    const a = cpuSnapshot(pid);
    await sleep(1000);
    const { serverCores } = cpuShares(a, cpuSnapshot(pid));
    quiet = serverCores === undefined || serverCores < 0.05 ? quiet + 1 : 0;
  }
}

// ------------------------------------------------------------------------------------------------ the load

const PATH_FIELDS = 'id status points { alpha loss accuracy }';
const PATH_QUERY = `query Path($input: InterpolationPathInput!) { interpolationPath(input: $input) { ${PATH_FIELDS} } }`;

/**
 * One autocannon window. Every response is checked here (status 200 and no GraphQL `errors`), and the
 * first few failures are kept to print.
 */
async function load(url, durationS, nextBody) {
  const failures = { count: 0, samples: [] };
  const target = new URL(url);
  const result = await autocannon({
    url: target.origin,
    connections: CONNECTIONS,
    duration: durationS,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: target.pathname,
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: nextBody() }),
        onResponse: (status, body) => {
          if (status === 200 && !body.includes('"errors"')) return;
          failures.count += 1;
          if (failures.samples.length < 5) failures.samples.push(`HTTP ${status}: ${body.slice(0, 300)}`);
        },
      },
    ],
  });
  return { result, failures };
}

/**
 * autocannon ends a window by closing its sockets with requests in flight; the server still answers them.
 * They would hold evaluation slots into the next window (up to twice the connections in flight at once),
 * so each window starts after a pause.
 */
const settle = () => sleep(SETTLE_MS);
const SETTLE_MS = 2000;

async function scenario(name, server, sampler, nextBody) {
  process.stdout.write(`bench: ${name}: warm-up ${WARMUP_S} s, then ${DURATION_S} s …`);
  sampler.phase(`${name}:warmup`);
  const warm = WARMUP_S > 0 ? await load(server.url, WARMUP_S, nextBody) : undefined;
  await settle();
  sampler.phase(name);
  const before = cpuSnapshot(server.child.pid);
  const { result, failures } = await load(server.url, DURATION_S, nextBody);
  const cpu = cpuShares(before, cpuSnapshot(server.child.pid));
  sampler.phase(`${name}:done`);
  await settle();
  const rss = sampler.samples.filter((s) => s.phase === name || s.phase === `${name}:done`).map((s) => s.rss);
  const requests = result.requests.total;
  const errors =
    failures.count +
    result.errors +
    result.timeouts +
    (warm === undefined ? 0 : warm.failures.count + warm.result.errors + warm.result.timeouts);
  const measured = {
    name,
    requests,
    seconds: result.duration,
    rps: requests / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors,
    errorSamples: [...(warm?.failures.samples ?? []), ...failures.samples],
    serverCores: cpu.serverCores,
    otherLoad: cpu.otherLoad,
    rssStart: rss[0],
    rssEnd: rss.at(-1),
    rssMax: rss.length === 0 ? undefined : Math.max(...rss),
  };
  console.log(` ${measured.rps.toFixed(0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, ${errors} errors`);
  for (const sample of measured.errorSamples) console.log(`bench:   ${sample}`);
  return measured;
}

// ---------------------------------------------------------------------------------------------------- main

const machine = {
  cores: availableParallelism(),
  cpu: cpuModel(),
  node: process.version,
  date: new Date().toISOString().slice(0, 10),
};
console.log(`bench: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ${machine.date}`);
console.log(
  `bench: ${CONNECTIONS} connections, ${DURATION_S} s per scenario after ${WARMUP_S} s of warm-up; mixed: ${EVALUATE_SHARE * 100}% new α`,
);

const home = mkdtempSync(path.join(tmpdir(), 'linpath-load-'));
let server;
let exitCode = 0;
try {
  const started = performance.now();
  server = await startServer(home);
  console.log(
    `bench: linpath serving at ${server.url} (pid ${server.child.pid}, ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  const sampler = rssSampler(server.child.pid);
  sampler.start();

  const idleStarted = performance.now();
  await waitForServerIdle(server.child.pid);
  console.log(
    `bench: server idle (demo runs trained) after ${((performance.now() - idleStarted) / 1000).toFixed(0)} s`,
  );

  const { runs } = await graphql(
    server.url,
    `
      {
        runs(first: 500) {
          edges {
            node {
              name
              checkpoints {
                id
                role
              }
            }
          }
        }
      }
    `,
  );
  const run = runs.edges.map((e) => e.node).find((r) => r.name === DEMO_RUN);
  if (run === undefined)
    throw new Error(`no demo run ${DEMO_RUN}; runs: ${runs.edges.map((e) => e.node.name).join(', ')}`);
  const from = run.checkpoints.find((c) => c.role === 'INITIAL')?.id;
  const to = run.checkpoints.find((c) => c.role === 'FINAL')?.id;
  const { datasets } = await graphql(
    server.url,
    `
      {
        datasets {
          id
          name
          split
        }
      }
    `,
  );
  const dataset = datasets.find((d) => d.name === 'spiral' && d.split === 'TEST')?.id;
  if (from === undefined || to === undefined || dataset === undefined)
    throw new Error('the demo run or the spiral TEST split is incomplete');

  const memoInput = { from, to, dataset };
  const memoStarted = performance.now();
  const first = await graphql(server.url, PATH_QUERY, { input: { ...memoInput, timeoutMs: 120_000 } });
  if (first.interpolationPath.status !== 'COMPLETE')
    throw new Error(`the path to memoize ended ${first.interpolationPath.status}`);
  const pathId = first.interpolationPath.id;
  console.log(
    `bench: memoized ${first.interpolationPath.points.length} points of ${DEMO_RUN} INITIAL → FINAL on spiral TEST in ${((performance.now() - memoStarted) / 1000).toFixed(1)} s`,
  );
  await waitForServerIdle(server.child.pid);

  const trivialBody = JSON.stringify({ query: '{ __typename }' });
  const memoBody = JSON.stringify({ query: PATH_QUERY, variables: { input: memoInput } });
  // New alphas: distinct, in (0, 1), off the default grid; every one is a new memo key and queues a point.
  let fresh = 0;
  const newAlpha = () => (++fresh - 0.5) / 1e6;
  const mixedBody = () =>
    Math.random() < EVALUATE_SHARE
      ? JSON.stringify({ query: PATH_QUERY, variables: { input: { ...memoInput, alphas: [newAlpha()], wait: false } } })
      : memoBody;

  const results = [];
  results.push(await scenario('baseline', server, sampler, () => trivialBody));
  results.push(await scenario('memoized', server, sampler, () => memoBody));
  results.push(await scenario('mixed', server, sampler, mixedBody));
  const queued = fresh;

  // The new alphas are real work: wait (up to --drain s) for the worker to store them.
  const pathQuery = `query Stored($id: ID!) { path(id: $id) { status progress { done total } } }`;
  const drainStarted = performance.now();
  let stored;
  do {
    stored = (await graphql(server.url, pathQuery, { id: pathId })).path;
    if (stored.progress.done >= stored.progress.total || stored.status === 'FAILED') break;
    await sleep(1000);
  } while (performance.now() - drainStarted < DRAIN_S * 1000);
  const drainS = (performance.now() - drainStarted) / 1000;
  const health = await fetch(new URL('/healthz', server.url)).then((r) => r.status);
  sampler.stop();

  const errors =
    results.reduce((sum, r) => sum + r.errors, 0) + (stored.status === 'FAILED' ? 1 : 0) + (health === 200 ? 0 : 1);
  if (errors > 0) exitCode = 1;

  // ------------------------------------------------------------------------------------------- the report
  const base = results[0];
  const mib = (bytes) => (bytes === undefined ? '—' : (bytes / MIB).toFixed(0));
  const ratio = (x) => `${x.toFixed(2)}×`;
  console.log('');
  console.log(
    `Load on \`linpath start\` (embedded PGlite + s3rver, 1 in-process worker, demo data), loopback, autocannon ${CONNECTIONS} connections in the same process, ` +
      `${DURATION_S} s per scenario after ${WARMUP_S} s of warm-up; ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, ${machine.date}.`,
  );
  console.log('');
  console.log(
    '| scenario | requests | req/s | p50 ms | p99 ms | req/s vs baseline | p50 vs baseline | p99 vs baseline | server CPU (cores) | other load | server RSS MiB start → end (max) | errors |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.requests.toLocaleString('en-US')} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${ratio(r.rps / base.rps)} | ${ratio(r.p50 / Math.max(base.p50, 1))} | ` +
        `${ratio(r.p99 / Math.max(base.p99, 1))} | ${r.serverCores === undefined ? '—' : r.serverCores.toFixed(2)} | ` +
        `${r.otherLoad === undefined ? '—' : `${(r.otherLoad * 100).toFixed(0)}%`} | ${mib(r.rssStart)} → ${mib(r.rssEnd)} (${mib(r.rssMax)}) | ${r.errors} |`,
    );
  }
  const all = sampler.samples.map((s) => s.rss);
  // From the first timed window on: before it, RSS still holds the demo training's garbage (freed later).
  const timed = sampler.samples
    .filter((s) => results.some((r) => s.phase === r.name || s.phase === `${r.name}:done`))
    .map((s) => s.rss);
  console.log('');
  console.log(
    `Mixed: ${queued} requests asked for a new α (wait: false); ${stored.progress.done} of the path's ${stored.progress.total} alphas stored ` +
      `${drainS < 1 ? 'by the end of the window' : `${drainS.toFixed(0)} s after it`} (status ${stored.status}). /healthz after the load: ${health}.`,
  );
  if (all.length > 0) {
    const firstTimed = timed[0];
    const lastTimed = timed.at(-1);
    const growth = lastTimed - firstTimed;
    console.log(
      `Server RSS (VmRSS, ${all.length} samples, 1 s apart): ${mib(all[0])} MiB when it answered, ${mib(Math.max(...all))} MiB at most overall; ` +
        `${mib(firstTimed)} MiB as the first timed window began, ${mib(lastTimed)} MiB as the last ended, ${mib(Math.max(...timed))} MiB at most in them: ` +
        `${growth <= Math.max(64 * MIB, 0.2 * firstTimed) ? 'flat' : 'GROWING'} (${growth >= 0 ? '+' : ''}${mib(growth)} MiB over the timed windows; ` +
        'flat: within 20% or 64 MiB, whichever is larger).',
    );
  }
  if (errors > 0) console.log(`bench: ${errors} errors (see above): exit status 1`);

  if (opts.json !== undefined) {
    writeFileSync(
      opts.json,
      `${JSON.stringify({ machine, connections: CONNECTIONS, durationS: DURATION_S, warmupS: WARMUP_S, evaluateShare: EVALUATE_SHARE, results, queued, stored, health, rss: sampler.samples }, null, 2)}\n`,
    );
  }
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  if (server !== undefined) console.error(`bench: server output (tail):\n${server.output().slice(-4000)}`);
  exitCode = 1;
} finally {
  if (server !== undefined) {
    const status = await stopServer(server);
    if (status !== 0) console.log(`bench: the server exited with ${status} on SIGTERM`);
  }
  rmSync(home, { recursive: true, force: true });
}
process.exit(exitCode);

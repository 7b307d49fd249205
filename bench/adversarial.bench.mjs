// `npm run bench:adversarial`: the attacks of issue 13 against a real `linpath start` (embedded defaults, demo
// data, temporary LINPATH_HOME, loopback), each while /healthz is probed every 100 ms and the server's RSS
// (VmRSS) sampled every 250 ms. It prints, per scenario, /healthz p50 and max latency, failed probes, the
// server's own longest event-loop delay (prom-client's monitorEventLoopDelay, read from /metrics with the admin
// key before the scenario, which resets it, and after), RSS at the start and at most, and what the attack got:
//
//   idle          nothing: the yardstick of the run
//   C1 2,000      10 × the 2,000-alias `__schema` query (once a 123 MB answer), 5 at a time
//   C1 20,000     5 × the 20,000-alias one (429 KB; once a heap OOM), one at a time
//   H1 flood      200 WebSockets × 5 `pathUpdated` on a path with 1,001 stored points (each replays them), from
//                 one address (the per-client cap refuses most), then from 13 loopback addresses (all served)
//   H2 flood      5 anonymous `interpolationPath` of 1,001 new α (distinct `limit`), `wait: false`; then a
//                 write-key request for one new α: seconds until it is stored
//   tfjs          a tfjs-engine `interpolationPath` of 51 new α on the demo MLP
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'linpath.js');
const DEMO_RUN = 'demo-spiral-mlp-adam';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) {
  console.error('bench: dist/ is missing: run `npm run build` first (or `npm run bench:adversarial`)');
  process.exit(2);
}

async function startServer(home) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(DATABASE_URL|S3_.*|AWS_.*|LINPATH_.*|HOST|PORT|LOG_LEVEL|NODE_ENV)$/.test(name),
    ),
  );
  Object.assign(env, { LINPATH_HOME: home, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'error' });
  const nodeArgs = process.env.ADVERSARIAL_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'start'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (output = (output + chunk).slice(-100_000)));
  const deadline = Date.now() + 300_000;
  for (;;) {
    const match = /^linpath: GraphQL at (http:\/\/\S+)$/m.exec(output);
    if (match !== null) return { child, url: match[1] };
    if (child.exitCode !== null) throw new Error(`linpath start exited; output:\n${output}`);
    if (Date.now() > deadline) throw new Error(`no URL within 300 s; output:\n${output}`);
    await sleep(100);
  }
}

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

async function post(url, query, variables, key) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text.slice(0, 200) };
  }
  return { status: response.status, bytes: text.length, body };
}

/** The server's longest event-loop delay since the last scrape, in ms (prom-client resets it at each one). */
async function loopMaxMs(server) {
  const response = await fetch(new URL('/metrics', server.url), { headers: { authorization: `Bearer ${server.key}` } });
  const text = await response.text();
  const match = /^linpath_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  return match === null ? undefined : Number(match[1]) * 1000;
}

/** ADVERSARIAL_ONLY=<text>: run only the scenarios whose name contains it (and idle). */
const ONLY = process.env.ADVERSARIAL_ONLY;

/** Runs `attack` while probing /healthz (100 ms apart, 5 s timeout each) and sampling RSS. */
async function measure(name, server, attack) {
  if (ONLY !== undefined && name !== 'idle' && !name.includes(ONLY)) return undefined;
  const healthz = new URL('/healthz', server.url);
  await loopMaxMs(server);
  const latencies = [];
  let failed = 0;
  let running = true;
  const rss = [rssOf(server.child.pid)];
  const sampler = setInterval(() => rss.push(rssOf(server.child.pid)), 250);
  const prober = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const response = await fetch(healthz, { signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.status !== 200) failed++;
      } catch {
        failed++;
      }
      latencies.push(performance.now() - started);
      await sleep(100);
    }
  })();
  const started = performance.now();
  let outcome;
  try {
    outcome = await attack();
  } finally {
    running = false;
    await prober;
    clearInterval(sampler);
  }
  const loopMax = await loopMaxMs(server);
  const sorted = [...latencies].sort((a, b) => a - b);
  const mib = (bytes) => (bytes / 1024 / 1024).toFixed(0);
  const defined = rss.filter((r) => r !== undefined);
  return {
    name,
    seconds: ((performance.now() - started) / 1000).toFixed(1),
    probes: latencies.length,
    p50: sorted[sorted.length >> 1]?.toFixed(0),
    max: sorted.at(-1)?.toFixed(0),
    failed,
    loopMax: loopMax?.toFixed(0),
    rss: `${mib(defined[0])} → ${mib(Math.max(...defined))}`,
    outcome,
  };
}

const SCHEMA_FRAGMENT = `fragment F on __Schema { types { name fields { name args { name type { name kind ofType { name kind } } } } } }`;
const aliasedSchema = (n) =>
  `{${Array.from({ length: n }, (_, i) => `a${i}:__schema{...F}`).join(' ')}} ${SCHEMA_FRAGMENT}`;
const codes = (results) => {
  const seen = new Map();
  for (const r of results) {
    const label = `${r.status} ${r.body.errors?.[0]?.extensions?.code ?? (r.body.data ? 'data' : 'none')}`;
    seen.set(label, (seen.get(label) ?? 0) + 1);
  }
  return [...seen].map(([label, count]) => `${count}× ${label}`).join(', ');
};

/**
 * `count` WebSockets, each with `subscriptionsEach` subscriptions of `query`, closed once all of them completed
 * (or `until` says so of a message). `addresses`: the local loopback addresses to spread the sockets over, 16
 * to each (127.0.0.2, 127.0.0.3, …), as clients of as many machines; one address (127.0.0.1) by default.
 */
function openSockets(url, count, subscriptionsEach, query, until, addresses = 1) {
  const wsUrl = url.replace(/^http/, 'ws');
  const outcome = { opened: 0, refused: 0, messages: 0, closedWith: new Map() };
  const sockets = [];
  const done = Array.from({ length: count }, (_, i) => {
    return new Promise((resolve) => {
      const localAddress = addresses === 1 ? undefined : `127.0.0.${2 + (Math.floor(i / 16) % addresses)}`;
      const ws = new WebSocket(wsUrl, 'graphql-transport-ws', localAddress === undefined ? {} : { localAddress });
      let completed = 0;
      sockets.push(ws);
      ws.on('unexpected-response', (_req, res) => {
        outcome.refused++;
        res.resume();
        resolve();
      });
      ws.on('error', () => resolve());
      ws.on('open', () => {
        outcome.opened++;
        ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      });
      ws.on('message', (data) => {
        const message = JSON.parse(String(data));
        outcome.messages++;
        if (message.type === 'complete') completed++;
        if (until?.(message) || completed === subscriptionsEach) ws.close();
        if (message.type === 'connection_ack')
          for (let i = 0; i < subscriptionsEach; i++)
            ws.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query } }));
      });
      ws.on('close', (code) => {
        outcome.closedWith.set(code, (outcome.closedWith.get(code) ?? 0) + 1);
        resolve();
      });
    });
  });
  return { outcome, sockets, done };
}

async function main() {
  const home = mkdtempSync(path.join(tmpdir(), 'linpath-adversarial-'));
  const server = await startServer(home);
  const results = [];
  try {
    const key = readFileSync(path.join(home, 'admin-key'), 'utf8').trim();
    server.key = key;
    const { body } = await post(
      server.url,
      `{ runs(first: 50) { edges { node { name checkpoints { id role } } } } datasets { id name split } }`,
    );
    const run = body.data.runs.edges.map((e) => e.node).find((r) => r.name === DEMO_RUN);
    const from = run.checkpoints.find((c) => c.role === 'INITIAL').id;
    const to = run.checkpoints.find((c) => c.role === 'FINAL').id;
    const dataset = body.data.datasets.find((d) => d.name === 'spiral' && d.split === 'TEST').id;
    // A path with 1,001 stored points for the subscription flood to replay (the issue's ~1,000), queued without
    // waiting and followed to its end over one subscription: answering a finished 1,001-α request itself fails
    // today (its summary's key is too long for the index of path_summaries; reported, not this bench's concern).
    const alphas = Array.from({ length: 1001 }, (_, i) => i / 1000);
    const queued = await post(
      server.url,
      `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { id status } }`,
      { input: { from, to, dataset, alphas, wait: false } },
      key,
    );
    if (queued.body.data?.interpolationPath == null)
      throw new Error(`the path to replay was not queued: ${JSON.stringify(queued.body)}`);
    const pathId = queued.body.data.interpolationPath.id;
    const follower = openSockets(
      server.url,
      1,
      1,
      `subscription { pathUpdated(id: "${pathId}") { status point { alpha } progress { done total } } }`,
      (message) => message.type === 'next' && message.payload.data?.pathUpdated.point === null,
    );
    await Promise.race([Promise.all(follower.done), sleep(600_000)]);
    for (const ws of follower.sockets) ws.terminate();
    await sleep(3000);

    results.push(await measure('idle', server, () => sleep(3000)));
    results.push(
      await measure('C1 2,000 aliases', server, async () => {
        const answers = [];
        for (let round = 0; round < 2; round++)
          answers.push(...(await Promise.all(Array.from({ length: 5 }, () => post(server.url, aliasedSchema(2000))))));
        return codes(answers);
      }),
    );
    results.push(
      await measure('C1 20,000 aliases', server, async () => {
        const answers = [];
        for (let round = 0; round < 5; round++) answers.push(await post(server.url, aliasedSchema(20_000)));
        return codes(answers);
      }),
    );
    const subscriptionFlood = (addresses) => async () => {
      const query = `subscription { pathUpdated(id: "${pathId}") { status point { alpha loss accuracy } progress { done total } } }`;
      const flood = openSockets(server.url, 200, 5, query, undefined, addresses);
      const started = performance.now();
      await Promise.race([Promise.all(flood.done), sleep(120_000)]);
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      for (const ws of flood.sockets) ws.terminate();
      const { opened, refused, messages, closedWith } = flood.outcome;
      return `${opened} opened, ${refused} refused, ${messages} messages in ${seconds} s, closes ${[...closedWith].map(([c, n]) => `${n}×${c}`).join(' ')}`;
    };
    results.push(await measure('H1 200 sockets × 5 pathUpdated, one address', server, subscriptionFlood(1)));
    results.push(await measure('H1 200 sockets × 5 pathUpdated, 13 addresses', server, subscriptionFlood(13)));
    results.push(
      await measure('H2 anonymous flood, then one keyed α', server, async () => {
        const many = Array.from({ length: 1001 }, (_, i) => 0.0005 + i / 1001);
        const query = `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status } }`;
        const flood = await Promise.all(
          Array.from({ length: 5 }, (_, i) =>
            post(server.url, query, { input: { from, to, dataset, alphas: many, limit: 4000 + i, wait: false } }),
          ),
        );
        const started = performance.now();
        const keyed = await post(
          server.url,
          `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status } }`,
          { input: { from, to, dataset, alphas: [0.4321], timeoutMs: 120_000 } },
          key,
        );
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        return `flood: ${codes(flood)}; keyed α ${keyed.body.data?.interpolationPath.status} in ${seconds} s`;
      }),
    );
    results.push(
      await measure('tfjs evaluation, 51 new α', server, async () => {
        const tfjsAlphas = Array.from({ length: 51 }, (_, i) => 0.00777 + i / 51);
        const started = performance.now();
        const answer = await post(
          server.url,
          `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status points { alpha } } }`,
          { input: { from, to, dataset, alphas: tfjsAlphas, engine: 'TFJS', timeoutMs: 300_000 } },
          key,
        );
        const path = answer.body.data?.interpolationPath;
        return `${path?.status} (${path?.points.length} points) in ${((performance.now() - started) / 1000).toFixed(1)} s`;
      }),
    );
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    rmSync(home, { recursive: true, force: true });
  }
  console.log(`Adversarial bench on \`linpath start\` (embedded, demo data), loopback; ${new Date().toISOString()}.`);
  console.log('');
  console.log(
    '| scenario | s | /healthz probes | p50 ms | max ms | failed | server event-loop max ms | server RSS MiB start → max | what the attack got |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|---|');
  for (const r of results.filter((each) => each !== undefined))
    console.log(
      `| ${r.name} | ${r.seconds} | ${r.probes} | ${r.p50} | ${r.max} | ${r.failed} | ${r.loopMax ?? '?'} | ${r.rss} | ${r.outcome ?? ''} |`,
    );
}

await main();

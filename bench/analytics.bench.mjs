#!/usr/bin/env node
// `npm run bench:analytics`: stored analytics at scale. A linpath server (dist/, as `linpath start` builds it, no
// workers) on PGlite or on the Postgres of --postgres, with N runs whose INITIAL → FINAL curves are all stored,
// written straight to the database by test/helpers/analytics-seed.ts (documented there and in
// docs/performance-analytics.md: run i pins its own checkpoint objects, so each run has its own path; its curve
// is a function of i). Through GraphQL over HTTP, one request at a time:
//
//   trivial       `{ __typename }`: the yardstick of the run (p50/p99 of --requests)
//   memoized      `interpolationPath` of one seeded run (11 stored points), p50/p99 and the ratio to trivial
//   correlation   FRANKLE_HEIGHT against TEST_ACCURACY over all N runs: the first (which stores the curve
//                 summaries), then the median of --repeat; without statistics, and with the default ones
//                 (10,000 permutations, 2,000 bootstrap resamples) once, with `{ __typename }` sent every
//                 20 ms meanwhile (its worst latency: does the server answer while the statistics run?)
//   runs page     50 runs sorted by test accuracy with testAccuracy and barrier { frankleHeight shape }
//   report        the study report over all N runs (whole-model curves)
//
// and the SQL statements each sends (counted on the server's pool). Speed is judged by ratios and these
// figures, never by timed assertions in tests. It runs under tsx for the seeding helper:
//
//   node --import tsx bench/analytics.bench.mjs [--runs 1000,10000] [--postgres URL] [--requests 200] [--repeat 3]
//                                               [--json FILE]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuModel } from './machine.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = path.join(ROOT, '..', 'shared', 'fixtures', 'mlp');
const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000,10000' },
    postgres: { type: 'string' },
    requests: { type: 'string', default: '200' },
    repeat: { type: 'string', default: '3' },
    'default-statistics': { type: 'string', default: 'true' },
    json: { type: 'string' },
    'show-statements': { type: 'boolean', default: false },
  },
});
const SIZES = opts.runs.split(',').map(Number);
const REQUESTS = Number(opts.requests);
const REPEAT = Number(opts.repeat);

const { createLinpath, createLogger } = await import(path.join(ROOT, 'dist/app.js'));
const { loadConfig } = await import(path.join(ROOT, 'dist/config/config.js'));
const { buildLinpathSchema } = await import(path.join(ROOT, 'dist/graphql/schema.js'));
const { startHttpServer } = await import(path.join(ROOT, 'dist/server/http.js'));
const { analyzeStaleTables } = await import(path.join(ROOT, 'dist/storage/database.js'));
const { importCheckpointFile } = await import(path.join(ROOT, 'dist/usecases/registry/checkpoints.usecases.js'));
const { importDatasetFile } = await import(path.join(ROOT, 'dist/usecases/registry/datasets.usecases.js'));
const { createRun } = await import(path.join(ROOT, 'dist/usecases/registry/runs.usecases.js'));
const { seedStoredRuns, templateCheckpoints } = await import(path.join(ROOT, 'test/helpers/analytics-seed.ts'));

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  const results = [];
  const home = mkdtempSync(path.join(tmpdir(), 'linpath-bench-analytics-'));
  let database;
  if (opts.postgres !== undefined) {
    const pg = (await import('pg')).default;
    const admin = new pg.Client({ connectionString: opts.postgres });
    await admin.connect();
    const name = `linpath_bench_${process.pid}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(opts.postgres);
    url.pathname = `/${name}`;
    database = {
      url: url.toString(),
      drop: async () => {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end();
      },
    };
  }
  const env = {
    LINPATH_HOME: home,
    LINPATH_WORKERS: '0',
    LINPATH_MAX_CORRELATION_RUNS: String(Math.max(...SIZES) + 10),
    LOG_LEVEL: 'error',
    PORT: '0',
    ...(database === undefined ? {} : { DATABASE_URL: database.url }),
  };
  const config = loadConfig(env, home);
  const app = await createLinpath(config, 'server', createLogger({ logLevel: 'error' }));
  const http = await startHttpServer(app, await buildLinpathSchema());
  const statements = countStatements(app.database.pool);
  try {
    const dataset = (
      await importDatasetFile(app.registry, path.join(FIXTURES, 'test_set.safetensors'), {
        name: 'spiral',
        split: 'TEST',
      })
    ).dataset;
    const run = await createRun(app.registry, { name: 'template', architecture: 'mlp', datasetName: 'spiral' });
    for (const [file, step, role] of [
      ['init', 0, 'INITIAL'],
      ['final', 1200, 'FINAL'],
    ])
      await importCheckpointFile(app.registry, path.join(FIXTURES, `${file}.safetensors`), {
        run: 'template',
        step,
        role,
      });
    const template = { ...(await templateCheckpoints(app.database.db, run.id)), dataset };
    const post = async (query, variables) => {
      const response = await fetch(http.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      const body = await response.json();
      if (body.errors !== undefined) throw new Error(JSON.stringify(body.errors));
      return body.data;
    };
    const timed = async (query, variables) => {
      statements.reset();
      const start = performance.now();
      const data = await post(query, variables);
      return { ms: performance.now() - start, statements: statements.count(), data };
    };

    let seeded = 0;
    for (const size of SIZES) {
      const seedStart = performance.now();
      await seedStoredRuns({ db: app.database.db, paths: app.paths }, template, size - seeded, {
        start: seeded,
        prefix: 'bench',
      });
      seeded = size;
      const analysed = await analyzeStaleTables(app.database);
      const seedSeconds = (performance.now() - seedStart) / 1000;
      console.error(`seeded ${size} runs in ${seedSeconds.toFixed(1)} s; analysed ${analysed.join(', ')}`);

      const latencies = async (query, variables) => {
        for (let i = 0; i < 10; i++) await post(query, variables);
        const ms = [];
        let counted = 0;
        for (let i = 0; i < REQUESTS; i++) {
          const t = await timed(query, variables);
          ms.push(t.ms);
          counted = t.statements;
        }
        ms.sort((a, b) => a - b);
        return { p50: quantile(ms, 0.5), p99: quantile(ms, 0.99), statements: counted };
      };
      const trivial = await latencies('{ __typename }');
      const one = await app.registry.repository.checkpointsOfRuns([
        (await app.registry.repository.findRunByName('bench-000000')).id,
      ]);
      const pathQuery = `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status points { alpha loss accuracy } } }`;
      const pathInput = {
        input: {
          from: one.find((c) => c.role === 'INITIAL').id,
          to: one.find((c) => c.role === 'FINAL').id,
          dataset: dataset.id,
        },
      };
      const memoized = await latencies(pathQuery, pathInput);

      const correlationQuery = `query ($input: CorrelationInput!) { correlation(input: $input) { overall { n pearson spearman kendall pValue } missing { reason } } }`;
      const correlationInput = (statistics) => ({
        input: {
          runs: { tags: ['bench'] },
          x: 'FRANKLE_HEIGHT',
          y: 'TEST_ACCURACY',
          path: { from: 'INITIAL', to: 'FINAL', dataset: dataset.id },
          wait: false,
          ...(statistics ? {} : { permutations: 0, bootstrap: 0 }),
        },
      });
      const first = await timed(correlationQuery, correlationInput(false));
      if (first.data.correlation.overall.n !== size)
        throw new Error(`correlation over ${first.data.correlation.overall.n} runs, expected ${size}`);
      const warm = [];
      for (let i = 0; i < REPEAT; i++) warm.push(await timed(correlationQuery, correlationInput(false)));
      // With the default statistics, `{ __typename }` is sent every 20 ms meanwhile: its worst latency shows
      // whether the permutations and resamples hold the server's thread.
      let withStatistics;
      let concurrentTrivialMaxMs = null;
      if (opts['default-statistics'] === 'true') {
        let done = false;
        const probes = (async () => {
          let worst = 0;
          while (!done) {
            const start = performance.now();
            // A keep-alive socket the server closed while its thread was held fails once: retried, timed from the first try.
            await post('{ __typename }').catch(() => post('{ __typename }'));
            worst = Math.max(worst, performance.now() - start);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          return worst;
        })();
        withStatistics = await timed(correlationQuery, correlationInput(true));
        done = true;
        concurrentTrivialMaxMs = await probes;
      }

      const pageQuery = `{ runs(first: 50, filter: { tags: ["bench"] }, orderBy: { field: TEST_ACCURACY, direction: DESC }) {
        edges { node { name testAccuracy barrier { frankleHeight shape } } } } }`;
      await timed(pageQuery);
      const pages = [];
      for (let i = 0; i < Math.max(5, REPEAT); i++) pages.push(await timed(pageQuery));

      const reportQuery = `query ($input: ReportInput!) { report(input: $input) { groups { runs accuracy { mean } } missing { reason } } }`;
      const reportInput = { input: { runs: { tags: ['bench'] }, dataset: dataset.id, blocks: false, timeoutMs: 0 } };
      const reports = [];
      for (let i = 0; i < REPEAT; i++) reports.push(await timed(reportQuery, reportInput));

      const result = {
        database: database === undefined ? 'pglite' : 'postgres',
        runs: size,
        trivial,
        memoized: { ...memoized, ratioP50: memoized.p50 / trivial.p50 },
        correlation: {
          firstMs: first.ms,
          firstStatements: first.statements,
          medianMs: median(warm.map((w) => w.ms)),
          statements: warm.at(-1).statements,
          withDefaultStatisticsMs: withStatistics?.ms ?? null,
          concurrentTrivialMaxMs,
        },
        runsPage: { medianMs: median(pages.map((p) => p.ms)), statements: pages.at(-1).statements },
        report: { medianMs: median(reports.map((r) => r.ms)), statements: reports.at(-1).statements },
      };
      results.push(result);
      console.log(JSON.stringify(result));
    }
  } finally {
    await http.stop();
    await app.close();
    await database?.drop();
    rmSync(home, { recursive: true, force: true });
  }
  const machine = {
    cpu: cpuModel(),
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  printTable(machine, results);
  if (opts.json !== undefined) writeFileSync(opts.json, JSON.stringify({ machine, results }, null, 2));
}

/**
 * Counts the statements sent through the pool, at each of its connections (pool.query and checked-out clients
 * alike end there), leaving out the statistics kept current in the background (analyzeStaleTables).
 */
function countStatements(pool) {
  let count = 0;
  let texts = [];
  const wrap = (client) => {
    if (client.counted) return;
    client.counted = true;
    const inner = client.query.bind(client);
    client.query = (...args) => {
      const text = String(args[0]?.text ?? args[0]);
      if (!/pg_stat|^ANALYZE/.test(text)) {
        count++;
        if (opts['show-statements']) texts.push(text.slice(0, 160));
      }
      return inner(...args);
    };
  };
  for (const client of pool._clients) wrap(client);
  pool.on('connect', wrap);
  return {
    reset: () => {
      count = 0;
      texts = [];
    },
    count: () => {
      if (opts['show-statements']) console.error(texts.join('\n'), '\n---');
      return count;
    },
  };
}

function printTable(machine, results) {
  const f = (ms) => (ms === null ? '—' : ms < 10 ? ms.toFixed(2) : ms.toFixed(0));
  console.log(`\nMachine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}\n`);
  console.log(
    '| database | runs | trivial p50 / p99 ms | memoized path p50 / p99 ms (ratio, statements) | correlation ms: first (statements), warm (statements), default statistics (worst concurrent trivial) | runs page of 50 ms (statements) | report ms (statements) |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.database} | ${r.runs.toLocaleString('en')} | ${f(r.trivial.p50)} / ${f(r.trivial.p99)} | ${f(r.memoized.p50)} / ${f(r.memoized.p99)} (${r.memoized.ratioP50.toFixed(1)}×, ${r.memoized.statements}) | ${f(r.correlation.firstMs)} (${r.correlation.firstStatements}), ${f(r.correlation.medianMs)} (${r.correlation.statements}), ${f(r.correlation.withDefaultStatisticsMs)} (${f(r.correlation.concurrentTrivialMaxMs ?? null)}) | ${f(r.runsPage.medianMs)} (${r.runsPage.statements}) | ${f(r.report.medianMs)} (${r.report.statements}) |`,
    );
  }
}

await main();

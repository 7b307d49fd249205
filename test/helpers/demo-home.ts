import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runOnce } from './run-once.js';
import { buildOnce, startServer, type RunningServer } from './server.js';

/**
 * A LINPATH_HOME with the demo as `linpath start` leaves it once its TensorFlow.js seeds are trained: the
 * PyTorch run, the three tfjs runs with their checkpoints, the spiral datasets and the first start's admin key.
 * The first test file that asks (in any worker of this run) starts a real server on an empty home, waits for
 * the training and stops it; every file then gets its own copy, so the demo is trained once per run instead of
 * once per file. The fresh start itself (seeding, training, the curves of the trained runs) is what
 * test/e2e/cli.e2e.test.ts checks; files that only need the demo data start their server on a copy.
 */
export async function trainedDemoHome(prefix: string): Promise<string> {
  const template = await runOnce('demo-home', trainDemoInto);
  const home = mkdtempSync(path.join(tmpdir(), prefix));
  cpSync(template, home, { recursive: true });
  return home;
}

const DEMO_RUNS = 4;
const TRAINING_TIMEOUT_MS = 600_000;

async function trainDemoInto(home: string): Promise<void> {
  buildOnce();
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const server = await startServer({ LINPATH_HOME: home });
  try {
    await waitForTraining(server);
  } catch (error) {
    await server.stop();
    throw error;
  }
  const status = await server.stop();
  if (status !== 0) throw new Error(`the demo server exited with status ${status}:\n${server.output()}`);
  // A clean stop leaves neither the lock nor runtime.json: a copy starts like a home after `npm start` ended.
  for (const leftover of ['embedded.lock', 'runtime.json'])
    if (existsSync(path.join(home, leftover))) throw new Error(`the demo server left ${leftover} in ${home}`);
}

async function waitForTraining(server: RunningServer): Promise<void> {
  const deadline = Date.now() + TRAINING_TIMEOUT_MS;
  for (;;) {
    const body = await server.graphql<{
      runs: { edges: Array<{ node: { checkpoints: Array<{ role: string }> } }> };
    }>('{ runs(filter: { tags: ["demo"] }) { edges { node { checkpoints { role } } } } }');
    if (body.errors !== undefined) throw new Error(`reading the demo runs failed: ${JSON.stringify(body.errors)}`);
    const trained = body.data!.runs.edges.filter((edge) => edge.node.checkpoints.some((c) => c.role === 'FINAL'));
    if (trained.length === DEMO_RUNS) return;
    if (Date.now() > deadline)
      throw new Error(`the demo trained ${trained.length} of ${DEMO_RUNS} runs in ${TRAINING_TIMEOUT_MS / 1000} s`);
    await sleep(500);
  }
}

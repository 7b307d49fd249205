import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKind } from '../helpers/database.js';
import { trainedDemoHome } from '../helpers/demo-home.js';
import { buildOnce, childEnv, killLeftovers, repoRoot, startServer, type RunningServer } from '../helpers/server.js';

/**
 * Every example of README.md as a newcomer runs it: the shell commands (`npx linpath …`, curl) and the GraphQL
 * queries, in order, against `linpath start` with the demo loaded, and a few of the numbers the text claims.
 * Left out: the quick start's install commands (this suite runs inside them) and step 6 (see README below).
 */

const postgresMode = testDatabaseKind() === 'postgres';
/**
 * The README up to its sixth step: that one imports the reader's own ONNX export and checkpoint, files the demo
 * does not have (docs/architectures.md and its tests cover them).
 */
const README = readFileSync(path.join(repoRoot, 'README.md'), 'utf8').split(/^### 6\. /m)[0]!;
/** `npx linpath` as the installed command: the compiled CLI, without npx's own start-up. */
const PRELUDE = 'npx() { if [ "$1" = linpath ]; then shift; node bin/linpath.js "$@"; else command npx "$@"; fi; }';

/** The fenced blocks of one language, in order. */
function blocks(language: string): string[] {
  const found: string[] = [];
  const fence = new RegExp('^```' + language + '\\n([^]*?)^```$', 'gm');
  for (const match of README.matchAll(fence)) found.push(match[1]!);
  return found;
}

/** The commands of a shell block: one per line, `\` continuing a line. */
const commands = (block: string): string[] =>
  block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));

function sh(command: string, home: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${PRELUDE}\n${command}`], {
      cwd: repoRoot,
      env: childEnv({ LINPATH_HOME: home }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

beforeAll(() => buildOnce(), 180_000);
afterAll(killLeftovers);

describe.skipIf(postgresMode)(
  'the README examples, on the demo data (skipped with DATABASE_URL: the demo loads only into an empty embedded database)',
  () => {
    let home: string;
    let server: RunningServer | undefined;
    afterAll(async () => {
      await server?.stop();
      if (home !== undefined) rmSync(home, { recursive: true, force: true });
    });

    it('runs every shell and GraphQL example as written', async () => {
      // The demo as `npm start` leaves it once trained (trained once per test run: test/helpers/demo-home.ts).
      home = await trainedDemoHome('linpath-readme-');
      server = await startServer({ LINPATH_HOME: home });
      const origin = new URL(server.url).origin;
      // Step 4 asks for the TensorFlow.js seeds to be trained first, as a reader waits for the log lines.
      for (let tries = 0; ; tries++) {
        const body = await server.graphql(
          '{ runs(filter: { tags: ["demo"] }) { edges { node { checkpoints { role } } } } }',
        );
        const finished = body.data.runs.edges.filter((e: { node: { checkpoints: Array<{ role: string }> } }) =>
          e.node.checkpoints.some((c) => c.role === 'FINAL'),
        ).length;
        if (finished === 4) break;
        if (tries > 600) throw new Error(`the demo trained ${finished} of 4 runs in 5 minutes`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }

      const shell = blocks('sh').filter((block) => !block.includes('npm install'));
      expect(shell.length).toBeGreaterThanOrEqual(6);
      const outputs = new Map<string, string>();
      for (const block of shell) {
        for (const command of commands(block)) {
          const result = await sh(command.replaceAll('http://127.0.0.1:4000', origin), home);
          expect(result.code, `${command}\n${result.output}`).toBe(0);
          outputs.set(command, result.output);
        }
      }
      const queries = blocks('graphql');
      expect(queries.length).toBeGreaterThanOrEqual(2);
      for (const query of queries) {
        const body = await server.graphql(query);
        expect(body.errors, `${query}\n${JSON.stringify(body.errors)}`).toBeUndefined();
        expect(body.data).toBeTruthy();
      }

      // What the text says of them.
      const curve = outputs.get('npx linpath path --run demo-spiral-mlp-adam')!;
      expect(curve).toMatch(/^\s*0\.0000\s+0\.694678\s+0\.5000\b/m);
      expect(curve).toMatch(/^\s*1\.0000\s+0\.384257\s+0\.8928\b/m);
      expect(curve).toMatch(/^loss curve: MONOTONIC_DECAY,/m);
      const block = outputs.get('npx linpath path --run demo-spiral-mlp-adam --blocks fc2 --alphas 0:1:0.25')!;
      expect(block.match(/ computed /g)).toHaveLength(5);
      expect(outputs.get('npx linpath path --run my-mlp')!.match(/ computed /g)).toBeNull();
      expect(outputs.get('npx linpath datasets      # spiral:train and spiral:test')).toMatch(/spiral:test/);
    }, 900_000);
  },
);

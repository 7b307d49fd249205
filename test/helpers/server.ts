import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Real `linpath` processes for end-to-end tests: the compiled CLI (dist/, through bin/linpath.js) spawned
 * with `process.execPath`, talked to over real HTTP. Every child is tracked; `killLeftovers()` (call it from
 * `afterAll`) stops the ones a failed test left behind, and a process 'exit' hook SIGKILLs any still alive
 * if the test worker itself goes away.
 */

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const bin = path.join(repoRoot, 'bin', 'linpath.js');

/** LINPATH_TEST_START_TIMEOUT_S raises it on a machine loaded by other work (a start there can take minutes). */
const START_TIMEOUT_MS = Number(process.env.LINPATH_TEST_START_TIMEOUT_S ?? 60) * 1000;
const CLI_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

// ------------------------------------------------------------------------------------------------ build

let built = false;

/**
 * Makes dist/ current once per test process, as `npm run build` does: the CLI (tsc) and the dashboard (Vite),
 * then the build stamp. Nothing to do when dist/ is stamped after every source (bin/build-state.js: CI's
 * build step, or an earlier test file); a lock directory keeps test files running in parallel from building at
 * the same time. Both parts are built together so that the stamp never vouches for a stale dashboard.
 */
export function buildOnce(): void {
  if (built) return;
  if (!distIsFresh())
    withBuildLock(() => {
      if (distIsFresh()) return; // another test file built it while this one waited
      for (const [command, args] of BUILD_STEPS) {
        try {
          execFileSync(command, args, { cwd: repoRoot, stdio: 'pipe', timeout: 180_000 });
        } catch (error) {
          const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
          throw new Error(`${command} ${args.join(' ')} failed:\n${String(stdout ?? '')}${String(stderr ?? '')}`, {
            cause: error,
          });
        }
      }
      // dist/ is up to date now: bin/linpath.js must not rebuild it under the tests.
      execFileSync(process.execPath, ['bin/build-state.js', 'stamp'], { cwd: repoRoot, stdio: 'pipe' });
    });
  built = true;
}

const BUILD_STEPS: Array<[string, string[]]> = [
  ['npx', ['tsc', '-p', 'tsconfig.build.json']],
  ['npx', ['vite', 'build', '--config', 'web/vite.config.ts']],
];

const distIsFresh = (): boolean =>
  execFileSync(process.execPath, ['bin/build-state.js', 'state'], { cwd: repoRoot, encoding: 'utf8' }).trim() ===
  'fresh';

function withBuildLock(work: () => void): void {
  const lock = path.join(
    tmpdir(),
    `linpath-build-${createHash('sha256').update(repoRoot).digest('hex').slice(0, 12)}.lock`,
  );
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than any build is left by a killed run.
      const age = Date.now() - (statOrUndefined(lock)?.mtimeMs ?? Date.now());
      if (age > 180_000 || Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const statOrUndefined = (file: string) => {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
};

// -------------------------------------------------------------------------------------------- children

const children = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** SIGKILLs every child still running and waits for them to go (use in afterAll). */
export async function killLeftovers(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  children.clear();
}

/**
 * The environment of a child: this process's, without anything that would point linpath elsewhere
 * (DATABASE_URL, S3_*, AWS_*, LINPATH_*, HOST, PORT, LOG_LEVEL) or make it behave otherwise than in
 * production. NODE_ENV goes too: vitest sets it to "test", which changes how libraries act (Apollo Server
 * installs no SIGTERM handlers then), so the child would not be what `npm start` runs. Then `env` on top.
 */
export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(DATABASE_URL|S3_.*|AWS_.*|LINPATH_.*|HOST|PORT|LOG_LEVEL|NODE_ENV)$/.test(name),
    ),
  );
  return { ...inherited, HOST: '127.0.0.1', PORT: '0', ...env };
}

function spawnLinpath(args: string[], env: Record<string, string>): ChildProcess {
  if (env.LINPATH_HOME === undefined) {
    // Without one the child would use <repo>/.linpath, a developer's own data.
    throw new Error('linpath test processes need LINPATH_HOME (a temporary directory)');
  }
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repoRoot,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Exit status as a shell reports it: the code, or 128 + the signal number when a signal ended it. */
const exitStatus = (code: number | null, signal: NodeJS.Signals | null): number =>
  code ?? 128 + (signal !== null ? (constants.signals[signal] ?? 0) : 0);

// ---------------------------------------------------------------------------------------------- server

export interface GraphQLBody<T = any> {
  data?: T;
  errors?: Array<{
    message: string;
    path?: Array<string | number>;
    extensions?: { code?: string } & Record<string, unknown>;
  }>;
}

export interface RunningServer {
  /** http://127.0.0.1:PORT/graphql, as the server printed it. */
  url: string;
  pid: number;
  /**
   * POSTs the operation and returns the parsed JSON body (whatever the HTTP status). It sends the admin key
   * the embedded server wrote at its first start ($LINPATH_HOME/admin-key) when there is one, or `key`
   * (null: none).
   */
  graphql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { key?: string | null },
  ): Promise<GraphQLBody<T>>;
  /** The admin key of the embedded server's first start, if it made one. */
  adminKey(): string | undefined;
  /** SIGTERM (or `signal`), then waits for the exit (SIGKILL after 15 s); resolves with the exit status. */
  stop(signal?: NodeJS.Signals): Promise<number>;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
}

export class ServerStartError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly output: string,
  ) {
    super(message);
    this.name = 'ServerStartError';
  }
}

/**
 * Starts `linpath start` and resolves once it prints its URL. Rejects (with the captured output) when the
 * process exits first or no URL comes within 60 s.
 */
export async function startServer(env: Record<string, string>): Promise<RunningServer> {
  const server = await startLinpath(['start'], env, /^linpath: GraphQL at (http:\/\/\S+)$/m);
  // A configured database gets no first-start key: make one as an operator would, where graphql() finds it.
  if (env.DATABASE_URL !== undefined && server.adminKey() === undefined && env.LINPATH_AUTH !== 'off') {
    const created = await runCli(['keys', 'create', '--scope', 'admin', '--name', 'tests'], env);
    if (created.code !== 0) throw new Error(`linpath keys create failed: ${created.stderr}`);
    writeFileSync(path.join(env.LINPATH_HOME!, 'admin-key'), `${created.json.key}\n`, { mode: 0o600 });
  }
  return server;
}

/** Starts `linpath worker` with a metrics port; `url` is its /metrics URL. */
export function startWorker(env: Record<string, string>, args: string[] = []): Promise<RunningServer> {
  return startLinpath(
    ['worker', '--metrics-port', '0', ...args],
    env,
    /^linpath: worker running, metrics at (http:\/\/\S+)$/m,
  );
}

function startLinpath(args: string[], env: Record<string, string>, ready: RegExp): Promise<RunningServer> {
  const child = spawnLinpath(args, env);
  let output = '';
  let stdoutLines = '';
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(exitStatus(code, signal)));
  });

  return new Promise<RunningServer>((resolve, reject) => {
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(
        new ServerStartError(
          `linpath ${args[0]} printed no URL within ${START_TIMEOUT_MS / 1000} s; output:\n${output}`,
          undefined,
          output,
        ),
      );
    }, START_TIMEOUT_MS);

    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      stdoutLines += chunk;
      const match = ready.exec(stdoutLines);
      if (match === null || settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(serverHandle(child, match[1]!, exited, () => output, env.LINPATH_HOME!));
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.once('error', (error) =>
      fail(new ServerStartError(`cannot spawn linpath ${args[0]}: ${error.message}`, undefined, output)),
    );
    void exited.then((status) =>
      fail(
        new ServerStartError(
          `linpath ${args[0]} exited with status ${status} before serving; output:\n${output}`,
          status,
          output,
        ),
      ),
    );
  });
}

export const adminKeyOf = (home: string): string | undefined => {
  const file = path.join(home, 'admin-key');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
};

function serverHandle(
  child: ChildProcess,
  url: string,
  exited: Promise<number>,
  output: () => string,
  home: string,
): RunningServer {
  return {
    url,
    pid: child.pid!,
    output,
    adminKey: () => adminKeyOf(home),
    async graphql(query, variables, options = {}) {
      const key = options.key === undefined ? adminKeyOf(home) : options.key;
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(key != null ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      try {
        return JSON.parse(text) as GraphQLBody;
      } catch {
        throw new Error(
          `POST ${url} answered HTTP ${response.status} with a body that is not JSON: ${text.slice(0, 500)}`,
        );
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        try {
          return await exited;
        } finally {
          clearTimeout(timer);
        }
      }
      return exited;
    },
  };
}

// ------------------------------------------------------------------------------------------------- CLI

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** The last non-empty stdout line parsed as JSON; undefined when there is none or it is not JSON. */
  json: any;
}

/** Runs `linpath <args>` to completion (killed after 60 s). */
export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawnLinpath(args, env);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `linpath ${args.join(' ')} did not finish within ${CLI_TIMEOUT_MS / 1000} s\nstdout:\n${stdout}\nstderr:\n${stderr}`,
        ),
      );
    }, CLI_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'close', not 'exit': the output streams are complete then.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: exitStatus(code, signal), stdout, stderr, json: lastJsonLine(stdout) });
    });
  });
}

function lastJsonLine(stdout: string): any {
  const last = stdout.trimEnd().split('\n').at(-1);
  if (last === undefined || last === '') return undefined;
  try {
    return JSON.parse(last);
  } catch {
    return undefined;
  }
}

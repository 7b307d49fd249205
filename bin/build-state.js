// Whether dist/ is older than the sources it is built from, and whether a server runs from it. Plain Node, no
// dependencies: `npm start` (prestart) and `bin/linpath.js` ask it before they run dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
/** Written by `npm run build` once both the server and the dashboard are built. */
const STAMP = path.join(root, 'dist', '.build-stamp');
/** What the build reads: a change to any of them makes dist/ stale. */
const SOURCES = ['src', 'web', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

function newestMtime(entry) {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const child of readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, child)));
  return newest;
}

/** 'missing' (never built), 'stale' (a source is newer than the last build) or 'fresh'. */
export function buildState() {
  if (!existsSync(STAMP) || !existsSync(path.join(root, 'dist', 'main.js'))) return 'missing';
  const built = statSync(STAMP).mtimeMs;
  return SOURCES.some((source) => newestMtime(path.join(root, source)) > built) ? 'stale' : 'fresh';
}

/** The pid of a linpath server running from this checkout's LINPATH_HOME, if one runs. */
export function runningServer(env = process.env) {
  const home = path.resolve(root, env.LINPATH_HOME ?? '.linpath');
  try {
    const { pid } = JSON.parse(readFileSync(path.join(home, 'runtime.json'), 'utf8'));
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export function writeStamp() {
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

/**
 * Builds when dist/ is missing or older than the sources, never under a running server (the dashboard build
 * empties dist/web while it serves from there). Returns false when dist/ is stale and was left so.
 */
export function buildIfStale({ quiet = false } = {}) {
  const state = buildState();
  if (state === 'fresh') return true;
  const pid = runningServer();
  if (pid !== undefined && state === 'stale') {
    process.stderr.write(
      `linpath: the sources are newer than dist/, but a server (pid ${pid}) runs from it; not rebuilding. Stop it, then run \`npm run build\`.\n`,
    );
    return false;
  }
  if (!quiet)
    process.stderr.write(`linpath: building (${state === 'missing' ? 'not built yet' : 'sources changed'})…\n`);
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  return true;
}

// `node bin/build-state.js stamp` (the end of `npm run build`), `… if-stale` (`npm start`'s prestart) or `… state`
// (prints missing, stale or fresh; the tests' build helper asks it).
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  if (process.argv[2] === 'stamp') writeStamp();
  else if (process.argv[2] === 'if-stale') buildIfStale();
  else if (process.argv[2] === 'state') process.stdout.write(`${buildState()}\n`);
  else {
    process.stderr.write('usage: node bin/build-state.js stamp|if-stale|state\n');
    process.exit(2);
  }
}

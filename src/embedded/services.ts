import { closeSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config, S3Settings } from '../config/config.js';
import { unavailable } from '../errors.js';

/**
 * Where the database and the object store are. With DATABASE_URL and S3_BUCKET set these come straight from
 * the configuration. Otherwise one process at a time hosts the embedded ones for LINPATH_HOME:
 *  - the server hosts them while it runs and publishes their loopback addresses in `runtime.json`,
 *    so the CLI (or a second tool) connects to the running server's database and store;
 *  - with no server running, a CLI command hosts them itself for its duration.
 * `embedded.lock` (holding the host's pid) keeps two processes from opening the same PGlite directory.
 */
export interface ServiceEndpoints {
  databaseUrl: string;
  s3: S3Settings;
  /** Which of the two are embedded (for logs and /healthz). */
  embedded: { database: boolean; s3: boolean };
}

export interface Services {
  endpoints: ServiceEndpoints;
  /** True when this process hosts the embedded database itself: no other process can run workers on it. */
  hosted: boolean;
  /** Stops what this process hosts and releases LINPATH_HOME. */
  release(): Promise<void>;
}

interface RuntimeFile {
  pid: number;
  url?: string;
  databaseUrl?: string;
  s3?: S3Settings;
}

export type ServicesRole =
  /** Hosts the embedded services for as long as it runs and lets other processes use them. */
  | 'server'
  /** Uses a running server's embedded services, or hosts them only for its own duration. */
  | 'client';

const LOCK_WAIT_MS = 30_000;

export async function openServices(config: Config, role: ServicesRole): Promise<Services> {
  if (config.databaseUrl !== undefined && config.s3 !== undefined) {
    return {
      endpoints: { databaseUrl: config.databaseUrl, s3: config.s3, embedded: { database: false, s3: false } },
      hosted: false,
      release: async () => undefined,
    };
  }
  // 0700: the embedded database, objects and runtime.json belong to whoever runs linpath.
  await mkdir(config.home, { recursive: true, mode: 0o700 });
  await chmod(config.home, 0o700);
  const files = homeFiles(config.home);
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    const running = readRuntime(files.runtime);
    if (running !== undefined && role === 'client') {
      return { endpoints: endpointsFrom(config, running), hosted: false, release: async () => undefined };
    }
    if (running !== undefined && role === 'server') {
      throw unavailable(
        `another linpath server (pid ${running.pid}) already serves LINPATH_HOME=${config.home}` +
          `${running.url !== undefined ? ` at ${running.url}` : ''}; stop it or choose another LINPATH_HOME`,
      );
    }
    if (tryLock(files.lock)) break;
    if (Date.now() > deadline) {
      throw unavailable(
        `LINPATH_HOME=${config.home} is in use by process ${readPid(files.lock) ?? '?'} (see ${files.lock}); ` +
          'wait for it to finish, or set DATABASE_URL and S3_BUCKET to use shared services',
      );
    }
    await sleep(200);
  }
  return hostEmbedded(config, role, files);
}

/** Records the server's public URL next to the embedded endpoints, for `linpath` commands to print. */
export function publishServerUrl(config: Config, url: string): void {
  const files = homeFiles(config.home);
  try {
    const running = JSON.parse(readFileSync(files.runtime, 'utf8')) as RuntimeFile;
    if (running.pid === process.pid) writeRuntime(files.runtime, { ...running, url });
  } catch {
    // Not hosting the embedded services: nothing to publish.
  }
}

async function hostEmbedded(config: Config, role: ServicesRole, files: HomeFiles): Promise<Services> {
  const stops: Array<() => Promise<void>> = [];
  const release = async (): Promise<void> => {
    if (role === 'server') rmSync(files.runtime, { force: true });
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(files.lock, { force: true });
  };
  try {
    let databaseUrl = config.databaseUrl;
    if (databaseUrl === undefined) {
      // A private directory (mkdtemp: 0700) for the database's Unix socket; Windows keeps the loopback port.
      const socketDir = process.platform === 'win32' ? undefined : await mkdtemp(path.join(tmpdir(), 'linpath-pg-'));
      if (socketDir !== undefined) stops.push(() => rm(socketDir, { recursive: true, force: true }));
      // PGlite and s3rver are loaded only by the process that hosts them, not by every CLI command.
      const { startEmbeddedPostgres } = await import('./embedded-postgres.js');
      const postgres = await startEmbeddedPostgres(path.join(config.home, 'pgdata'), { socketDir });
      stops.push(postgres.stop);
      databaseUrl = postgres.url;
    }
    let s3 = config.s3;
    if (s3 === undefined) {
      const { startEmbeddedS3 } = await import('./embedded-s3.js');
      const embeddedS3 = await startEmbeddedS3(path.join(config.home, 's3'));
      stops.push(embeddedS3.stop);
      s3 = embeddedS3.settings;
    }
    if (role === 'server') {
      writeRuntime(files.runtime, {
        pid: process.pid,
        ...(config.databaseUrl === undefined ? { databaseUrl } : {}),
        ...(config.s3 === undefined ? { s3 } : {}),
      });
    }
    return {
      endpoints: {
        databaseUrl,
        s3,
        embedded: { database: config.databaseUrl === undefined, s3: config.s3 === undefined },
      },
      hosted: config.databaseUrl === undefined,
      release,
    };
  } catch (error) {
    await release();
    throw error;
  }
}

function endpointsFrom(config: Config, running: RuntimeFile): ServiceEndpoints {
  const databaseUrl = config.databaseUrl ?? running.databaseUrl;
  const s3 = config.s3 ?? running.s3;
  if (databaseUrl === undefined || s3 === undefined) {
    throw unavailable(
      `the linpath server (pid ${running.pid}) on LINPATH_HOME=${config.home} was started with other DATABASE_URL/S3 settings ` +
        'than this command; use the same environment for both',
    );
  }
  return { databaseUrl, s3, embedded: { database: config.databaseUrl === undefined, s3: config.s3 === undefined } };
}

interface HomeFiles {
  lock: string;
  runtime: string;
}

const homeFiles = (home: string): HomeFiles => ({
  lock: path.join(home, 'embedded.lock'),
  runtime: path.join(home, 'runtime.json'),
});

/** Creates the lock file atomically; a lock left by a process that no longer exists is taken over. */
function tryLock(lockPath: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockPath, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = readPid(lockPath);
      if (pid !== undefined && isAlive(pid)) return false;
      rmSync(lockPath, { force: true });
    }
  }
  return false;
}

function readPid(lockPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function readRuntime(runtimePath: string): RuntimeFile | undefined {
  try {
    const runtime = JSON.parse(readFileSync(runtimePath, 'utf8')) as RuntimeFile;
    return typeof runtime.pid === 'number' && runtime.pid !== process.pid && isAlive(runtime.pid) ? runtime : undefined;
  } catch {
    return undefined;
  }
}

function writeRuntime(runtimePath: string, runtime: RuntimeFile): void {
  const temporary = `${runtimePath}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(runtime, null, 2), { mode: 0o600 });
  renameSync(temporary, runtimePath);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

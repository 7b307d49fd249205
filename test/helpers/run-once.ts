import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';

/**
 * Something costly that every test file of a run may share (a trained demo, an initialised database): made by
 * the first file that asks, in whichever worker, under a lock, into `<the run's directory>/<name>`; later files
 * (and the files that waited) get the path of the finished one. A maker that fails leaves nothing behind, so
 * the next file tries again. The run's directory is made and removed by test/setup/global-setup.ts.
 */
export async function runOnce(name: string, make: (target: string) => Promise<void>): Promise<string> {
  const dir = inject('testRunDir');
  const target = path.join(dir, name);
  const ready = `${target}.ready`;
  if (existsSync(ready)) return target;
  await withRunLock(`${target}.lock`, async () => {
    if (existsSync(ready)) return;
    rmSync(target, { recursive: true, force: true });
    try {
      await make(target);
    } catch (error) {
      rmSync(target, { recursive: true, force: true });
      throw error;
    }
    writeFileSync(ready, `${new Date().toISOString()}\n`);
  });
  return target;
}

/** One process at a time across the run's workers: a lock directory holding its owner's pid. */
async function withRunLock(lock: string, work: () => Promise<void>): Promise<void> {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(path.join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (!ownerAlive(lock)) rmSync(lock, { recursive: true, force: true });
      else await sleep(250);
    }
  }
  try {
    await work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function ownerAlive(lock: string): boolean {
  try {
    process.kill(Number(readFileSync(path.join(lock, 'pid'), 'utf8')), 0);
    return true;
  } catch (error) {
    // No pid file yet: its owner is between mkdir and write. A vanished process is not alive.
    return (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

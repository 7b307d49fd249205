/**
 * A process that hosts the embedded services of LINPATH_HOME (argv[2]) and holds one evaluation job active,
 * as a worker in the middle of a job does; it prints `{"jobId": …}` and then waits to be killed
 * (test/queue/orphaned-jobs.int.test.ts kills it with SIGKILL). Run with `node --import tsx`.
 */
import { createLinpath, createLogger } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { EVALUATE_QUEUE } from '../../src/queue/eval-queue.js';

const config = loadConfig({ LINPATH_HOME: process.argv[2]!, PORT: '0', LINPATH_WORKERS: '0' });
const app = await createLinpath(config, 'server', createLogger({ logLevel: 'silent' }));
await app.queue.boss.send(EVALUATE_QUEUE, {
  pathId: '00000000-0000-0000-0000-000000000000',
  alphas: [0.5],
  engine: null,
});
const [job] = await app.queue.boss.fetch(EVALUATE_QUEUE);
process.stdout.write(`${JSON.stringify({ jobId: job!.id })}\n`);
setInterval(() => undefined, 60_000);

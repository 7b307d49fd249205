import type { Logger } from 'pino';

/**
 * A long-running process logs a stray rejection instead of exiting on it. pg-boss completes and fails jobs
 * without awaiting them, so a database that goes away while a job runs would otherwise take the API or
 * the worker down with it; the queue retries once the database is back.
 */
export function logUnhandledRejections(logger: Logger): void {
  process.on('unhandledRejection', (reason) =>
    logger.error({ err: reason }, 'unhandled rejection; the process keeps running'),
  );
}

/** On the first SIGINT or SIGTERM: `stop`, then exit 0 (1 when stopping fails). Later signals are ignored. */
export function onTerminationSignals(logger: Logger, message: string, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, message);
    try {
      await stop();
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'shutting down failed');
      process.exit(1);
    }
  };
  process.once('SIGINT', () => void handle('SIGINT'));
  process.once('SIGTERM', () => void handle('SIGTERM'));
}

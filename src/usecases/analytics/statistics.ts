import { setImmediate as nextTurn } from 'node:timers/promises';
import { correlationSteps, type CorrelationOptions, type CorrelationResult } from '../../domain/correlation.js';

/** The longest a correlation's statistics keep the event loop before letting other requests run. */
export const STATISTICS_SLICE_MS = 10;

/**
 * The domain's `correlate` on a server's thread: its permutations and bootstrap resamples run in slices of at
 * most about {@link STATISTICS_SLICE_MS} ms, between which other requests, the database client and the
 * workers' I/O get their turn; the result is the same as `correlate`'s, bit for bit, for the same seed.
 */
export async function correlateInSlices(
  x: readonly number[],
  y: readonly number[],
  options?: CorrelationOptions,
  sliceMs: number = STATISTICS_SLICE_MS,
): Promise<CorrelationResult> {
  const steps = correlationSteps(x, y, options);
  let since = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (performance.now() - since >= sliceMs) {
      await nextTurn();
      since = performance.now();
    }
  }
}

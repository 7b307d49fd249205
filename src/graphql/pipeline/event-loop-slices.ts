/**
 * Shares the event loop between many streams of work (the updates of every subscription of a server) in slices
 * of at most `sliceMs`: a stream calls `turn()` before each piece of its work; within a slice it goes on at once,
 * and once the slice is spent it waits, in line with every other stream, for a later turn of the event loop, so
 * that HTTP requests (and /healthz) are answered between slices whatever the number of streams.
 *
 * Why one line for all: a `setImmediate` per stream yields only that stream. With 1,000 subscriptions replaying at
 * once, each turn of the loop ran one update of every one of them — 1,000 executions and sends back to back,
 * seconds on a loaded machine — before any request was read. Waiters are let go one at a time, each in its own
 * microtask after the work of the ones before it has started, until the slice is spent.
 */
export class EventLoopSlices {
  private readonly waiting: Array<() => void> = [];
  private sliceStarted = performance.now();
  private scheduled = false;

  constructor(private readonly sliceMs: number) {}

  /** Resolves when the caller may do its next piece of work. */
  turn(): Promise<void> {
    if (!this.scheduled && this.waiting.length === 0 && !this.spent()) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private spent(): boolean {
    return performance.now() - this.sliceStarted >= this.sliceMs;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sliceStarted = performance.now();
      this.release(true);
    });
  }

  /**
   * Lets waiters go one per microtask while the slice lasts (the first of a turn whatever it lasts, so that every
   * turn makes progress); the rest wait for the next turn.
   */
  private release(first = false): void {
    if (this.waiting.length === 0) return;
    if (!first && this.spent()) return this.schedule();
    this.waiting.shift()!();
    queueMicrotask(() => this.release());
  }
}

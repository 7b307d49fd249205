import { describe, expect, it } from 'vitest';
import { EventLoopSlices } from '../../src/graphql/pipeline/event-loop-slices.js';

/**
 * The slices subscription updates share (issue 13, H1): however many streams there are, other tasks of the event
 * loop get a turn between slices, and the streams take turns in order. No timing is assumed: 0 ms slices hold one
 * piece of work each, slices of an hour hold everything.
 */
async function run(sliceMs: number, streams: number, pieces: number) {
  const slices = new EventLoopSlices(sliceMs);
  const log: string[] = [];
  let running = true;
  // Another task of the event loop, as an HTTP request would be: it notes each turn it gets.
  const other = () => {
    if (!running) return;
    log.push('other');
    setImmediate(other);
  };
  setImmediate(other);
  await Promise.all(
    Array.from({ length: streams }, async (_, stream) => {
      for (let piece = 0; piece < pieces; piece++) {
        await slices.turn();
        log.push(`${stream}.${piece}`);
      }
    }),
  );
  running = false;
  return log;
}

describe('EventLoopSlices', () => {
  it('with 0 ms slices, lets another task run between every two pieces of work, the streams in turn', async () => {
    const log = await run(0, 3, 4);
    const work = log.filter((entry) => entry !== 'other');
    expect(work).toEqual(['0.0', '1.0', '2.0', '0.1', '1.1', '2.1', '0.2', '1.2', '2.2', '0.3', '1.3', '2.3']);
    for (let i = 1; i < log.length; i++)
      if (log[i] !== 'other') expect(log[i - 1], `before ${log[i]}: ${log.join(' ')}`).toBe('other');
  });

  it('with a slice longer than the work, runs it all in one turn', async () => {
    const log = await run(3_600_000, 3, 4);
    const firstWork = log.findIndex((entry) => entry !== 'other');
    const work = log.slice(firstWork, firstWork + 12);
    expect(
      work.every((entry) => entry !== 'other'),
      log.join(' '),
    ).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { correlate, STEPS_PER_SLICE } from '../../src/domain/correlation.js';
import { SeededRandom } from '../../src/domain/random.js';
import { correlateInSlices } from '../../src/usecases/analytics/statistics.js';

describe('correlateInSlices', () => {
  const random = new SeededRandom(12);
  const x = Array.from({ length: 400 }, () => random.next());
  const y = x.map((v) => v + random.uniform(-0.5, 0.5));
  const options = { permutations: 2_000, bootstrap: 500 };

  it("lets other work run between its slices and returns correlate's result, bit for bit", async () => {
    // Slices of 0 ms: it gives the event loop a turn at every slice of the domain's generator, whatever the
    // machine's speed; count the turns another task got before the statistics finished.
    let turns = 0;
    let finished = false;
    const other = (async () => {
      while (!finished) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turns++;
      }
    })();
    const result = await correlateInSlices(x, y, options, 0);
    finished = true;
    await other;
    // 2,000 permutations and 500 resamples of 400 pairs: a slice every ceil(STEPS_PER_SLICE / 400) of each.
    const slices =
      Math.floor(2_000 / Math.ceil(STEPS_PER_SLICE / 400)) + Math.floor(500 / Math.ceil(STEPS_PER_SLICE / 400));
    expect(turns).toBeGreaterThanOrEqual(slices);
    expect(result).toEqual(correlate(x, y, options));
  });

  it('rejects bad options as correlate does', async () => {
    await expect(correlateInSlices(x, y, { permutations: -1 })).rejects.toThrow(/permutations must be an integer/);
  });
});

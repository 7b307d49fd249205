import { describe, expect, it } from 'vitest';
import { pathBarriers } from '../../src/usecases/analytics/barriers.usecases.js';
import { barriersOf } from '../../src/usecases/analytics/stored-x.js';
import { summarizeCurve } from '../../src/usecases/paths/curve-summaries.js';

const point = (alpha: number, lossSum: number, correct: number) => ({
  pathId: 'p',
  alpha,
  lossSum,
  correct,
  n: 10,
  nonFinite: 0,
});

describe('barriersOf', () => {
  const curve = [point(0, 7, 5), point(0.25, 7.3, 5), point(0.5, 9, 4), point(0.75, 4, 7), point(1, 1, 9)];
  const stored = summarizeCurve(curve).barriers;

  it('answers from the stored measures when every option is its default, given or left undefined', () => {
    // The GraphQL resolvers pass every option they have, set or not: { tolerance: undefined, relativeTolerance: undefined }.
    for (const options of [
      undefined,
      {},
      { tolerance: undefined, relativeTolerance: undefined },
      { tolerance: 1e-4, relativeTolerance: 0.01, plateauAlpha: 0.5, plateauFraction: 0.1 },
    ])
      expect(barriersOf(curve, options, stored)).toBe(stored);
    // …and those are what the domain computes from the points with the defaults.
    expect(stored).toEqual(pathBarriers(curve));
  });

  it('computes from the points for any other option', () => {
    for (const options of [{ tolerance: 0.5 }, { relativeTolerance: 0.5 }, { plateauAlpha: 0.3 }]) {
      const barriers = barriersOf(curve, options, stored);
      expect(barriers).not.toBe(stored);
      expect(barriers).toEqual(pathBarriers(curve, { loss: options, error: options }));
    }
    // The relative tolerance changes the answer here: a bump of 0.23 against a range of 0.8.
    expect(barriersOf(curve, { relativeTolerance: 0.5 }, stored).loss.shape).not.toBe(stored.loss.shape);
  });
});

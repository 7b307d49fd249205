import { describe, expect, it } from 'vitest';
import { colourScale, contourLevels, logTicks, niceTicks, viridis } from '../../src/domain/colour-scale.js';

describe('niceTicks', () => {
  it('steps by 1, 2 or 5 × 10ᵏ inside the range, without float drift', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0.013, 0.087, 4)).toEqual([0.02, 0.04, 0.06, 0.08]);
    expect(niceTicks(-3, 7, 5)).toEqual([-2, 0, 2, 4, 6]);
    expect(niceTicks(0.1, 0.3, 2)).toEqual([0.1, 0.2, 0.3]);
    expect(niceTicks(120, 980, 4)).toEqual([200, 400, 600, 800]);
  });

  it('gives the one value of an empty range and nothing for non-finite ends', () => {
    expect(niceTicks(2, 2)).toEqual([2]);
    expect(niceTicks(0, Number.NaN)).toEqual([]);
  });
});

describe('logTicks', () => {
  it('gives powers of ten over several decades, thinned to the count', () => {
    expect(logTicks(0.01, 10)).toEqual([0.01, 0.1, 1, 10]);
    expect(logTicks(1e-6, 1e3, 5)).toEqual([1e-6, 1e-4, 0.01, 1, 100]);
  });

  it('adds 2 and 5 × 10ᵏ when there is room', () => {
    expect(logTicks(0.05, 3, 8)).toEqual([0.05, 0.1, 0.2, 0.5, 1, 2]);
  });

  it('falls back to linear ticks inside one decade, and to nothing without a positive range', () => {
    expect(logTicks(0.3, 0.7, 4)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7]);
    expect(logTicks(0, 1)).toEqual([]);
  });
});

describe('viridis', () => {
  it('runs from matplotlib’s first to last colour through its middle one', () => {
    expect(viridis(0)).toBe('#440154');
    expect(viridis(0.5)).toBe('#21918c');
    expect(viridis(1)).toBe('#fde725');
    // Halfway between the first two stops (68,1,84) and (72,36,117): (70, 18.5, 100.5) rounded.
    expect(viridis(0.05)).toBe('#461365');
  });

  it('clamps outside [0, 1] and grows lighter throughout', () => {
    expect(viridis(-3)).toBe(viridis(0));
    expect(viridis(7)).toBe(viridis(1));
    const luminance = (hex: string) =>
      [1, 3, 5].reduce((s, k, i) => s + [0.2126, 0.7152, 0.0722][i]! * Number.parseInt(hex.slice(k, k + 2), 16), 0);
    const steps = Array.from({ length: 51 }, (_, k) => luminance(viridis(k / 50)));
    for (let k = 1; k < steps.length; k++) expect(steps[k]).toBeGreaterThan(steps[k - 1]!);
  });
});

describe('colourScale', () => {
  it('maps the finite values’ range linearly onto [0, 1], clamped, and leaves unknown values uncoloured', () => {
    const scale = colourScale([2, null, 4, Number.NaN, 6, undefined], 'linear');
    expect(scale.domain).toEqual([2, 6]);
    expect(scale.position(4)).toBe(0.5);
    expect(scale.position(1)).toBe(0);
    expect(scale.position(8)).toBe(1);
    expect(scale.colour(2)).toBe('#440154');
    expect(scale.colour(6)).toBe('#fde725');
    expect(scale.colour(null)).toBeNull();
    expect(scale.colour(Number.POSITIVE_INFINITY)).toBeNull();
    expect(scale.ticks(4)).toEqual([2, 3, 4, 5, 6]);
  });

  it('on a log scale, spaces decades evenly and puts values ≤ 0 at the bottom', () => {
    const scale = colourScale([0.01, 0.1, 1, 0, -2], 'log');
    expect(scale.domain).toEqual([0.01, 1]);
    expect(scale.position(0.1)).toBeCloseTo(0.5, 12);
    expect(scale.colour(0.1)).toBe('#21918c');
    expect(scale.position(0)).toBe(0);
    expect(scale.position(Math.sqrt(0.1) / 10)).toBeCloseTo(0.25, 12);
    // 1, 2, 5 × 10ᵏ would be 7 ticks, more than 5: powers of ten only.
    expect(scale.ticks()).toEqual([0.01, 0.1, 1]);
  });

  it('puts every value in the middle of a scale with one value, and copes with no values', () => {
    expect(colourScale([3, 3], 'linear').position(3)).toBe(0.5);
    expect(colourScale([], 'log').colour(1)).toBe(viridis(0.5));
    expect(colourScale([null], 'linear').domain).toEqual([0, 0]);
  });
});

describe('contourLevels', () => {
  it('takes the scale’s ticks strictly inside its domain', () => {
    expect(contourLevels(colourScale([0, 1], 'linear'), 5)).toEqual([0.2, 0.4, 0.6, 0.8]);
    expect(contourLevels(colourScale([0.05, 3], 'log'), 8)).toEqual([0.1, 0.2, 0.5, 1, 2]);
  });
});

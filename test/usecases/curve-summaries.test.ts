import { describe, expect, it } from 'vitest';
import { pathBarrierMetrics } from '../../src/domain/barrier.metrics.js';
import {
  CurveCache,
  decodeSummary,
  encodeSummary,
  gridKey,
  summarizeCurve,
  SUMMARY_VERSION,
} from '../../src/usecases/paths/curve-summaries.js';

const point = (alpha: number, lossSum: number, correct: number) => ({
  pathId: 'p',
  alpha,
  lossSum,
  correct,
  n: 10,
  nonFinite: Number.isFinite(lossSum) ? 0 : 10,
});

describe('curve summaries', () => {
  const curve = [point(0, 7, 5), point(0.5, 9, 4), point(0.75, Number.NaN, 0), point(1, 1, 9)];

  it('hold the barrier measures the domain computes from the curve, and its finite extremes', () => {
    const summary = summarizeCurve(curve);
    // Mean loss = lossSum / n, error = 1 − correct / n; a non-finite loss is left out of the extremes.
    expect(summary.barriers).toEqual(
      pathBarrierMetrics([
        { alpha: 0, loss: 0.7, accuracy: 0.5 },
        { alpha: 0.5, loss: 0.9, accuracy: 0.4 },
        { alpha: 0.75, loss: null, accuracy: 0 },
        { alpha: 1, loss: 0.1, accuracy: 0.9 },
      ]),
    );
    expect(summary.loss).toEqual({ min: 0.1, max: 0.9 });
    expect(summary.error.min).toBeCloseTo(0.1, 15);
    expect(summary.error.max).toBe(1);
  });

  it('go through JSON and back unchanged, non-finite loss sums included', () => {
    const curveWithInfinities = [
      ...curve,
      point(2, Number.POSITIVE_INFINITY, 0),
      point(3, Number.NEGATIVE_INFINITY, 0),
    ];
    const summary = summarizeCurve(curveWithInfinities);
    const json = JSON.parse(JSON.stringify(encodeSummary(summary))) as Record<string, unknown>;
    const back = decodeSummary('p', json);
    expect(back.points.map((p) => p.lossSum)).toEqual([7, 9, Number.NaN, 1, Infinity, -Infinity]);
    expect(back).toEqual(summary);
  });

  it('are versioned by a fingerprint of the measures, and cached by grid and content key', () => {
    expect(SUMMARY_VERSION).toMatch(/^[0-9a-f]{16}$/);
    const cache = new CurveCache(2);
    const summary = summarizeCurve(curve);
    cache.set('key', gridKey([0, 0.5, 1]), summary);
    expect(cache.get('key', '0,0.5,1')).toBe(summary);
    expect(cache.get('key', '0,1')).toBeUndefined();
    cache.set('a', '0,1', summary);
    cache.set('b', '0,1', summary);
    expect(cache.get('key', '0,0.5,1')).toBeUndefined(); // the least recently used went first
  });
});

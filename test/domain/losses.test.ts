import { describe, expect, it } from 'vitest';
import { emptyTally, meanLoss, reportedMetrics, tallyBatch } from '../../src/domain/losses.js';

describe('meanLoss and reportedMetrics', () => {
  it('are lossSum / n and correct / n of a tally', () => {
    // Two examples, three classes: cross-entropy log Σ e^z − z_y computed by hand.
    const logits = Float32Array.from([2, 0, -1, 0.5, 0.5, 3]);
    const tally = tallyBatch(emptyTally(), logits, [0, 1], 3);
    const ce = (z: number[], y: number) => Math.log(z.reduce((s, v) => s + Math.exp(v), 0)) - z[y]!;
    const expected = (ce([2, 0, -1], 0) + ce([0.5, 0.5, 3], 1)) / 2;
    expect(meanLoss(tally)).toBeCloseTo(expected, 6);
    expect(reportedMetrics(tally)).toEqual({ loss: meanLoss(tally), accuracy: 0.5 });
  });

  it('add up over batches exactly as one batch would', () => {
    const logits = Float32Array.from([0.3, -2, 4, -0.1]);
    const labels = [1, 0, 0, 1];
    const whole = tallyBatch(emptyTally(), logits, labels, 1);
    const split = tallyBatch(
      tallyBatch(emptyTally(), logits.subarray(0, 1), labels.slice(0, 1), 1),
      logits.subarray(1),
      labels.slice(1),
      1,
    );
    expect(meanLoss(split)).toBe(meanLoss(whole));
    expect(reportedMetrics(split)).toEqual(reportedMetrics(whole));
  });

  it('report a non-finite mean loss as null, keeping the accuracy', () => {
    for (const lossSum of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(Number.isFinite(meanLoss({ lossSum, n: 4 }))).toBe(false);
      expect(reportedMetrics({ lossSum, correct: 3, n: 4 })).toEqual({ loss: null, accuracy: 0.75 });
    }
  });

  it('count a diverged example in lossSum and in nonFinite', () => {
    const tally = tallyBatch(emptyTally(), Float32Array.from([Number.NaN, 1]), [0, 1], 1);
    expect(tally.nonFinite).toBe(1);
    expect(reportedMetrics(tally).loss).toBeNull();
  });
});

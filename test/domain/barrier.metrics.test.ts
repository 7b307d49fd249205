import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CurveShape,
  DEFAULT_LAYERWISE_RELATIVE_THRESHOLD,
  DEFAULT_RELATIVE_TOLERANCE,
  DEFAULT_TOLERANCE,
  barrierMetrics,
  classifyLayerwise,
  pathBarrierMetrics,
} from '../../src/domain/barrier.metrics.js';
import { SeededRandom } from '../../src/domain/random.js';
import { ErrorCode } from '../../src/errors.js';
import { fixturePath } from '../helpers/fixtures.js';

interface Curve {
  loss: number[];
  accuracy: number[];
}
const mlp = JSON.parse(readFileSync(fixturePath('mlp/reference.json'), 'utf8')) as {
  alphas: number[];
  full: Curve;
  full_epoch5: Curve;
};
const resnet = JSON.parse(readFileSync(fixturePath('resnet18-curves.json'), 'utf8')) as {
  alphas: number[];
  full: Curve;
  blockwise: Record<string, Curve>;
};
const points = (curve: Curve, alphas: number[]) =>
  alphas.map((alpha, i) => ({ alpha, loss: curve.loss[i]!, accuracy: curve.accuracy[i]! }));

const quarterAlphas = [0, 0.25, 0.5, 0.75, 1];
const expectBadInput = (fn: () => unknown, message: RegExp): void => {
  expect(fn).toThrow(message);
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe(ErrorCode.BAD_USER_INPUT);
  }
};

describe('barrierMetrics on hand-made curves', () => {
  it('a rise at the start is a barrier', () => {
    const m = barrierMetrics(quarterAlphas, [1, 1.5, 0.8, 0.5, 0.2]);
    expect(m.shape).toBe(CurveShape.BARRIER);
    expect(m.monotonic).toBe(false);
    expect(m.frankleHeight).toBeCloseTo(1.5 - 0.5 * (1 + 0.2), 12);
    expect(m.heightAboveEndpoints).toBeCloseTo(0.5, 12);
    expect(m.mliDelta).toBeCloseTo(0.5, 12);
    expect(m.alphaAtMax).toBe(0.25);
    expect(m.maxValue).toBe(1.5);
    expect(m.nonFinitePoints).toBe(0);
  });

  it('a rise at the end is a barrier whose bump never comes back below its start', () => {
    const m = barrierMetrics(quarterAlphas, [1, 0.6, 0.3, 0.2, 0.4]);
    expect(m.shape).toBe(CurveShape.BARRIER);
    expect(m.frankleHeight).toBeCloseTo(1 - 0.5 * (1 + 0.4), 12);
    expect(m.heightAboveEndpoints).toBe(0);
    // Starts at 0.2 (α = 0.75), never returns below it: the peak is taken over the rest.
    expect(m.mliDelta).toBeCloseTo(0.2, 12);
    expect(m.alphaAtMax).toBe(0);
  });

  it('flat, then a drop near α = 1, is a plateau', () => {
    const m = barrierMetrics(quarterAlphas, [2.3, 2.3, 2.29, 2.2, 0.4]);
    expect(m.shape).toBe(CurveShape.PLATEAU);
    expect(m.monotonic).toBe(true);
    expect(m.mliDelta).toBe(0);
    expect(m.heightAboveEndpoints).toBe(0);
  });

  it('a flat line is a plateau', () => {
    expect(barrierMetrics([0, 0.5, 1], [1, 1, 1]).shape).toBe(CurveShape.PLATEAU);
  });

  it('a steady decay is monotonic decay, and so is a straight line of two points', () => {
    const m = barrierMetrics(quarterAlphas, [1, 0.7, 0.5, 0.4, 0.35]);
    expect(m.shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(m.mliDelta).toBe(0);
    expect(m.frankleHeight).toBeCloseTo(1 - 0.5 * 1.35, 12);
    expect(m.alphaAtMax).toBe(0);
    // L(0.5) is interpolated between the end points: half the decrease, not a plateau.
    expect(barrierMetrics([0, 1], [1, 0.5]).shape).toBe(CurveShape.MONOTONIC_DECAY);
  });

  it('the plateau rule follows plateauAlpha and plateauFraction', () => {
    // 0.04 of the decrease is done by α = 0.25, 0.2 by α = 0.5.
    const values = [1, 0.98, 0.9, 0.6, 0.5];
    expect(barrierMetrics(quarterAlphas, values).shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(barrierMetrics(quarterAlphas, values, { plateauFraction: 0.25 }).shape).toBe(CurveShape.PLATEAU);
    expect(barrierMetrics(quarterAlphas, values, { plateauAlpha: 0.25 }).shape).toBe(CurveShape.PLATEAU);
  });

  it('a rise of exactly the tolerance is monotonic; just above is a barrier', () => {
    const tolerance = 2 ** -4; // exact in binary, so the rise below is exactly the tolerance
    const alphas = [0, 1 / 3, 2 / 3, 1];
    const at = barrierMetrics(alphas, [1, 0.5, 0.5 + tolerance, 0], { tolerance });
    expect(at.monotonic).toBe(true);
    expect(at.shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(at.mliDelta).toBe(tolerance); // reported as measured, without tolerance
    const above = barrierMetrics(alphas, [1, 0.5, 0.5 + tolerance + 2 ** -30, 0], { tolerance });
    expect(above.monotonic).toBe(false);
    expect(above.shape).toBe(CurveShape.BARRIER);
  });

  it(`the absolute tolerance defaults to ${DEFAULT_TOLERANCE}`, () => {
    const absolute = { relativeTolerance: 0 };
    expect(barrierMetrics(quarterAlphas, [1, 0.8, 0.80005, 0.5, 0.2], absolute).shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(barrierMetrics(quarterAlphas, [1, 0.8, 0.8002, 0.5, 0.2], absolute).shape).toBe(CurveShape.BARRIER);
    // Without the relative part, the same rise on a curve a thousand times larger is still a barrier.
    expect(barrierMetrics(quarterAlphas, [1000, 800, 800.0002, 500, 200], absolute).shape).toBe(CurveShape.BARRIER);
    // A flat curve with a small bump: the range is the bump itself, so the absolute part decides.
    expect(barrierMetrics(quarterAlphas, [1, 1, 1.0002, 1, 1]).shape).toBe(CurveShape.BARRIER);
    expect(barrierMetrics(quarterAlphas, [1, 1, 1.00005, 1, 1]).shape).toBe(CurveShape.PLATEAU);
  });

  it(`a rise must also exceed ${DEFAULT_RELATIVE_TOLERANCE} of the curve's range (relativeTolerance)`, () => {
    // Range 0.8: the threshold is max(1e-4, 0.01 × 0.8) = 0.008.
    const wiggle = barrierMetrics(quarterAlphas, [1, 0.8, 0.807, 0.5, 0.2]);
    expect(wiggle.threshold).toBeCloseTo(0.008, 12);
    expect(wiggle.shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(wiggle.monotonic).toBe(true);
    expect(wiggle.barrierAlpha).toBeNull();
    expect(wiggle.mliDelta).toBeCloseTo(0.007, 12); // reported as measured
    const bump = barrierMetrics(quarterAlphas, [1, 0.8, 0.809, 0.5, 0.2]);
    expect(bump.shape).toBe(CurveShape.BARRIER);
    expect(bump.barrierAlpha).toBe(0.5);
    // Scale-free: the same curve × 1000 is classified the same way.
    expect(barrierMetrics(quarterAlphas, [1000, 800, 807, 500, 200]).shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(barrierMetrics(quarterAlphas, [1000, 800, 809, 500, 200]).shape).toBe(CurveShape.BARRIER);
    // A rise spread over several steps, each below the threshold, is one rise.
    const spread = barrierMetrics([0, 0.2, 0.4, 0.6, 0.8, 1], [1, 0.5, 0.506, 0.512, 0.518, 0.2]);
    expect(spread.shape).toBe(CurveShape.BARRIER);
    expect(spread.barrierAlpha).toBe(0.8);
    expect(() => barrierMetrics([0, 1], [1, 0], { relativeTolerance: 2 })).toThrow(/relativeTolerance/);
  });

  it('rise is the height above both end points, riseAboveStart the height above L(0)', () => {
    // Falls, then rises back above L(1) but not above L(0): a barrier (a bump) with rise 0.
    const below = barrierMetrics(quarterAlphas, [1, 0.3, 0.6, 0.4, 0.2]);
    expect(below.shape).toBe(CurveShape.BARRIER);
    expect(below.mliDelta).toBeCloseTo(0.3, 12);
    expect(below.barrierAlpha).toBe(0.5);
    expect(below.rise).toBe(0);
    expect(below.riseAboveStart).toBe(0);
    // Rises above the start: rise and riseAboveStart agree when L(0) ≥ L(1).
    const above = barrierMetrics(quarterAlphas, [1, 1.4, 0.6, 0.4, 0.2]);
    expect(above.rise).toBeCloseTo(0.4, 12);
    expect(above.riseAboveStart).toBeCloseTo(0.4, 12);
    expect(above.heightAboveEndpoints).toBe(above.rise);
    // From a trained state to a random one: the end is higher, riseAboveStart counts the whole climb.
    const up = barrierMetrics(quarterAlphas, [0.1, 0.5, 1.2, 1, 0.9]);
    expect(up.rise).toBeCloseTo(0.3, 12);
    expect(up.riseAboveStart).toBeCloseTo(1.1, 12);
    expect(up.frankleHeight).toBeCloseTo(1.2 - 0.5, 12);
  });

  it('an overfitting test curve (minimum before α = 1, then up) is a BARRIER with rise 0 only past the relative tolerance', () => {
    // The shape of the MNIST test curves in docs/study-spiral.md: 2.30 → minimum 0.259 at α = 0.85 → 0.292 at 1
    // (read off study-spiral.svg). Range 2.04, threshold max(1e-4, 1% × 2.04) = 0.0204 < the end rise 0.033.
    const alphas = Array.from({ length: 21 }, (_, i) => i / 20);
    const decay = alphas.map((a) => 0.259 + 2.041 * (1 - Math.min(a, 0.85) / 0.85) ** 2);
    const overfit = decay.map((v, i) => (alphas[i]! > 0.85 ? v + (0.033 * (alphas[i]! - 0.85)) / 0.15 : v));
    const m = barrierMetrics(alphas, overfit);
    expect(m.threshold).toBeCloseTo(0.0204, 4);
    expect(m.mliDelta).toBeCloseTo(0.033, 12);
    expect(m.shape).toBe(CurveShape.BARRIER);
    expect(m.barrierAlpha).toBe(1);
    expect([m.rise, m.riseAboveStart]).toEqual([0, 0]);
    // The same curve ending 0.015 above its minimum stays within the tolerance: monotonic decay.
    const slight = decay.map((v, i) => (alphas[i]! > 0.85 ? v + (0.015 * (alphas[i]! - 0.85)) / 0.15 : v));
    expect(barrierMetrics(alphas, slight).shape).toBe(CurveShape.MONOTONIC_DECAY);
  });

  it('a monotone init → final curve has rise 0 and is never a barrier (random non-increasing curves)', () => {
    const random = new SeededRandom(5);
    for (let c = 0; c < 500; c++) {
      const n = 2 + Math.floor(random.next() * 30);
      let value = 0.5 + 5 * random.next();
      const values = Array.from({ length: n }, (_, i) => (i === 0 ? value : (value -= random.next() * random.next())));
      const m = barrierMetrics(
        values.map((_, i) => i / (n - 1)),
        values,
      );
      expect(m.rise).toBe(0);
      expect(m.riseAboveStart).toBe(0);
      expect(m.mliDelta).toBe(0);
      expect(m.monotonic).toBe(true);
      expect(m.shape).not.toBe(CurveShape.BARRIER);
      expect(m.barrierAlpha).toBeNull();
    }
  });

  it('a BARRIER always has a positive bump above its threshold and a peak (random curves)', () => {
    const random = new SeededRandom(7);
    for (let c = 0; c < 500; c++) {
      const n = 2 + Math.floor(random.next() * 20);
      const values = Array.from({ length: n }, () => random.next() * 3);
      const m = barrierMetrics(
        values.map((_, i) => i / (n - 1)),
        values,
      );
      if (m.shape !== CurveShape.BARRIER) continue;
      expect(m.mliDelta!).toBeGreaterThan(m.threshold!);
      expect(m.barrierAlpha).not.toBeNull();
    }
  });

  it('mliDelta is the largest bump: equal to max over i < j of (L_j − L_i)⁺ on random curves', () => {
    const random = new SeededRandom(11);
    for (let c = 0; c < 300; c++) {
      const n = 2 + Math.floor(random.next() * 12);
      const values = Array.from({ length: n }, () => Math.round(random.next() * 8) / 4);
      let expected = 0;
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) expected = Math.max(expected, values[j]! - values[i]!);
      const alphas = values.map((_, i) => i / (n - 1));
      expect(barrierMetrics(alphas, values).mliDelta).toBe(expected);
    }
  });

  it('keeps the largest of several bumps', () => {
    // Bump 1: from 1 up to 1.3, back below 1 at 0.5. Bump 2: from 0.5 up to 1.2, never back.
    const m = barrierMetrics([0, 0.2, 0.4, 0.6, 0.8, 1], [1, 1.3, 0.5, 0.9, 1.2, 1.1]);
    expect(m.mliDelta).toBeCloseTo(0.7, 12);
    expect(m.alphaAtMax).toBe(0.2);
  });

  it('sorts the points by alpha', () => {
    const sorted = barrierMetrics(quarterAlphas, [1, 1.5, 0.8, 0.5, 0.2]);
    expect(barrierMetrics([1, 0.25, 0, 0.75, 0.5], [0.2, 1.5, 1, 0.5, 0.8])).toEqual(sorted);
  });

  it('measures and classifies α ∈ [0, 1] only: points outside are counted, never classified', () => {
    // Extrapolation on both sides rises away from the path (the usual picture): the path itself decays.
    const alphas = [-0.5, 0, 0.25, 0.5, 0.75, 1, 1.5];
    const m = barrierMetrics(alphas, [3, 1, 0.7, 0.5, 0.4, 0.35, 2]);
    expect(m.shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(m.pointsOutside).toBe(2);
    expect(m.rise).toBe(0);
    expect(m.alphaAtMax).toBe(0);
    expect(m.maxValue).toBe(1);
    expect(m.frankleHeight).toBeCloseTo(1 - 0.5 * 1.35, 12);
    // The plateau rule cuts the [0, 1] range, not the sampled one.
    expect(barrierMetrics([-1, 0, 0.5, 1, 2], [9, 4, 3.95, 0, 5]).shape).toBe(CurveShape.PLATEAU);
    // Fewer than two points in [0, 1]: nothing to classify.
    const outside = barrierMetrics([-1, -0.5, 0.5, 2], [1, 2, 3, 4]);
    expect(outside).toMatchObject({ shape: null, rise: null, monotonic: null, maxValue: null, pointsOutside: 3 });
  });

  it('calls a path that diverges on the way a barrier of unbounded height, and counts non-finite points', () => {
    const interior = barrierMetrics(quarterAlphas, [1, Number.NaN, 0.5, Number.POSITIVE_INFINITY, 0.2]);
    expect(interior.nonFinitePoints).toBe(2);
    expect(interior.shape).toBe(CurveShape.BARRIER);
    expect(interior.monotonic).toBe(false);
    expect(interior.maxValue).toBe(1);
    expect(interior.frankleHeight).toBeNull();
    expect(interior.heightAboveEndpoints).toBeNull();
    expect(interior.mliDelta).toBeNull();
    // Otherwise a falling curve with one diverged point in the middle.
    expect(barrierMetrics(quarterAlphas, [1, 0.9, Number.NaN, 0.6, 0.5])).toMatchObject({
      shape: CurveShape.BARRIER,
      monotonic: false,
    });

    const endpoint = barrierMetrics(quarterAlphas, [Number.NaN, 1, 0.5, 0.3, 0.2]);
    expect(endpoint.nonFinitePoints).toBe(1);
    expect(endpoint.frankleHeight).toBeNull();
    expect(endpoint.heightAboveEndpoints).toBeNull();
    expect(endpoint.monotonic).toBe(true);
    expect(endpoint.shape).toBeNull(); // decay or plateau cannot be told without L(α_min)
    expect(endpoint.mliDelta).toBe(0);
    expect(endpoint.alphaAtMax).toBe(0.25);

    const endpointBarrier = barrierMetrics(quarterAlphas, [1, 0.5, 0.9, 0.3, Number.NEGATIVE_INFINITY]);
    expect(endpointBarrier.shape).toBe(CurveShape.BARRIER);
    expect(endpointBarrier.heightAboveEndpoints).toBeNull();
    expect(endpointBarrier.mliDelta).toBeCloseTo(0.4, 12);

    expect(interior.barrierAlpha).toBe(0.25);
    expect(barrierMetrics([0, 0.5, 1], [Number.NaN, 2, Number.NaN])).toEqual({
      rise: null,
      riseAboveStart: null,
      frankleHeight: null,
      heightAboveEndpoints: null,
      mliDelta: null,
      alphaAtMax: 0.5,
      maxValue: 2,
      barrierAlpha: null,
      threshold: null,
      monotonic: null,
      shape: null,
      nonFinitePoints: 2,
      pointsOutside: 0,
    });
    const none = barrierMetrics([0, 1], [Number.NaN, Number.NaN]);
    expect(none.maxValue).toBeNull();
    expect(none.alphaAtMax).toBeNull();
    expect(none.nonFinitePoints).toBe(2);
  });

  it('rejects invalid arguments as BAD_USER_INPUT', () => {
    expectBadInput(() => barrierMetrics([0], [1]), /at least 2 points, got 1/);
    expectBadInput(() => barrierMetrics([], []), /at least 2 points, got 0/);
    expectBadInput(() => barrierMetrics([0, 1], [1]), /1 values for 2 alphas/);
    expectBadInput(() => barrierMetrics([0, 0.5, 0.5], [1, 2, 3]), /distinct alphas, got 0.5 twice/);
    expectBadInput(() => barrierMetrics([0, Number.NaN], [1, 2]), /alphas must be finite, got NaN at index 1/);
    expectBadInput(() => barrierMetrics([0, 1], [1, 2], { tolerance: -1 }), /tolerance/);
    expectBadInput(() => barrierMetrics([0, 1], [1, 2], { plateauAlpha: 1 }), /plateauAlpha/);
    expectBadInput(() => barrierMetrics([0, 1], [1, 2], { plateauFraction: 2 }), /plateauFraction/);
  });
});

describe('pathBarrierMetrics', () => {
  it('measures loss and error = 1 − accuracy, null values counting as non-finite', () => {
    const m = pathBarrierMetrics([
      { alpha: 0, loss: 2, accuracy: 0.1 },
      { alpha: 0.5, loss: null, accuracy: null },
      { alpha: 1, loss: 0.5, accuracy: 0.9 },
    ]);
    expect(m.loss.nonFinitePoints).toBe(1);
    expect(m.error.nonFinitePoints).toBe(1);
    expect(m.loss.maxValue).toBe(2);
    expect(m.error.maxValue).toBeCloseTo(0.9, 15);
    expect(m.loss.shape).toBe(CurveShape.BARRIER);
    expect(m.error.shape).toBe(CurveShape.BARRIER);
  });
});

describe('barrierMetrics on the PyTorch MLP reference curves', () => {
  it('MLP init → final (60 epochs): loss and error decay monotonically', () => {
    const { loss, error } = pathBarrierMetrics(points(mlp.full, mlp.alphas));
    const l = mlp.full.loss;
    expect(loss.shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(loss.monotonic).toBe(true);
    expect(loss.mliDelta).toBe(0);
    expect(loss.heightAboveEndpoints).toBe(0);
    expect(loss.frankleHeight).toBeCloseTo(l[0]! - 0.5 * (l[0]! + l[10]!), 12);
    expect(loss.alphaAtMax).toBe(0);
    expect(error.shape).toBe(CurveShape.MONOTONIC_DECAY);
    // A quarter of the decrease is done by α = 0.5: smooth decay, well above the plateau fraction.
    expect((l[0]! - l[5]!) / (l[0]! - l[10]!)).toBeGreaterThan(0.2);
  });

  it('MLP init → epoch 5: loss decays; error has a barrier (accuracy dips after α = 0.3)', () => {
    const { loss, error } = pathBarrierMetrics(points(mlp.full_epoch5, mlp.alphas));
    expect(loss.shape).toBe(CurveShape.MONOTONIC_DECAY);
    expect(loss.mliDelta).toBe(0);
    expect(error.shape).toBe(CurveShape.BARRIER);
    const e = mlp.full_epoch5.accuracy.map((a) => 1 - a);
    let expected = 0;
    for (let i = 0; i < e.length; i++)
      for (let j = i + 1; j < e.length; j++) expected = Math.max(expected, e[j]! - e[i]!);
    expect(error.mliDelta).toBeCloseTo(expected, 12);
  });
});

/**
 * The curves of CI's ResNet-18 fixture, committed (test/fixtures/resnet18-curves.json): they describe that
 * fixture's training run, which a fixture regenerated on another CPU does not reproduce.
 */
describe('barrierMetrics on the PyTorch ResNet-18 reference curves', () => {
  it('ResNet-18 full path: loss rises to 2.5 at α = 0.6, then drops — a barrier', () => {
    const l = resnet.full.loss;
    const max = Math.max(...l);
    const { loss, error } = pathBarrierMetrics(points(resnet.full, resnet.alphas));
    expect(loss.shape).toBe(CurveShape.BARRIER);
    expect(loss.alphaAtMax).toBe(0.6);
    expect(loss.maxValue).toBe(max);
    expect(loss.frankleHeight).toBeCloseTo(max - 0.5 * (l[0]! + l[10]!), 12);
    expect(loss.heightAboveEndpoints).toBeCloseTo(max - l[0]!, 12);
    // One bump: from L(0) up to the peak, back below L(0) at α = 0.8.
    expect(loss.mliDelta).toBeCloseTo(max - l[0]!, 12);
    expect(loss.barrierAlpha).toBe(0.6);
    // The error sits at chance (0.9) until α = 0.6; one flipped image (1/500) at α = 0.1 is a rise of 0.002,
    // below 1% of the error's range: Frankle's plateau. Counting single flips needs relativeTolerance 0.
    expect(error.shape).toBe(CurveShape.PLATEAU);
    expect(error.mliDelta).toBeCloseTo(0.002, 12);
    const errorStrict = pathBarrierMetrics(points(resnet.full, resnet.alphas), {
      error: { relativeTolerance: 0 },
    }).error;
    expect(errorStrict.shape).toBe(CurveShape.BARRIER);
  });

  it('ResNet-18 block-wise paths: stem and layer3 decay, layer1 and layer2 have barriers; layer4 and fc end in rises under 1% of their range', () => {
    const shapes = Object.fromEntries(
      Object.entries(resnet.blockwise).map(([block, curve]) => [
        block,
        barrierMetrics(resnet.alphas, curve.loss).shape,
      ]),
    );
    expect(shapes).toEqual({
      stem: CurveShape.MONOTONIC_DECAY,
      layer1: CurveShape.BARRIER,
      layer2: CurveShape.BARRIER,
      layer3: CurveShape.MONOTONIC_DECAY,
      layer4: CurveShape.MONOTONIC_DECAY,
      fc: CurveShape.MONOTONIC_DECAY,
    });
    // With the absolute tolerance alone, their end rises (0.034 and 0.0037) count.
    for (const block of ['layer4', 'fc'])
      expect(barrierMetrics(resnet.alphas, resnet.blockwise[block]!.loss, { relativeTolerance: 0 }).shape).toBe(
        CurveShape.BARRIER,
      );
    for (const [block, curve] of Object.entries(resnet.blockwise)) {
      const l = curve.loss;
      const max = Math.max(...l);
      const m = barrierMetrics(resnet.alphas, l);
      expect(m.frankleHeight, block).toBeCloseTo(max - 0.5 * (l[0]! + l[10]!), 12);
      expect(m.heightAboveEndpoints, block).toBeCloseTo(Math.max(0, max - Math.max(l[0]!, l[10]!)), 12);
    }
    // layer4 and fc end in a small rise after their minimum: a bump that never comes back.
    const layer4 = resnet.blockwise.layer4!.loss;
    expect(barrierMetrics(resnet.alphas, layer4).mliDelta).toBeCloseTo(layer4[10]! - Math.min(...layer4), 12);
    expect(barrierMetrics(resnet.alphas, layer4).heightAboveEndpoints).toBe(0);
    const layer2 = resnet.blockwise.layer2!.loss;
    expect(barrierMetrics(resnet.alphas, layer2).mliDelta).toBeCloseTo(Math.max(...layer2) - layer2[0]!, 12);
  });

  it('classifies the block-wise barriers relative to the final loss', () => {
    const heights = Object.fromEntries(
      Object.entries(resnet.blockwise).map(([block, curve]) => [
        block,
        barrierMetrics(resnet.alphas, curve.loss).heightAboveEndpoints!,
      ]),
    );
    const endpointLoss = resnet.full.loss[10]!;
    const result = classifyLayerwise(heights, endpointLoss);
    expect(result.threshold).toBeCloseTo(DEFAULT_LAYERWISE_RELATIVE_THRESHOLD * endpointLoss, 15);
    expect(result.blocks).toEqual({
      stem: 'LOW',
      layer1: 'HIGH',
      layer2: 'HIGH',
      layer3: 'LOW',
      layer4: 'LOW',
      fc: 'LOW',
    });
    expect(result.summary).toBe('HIGH_LAYERWISE_BARRIERS');
    // layer2 rises 0.67 above its start (68% of the final loss), layer1 0.12 (12%).
    const strict = classifyLayerwise(heights, endpointLoss, { relativeThreshold: 0.5 });
    expect(strict.blocks.layer1).toBe('LOW');
    expect(strict.blocks.layer2).toBe('HIGH');
    expect(classifyLayerwise(heights, endpointLoss, { relativeThreshold: 1 }).summary).toBe('LOW_LAYERWISE_BARRIERS');
  });
});

describe('classifyLayerwise', () => {
  it('is HIGH strictly above the threshold', () => {
    const result = classifyLayerwise({ a: 0.1, b: 0.1000001, c: Number.POSITIVE_INFINITY }, 1);
    expect(result.blocks).toEqual({ a: 'LOW', b: 'HIGH', c: 'HIGH' });
    expect(classifyLayerwise({ a: 0, b: 0.05 }, 1).summary).toBe('LOW_LAYERWISE_BARRIERS');
  });

  it('rejects invalid arguments as BAD_USER_INPUT', () => {
    expectBadInput(() => classifyLayerwise({}, 1), /at least one block/);
    expectBadInput(() => classifyLayerwise({ a: 1 }, 0), /endpointLoss must be a finite number > 0, got 0/);
    expectBadInput(() => classifyLayerwise({ a: 1 }, Number.NaN), /endpointLoss/);
    expectBadInput(() => classifyLayerwise({ a: Number.NaN }, 1), /block "a" is NaN/);
    expectBadInput(() => classifyLayerwise({ a: 1 }, 1, { relativeThreshold: -0.1 }), /relativeThreshold/);
  });

  it('keeps a block named "__proto__" as a block of the classification', () => {
    const heights = Object.fromEntries([
      ['__proto__', 2],
      ['constructor', 0.01],
    ]) as Record<string, number>;
    const result = classifyLayerwise(heights, 1);
    expect(Object.keys(result.blocks).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(result.blocks)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(result.blocks, '__proto__')?.value).toBe('HIGH');
    expect(result.blocks.constructor).toBe('LOW');
  });
});

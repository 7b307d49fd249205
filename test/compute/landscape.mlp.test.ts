import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { Engine, PreparedModel } from '../../src/compute/engine.js';
import { OnnxEngine } from '../../src/compute/onnx/onnx.engine.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import {
  bezierCoefficients,
  combineStates,
  directionPlaneCoefficients,
  planeCoefficients,
  polychainCoefficients,
} from '../../src/domain/combination.js';
import { orthogonalPlaneAxes, orthogonalPlanePoint } from '../../src/domain/directions.js';
import { meanLoss } from '../../src/domain/losses.js';
import {
  evaluatePoint,
  readCheckpointFixture,
  readReferenceFixture,
  readSafetensorsFixture,
  readTestSetFixture,
} from '../helpers/engine-fixtures.js';
import {
  type LandscapePoint,
  directionSha256,
  makeDirections,
  readLandscapeReference,
} from '../helpers/landscape-fixtures.js';

/**
 * Loss planes and curves on the MLP fixture against PyTorch (scripts/make-landscape-fixtures.py →
 * test/fixtures/landscape/mlp.json), on both engines, all 5000 test points:
 * - the 5×5 plane through init, final and epoch5 (x, y ∈ {−0.5, 0, 0.5, 1, 1.5}), three points of its
 *   orthogonalised version, the 5×5 filter-normalised plane around final (x, y ∈ {−1, −0.5, 0, 0.5, 1}), and the
 *   Bezier and polychain curves init → epoch5 (bend) → final at t = 0, ¼, ½, ¾, 1;
 * - the directions: linpath's draws are the ones the script read (sha256), and linpath's filter normalisation
 *   agrees with the script's independent torch implementation at every value.
 * Tolerances (fixtures/mlp/README.md): mean loss within 1e-5 relative; the correct count exact except for
 * examples whose reference logit is within 1e-4 of 0 (`nearBoundary`), which float32 noise may flip.
 */
const LOSS_RELATIVE_TOLERANCE = 1e-5;
/** Normalised directions, linpath (float64 norms) against torch (float32 norms): measured 2.6e-7. */
const DIRECTION_RELATIVE_TOLERANCE = 1e-6;

const reference = readLandscapeReference('mlp');
const init = readCheckpointFixture('mlp/init.safetensors');
const final = readCheckpointFixture('mlp/final.safetensors');
const epoch5 = readCheckpointFixture('mlp/epoch5.safetensors');
const test = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
const directions = makeDirections('mlp', final);
const states: Record<string, Map<string, Float32Array>> = {
  init: init.state,
  final: final.state,
  epoch5: epoch5.state,
  x: directions.x,
  y: directions.y,
};

/** Every point of the reference with the coefficients linpath computes for it. */
function cases() {
  const { planes, curves } = reference;
  const { projection } = orthogonalPlaneAxes(init.state, final.state, epoch5.state, [...init.state.keys()]);
  const at = (name: string, points: LandscapePoint[], coefficients: (p: LandscapePoint) => number[]) =>
    points.map((point) => ({ name, point, states: name, coefficients: coefficients(point) }));
  return [
    ...at('three', planes['three']!.points, (p) => planeCoefficients(p.x!, p.y!)),
    ...at('orthogonal', planes['orthogonal']!.points, (p) =>
      planeCoefficients(...orthogonalPlanePoint(p.x!, p.y!, projection)),
    ),
    ...at('directions', planes['directions']!.points, (p) => directionPlaneCoefficients(p.x!, p.y!)),
    ...at('bezier', curves['bezier']!.points, (p) => bezierCoefficients(p.t!)),
    ...at('polychain', curves['polychain']!.points, (p) => polychainCoefficients(p.t!)),
  ].map((c) => ({
    ...c,
    label: `${c.name} ${c.point.t === undefined ? `(${c.point.x}, ${c.point.y})` : `t = ${c.point.t}`}`,
    stateNames: (c.name in planes ? planes[c.name]! : curves[c.name]!).states,
  }));
}

describe('the MLP landscape reference', () => {
  it("uses linpath's directions: the script read the raw draws and the normalised directions linpath makes", () => {
    for (const axis of ['x', 'y'] as const) {
      const check = reference.directions[axis];
      expect(directionSha256(axis === 'x' ? directions.rawX : directions.rawY)).toBe(check.sha256Raw);
      expect(directionSha256(directions[axis])).toBe(check.sha256Linpath);
    }
  });

  it("normalises as Li et al.'s rule does in the script's torch implementation, at every value", () => {
    const torch = readSafetensorsFixture('landscape/mlp-directions-torch.safetensors');
    for (const axis of ['x', 'y'] as const) {
      let worst = 0;
      for (const [name, values] of directions[axis]) {
        const expected = torch.values.get(`${axis}/${name}`) as Float32Array;
        expect(expected.length).toBe(values.length);
        values.forEach((v, j) => {
          const e = expected[j]!;
          if (e === 0) expect(v).toBe(0);
          else worst = Math.max(worst, Math.abs(v - e) / Math.abs(e));
        });
      }
      expect(worst).toBeLessThanOrEqual(DIRECTION_RELATIVE_TOLERANCE);
      // The script's own comparison over all values, recorded in the JSON.
      expect(reference.directions[axis].maxRelativeDiff).toBeLessThanOrEqual(DIRECTION_RELATIVE_TOLERANCE);
    }
    // x zeroes the biases (ignore='biasbn'); y copies them (Li et al.'s default).
    expect(directions.x.get('fc1.bias')).toEqual(new Float32Array(50));
    expect(directions.y.get('fc1.bias')).toEqual(final.state.get('fc1.bias'));
  });

  it('has the coefficients linpath computes, and the orthogonal plane’s k and axis lengths', () => {
    for (const c of cases()) {
      if (c.name === 'orthogonal') {
        c.coefficients.forEach((v, i) => expect(v).toBeCloseTo(c.point.coefficients[i]!, 12));
      } else {
        expect(c.coefficients, c.label).toEqual(c.point.coefficients);
      }
    }
    const axes = orthogonalPlaneAxes(init.state, final.state, epoch5.state, [...init.state.keys()]);
    const expected = reference.planes['orthogonal']!;
    expect(axes.projection).toBeCloseTo(expected.projection!, 12);
    expect(Math.abs(axes.xLength / expected.xLength! - 1)).toBeLessThan(1e-12);
    expect(Math.abs(axes.yLength / expected.yLength! - 1)).toBeLessThan(1e-12);
  });

  it('agrees with the line fixture where the plane holds the line: (x, 0) is init → final at α = x', () => {
    const line = readReferenceFixture('mlp/reference.json');
    for (const alpha of [0, 0.5, 1]) {
      const point = reference.planes['three']!.points.find((p) => p.x === alpha && p.y === 0)!;
      expect(point.loss).toBeCloseTo(line.full.loss[line.alphas.indexOf(alpha)]!, 12);
      expect(point.correct).toBe(line.full.correct[line.alphas.indexOf(alpha)]);
    }
  });
});

for (const engineName of ['onnx', 'tfjs'] as const) {
  describe(`${engineName}: MLP planes and curves against PyTorch (5000 points each)`, () => {
    let engine: Engine;
    let prepared: PreparedModel;
    let worstLoss = 0;
    let correctDiffers = 0;

    beforeAll(async () => {
      engine =
        engineName === 'onnx' ? await OnnxEngine.create({ provider: 'cpu', threads: 2 }) : await TfjsEngine.create();
      prepared = await engine.prepare(buildModelGraph('mlp', init.tensors));
    });
    afterAll(async () => {
      await prepared?.dispose();
      await engine?.close();
      console.info(
        `${engineName} mlp landscape: worst relative loss difference ${worstLoss.toExponential(2)}, correct count differs at ${correctDiffers} points`,
      );
    });

    it.each(cases())('$label', async ({ point, coefficients, stateNames }) => {
      const state = combineStates(
        stateNames.map((name) => states[name]!),
        coefficients,
      );
      const { tally } = await evaluatePoint(prepared, state, test, 1, test.n);
      const relative = Math.abs(meanLoss(tally) - point.loss) / point.loss;
      worstLoss = Math.max(worstLoss, relative);
      if (tally.correct !== point.correct) correctDiffers++;
      expect(tally.nonFinite).toBe(0);
      expect(relative).toBeLessThanOrEqual(LOSS_RELATIVE_TOLERANCE);
      expect(Math.abs(tally.correct - point.correct)).toBeLessThanOrEqual(point.nearBoundary);
    });
  });
}

import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildModelGraph } from '../../src/compute/architectures/index.js';
import type { Engine, PreparedModel } from '../../src/compute/engine.js';
import { OnnxEngine } from '../../src/compute/onnx/onnx.engine.js';
import { TfjsEngine } from '../../src/compute/tfjs/tfjs.engine.js';
import {
  bezierCoefficients,
  combineStates,
  directionPlaneCoefficients,
  polychainCoefficients,
} from '../../src/domain/combination.js';
import { emptyTally, tallyBatch } from '../../src/domain/losses.js';
import { evaluatePoint, maxScaledDiff, readResnet18Subset, type Resnet18Subset } from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, describeWithFixtures } from '../helpers/fixtures.js';
import {
  type Directions,
  type LandscapePoint,
  type LandscapeReference,
  directionSha256,
  makeDirections,
  readLandscapeReference,
} from '../helpers/landscape-fixtures.js';

/**
 * A filter-normalised plane and curves on the ResNet-18 fixture against PyTorch (scripts/make-landscape-fixtures.py
 * → test/fixtures/landscape/resnet18.json; the script evaluated the whole 5×5 plane and the curves on the first
 * 50 test images and stored the logits). ResNet-18 is costly on two shared cores, so this file checks a handful:
 * - the directions: linpath's seeded draws and normalisation of all 11.2 M values are the bits the script
 *   read (sha256), and agree with the script's independent torch normalisation at sampled values of every tensor
 *   (and, in the script, at every value: `maxRelativeDiff`);
 * - ONNX: two plane points, Bezier at t = ½ and polychain at t = ¼, on the first 20 images; TensorFlow.js (wasm,
 *   about 30 ms per image and core): one plane point and Bezier at t = ¾ on the first 5 images; each tallied
 *   against the reference logits of the same images (the reference's own loss and correct count over 50 images
 *   are checked against its logits once, for every point).
 * Tolerances as in onnx.resnet.test.ts: logits within 1e-5 · max(1, |z|), mean loss within 1e-5 relative, the
 * correct count exact but for images whose reference top-2 margin is below 1e-4.
 */
const CLASSES = 10;
/** The reference holds 50 images per point; the engines check the first ONNX_IMAGES or TFJS_IMAGES. */
const IMAGES = 50;
const ONNX_IMAGES = 20;
const TFJS_IMAGES = 5;
/**
 * Normalised directions, linpath (float64 norms) against torch (float32 norms of filters of up to 4608 values,
 * whose float32 sums lose a few ulps): measured 9.5e-7 relative at worst over all 11.2 M values (8 ulps).
 */
const DIRECTION_RELATIVE_TOLERANCE = 4e-6;

interface Case {
  label: string;
  point: LandscapePoint;
  stateNames: string[];
  coefficients: number[];
}

function pick(reference: LandscapeReference): { onnx: Case[]; tfjs: Case[] } {
  const plane = reference.planes['directions']!;
  const at = (x: number, y: number): Case => {
    const point = plane.points.find((p) => p.x === x && p.y === y)!;
    return {
      label: `plane (${x}, ${y})`,
      point,
      stateNames: plane.states,
      coefficients: directionPlaneCoefficients(x, y),
    };
  };
  const curve = (name: 'bezier' | 'polychain', t: number): Case => {
    const c = reference.curves[name]!;
    const point = c.points.find((p) => p.t === t)!;
    const coefficients = name === 'bezier' ? bezierCoefficients(t) : polychainCoefficients(t);
    return { label: `${name} t = ${t}`, point, stateNames: c.states, coefficients };
  };
  return {
    onnx: [at(0.5, 0.5), at(1, -1), curve('bezier', 0.5), curve('polychain', 0.25)],
    tfjs: [at(-0.5, -1), curve('bezier', 0.75)],
  };
}

describeWithFixtures(RESNET18_FIXTURES, 'ResNet-18 planes and curves against PyTorch (first images)', () => {
  const reference = readLandscapeReference('resnet18');
  const cases = pick(reference);
  let fixture: Resnet18Subset;
  let directions: Directions;
  let states: Record<string, ReadonlyMap<string, Float32Array>>;
  const engines: Partial<Record<'onnx' | 'tfjs', { engine: Engine; prepared: PreparedModel }>> = {};
  const report: string[] = [];

  beforeAll(async () => {
    fixture = readResnet18Subset(IMAGES);
    directions = makeDirections('resnet18', fixture.final);
    const { init, final } = fixture;
    const bend = combineStates([init.state, final.state, directions.x], [0.5, 0.5, 0.5]);
    states = { init: init.state, final: final.state, x: directions.x, y: directions.y, bend };
    const graph = buildModelGraph('resnet18-cifar', final.tensors);
    for (const name of ['onnx', 'tfjs'] as const) {
      const engine =
        name === 'onnx' ? await OnnxEngine.create({ provider: 'cpu', threads: 2 }) : await TfjsEngine.create();
      engines[name] = { engine, prepared: await engine.prepare(graph) };
    }
  });
  afterAll(async () => {
    for (const e of Object.values(engines)) {
      await e.prepared.dispose();
      await e.engine.close();
    }
    console.info(`resnet18 landscape:\n${report.join('\n')}`);
  });

  it("uses linpath's directions: the raw draws and the normalised directions are the bits the script read", () => {
    expect(reference.config['bend']).toBe('combine([init, final, x], [0.5, 0.5, 0.5])');
    for (const axis of ['x', 'y'] as const) {
      const check = reference.directions[axis];
      expect(directionSha256(axis === 'x' ? directions.rawX : directions.rawY)).toBe(check.sha256Raw);
      expect(directionSha256(directions[axis])).toBe(check.sha256Linpath);
    }
  });

  it("normalises as the script's torch implementation of Li et al.'s rule, at sampled values of every tensor", () => {
    for (const axis of ['x', 'y'] as const) {
      const check = reference.directions[axis];
      expect(new Set(check.samples.map(([name]) => name))).toEqual(new Set(directions[axis].keys()));
      let worst = 0;
      for (const [name, index, expected] of check.samples) {
        const value = directions[axis].get(name)![index]!;
        if (expected === 0) expect(value).toBe(0);
        else worst = Math.max(worst, Math.abs(value - expected) / Math.abs(expected));
      }
      expect(worst).toBeLessThanOrEqual(DIRECTION_RELATIVE_TOLERANCE);
      expect(check.maxRelativeDiff).toBeLessThanOrEqual(DIRECTION_RELATIVE_TOLERANCE);
      expect(check.worstFilterNormError).toBeLessThan(1e-5);
    }
    // Biases and BatchNorm (ignore='biasbn') and the running statistics (dir_type 'weights') do not move.
    expect(directions.x.get('bn1.weight')).toEqual(new Float32Array(64));
    expect(directions.y.get('layer1.0.bn1.running_var')).toEqual(new Float32Array(64));
  });

  it("holds logits that give the reference's loss and correct count at every point", () => {
    const points = [reference.planes['directions']!, ...Object.values(reference.curves)].flatMap((p) => p.points);
    expect(points).toHaveLength(25 + 3 + 2);
    const labels = fixture.subset.labels;
    for (const point of points) {
      const tally = tallyBatch(emptyTally(), Float32Array.from(point.logits!), labels, CLASSES);
      expect(tally.n).toBe(IMAGES);
      expect(tally.correct).toBe(point.correct);
      expect(Math.abs(tally.lossSum / IMAGES - point.loss)).toBeLessThan(1e-6 * point.loss);
    }
  });

  for (const engineName of ['onnx', 'tfjs'] as const) {
    const images = engineName === 'onnx' ? ONNX_IMAGES : TFJS_IMAGES;
    it.each(cases[engineName])(
      `${engineName}: $label on ${images} images`,
      async ({ label, point, stateNames, coefficients }) => {
        expect(coefficients).toEqual(point.coefficients);
        const { prepared } = engines[engineName]!;
        const subset = {
          ...fixture.subset,
          x: fixture.subset.x.subarray(0, images * fixture.exampleSize),
          labels: fixture.subset.labels.subarray(0, images),
          n: images,
        };
        const state = combineStates(
          stateNames.map((name) => states[name]!),
          coefficients,
        );
        const result = await evaluatePoint(prepared, state, subset, CLASSES, images);
        const expectedLogits = Float32Array.from(point.logits!.slice(0, images * CLASSES));
        const expected = tallyBatch(emptyTally(), expectedLogits, subset.labels, CLASSES);
        const scaled = maxScaledDiff(result.logits, expectedLogits);
        const lossDiff = Math.abs(result.tally.lossSum - expected.lossSum) / expected.lossSum;
        report.push(
          `  ${engineName} ${label}: loss ${(expected.lossSum / images).toFixed(4)}, Δloss ${lossDiff.toExponential(2)}, ` +
            `max scaled |Δz| ${scaled.toExponential(2)}, ${(result.milliseconds / images).toFixed(1)} ms/image`,
        );
        expect(scaled).toBeLessThanOrEqual(1e-5);
        expect(result.tally.nonFinite).toBe(0);
        expect(lossDiff).toBeLessThanOrEqual(1e-5);
        expect(Math.abs(result.tally.correct - expected.correct)).toBeLessThanOrEqual(point.nearBoundary);
      },
    );
  }
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyTally, tallyBatch } from '../../src/domain/losses.js';
import { SeededRandom } from '../../src/domain/random.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import { interpolationPath, type PathResult } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import {
  fixtureFloats,
  readReferenceFixture,
  readSafetensorsFixture,
  type FixtureReference,
  type SafetensorsFixture,
} from '../helpers/engine-fixtures.js';
import { RESNET18_FIXTURES, describeWithFixtures, fixturePath } from '../helpers/fixtures.js';
import { idxFile } from '../helpers/idx.js';
import { createPathDeps, type PathFixture } from '../helpers/paths.js';
import { createRegistryFixture, type RegistryFixture } from '../helpers/registry.js';

/**
 * Interpolation paths evaluated end to end on datasets registered from the two fixed-layout formats:
 * a CIFAR-10 `*_batch.bin` made from the ResNet-18 fixture's images (against PyTorch's logits), and MNIST IDX
 * files fed to a 784-input MLP (against a float64 forward pass written here). Both declare their
 * normalisation at import, as a user would; a wrong one moves the loss far beyond the tolerance.
 */

const relativeDifference = (actual: number, expected: number) => Math.abs(actual - expected) / Math.abs(expected);
const lossOf = (result: PathResult, alpha: number) => {
  const point = result.points.find((p) => p.alpha === alpha)!;
  return {
    loss: point.lossSum / point.n,
    correct: point.correct,
    n: point.n,
    nonFinite: point.nonFinite,
    engine: point.engine,
  };
};

/** fl32(fl32(c0·t0) + fl32(c1·t1)), c0 = fl32(1 − α), c1 = fl32(α): the fixtures' (torch's) float32 rule. */
function mix(from: Float32Array, to: Float32Array, alpha: number): Float32Array {
  const c0 = Math.fround(1 - alpha);
  const c1 = Math.fround(alpha);
  return Float32Array.from(from, (v, i) => Math.fround(Math.fround(c0 * v) + Math.fround(c1 * to[i]!)));
}

describe('interpolation paths on CIFAR-10 binary and MNIST IDX datasets', () => {
  let f: RegistryFixture;
  let evaluation: PathFixture;
  let dir: string;

  beforeAll(async () => {
    f = await createRegistryFixture();
    dir = mkdtempSync(path.join(tmpdir(), 'linpath-formats-'));
    evaluation = await createPathDeps(f);
  });
  afterAll(async () => {
    await evaluation?.close();
    await evaluation?.engines.close();
    await f?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describeWithFixtures(RESNET18_FIXTURES, 'ResNet-18 on a test_batch.bin of the fixture images', () => {
    const RECORDS = 24; // written; the paths evaluate only the first LIMIT
    const LIMIT = 20;
    const CLASSES = 10;
    const PIXELS = 32 * 32;
    /** The fixture's network input is (u8 − 127.5) / 64 in every channel (resnet18/README.md, "Network input"). */
    const NORMALIZATION = { mean: [127.5, 127.5, 127.5], std: [64, 64, 64] };
    const ids = { init: '', final: '', dataset: '' };
    let reference: FixtureReference;
    let referenceLogits: SafetensorsFixture;
    let testSet: SafetensorsFixture;
    let labels: Uint8Array;

    /** PyTorch's logits of the first LIMIT images at `alpha` of a reference path (`full`, `block.<name>`). */
    const referenceRows = (curve: string, alpha: number) => {
      const index = reference.alphas.indexOf(alpha);
      expect(index, `α ${alpha} on the reference grid`).toBeGreaterThanOrEqual(0);
      const rows = fixtureFloats(referenceLogits, curve, [reference.alphas.length, 500, CLASSES]);
      return rows.subarray(index * 500 * CLASSES, (index * 500 + LIMIT) * CLASSES);
    };
    /** Images whose top-2 reference logits are within 1e-4: their argmax may flip under float32 noise. */
    const nearBoundary = (logits: Float32Array) => {
      let count = 0;
      for (let i = 0; i < LIMIT; i++) {
        const row = Array.from(logits.subarray(i * CLASSES, (i + 1) * CLASSES)).sort((a, b) => b - a);
        if (row[0]! - row[1]! < 1e-4) count++;
      }
      return count;
    };

    beforeAll(async () => {
      reference = readReferenceFixture('resnet18/reference.json');
      referenceLogits = readSafetensorsFixture('resnet18/reference_logits.safetensors');
      testSet = readSafetensorsFixture('resnet18/test_set.safetensors');
      labels = testSet.values.get('labels') as Uint8Array;
      // CIFAR-10 records: the label, then the R, G and B planes (row-major 32×32) of the NHWC fixture image.
      const nhwc = testSet.values.get('images_u8_nhwc') as Uint8Array;
      expect(testSet.tensors.find((t) => t.name === 'images_u8_nhwc')?.shape).toEqual([500, 32, 32, 3]);
      const bytes = new Uint8Array(RECORDS * 3073);
      for (let i = 0; i < RECORDS; i++) {
        bytes[i * 3073] = labels[i]!;
        for (let c = 0; c < 3; c++) {
          for (let p = 0; p < PIXELS; p++) bytes[i * 3073 + 1 + c * PIXELS + p] = nhwc[(i * PIXELS + p) * 3 + c]!;
        }
      }
      const file = path.join(dir, 'test_batch.bin');
      writeFileSync(file, bytes);
      ids.dataset = (
        await importDatasetFile(f.deps, file, {
          name: 'cifar10',
          split: 'TEST',
          format: 'CIFAR10_BINARY',
          normalization: NORMALIZATION,
        })
      ).dataset.id;

      for (const [name, role, step] of [
        ['init', 'INITIAL', 0],
        ['final', 'FINAL', 150],
      ] as const) {
        const checkpoint = path.join(dir, `${name}.safetensors`);
        writeFileSync(checkpoint, gunzipSync(readFileSync(fixturePath(`resnet18/${name}.safetensors.gz`))));
        ids[name] = (
          await importCheckpointFile(f.deps, checkpoint, {
            run: 'resnet',
            architecture: 'resnet18-cifar',
            step,
            role,
          })
        ).checkpoint.id;
        rmSync(checkpoint);
      }
    }, 120_000);

    it.each([
      { curve: 'full', blocks: undefined, alphas: [0, 0.5, 1], moving: 102 },
      { curve: 'block.layer3', blocks: ['layer3'], alphas: [0, 0.5], moving: 25 },
    ])(
      '$curve: loss and accuracy of the first 20 records as PyTorch at α $alphas',
      async ({ curve, blocks, alphas, moving }) => {
        const result = await interpolationPath(evaluation.paths, {
          from: ids.init,
          to: ids.final,
          dataset: ids.dataset,
          blocks,
          alphas,
          limit: LIMIT,
        });
        expect(result.status).toBe('COMPLETE');
        expect(result.path).toMatchObject({ exampleCount: LIMIT, movingTensorCount: moving });
        const losses: number[] = [];
        for (const alpha of alphas) {
          const expectedLogits = referenceRows(curve, alpha);
          const expected = tallyBatch(emptyTally(), expectedLogits, labels.subarray(0, LIMIT), CLASSES);
          const actual = lossOf(result, alpha);
          expect(actual).toMatchObject({ n: LIMIT, nonFinite: 0, engine: 'onnx' });
          expect(
            relativeDifference(actual.loss, expected.lossSum / LIMIT),
            `${curve} α ${alpha}: relative loss difference`,
          ).toBeLessThanOrEqual(1e-5);
          expect(
            Math.abs(actual.correct - expected.correct),
            `${curve} α ${alpha}: correct ${actual.correct} vs ${expected.correct}`,
          ).toBeLessThanOrEqual(nearBoundary(expectedLogits));
          losses.push(actual.loss);
        }
        // The α are distinct states: their losses are ten tolerances apart or more.
        for (let k = 1; k < losses.length; k++)
          expect(relativeDifference(losses[k]!, losses[k - 1]!)).toBeGreaterThan(1e-4);
      },
      60_000,
    );
  });

  describe('an MLP of 784 inputs on MNIST IDX files', () => {
    const N = 64;
    const SIDE = 28;
    const WIDTHS = [SIDE * SIDE, 32, 32, 10];
    /** MNIST's usual statistics in stored units: 0.1307 · 255 and 0.3081 · 255. */
    const NORMALIZATION = { mean: [33.33], std: [78.57] };
    const ALPHAS = [0, 0.25, 0.5, 1];
    const ids = { from: '', to: '', dataset: '' };
    const pixels = new Uint8Array(N * SIDE * SIDE);
    const labels = Uint8Array.from({ length: N }, (_, i) => (i * 7) % 10);
    const states: Record<'from' | 'to', Map<string, Float32Array>> = { from: new Map(), to: new Map() };

    /** Weights and biases U(−√(6/fan_in), √(6/fan_in)) (He uniform, so that the logits spread), from a seeded generator. */
    const randomMlp = (seed: number) => {
      const random = new SeededRandom(seed);
      const next = () => random.next();
      const state = new Map<string, Float32Array>();
      for (let l = 1; l < WIDTHS.length; l++) {
        const [fanIn, fanOut] = [WIDTHS[l - 1]!, WIDTHS[l]!];
        const bound = Math.sqrt(6 / fanIn);
        state.set(
          `fc${l}.weight`,
          Float32Array.from({ length: fanOut * fanIn }, () => (2 * next() - 1) * bound),
        );
        state.set(
          `fc${l}.bias`,
          Float32Array.from({ length: fanOut }, () => (2 * next() - 1) * bound),
        );
      }
      return state;
    };

    /**
     * Mean softmax cross-entropy, correct count and smallest top-2 margin of the MLP at `state` on the images
     * normalised by `normalization` (x = fround((v − mean) / std), as registered), all in float64.
     */
    const forward = (state: Map<string, Float32Array>, normalization: { mean: number[]; std: number[] }) => {
      let lossSum = 0;
      let correct = 0;
      let margin = Infinity;
      for (let i = 0; i < N; i++) {
        let h = Array.from(pixels.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE), (v) =>
          Math.fround((v - normalization.mean[0]!) / normalization.std[0]!),
        );
        for (let l = 1; l < WIDTHS.length; l++) {
          const w = state.get(`fc${l}.weight`)!;
          const b = state.get(`fc${l}.bias`)!;
          const next = Array.from(b, (bias, o) => h.reduce((sum, v, k) => sum + v * w[o * h.length + k]!, bias));
          h = l === WIDTHS.length - 1 ? next : next.map((v) => Math.max(v, 0));
        }
        const max = Math.max(...h);
        const argmax = h.indexOf(max);
        lossSum += max + Math.log(h.reduce((sum, z) => sum + Math.exp(z - max), 0)) - h[labels[i]!]!;
        if (argmax === labels[i]) correct++;
        margin = Math.min(margin, max - Math.max(...h.filter((_, c) => c !== argmax)));
      }
      return { loss: lossSum / N, correct, margin };
    };
    const interpolated = (alpha: number, moves: (name: string) => boolean = () => true) =>
      new Map([...states.to].map(([name, to]) => [name, moves(name) ? mix(states.from.get(name)!, to, alpha) : to]));

    beforeAll(async () => {
      // Sparse strokes on black as in MNIST: about a third of the pixels lit, at any intensity.
      const random = new SeededRandom(2024);
      const next = () => random.next();
      for (let j = 0; j < pixels.length; j++) pixels[j] = next() < 0.35 ? 1 + Math.floor(next() * 255) : 0;
      const images = path.join(dir, 't10k-images-idx3-ubyte');
      const labelsFile = path.join(dir, 't10k-labels-idx1-ubyte');
      writeFileSync(images, idxFile(0x08, [N, SIDE, SIDE], pixels));
      writeFileSync(labelsFile, idxFile(0x08, [N], labels));
      ids.dataset = (
        await importDatasetFile(f.deps, images, {
          name: 'mnist',
          split: 'TEST',
          format: 'MNIST_IDX',
          labelsFile,
          normalization: NORMALIZATION,
        })
      ).dataset.id;

      // fc<l>.weight is [out, in] with in = WIDTHS[l − 1]; biases are [out].
      const shapeOf = (tensor: string, data: Float32Array) => {
        const fanIn = WIDTHS[Number(tensor.slice(2, tensor.indexOf('.'))) - 1]!;
        return tensor.endsWith('.weight') ? [data.length / fanIn, fanIn] : [data.length];
      };
      for (const [name, seed, role, step] of [
        ['from', 11, 'INITIAL', 0],
        ['to', 12, 'FINAL', 1000],
      ] as const) {
        states[name] = randomMlp(seed);
        const file = path.join(dir, `mlp-${name}.safetensors`);
        writeFileSync(
          file,
          encodeSafetensors(
            [...states[name]].map(([tensor, data]) => ({
              name: tensor,
              dtype: 'F32' as const,
              shape: shapeOf(tensor, data),
              data,
            })),
          ),
        );
        ids[name] = (
          await importCheckpointFile(f.deps, file, { run: 'mnist-mlp', architecture: 'mlp', step, role })
        ).checkpoint.id;
      }
    });

    it.each([
      { label: 'whole model', blocks: undefined, moves: () => true },
      { label: 'block fc1', blocks: ['fc1'], moves: (name: string) => name.startsWith('fc1.') },
    ])('$label: loss and accuracy as a float64 forward pass of the normalised images', async ({ blocks, moves }) => {
      const result = await interpolationPath(evaluation.paths, {
        from: ids.from,
        to: ids.to,
        dataset: ids.dataset,
        blocks,
        alphas: ALPHAS,
      });
      expect(result.status).toBe('COMPLETE');
      expect(result.path).toMatchObject({ exampleCount: N });
      for (const alpha of ALPHAS) {
        const state = interpolated(alpha, moves);
        const expected = forward(state, NORMALIZATION);
        // Exact accuracy holds only away from float32 noise at the decision boundary.
        expect(expected.margin, `α ${alpha}: smallest top-2 margin`).toBeGreaterThan(1e-4);
        const actual = lossOf(result, alpha);
        expect(actual).toMatchObject({ n: N, nonFinite: 0, engine: 'onnx' });
        expect(
          relativeDifference(actual.loss, expected.loss),
          `α ${alpha}: relative loss difference`,
        ).toBeLessThanOrEqual(1e-5);
        expect(actual.correct, `α ${alpha}: correct`).toBe(expected.correct);
        // The declared normalisation matters: the bytes as stored (no --mean/--std), or statistics given in
        // 0..1 units, give losses far outside the tolerance.
        for (const wrong of [
          { mean: [0], std: [1] },
          { mean: [0.1307], std: [0.3081] },
        ]) {
          expect(relativeDifference(forward(state, wrong).loss, expected.loss)).toBeGreaterThan(1e-3);
        }
      }
    });
  });
});

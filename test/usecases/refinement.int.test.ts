import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Linpath } from '../../src/app.js';
import { encodeSafetensors } from '../../src/formats/safetensors.encode.js';
import type { HttpServer } from '../../src/server/http.js';
import { pathUpdates, type PathUpdate } from '../../src/usecases/paths/path-updates.js';
import { interpolationPath, type PathResult } from '../../src/usecases/paths/paths.usecases.js';
import { importCheckpointFile } from '../../src/usecases/registry/checkpoints.usecases.js';
import { importDatasetFile } from '../../src/usecases/registry/datasets.usecases.js';
import { postGraphql, startTestApp } from '../helpers/app.js';
import { readCheckpointFixture, readTestSetFixture } from '../helpers/engine-fixtures.js';
import { fixturePath } from '../helpers/fixtures.js';
import { mlpReferencePoint, permuteMlp } from '../helpers/mlp-reference.js';

/** A fixed permutation of 50 hidden units (a linear congruential shuffle), so the test draws the same each time. */
function permutation(seed: number): number[] {
  const p = Array.from({ length: 50 }, (_, i) => i);
  let s = seed;
  for (let i = 49; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * Adaptive α end to end (issue 17, item 2), on the whole server (real database — PGlite, or Postgres with
 * DATABASE_URL — a real S3 server, the queue and its in-process worker, ONNX Runtime): the spiral MLP after 5
 * epochs → the trained MLP with its hidden units permuted (the same function elsewhere in weight space), a path
 * with a sharp, asymmetric loss barrier between grid points. Every point is checked against an independent float64
 * evaluation (test/helpers/mlp-reference.ts), and the peak against that evaluation's own maximum.
 */
describe('adaptive α through the queue on the MLP fixture', { timeout: 600_000 }, () => {
  let app: Linpath;
  let http: HttpServer;
  let close: () => Promise<void>;
  let key: string;
  const ids = { from: '', to: '', test: '' };
  const from = readCheckpointFixture('mlp/epoch5.safetensors').state;
  const to = permuteMlp(readCheckpointFixture('mlp/final.safetensors').state, permutation(5), permutation(6));
  const data = readTestSetFixture('mlp/test_set.safetensors', 'x', 'y');
  const referenceLoss = (alpha: number) => mlpReferencePoint(from, to, data, alpha).loss;

  beforeAll(async () => {
    let createKey: (scope: 'write') => Promise<string>;
    ({ app, http, close, createKey } = await startTestApp());
    key = await createKey('write');
    const dir = mkdtempSync(join(tmpdir(), 'linpath-refine-'));
    const permuted = join(dir, 'permuted.safetensors');
    writeFileSync(
      permuted,
      encodeSafetensors(
        [...to].map(([name, values]) => ({
          name,
          dtype: 'F32' as const,
          shape: [...readCheckpointFixture('mlp/final.safetensors').tensors.find((t) => t.name === name)!.shape],
          data: values,
        })),
      ),
    );
    const run = { run: 'spiral-refine', architecture: 'mlp' };
    ids.from = (
      await importCheckpointFile(app.registry, fixturePath('mlp/epoch5.safetensors'), {
        ...run,
        step: 100,
        role: 'INTERMEDIATE',
      })
    ).checkpoint.id;
    ids.to = (await importCheckpointFile(app.registry, permuted, { ...run, step: 1200, role: 'FINAL' })).checkpoint.id;
    ids.test = (
      await importDatasetFile(app.registry, fixturePath('mlp/test_set.safetensors'), { name: 'spiral', split: 'TEST' })
    ).dataset.id;
  }, 300_000);
  afterAll(async () => {
    await close?.();
  });

  /** The maximum of the independent evaluation near α0: golden-section search on [α0 − 0.05, α0 + 0.05]. */
  function referencePeak(alpha0: number): { alpha: number; loss: number } {
    const g = (Math.sqrt(5) - 1) / 2;
    let [a, b] = [alpha0 - 0.05, alpha0 + 0.05];
    let [c, d] = [b - g * (b - a), a + g * (b - a)];
    let [fc, fd] = [referenceLoss(c), referenceLoss(d)];
    while (b - a > 1e-6) {
      if (fc > fd) {
        [b, d, fd] = [d, c, fc];
        c = b - g * (b - a);
        fc = referenceLoss(c);
      } else {
        [a, c, fc] = [c, d, fd];
        d = a + g * (b - a);
        fd = referenceLoss(d);
      }
    }
    return fc > fd ? { alpha: c, loss: fc } : { alpha: d, loss: fd };
  }

  const lossOf = (p: PathResult['points'][number]) => p.lossSum / p.n;
  const maxPoint = (points: PathResult['points']) => points.reduce((m, p) => (lossOf(p) > lossOf(m) ? p : m));
  let refined: PathResult;

  it('refines the barrier beyond the grid: its height within the tolerance, each point as the reference gives it', async () => {
    refined = await interpolationPath(app.paths, {
      from: ids.from,
      to: ids.to,
      dataset: ids.test,
      refine: { tolerance: 1e-3, maxPoints: 40 },
    });
    expect(refined.status).toBe('COMPLETE');
    expect(refined.refinement?.status).toBe('CONVERGED');
    const grid = refined.points.filter((p) => p.chosenBy === 'GRID');
    const extra = refined.points.filter((p) => p.chosenBy === 'REFINEMENT');
    expect(grid.map((p) => p.alpha)).toEqual(Array.from({ length: 11 }, (_, i) => i / 10));
    expect(extra.length).toBeGreaterThan(0);
    expect(refined.points.length).toBeLessThanOrEqual(40);
    expect(refined.points.every((p) => !p.cached)).toBe(true);
    // Every stored point, grid and refined, against the independent evaluation.
    for (const p of refined.points) {
      const reference = mlpReferencePoint(from, to, data, p.alpha);
      expect(Math.abs(lossOf(p) - reference.loss) / reference.loss, `α ${p.alpha}`).toBeLessThan(1e-5);
      expect(Math.abs(p.correct - reference.correct), `α ${p.alpha}`).toBeLessThanOrEqual(2);
    }
    // The refined points lie around the peak, not all over the range.
    const peak = maxPoint(refined.points);
    expect(extra.every((p) => Math.abs(p.alpha - peak.alpha) < 0.1)).toBe(true);
    expect(refined.refinement?.peaks).toEqual([{ curve: 'LOSS', alpha: peak.alpha, value: lossOf(peak) }]);

    const truth = referencePeak(peak.alpha);
    const gridPeak = maxPoint(grid);
    // The grid misses the height by more than the tolerance; refinement gets it within.
    expect(truth.loss - lossOf(gridPeak)).toBeGreaterThan(1e-3);
    expect(Math.abs(truth.loss - lossOf(peak))).toBeLessThanOrEqual(1e-3);
    expect(Math.abs(truth.alpha - peak.alpha)).toBeLessThan(Math.abs(truth.alpha - gridPeak.alpha));
  });

  it('asks again: nothing is evaluated, every point comes from the memo', async () => {
    const again = await interpolationPath(app.paths, {
      from: ids.from,
      to: ids.to,
      dataset: ids.test,
      refine: { tolerance: 1e-3, maxPoints: 40 },
    });
    expect(again.status).toBe('COMPLETE');
    expect(again.points.map((p) => [p.alpha, p.chosenBy, p.cached])).toEqual(
      refined.points.map((p) => [p.alpha, p.chosenBy, true]),
    );
    // The plain grid is a grid: its points, none of the refined ones.
    const plain = await interpolationPath(app.paths, { from: ids.from, to: ids.to, dataset: ids.test });
    expect(plain.points).toHaveLength(11);
    expect(plain.refinement).toBeUndefined();
  });

  it('without waiting: a subscription sees the rounds of refined points as the workers store them', async () => {
    // Another path (the first 2,000 examples): nothing stored yet.
    const input = { from: ids.from, to: ids.to, dataset: ids.test, limit: 2000, refine: { tolerance: 1e-3 } };
    const queued = await interpolationPath(app.paths, input, { wait: false });
    expect(queued.status).not.toBe('COMPLETE');
    expect(queued.refinement?.status).toBe('REFINING');
    const updates: PathUpdate[] = [];
    for await (const update of await pathUpdates(app.paths, queued.path.id)) updates.push(update);
    const last = updates.at(-1)!;
    expect(last.point).toBeNull();
    expect(last.status).toBe('COMPLETE');
    const streamed = updates.filter((u) => u.point !== null).map((u) => u.point!);
    expect(streamed.filter((p) => p.chosenBy === 'REFINEMENT').length).toBeGreaterThan(0);
    const after = await interpolationPath(app.paths, input, { wait: false });
    expect(after.status).toBe('COMPLETE');
    expect(after.refinement?.status).toBe('CONVERGED');
    expect(streamed.map((p) => p.alpha).sort((a, b) => a - b)).toEqual(after.points.map((p) => p.alpha));
  });

  it('GraphQL: chosenBy on each point, the refinement and its peak', async () => {
    const response = await postGraphql(
      http.url,
      `query ($input: InterpolationPathInput!) {
        interpolationPath(input: $input) {
          status points { alpha loss chosenBy cached }
          refinement { status tolerance maxPoints peaks { curve alpha value } }
          barrier { alphaAtMax }
        }
      }`,
      { input: { from: ids.from, to: ids.to, dataset: ids.test, refine: { tolerance: 0.001, maxPoints: 40 } } },
      { key },
    );
    expect(response.body.errors).toBeUndefined();
    const path = response.body.data.interpolationPath;
    expect(path.status).toBe('COMPLETE');
    expect(path.points.map((p: { alpha: number; chosenBy: string }) => [p.alpha, p.chosenBy])).toEqual(
      refined.points.map((p) => [p.alpha, p.chosenBy]),
    );
    const peak = maxPoint(refined.points);
    expect(path.refinement).toEqual({
      status: 'CONVERGED',
      tolerance: 0.001,
      maxPoints: 40,
      peaks: [{ curve: 'LOSS', alpha: peak.alpha, value: lossOf(peak) }],
    });
    // Barrier measures use every point of the answer: the refined peak's α.
    expect(path.barrier.alphaAtMax).toBe(peak.alpha);
  });

  it('GraphQL: refines the ERROR curve around its maxima (minima of accuracy), each point as the reference gives it', async () => {
    // Another path (the first 4,000 examples), so that no point of the LOSS refinement is stored on it.
    const limit = 4000;
    const subset = { ...data, x: data.x.subarray(0, 2 * limit), labels: data.labels.subarray(0, limit), n: limit };
    const referenceError = (alpha: number) => 1 - mlpReferencePoint(from, to, subset, alpha).correct / limit;
    const response = await postGraphql(
      http.url,
      `query ($input: InterpolationPathInput!) {
        interpolationPath(input: $input) {
          status points { alpha accuracy correct n chosenBy }
          refinement { status tolerance maxPoints peaks { curve alpha value } }
          errorBarrier { alphaAtMax }
        }
      }`,
      {
        input: {
          from: ids.from,
          to: ids.to,
          dataset: ids.test,
          limit,
          refine: { tolerance: 0.001, maxPoints: 40, curves: ['ERROR'] },
        },
      },
      { key },
    );
    expect(response.body.errors).toBeUndefined();
    const path = response.body.data.interpolationPath;
    type Point = { alpha: number; accuracy: number; correct: number; n: number; chosenBy: string };
    const points: Point[] = path.points;
    const errorOf = (p: Point) => 1 - p.correct / p.n;
    expect(path.status).toBe('COMPLETE');
    expect(path.refinement).toMatchObject({ status: 'CONVERGED', tolerance: 0.001, maxPoints: 40 });
    // Every point, grid and refined, against the independent evaluation.
    for (const p of points) {
      expect(p.n).toBe(limit);
      expect(Math.abs(p.correct - (1 - referenceError(p.alpha)) * limit), `α ${p.alpha}`).toBeLessThanOrEqual(2);
    }
    // The peaks are the interior local maxima of the error over the stored points (ties: the first).
    const local = points.filter(
      (p, i) =>
        i > 0 && i < points.length - 1 && errorOf(p) > errorOf(points[i - 1]!) && errorOf(p) >= errorOf(points[i + 1]!),
    );
    expect(path.refinement.peaks).toEqual(local.map((p) => ({ curve: 'ERROR', alpha: p.alpha, value: errorOf(p) })));
    const grid = points.filter((p) => p.chosenBy === 'GRID');
    const extra = points.filter((p) => p.chosenBy === 'REFINEMENT');
    expect(grid.map((p) => p.alpha)).toEqual(Array.from({ length: 11 }, (_, i) => i / 10));
    expect(extra.length).toBeGreaterThan(0);
    expect(extra.every((p) => local.some((peak) => Math.abs(peak.alpha - p.alpha) < 0.1))).toBe(true);
    // The highest error peak: higher than the grid's, and within the tolerance of the reference's maximum near it.
    const top = local.reduce((m, p) => (errorOf(p) > errorOf(m) ? p : m));
    const gridTop = grid.slice(1, -1).reduce((m, p) => (errorOf(p) > errorOf(m) ? p : m));
    expect(errorOf(top)).toBeGreaterThan(errorOf(gridTop));
    expect(path.errorBarrier.alphaAtMax).toBe(top.alpha);
    let truth = 0;
    for (let alpha = top.alpha - 0.05; alpha <= top.alpha + 0.05; alpha += 0.002)
      truth = Math.max(truth, referenceError(alpha));
    console.info(
      `ERROR peak: grid ${errorOf(gridTop)} at ${gridTop.alpha}, refined ${errorOf(top)} at ${top.alpha}, reference scan ${truth}`,
    );
    expect(truth - errorOf(top)).toBeLessThanOrEqual(1e-3);
  });

  it.each([
    [{ tolerance: 0 }, undefined, 'refine.tolerance: expected a number from 1e-8 to 1, got 0'],
    [{ maxPoints: 5 }, undefined, "refine.maxPoints: expected an integer from the grid's 11 alphas to"],
    [{ curves: [] }, undefined, 'refine.curves: expected one or more of LOSS, ERROR, got []'],
    [{}, [0, 1], 'refine: expected a grid of at least 3 alphas'],
  ])('refuses refine %j (alphas %j) with BAD_USER_INPUT', async (refine, alphas, message) => {
    const response = await postGraphql(
      http.url,
      `query ($input: InterpolationPathInput!) { interpolationPath(input: $input) { status } }`,
      { input: { from: ids.from, to: ids.to, dataset: ids.test, alphas, refine } },
      { key },
    );
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.body.errors?.[0]?.message).toContain(message);
  });
});
